/**
 * How agents share results: a tiny interface (publish a report, be told of peers' reports) so the research
 * code does not care how bytes travel. `floodSwarm` implements it with plain AXL messages: the relay keeps a
 * directory of the agents that said hello (discovery only: it takes no part in the research), and an agent
 * sends each report straight to every agent it knows, by public key (the overlay routes it through the relay,
 * end-to-end encrypted).
 */
import type { AxlNode, PeerId } from '@axl/core'
import { isRecipe } from './recipe.js'
import type { Report } from './search.js'

/** The messaging an agent needs. */
export interface Swarm {
  /** 'flood' (node.send to every known agent) or 'pubsub' (@axl/pubsub gossip). */
  readonly kind: string
  /** Send our report to the swarm; resolves when every delivery has settled (each bounded by a deadline). */
  publish: (report: Report) => Promise<void>
  /** Call `cb` for each report received from another agent. */
  onReport: (cb: (report: Report, from: PeerId) => void) => void
  /** How many other agents we can reach now. */
  peerCount: () => number
  /** Call `cb` with the new count each time an agent is added. */
  onPeer: (cb: (count: number) => void) => void
  /** Deliveries that failed (unreachable, refused, timed out). */
  readonly failures: number
  stop: () => Promise<void>
}

/** Wire messages of the flood swarm (JSON, tagged `ar`). */
export type WireMessage =
  | { ar: 'hello', name: string }
  | { ar: 'peers', peers: string[] }
  | { ar: 'report', report: Report }

const te = new TextEncoder()
const td = new TextDecoder()

/** Encode a wire message. */
export function encode (m: WireMessage): Uint8Array { return te.encode(JSON.stringify(m)) }

/** Decode a wire message; undefined if the bytes are not one of ours. */
export function decode (data: Uint8Array): WireMessage | undefined {
  let m: unknown
  try { m = JSON.parse(td.decode(data)) } catch { return undefined } // not JSON: not ours, ignored
  if (typeof m !== 'object' || m === null) return undefined
  const o = m as Record<string, unknown>
  if (o.ar === 'hello' && typeof o.name === 'string') return { ar: 'hello', name: o.name }
  if (o.ar === 'peers' && Array.isArray(o.peers)) return { ar: 'peers', peers: o.peers.filter((p): p is string => typeof p === 'string') }
  if (o.ar === 'report' && isReport(o.report)) return { ar: 'report', report: o.report }
  return undefined
}

function isReport (x: unknown): x is Report {
  if (typeof x !== 'object' || x === null) return false
  const r = x as Record<string, unknown>
  return typeof r.agent === 'string' && typeof r.exp === 'number' && (r.kind === 'explore' || r.kind === 'validate') &&
    typeof r.hash === 'string' && isRecipe(r.recipe) && typeof r.bpb === 'number' && Number.isFinite(r.bpb) &&
    typeof r.best === 'number' && typeof r.improved === 'boolean' && typeof r.adopted === 'boolean' && typeof r.origin === 'string'
}

/** Options of floodSwarm. */
export interface FloodOptions {
  /** Our agent name (sent in hellos). */
  name: string
  /** The relay's peer id: its directory tells us the other agents. */
  relay: PeerId
  /** Deadline of one delivery. Default 10 s. */
  sendTimeoutMs?: number
  /** Bound on agents remembered. Default 256. */
  maxPeers?: number
  /** Told of failed deliveries (the agent logs them). */
  onError?: (err: unknown, peer: PeerId) => void
}

/** A Swarm over node.send()/node.messages(): reports are flooded to every agent the relay's directory named. */
export async function floodSwarm (node: AxlNode, opts: FloodOptions): Promise<Swarm> {
  const timeoutMs = opts.sendTimeoutMs ?? 10_000
  const maxPeers = opts.maxPeers ?? 256
  const peers = new Set<PeerId>()
  const listeners: Array<(r: Report, from: PeerId) => void> = []
  const peerListeners: Array<(count: number) => void> = []
  const stop = new AbortController()
  let failures = 0

  const send = async (peer: PeerId, m: WireMessage): Promise<void> => {
    try {
      await node.send(peer, encode(m), { timeoutMs, signal: stop.signal })
    } catch (err) {
      if (stop.signal.aborted) return
      failures++
      opts.onError?.(err, peer)
    }
  }
  const add = (peer: PeerId): boolean => {
    if (peer === node.peerId || peer === opts.relay || peers.has(peer) || peers.size >= maxPeers) return false
    peers.add(peer)
    for (const cb of peerListeners) cb(peers.size)
    return true
  }

  const loop = (async () => {
    for await (const msg of node.messages({ signal: stop.signal })) {
      const m = decode(msg.data)
      if (m === undefined) continue
      if (m.ar === 'peers' && msg.from === opts.relay) {
        // introduce ourselves to everyone the directory named (they learn us from our hello)
        for (const p of m.peers) if (add(p as PeerId)) void send(p as PeerId, { ar: 'hello', name: opts.name })
      } else if (m.ar === 'hello') {
        add(msg.from)
      } else if (m.ar === 'report') {
        add(msg.from)
        for (const cb of listeners) cb(m.report, msg.from)
      }
    }
  })().catch((err: unknown) => { if (!stop.signal.aborted) opts.onError?.(err, node.peerId) })

  // register with the relay's directory; it answers with the agents it knows
  await node.send(opts.relay, encode({ ar: 'hello', name: opts.name }), { timeoutMs: 30_000 })

  return {
    kind: 'flood',
    publish: async report => { await Promise.all([...peers].map(async p => { await send(p, { ar: 'report', report }) })) },
    onReport: cb => { listeners.push(cb) },
    onPeer: cb => { peerListeners.push(cb) },
    peerCount: () => peers.size,
    get failures () { return failures },
    stop: async () => { stop.abort(); await loop }
  }
}
