/**
 * How agents share results: a tiny interface (publish a report, be told of peers' reports) so the research
 * code does not care how bytes travel. Two implementations, chosen per agent:
 *  - 'pubsub' (default): reports are published on one topic of @axl/pubsub's gossip service (signed messages,
 *    a GossipSub mesh of degree ~6 with Plumtree eager/lazy links), so each agent sends a report to a few mesh
 *    peers and the mesh carries it to the rest;
 *  - 'flood': each report is sent with node.send() straight to every agent known (N-1 deliveries).
 * Either way discovery is the relay's directory (it takes no part in the research): an agent says hello to the
 * relay, is told the agents that came before it, and says hello to each of them; every agent learned is added
 * to the gossip service as a known peer. Messages travel by public key, routed by the overlay through the
 * relay, end-to-end encrypted.
 */
import type { AxlNode, PeerId } from '@axl/core'
import type { GossipSub } from '@axl/pubsub'
import { isRecipe } from './recipe.js'
import type { Report } from './search.js'

/** The messaging an agent needs. */
export interface Swarm {
  /** 'pubsub' (@axl/pubsub gossip) or 'flood' (node.send to every known agent). */
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

/** The gossip topic of the reports. */
export const TOPIC = 'axl-ts/autoresearch/results/1'

/** Options of joinSwarm. */
export interface SwarmOptions {
  /** Our agent name (sent in hellos). */
  name: string
  /** The relay's peer id: its directory tells us the other agents. */
  relay: PeerId
  /** Deadline of one delivery. Default 10 s. */
  sendTimeoutMs?: number
  /** Bound on agents remembered. Default 256. */
  maxPeers?: number
  /** How often we ask the relay's directory again (agents that joined later, hellos that were lost). Default 2 s. */
  refreshMs?: number
  /** Told of failed deliveries (the agent logs them). */
  onError?: (err: unknown, peer: PeerId) => void
  /** The node's gossip service: reports go over pub/sub. Without it, they are flooded with node.send(). */
  pubsub?: GossipSub
}

/** Join the swarm through the relay's directory; reports travel over `opts.pubsub` if given, else by flooding. */
export async function joinSwarm (node: AxlNode, opts: SwarmOptions): Promise<Swarm> {
  const timeoutMs = opts.sendTimeoutMs ?? 10_000
  const maxPeers = opts.maxPeers ?? 256
  const peers = new Set<PeerId>()
  const listeners: Array<(r: Report, from: PeerId) => void> = []
  const peerListeners: Array<(count: number) => void> = []
  const stop = new AbortController()
  let failures = 0

  /** Send one message; false (and counted, and told to onError) if it was not delivered. */
  const send = async (peer: PeerId, m: WireMessage): Promise<boolean> => {
    try {
      await node.send(peer, encode(m), { timeoutMs, signal: stop.signal })
      return true
    } catch (err) {
      if (stop.signal.aborted) return false
      failures++
      opts.onError?.(err, peer)
      return false
    }
  }
  const add = (peer: PeerId): boolean => {
    if (peer === node.peerId || peer === opts.relay || peers.has(peer) || peers.size >= maxPeers) return false
    peers.add(peer)
    opts.pubsub?.addPeer(peer) // a known gossip peer: no probing needed
    for (const cb of peerListeners) cb(peers.size)
    return true
  }

  const loop = (async () => {
    for await (const msg of node.messages({ signal: stop.signal })) {
      const m = decode(msg.data)
      if (m === undefined) continue
      if (m.ar === 'peers' && msg.from === opts.relay) {
        // introduce ourselves to everyone the directory named (they learn us from our hello)
        for (const p of m.peers) {
          if (add(p as PeerId)) {
            void send(p as PeerId, { ar: 'hello', name: opts.name }).then(ok => { if (!ok) peers.delete(p as PeerId) }) // retried at the next refresh
          }
        }
      } else if (m.ar === 'hello') {
        add(msg.from)
      } else if (m.ar === 'report' && opts.pubsub === undefined) {
        add(msg.from)
        for (const cb of listeners) cb(m.report, msg.from)
      }
    }
  })().catch((err: unknown) => { if (!stop.signal.aborted) opts.onError?.(err, node.peerId) })

  // over pub/sub: the topic's messages (signed by their publisher; `from` is the publisher, not the forwarder)
  const sub = opts.pubsub?.subscribe(TOPIC, { signal: stop.signal })
  const subLoop = sub === undefined
    ? Promise.resolve()
    : (async () => {
        for await (const msg of sub) {
          const m = decode(msg.data)
          if (m?.ar !== 'report') continue
          for (const cb of listeners) cb(m.report, msg.from)
        }
      })().catch((err: unknown) => { if (!stop.signal.aborted) opts.onError?.(err, node.peerId) })

  // register with the relay's directory; it answers with the agents it knows. Asked again every refreshMs, so a
  // hello lost while the overlay was still forming (or an agent that joined later) is made up for.
  await node.send(opts.relay, encode({ ar: 'hello', name: opts.name }), { timeoutMs: 30_000 })
  let refreshing = false
  const refresh = setInterval(() => {
    if (refreshing) return
    refreshing = true
    void send(opts.relay, { ar: 'hello', name: opts.name }).finally(() => { refreshing = false })
  }, opts.refreshMs ?? 2000)

  const publish = opts.pubsub === undefined
    ? async (report: Report): Promise<void> => { await Promise.all([...peers].map(async p => { await send(p, { ar: 'report', report }) })) }
    : async (report: Report): Promise<void> => {
      try {
        await opts.pubsub!.publish(TOPIC, encode({ ar: 'report', report }), { signal: stop.signal })
      } catch (err) {
        if (stop.signal.aborted) return
        failures++
        opts.onError?.(err, node.peerId)
      }
    }
  return {
    kind: opts.pubsub === undefined ? 'flood' : 'pubsub',
    publish,
    onReport: cb => { listeners.push(cb) },
    onPeer: cb => { peerListeners.push(cb) },
    peerCount: () => peers.size,
    get failures () { return failures },
    stop: async () => { clearInterval(refresh); stop.abort(); await Promise.all([loop, subLoop]) }
  }
}
