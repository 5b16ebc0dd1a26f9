/**
 * Test/benchmark harness: many Overlay nodes on in-memory PeerConn pairs and one shared VirtualClock.
 */
import { createHash } from 'node:crypto'
import { VirtualClock } from '../clock.js'
import { peerConnPair, type PeerConn } from '../network/peer-conn.js'
import { Overlay, type OverlayOptions } from '../network/overlay.js'
import { ed25519Signer, INSECURE_simulationCrypto, keyStr, type Signer, type VerifyFn } from '../crypto.js'
import type { TrafficEventKind } from '../network/router.js'
import type { Traffic } from '../network/wire.js'
import { prng } from './prng.js'
export { prng }


/** An undirected edge list over nodes 0..n-1. */
export type Graph = Array<[number, number]>

/** Graph generators. */
export const graphs = {
  line: (n: number): Graph => Array.from({ length: n - 1 }, (_, i) => [i, i + 1] as [number, number]),
  star: (n: number): Graph => Array.from({ length: n - 1 }, (_, i) => [0, i + 1] as [number, number]),
  ring: (n: number): Graph => Array.from({ length: n }, (_, i) => [i, (i + 1) % n] as [number, number]),
  /** A random tree: node i attaches to a random earlier node. */
  tree: (n: number, rand: () => number): Graph => Array.from({ length: n - 1 }, (_, i) => [Math.floor(rand() * (i + 1)), i + 1] as [number, number]),
  /** A connected random graph: a random tree plus `extra` random chords. */
  random: (n: number, extra: number, rand: () => number): Graph => {
    const g = graphs.tree(n, rand)
    const seen = new Set(g.map(([a, b]) => `${Math.min(a, b)}-${Math.max(a, b)}`))
    let tries = 0
    while (extra > 0 && tries++ < extra * 20) {
      const a = Math.floor(rand() * n); const b = Math.floor(rand() * n)
      const k = `${Math.min(a, b)}-${Math.max(a, b)}`
      if (a === b || seen.has(k)) continue
      seen.add(k); g.push([a, b]); extra--
    }
    return g
  },
  /** Barabási–Albert scale-free graph: each new node attaches to m distinct nodes by preferential attachment. */
  barabasiAlbert: (n: number, m: number, rand: () => number): Graph => {
    const g: Graph = []
    const targets: number[] = []
    const m0 = Math.max(m, 2)
    for (let i = 0; i < m0; i++) for (let j = i + 1; j < m0; j++) { g.push([i, j]); targets.push(i, j) }
    for (let v = m0; v < n; v++) {
      const chosen = new Set<number>()
      while (chosen.size < Math.min(m, v)) chosen.add(targets[Math.floor(rand() * targets.length)])
      for (const u of chosen) { g.push([u, v]); targets.push(u, v) }
    }
    return g
  }
}

/** BFS hop distances from `src` over adjacency lists (-1 = unreachable). */
export function bfs (adj: number[][], src: number): Int32Array {
  const d = new Int32Array(adj.length).fill(-1)
  const q = new Int32Array(adj.length)
  let h = 0; let t = 0
  d[src] = 0; q[t++] = src
  while (h < t) {
    const u = q[h++]
    for (const v of adj[u]) if (d[v] < 0) { d[v] = d[u] + 1; q[t++] = v }
  }
  return d
}

/** One simulated node. */
export interface SimNode {
  index: number
  overlay: Overlay
  key: Uint8Array
  keyStr: string
  alive: boolean
  received: Array<{ from: string, payload: Uint8Array }>
}

/** Options of a Sim. */
export interface SimOptions {
  n: number
  seed?: number
  latencyMs?: number
  /** INSECURE fake signatures for big simulations; tests use real ed25519 (default false). */
  fakeCrypto?: boolean
  /** Explicit public keys (fake crypto only), e.g. to pick which node is root. */
  keys?: Uint8Array[]
  /** Keep received payloads (default true). */
  record?: boolean
  overlay?: Partial<OverlayOptions>
  onTrafficEvent?: (node: number, kind: TrafficEventKind, tr: Traffic) => void
}

/** A set of overlay nodes on memory links and virtual time. */
export class Sim {
  readonly clock = new VirtualClock()
  readonly nodes: SimNode[] = []
  readonly rand: () => number
  readonly latencyMs: number
  private readonly links = new Map<string, [PeerConn, PeerConn]>()
  readonly byKey = new Map<string, number>()

