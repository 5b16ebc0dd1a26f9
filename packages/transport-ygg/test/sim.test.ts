import { describe, expect, it } from 'vitest'
import { Sim, graphs, prng, type Graph } from '../src/testing/sim.js'
import type { Traffic } from '../src/network/wire.js'
import type { TrafficEventKind } from '../src/network/router.js'

/**
 * Loop detector: every traffic transmission visits each node at most once. The tag of a packet is its
 * payload; a source may transmit the same payload more than once (ironwood re-sends the last packet on a
 * newer notify), so per node we require visits <= transmissions.
 */
class LoopCheck {
  readonly originated = new Map<string, number>()
  readonly visits = new Map<string, Map<number, number>>()
  maxHops = 0
  private readonly hops = new Map<string, number>()
  event = (node: number, kind: TrafficEventKind, tr: Traffic): void => {
    const tag = new TextDecoder().decode(tr.payload)
    if (kind === 'originate') { this.originated.set(tag, (this.originated.get(tag) ?? 0) + 1); return }
    if (kind !== 'forward' && kind !== 'deliver') return
    let m = this.visits.get(tag)
    if (m === undefined) this.visits.set(tag, m = new Map())
    m.set(node, (m.get(node) ?? 0) + 1)
    if (kind === 'forward') {
      const h = (this.hops.get(tag) ?? 0) + 1
      this.hops.set(tag, h)
      this.maxHops = Math.max(this.maxHops, h / (this.originated.get(tag) ?? 1))
    }
  }

  violations (): number {
    let v = 0
    for (const [tag, m] of this.visits) for (const c of m.values()) if (c > (this.originated.get(tag) ?? 0)) v++
    return v
  }
}

/** Sends a tagged packet for every listed pair, re-sending every `retryMs` until each arrives. */
function deliverAll (sim: Sim, pairs: Array<[number, number]>, round: string, limitMs = 120_000, retryMs = 2_000): boolean {
  const pending = new Set(pairs.map(([a, b]) => `${a}>${b}`))
  const end = sim.clock.now() + limitMs
  while (pending.size > 0 && sim.clock.now() < end) {
    for (const k of pending) { const [a, b] = k.split('>').map(Number); sim.send(a, b, `${round}:${k}`) }
    sim.run(retryMs)
    for (const k of [...pending]) { const [a, b] = k.split('>').map(Number); if (sim.got(a, b, `${round}:${k}`)) pending.delete(k) }
  }
  return pending.size === 0
}

function alivePairs (sim: Sim): Array<[number, number]> {
  const alive = sim.alive().map(n => n.index)
  const out: Array<[number, number]> = []
  for (const a of alive) for (const b of alive) if (a !== b) out.push([a, b])
  return out
}

function build (n: number, g: Graph, seed: number, loop: LoopCheck): Sim {
  const sim = new Sim({ n, seed, onTrafficEvent: loop.event })
  sim.connectGraph(g)
  expect(sim.settle()).toBe(true)
  return sim
}

