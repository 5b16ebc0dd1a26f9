/**
 * Hop counts between every pair of nodes of a simulated Yggdrasil/ironwood overlay, for benchmarks that put a
 * per-pair one-way delay (hops × a per-hop delay) on the in-memory mesh.
 *
 * The overlay is the one `pnpm bench overlay-sim` measures: `@axl/transport-ygg/testing`'s Sim (real Overlay
 * nodes, fake signatures, virtual clock) on a seeded Barabási–Albert graph, run until its spanning tree has
 * converged. From every node's own tree coordinates we then route every pair as the router does (routing.ts
 * `nextHop`: among the peers strictly closer in tree space to the destination, the lowest link cost per unit of
 * progress — link cost 1 —, then the lower distance, then the older link), and keep the hop counts. Packets
 * from A to B follow this greedy path (after a lookup found B's coordinates), so its length × the per-hop delay
 * is A → B's one-way delay. `check(pairs)` compares the model with packets actually routed by the Sim.
 */
import { Sim, graphs, prng, bfs } from '@axl/transport-ygg/testing'
import { treeDist } from '@axl/transport-ygg/overlay'

export interface OverlayRoutes {
  n: number
  /** Routed hops from i to j: hops[i * n + j] (0 on the diagonal). */
  hops: Uint8Array
  /** The largest routed hop count over all ordered pairs. */
  diameter: number
  /** Mean routed hops over all ordered pairs i ≠ j. */
  meanHops: number
  /** Largest shortest-path hop count of the link graph (routing may be longer: stretch). */
  graphDiameter: number
  edges: number
  /** Each node's overlay links (peers), in link order. */
  neighbours: number[][]
  /** Each node's spanning-tree parent (-1 at the root), and the root. */
  parent: Int32Array
  root: number
  treeDepthMax: number
  /** Virtual seconds until the tree converged; wall seconds to build, converge and route all pairs. */
  convergeVirtualS: number
  buildWallS: number
  /** Route `pairs` random pairs through the Sim itself and count those whose hop count differs from the model. */
  check: (pairs: number, seed: number) => { pairs: number, delivered: number, mismatches: number }
  close: () => void
}

/** Build and converge an N-node overlay (BA graph with m links per new node) and route every pair. */
export function simulatedOverlay (n: number, seed: number, m = 2): OverlayRoutes {
  const wall0 = performance.now()
  const graph = graphs.barabasiAlbert(n, m, prng(seed * 31 + 7))
  // The traffic hook counts forwards of check() packets (first 5 payload bytes: magic, pair id).
  let counting: { hops: Int32Array, delivered: Uint8Array } | undefined
  const sim = new Sim({
    n,
    seed,
    fakeCrypto: true,
    record: false,
    onTrafficEvent: (_node, kind, tr) => {
      const p = tr.payload
      if (counting === undefined || p.length < 5 || p[0] !== 0xa7) return
      const id = (p[1] << 24 | p[2] << 16 | p[3] << 8 | p[4]) >>> 0
      if (counting.delivered[id] === 1) return
      if (kind === 'forward') counting.hops[id]++
      else if (kind === 'deliver') counting.delivered[id] = 1
    }
  })
  sim.connectGraph(graph)
  if (!sim.runUntil(() => sim.treeConverged(), 600_000, 1000)) throw new Error('the simulated overlay did not converge in 600 s virtual')
  const convergeVirtualS = sim.clock.now() / 1000
  // Adjacency in link order (each node's peers in the order they were connected: the router's tie-break).
  const adj: number[][] = Array.from({ length: n }, () => [])
  for (const [a, b] of graph) { adj[a].push(b); adj[b].push(a) }
  const coords = sim.nodes.map(x => x.overlay.router.tree.coordsOf(x.keyStr))
  const root = sim.lowestAlive()
  const parent = new Int32Array(n).fill(-1)
  sim.nodes.forEach((x, i) => { if (i !== root) parent[i] = sim.byKey.get(x.overlay.router.parentKey()) ?? -1 })
  const treeDepthMax = Math.max(...coords.map(c => c.length))
  const hops = new Uint8Array(n * n)
  const dist = new Int32Array(n)
  const next = new Int32Array(n)
  const h = new Int32Array(n)
  let diameter = 0
  let sum = 0
  for (let dst = 0; dst < n; dst++) {
    for (let v = 0; v < n; v++) dist[v] = treeDist(coords[dst], coords[v])
    for (let u = 0; u < n; u++) {
      next[u] = -1
      if (u === dst) continue
      let bestCpd = Infinity; let bestDist = Infinity
      for (const v of adj[u]) {
        const d = dist[v]
        if (d >= dist[u]) continue
        const cpd = Math.floor(1 / (dist[u] - d))
        if (cpd < bestCpd || (cpd === bestCpd && d < bestDist)) { next[u] = v; bestCpd = cpd; bestDist = d }
      }
      if (next[u] < 0) throw new Error(`overlay: no greedy next hop from ${u} to ${dst} (tree not converged?)`)
    }
    // every step strictly lowers the tree distance, so the walk ends; memoise along it
    h.fill(-1); h[dst] = 0
    for (let u = 0; u < n; u++) {
      let v = u; const path: number[] = []
      while (h[v] < 0) { path.push(v); v = next[v] }
      for (let k = path.length - 1; k >= 0; k--) h[path[k]] = h[k === path.length - 1 ? v : path[k + 1]] + 1
    }
    for (let u = 0; u < n; u++) {
      if (h[u] > 255) throw new Error('overlay: a route longer than 255 hops')
      hops[u * n + dst] = h[u]
      if (u !== dst) { sum += h[u]; if (h[u] > diameter) diameter = h[u] }
    }
  }
  let graphDiameter = 0
  for (let s = 0; s < n; s++) for (const d of bfs(adj, s)) if (d > graphDiameter) graphDiameter = d

  const check = (pairs: number, checkSeed: number): { pairs: number, delivered: number, mismatches: number } => {
    const rand = prng(checkSeed)
    const list: Array<[number, number]> = []
    while (list.length < pairs) {
      const a = Math.floor(rand() * n); const b = Math.floor(rand() * n)
      if (a !== b) list.push([a, b])
    }
    counting = { hops: new Int32Array(pairs), delivered: new Uint8Array(pairs) }
    const c = counting
    list.forEach(([a, b], id) => {
      const payload = new Uint8Array(16)
      payload[0] = 0xa7; payload[1] = id >>> 24; payload[2] = id >>> 16; payload[3] = id >>> 8; payload[4] = id
      sim.nodes[a].overlay.sendTo(sim.nodes[b].key, payload)
    })
    sim.runUntil(() => c.delivered.every(x => x === 1), 30_000, 100)
    let delivered = 0; let mismatches = 0
    list.forEach(([a, b], id) => {
      if (c.delivered[id] !== 1) return
      delivered++
      if (c.hops[id] !== hops[a * n + b]) mismatches++
    })
    counting = undefined
    return { pairs, delivered, mismatches }
  }

  return {
    n,
    hops,
    diameter,
    meanHops: sum / Math.max(1, n * (n - 1)),
    graphDiameter,
    edges: graph.length,
    neighbours: adj,
    parent,
    root,
    treeDepthMax,
    convergeVirtualS,
    buildWallS: (performance.now() - wall0) / 1000,
    check,
    close: () => { sim.close() }
  }
}