  constructor (o: SimOptions) {
    this.rand = prng(o.seed ?? 1)
    this.latencyMs = o.latencyMs ?? 5
    const record = o.record ?? true
    for (let i = 0; i < o.n; i++) {
      const seed = createHash('sha256').update(`sim-${o.seed ?? 1}-${i}`).digest()
      let signer: Signer
      let verify: VerifyFn | undefined
      if (o.fakeCrypto === true) {
        const pub = o.keys?.[i] ?? createHash('sha256').update(seed).digest()
        const fake = INSECURE_simulationCrypto(new Uint8Array(pub))
        signer = fake.signer; verify = fake.verify
      } else {
        signer = ed25519Signer(new Uint8Array(seed))
      }
      const nonceRand = prng((o.seed ?? 1) * 7919 + i)
      const node: SimNode = { index: i, overlay: undefined as unknown as Overlay, key: signer.publicKey, keyStr: keyStr(signer.publicKey), alive: true, received: [] }
      const cb = o.onTrafficEvent
      node.overlay = new Overlay({
        signer,
        verify,
        clock: this.clock,
        random: () => BigInt(Math.floor(nonceRand() * 2 ** 32)) * 0x1_0000_0000n + BigInt(Math.floor(nonceRand() * 2 ** 32)),
        onTrafficEvent: cb === undefined ? undefined : (kind, tr) => cb(i, kind, tr),
        ...o.overlay
      })
      if (record) node.overlay.onPacket = (from, payload) => { node.received.push({ from: keyStr(from), payload: Uint8Array.from(payload) }) }
      this.nodes.push(node)
      this.byKey.set(node.keyStr, i)
    }
  }

  /** Connects nodes a and b with a memory link (latency via the virtual clock). */
  connect (a: number, b: number): void {
    const defer = (fn: () => void): void => { this.clock.setTimeout(fn, this.latencyMs) }
    const [ca, cb] = peerConnPair(this.nodes[a].key, this.nodes[b].key, { uri: `memory://${a}-${b}`, defer })
    this.links.set(`${Math.min(a, b)}-${Math.max(a, b)}`, a < b ? [ca, cb] : [cb, ca])
    this.nodes[a].overlay.addPeer(ca)
    this.nodes[b].overlay.addPeer(cb)
  }

  /** Connects every edge of a graph. */
  connectGraph (g: Graph): void { for (const [a, b] of g) this.connect(a, b) }

  /** Cuts the link between a and b. */
  cut (a: number, b: number): void {
    const k = `${Math.min(a, b)}-${Math.max(a, b)}`
    const l = this.links.get(k)
    if (l === undefined) throw new Error(`no link ${k}`)
    l[0].close(new Error('cut'))
    this.links.delete(k)
  }

  /** Kills a node: closes it (and so all its links). */
  kill (i: number): void {
    this.nodes[i].alive = false
    this.nodes[i].overlay.close()
    for (const k of [...this.links.keys()]) {
      const [a, b] = k.split('-').map(Number)
      if (a === i || b === i) this.links.delete(k)
    }
  }

  /** Alive nodes. */
  alive (): SimNode[] { return this.nodes.filter(n => n.alive) }

  /** Index of the alive node with the lowest key. */
  lowestAlive (): number {
    let best = -1
    for (const n of this.alive()) if (best < 0 || n.keyStr < this.nodes[best].keyStr) best = n.index
    return best
  }

  /** True when every alive node has the lowest alive key as root and a full path of known infos to it. */
  treeConverged (): boolean {
    const root = this.nodes[this.lowestAlive()].keyStr
    for (const n of this.alive()) {
      const r = n.overlay.router
      if (r.tree.root() !== root) return false
      const parent = r.parentKey()
      if (n.keyStr !== root && !r.peers.has(parent)) return false
    }
    return true
  }

  /** Total frames sent by all nodes so far. */
  framesOut (): number { let t = 0; for (const n of this.nodes) t += n.overlay.stats.framesOut; return t }

  /**
   * Runs until the tree has converged and then no frame at all was sent for `quietMs` (blooms settled,
   * keepalives answered); returns false if that did not happen within `limitMs`.
   */
  settle (limitMs = 60_000, quietMs = 2_000): boolean {
    const end = this.clock.now() + limitMs
    if (!this.runUntil(() => this.treeConverged(), limitMs)) return false
    let last = this.framesOut()
    let since = this.clock.now()
    return this.runUntil(() => {
      const f = this.framesOut()
      if (f !== last) { last = f; since = this.clock.now() }
      return this.clock.now() - since >= quietMs
    }, Math.max(0, end - this.clock.now()), 250)
  }

  /** Runs virtual time until `done()` or `limitMs`; returns whether done() held. */
  runUntil (done: () => boolean, limitMs: number, stepMs = 100): boolean {
    return this.clock.runUntil(done, limitMs, stepMs)
  }

  /** Advances virtual time by `ms`. */
  run (ms: number): void { this.clock.advance(ms) }

  /** Sends from a to b and returns a unique payload tag. */
  send (a: number, b: number, tag: string): void {
    this.nodes[a].overlay.sendTo(this.nodes[b].key, new TextEncoder().encode(tag))
  }

  /** True if node b received a payload equal to `tag` from a. */
  got (a: number, b: number, tag: string): boolean {
    const from = this.nodes[a].keyStr
    const t = new TextEncoder().encode(tag)
    return this.nodes[b].received.some(r => r.from === from && r.payload.length === t.length && r.payload.every((x, i) => x === t[i]))
  }

  /** Adjacency lists of the currently connected links among alive nodes. */
  adjacency (): number[][] {
    const adj: number[][] = this.nodes.map(() => [])
    for (const k of this.links.keys()) {
      const [a, b] = k.split('-').map(Number)
      adj[a].push(b); adj[b].push(a)
    }
    return adj
  }

  /** Closes every node. */
  close (): void { for (const n of this.nodes) n.overlay.close() }
}