describe('simulation: failures and reconvergence', () => {
  it('cutting a tree link reconverges and every pair delivers again, without loops', () => {
    const loop = new LoopCheck()
    const n = 16
    const sim = build(n, graphs.random(n, 10, prng(71)), 71, loop)
    expect(deliverAll(sim, alivePairs(sim), 'before')).toBe(true)
    // Cut the parent link of the deepest node that has another way out.
    const adj = sim.adjacency()
    const cand = sim.nodes.filter(x => adj[x.index].length >= 2 && x.index !== sim.lowestAlive())
      .sort((x, y) => y.overlay.topology().coords.length - x.overlay.topology().coords.length)[0]
    const parent = sim.byKey.get(cand.overlay.router.parentKey())!
    sim.cut(cand.index, parent)
    expect(sim.settle()).toBe(true)
    expect(cand.overlay.router.parentKey()).not.toBe(sim.nodes[parent].keyStr)
    expect(deliverAll(sim, alivePairs(sim), 'after')).toBe(true)
    expect(loop.violations()).toBe(0)
    expect(loop.maxHops).toBeLessThan(n)
    sim.close()
  })

  it('killing the root elects the next-lowest key (after the old root\'s info times out) and delivery resumes', () => {
    const loop = new LoopCheck()
    const n = 12
    const sim = build(n, graphs.random(n, 8, prng(72)), 72, loop)
    const oldRoot = sim.lowestAlive()
    sim.kill(oldRoot)
    const newRoot = sim.lowestAlive()
    expect(sim.runUntil(() => sim.treeConverged(), 7 * 60_000, 1_000)).toBe(true)
    expect(sim.nodes[newRoot].overlay.topology().root).toBe(Buffer.from(sim.nodes[newRoot].key).toString('hex'))
    expect(sim.settle()).toBe(true)
    // Its info is not re-gossiped forever: within one more routerTimeout nobody remembers the dead root.
    expect(sim.runUntil(() => sim.alive().every(x => !x.overlay.router.tree.infos.has(sim.nodes[oldRoot].keyStr)), 5 * 60_000 + 2_000, 1_000)).toBe(true)
    expect(deliverAll(sim, alivePairs(sim), 'after-kill')).toBe(true)
    expect(loop.violations()).toBe(0)
    sim.close()
  })

  it('a partitioned part becomes its own tree (root after one idle tick) and merges back when reconnected', () => {
    const loop = new LoopCheck()
    const n = 8
    const sim = build(n, graphs.line(n), 73, loop)
    const root = sim.lowestAlive()
    // Cut the line next to the root on the longer side.
    const [a, b] = root < n / 2 ? [root, root + 1] : [root - 1, root]
    const side = root < n / 2 ? Array.from({ length: n - b }, (_, i) => b + i) : Array.from({ length: a + 1 }, (_, i) => i)
    sim.cut(a, b)
    const far = sim.nodes[root < n / 2 ? b : a]
    // The node that lost its parent is root of itself within about two ticks (doRoot1, then doRoot2).
    sim.run(2_500)
    expect(far.overlay.topology().root).toBe(far.overlay.topology().key)
    // The cut-off side converges on its own lowest key once the old root's infos expire.
    const lowestOnSide = side.reduce((x, y) => (sim.nodes[x].keyStr < sim.nodes[y].keyStr ? x : y))
    expect(sim.runUntil(() => side.every(i => sim.nodes[i].overlay.router.tree.root() === sim.nodes[lowestOnSide].keyStr), 7 * 60_000, 1_000)).toBe(true)
    sim.connect(a, b)
    expect(sim.settle()).toBe(true)
    expect(deliverAll(sim, alivePairs(sim), 'merged')).toBe(true)
    expect(loop.violations()).toBe(0)
    sim.close()
  })

  it('continuous traffic during churn (links cut and added) never loops; drops are counted, not silent', () => {
    const loop = new LoopCheck()
    const n = 20
    const rand = prng(74)
    const sim = build(n, graphs.random(n, 15, rand), 74, loop)
    const edges = new Set<string>(sim.adjacency().flatMap((vs, a) => vs.filter(b => a < b).map(b => `${a}-${b}`)))
    let seq = 0
    for (let step = 0; step < 40; step++) {
      // Traffic: 10 random packets per step.
      for (let i = 0; i < 10; i++) {
        const a = Math.floor(rand() * n); const b = Math.floor(rand() * n)
        if (a !== b) sim.send(a, b, `churn-${seq++}`)
      }
      // Churn: every 4th step cut a random link (keeping the graph connected via a spanning line) or add one.
      if (step % 4 === 0) {
        const list = [...edges].filter(e => { const [x, y] = e.split('-').map(Number); return Math.abs(x - y) !== 1 })
        if (list.length > 0 && rand() < 0.6) {
          const e = list[Math.floor(rand() * list.length)]
          const [x, y] = e.split('-').map(Number)
          sim.cut(x, y); edges.delete(e)
        } else {
          const x = Math.floor(rand() * n); const y = Math.floor(rand() * n)
          const e = `${Math.min(x, y)}-${Math.max(x, y)}`
          if (x !== y && !edges.has(e)) { sim.connect(x, y); edges.add(e) }
        }
      }
      // Keep a line backbone so the graph stays connected.
      for (let i = 0; i + 1 < n; i++) if (!edges.has(`${i}-${i + 1}`)) { sim.connect(i, i + 1); edges.add(`${i}-${i + 1}`) }
      sim.run(500)
    }
    expect(loop.violations()).toBe(0)
    expect(loop.maxHops).toBeLessThan(n)
    // After the churn stops, everything delivers again.
    expect(sim.settle()).toBe(true)
    expect(deliverAll(sim, alivePairs(sim).filter((_, i) => i % 3 === 0), 'post-churn')).toBe(true)
    sim.close()
  })
})

describe('simulation: scale-free graph', () => {
  it('60 nodes on a Barabási–Albert graph: 300 random pairs all deliver, stretch is bounded, state stays local', () => {
    const loop = new LoopCheck()
    const n = 60
    const sim = build(n, graphs.barabasiAlbert(n, 2, prng(75)), 75, loop)
    const rand = prng(76)
    const pairs: Array<[number, number]> = []
    while (pairs.length < 300) { const a = Math.floor(rand() * n); const b = Math.floor(rand() * n); if (a !== b) pairs.push([a, b]) }
    expect(deliverAll(sim, pairs, 'ba', 30_000)).toBe(true)
    expect(loop.violations()).toBe(0)
    // Routing state is local: no node holds infos for the whole network.
    const maxInfos = Math.max(...sim.nodes.map(x => x.overlay.router.tree.infos.size))
    expect(maxInfos).toBeLessThan(n)
    sim.close()
  })
})
