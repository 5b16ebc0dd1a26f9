/**
 * Gossip pub/sub benchmark (issue #15): N nodes with the @axl/pubsub service on the in-memory mesh (core
 * MemoryNetwork), one process. Every node subscribes to one topic; once the meshes formed and settled, random
 * nodes publish; we measure delivery ratio, redundancy (MESSAGE frames received — every copy, whatever way it
 * came: eager push, IWANT answer, duplicate — per delivered message), latency p50/p99 (publish → delivery) and
 * hops, and bytes of all gossip frames (control included: TREE, PEERS, PING/PONG, IHAVE, …) per delivered
 * message. Last stdout line: one JSON object.
 *
 *   pnpm bench gossip --nodes 1000 [--topology mesh|overlay] [--clock virtual|wall] [--messages 50] [--warmup 10]
 *                     [--latency 5] [--interval 20] [--seed 1] [--m 2] [--settle 60] [--tree on|off]
 *                     [--D 6 --Dlo 4 --Dhi 12 --Drandom 2]
 *
 * Topologies (the one-way delay of every stream opening and chunk from A to B):
 * - `mesh` (default): --latency ms for every pair (every node one hop from every other; node.topology() lists
 *   every node as a direct peer).
 * - `overlay`: the number of hops from A to B on a simulated Yggdrasil/ironwood overlay × --latency ms per hop.
 *   The overlay is the one `pnpm bench overlay-sim` measures (bench/lib/overlay-routes.ts): real Overlay nodes of
 *   `@axl/transport-ygg/testing`'s Sim on a seeded Barabási–Albert graph (--m links per new node), run until its
 *   spanning tree converged; then every ordered pair is routed greedily in tree space as the router does
 *   (routing.ts nextHop), and the model is checked against 1000 packets routed by the Sim itself (it must agree
 *   on every one). The memory mesh gets the hop counts through its per-pair `latencyMs` function, and each node's
 *   node.topology() reports its simulated node's links, parent and children (through `topology`), as ygg() does.
 *
 * Targets: delivery 1.0, redundancy ≤ 1.2, p99 ≤ 2 × the diameter in one-way delays. On `overlay` the diameter
 * is the overlay's (the largest routed hop count over all pairs) × --latency. On `mesh` the transport's diameter
 * is 1 — no broadcast over a bounded-degree mesh reaches 1,000 nodes in 2 one-way delays — so it is the gossip
 * mesh's (the largest shortest-path hop count over the union of all nodes' mesh links, BFS from every node) ×
 * --latency. AXL's published figures for its Python example (results.tsv: delivery 1.0, redundancy 1.05) are
 * printed as axl_* for comparison.
 *
 * Clocks. `--clock virtual` (the default) runs everything on a virtual clock (bench/lib/clock.ts:
 * @sinonjs/fake-timers fakes setTimeout/setInterval/setImmediate/Date; it is driven one timer at a time, and after
 * each timer a real macrotask lets every promise chain settle before the next fires). Why: on the wall clock,
 * 1,000 nodes share one event loop (91 % busy, a quarter of it GC, at 5 messages/s before this bench moved to
 * virtual time), so timers fire late, eager copies arrive after the IHAVE timeout, IWANT pulls add copies, and the
 * latency measured is the process's CPU queue, not the protocol. On the virtual clock a thousand nodes in one
 * process behave as a thousand machines would, each idle between messages: only the one-way delays and the
 * protocol's own timers (heartbeat, IHAVE waits, lazy flush, IWANT retries) take time. Everything still runs for
 * real — every message is signed and verified with ed25519 (through the process-wide memo of verified signatures,
 * as in any process hosting several nodes), every frame encoded, written to the memory mesh's streams, read and
 * decoded — it just costs no virtual time (its CPU cost shows in wall_s). Signature verification is the
 * protocol's real cost on a node, but tens of µs per message against 5 ms per hop, so zero virtual time is a fair
 * approximation; the bench does not model CPU time at all. `--clock wall` is the old wall-clock mode (see
 * event_loop_utilization: near 1, the latency measures the process, not the protocol).
 *
 * Phases: create the nodes; run until every node has Dlo mesh peers (mesh_formed_s); settle until GRAFTs, PRUNEs
 * and tree parent changes have (nearly) stopped — fewer in 5 s than 2 % of the nodes — or --settle s passed
 * (mesh_settled_s; proximity keeps swapping in nearer peers for a while); --warmup messages; then --messages
 * measured ones, one every --interval ms. Peer ids and publishers are seeded (--seed); the protocol's own choices
 * are random, so figures vary a little from run to run.
 *
 * Measured (2-core machine, defaults; the table and more runs are in packages/pubsub/README.md): 1000 nodes on
 * `mesh`: delivery 1.0, redundancy 1.005, p50 35 ms, p99 50 ms (target 60), 29 s wall; on `overlay`: 1.0, 1.003,
 * 45 ms, 65 ms (target 100), 42 s wall. 100 nodes: p99 30 ms (target 40) and 45 ms (target 80), redundancy 1.000.
 */
import { createNode, identityFromSeed, MemoryNetwork, type AxlNode, type PeerId } from '@axl/core'
import { gossip, type GossipSub, type PubSubMessage } from '@axl/pubsub'
import { arg, choice } from '../lib/args.js'
import { virtualClock, wallClock } from '../lib/clock.js'
import { simulatedOverlay, type OverlayRoutes } from '../lib/overlay-routes.js'
import { prng } from '@axl/transport-ygg/testing'

const N = arg('nodes', 200)
const M = arg('messages', 50)
const warmup = arg('warmup', 10)
const latency = arg('latency', 5)
const interval = arg('interval', 20)
const seed = arg('seed', 1)
const baM = arg('m', 2)
const D = arg('D', 6); const Dlo = arg('Dlo', 4); const Dhi = arg('Dhi', 12)
const topology = choice('topology', ['mesh', 'overlay'])
const clockKind = choice('clock', ['virtual', 'wall'])
const tree = choice('tree', ['on', 'off']) === 'on'
const Drandom = arg('Drandom', 2)
const settleLimit = arg('settle', 60)
const log = (s: string): void => { console.log(s) }
const wall0 = performance.now()

// The overlay is built (on the Sim's own virtual clock) before our clock is installed.
let overlay: OverlayRoutes | undefined
let routeCheck: { pairs: number, delivered: number, mismatches: number } | undefined
if (topology === 'overlay') {
  overlay = simulatedOverlay(N, seed, baM)
  routeCheck = overlay.check(Math.min(1000, N * (N - 1)), seed * 977 + 13)
  overlay.close()
  log(`overlay: ${N} nodes, Barabási–Albert m=${baM} seed ${seed} (${overlay.edges} links), tree converged at ${overlay.convergeVirtualS.toFixed(1)} s virtual, depth ≤ ${overlay.treeDepthMax}; routed hops mean ${overlay.meanHops.toFixed(2)}, diameter ${overlay.diameter} (link graph diameter ${overlay.graphDiameter}); route model vs Sim: ${routeCheck.mismatches} of ${routeCheck.delivered} pairs differ; built in ${overlay.buildWallS.toFixed(1)} s`)
  if (routeCheck.mismatches > 0 || routeCheck.delivered < routeCheck.pairs) throw new Error('the route model does not match the simulated overlay')
}

const clk = clockKind === 'virtual' ? virtualClock() : wallClock()
const v0 = clk.now()
log(`gossip: ${N} nodes on the in-memory mesh, ${topology === 'overlay' ? `overlay hops × ${latency} ms` : `one-way delay ${latency} ms`}, ${clk.kind} clock, D=${D} Dlo=${Dlo} Dhi=${Dhi} Drandom=${Drandom}, tree ${tree ? 'on' : 'off'}; ${warmup} warm-up + ${M} measured messages, one every ${interval} ms`)

const idRand = prng(seed * 7919 + 1)
const identities = Array.from({ length: N }, () => identityFromSeed(Uint8Array.from({ length: 32 }, () => Math.floor(idRand() * 256))))
const pubRand = prng(seed * 104729 + 3)
const index = new Map<PeerId, number>(identities.map((id, i) => [id.peerId, i]))
const peerOf = (i: number): PeerId => identities[i].peerId
const net = new MemoryNetwork({
  latencyMs: overlay === undefined
    ? latency
    : (from, to) => overlay.hops[index.get(from)! * N + index.get(to)!] * latency,
  // on the overlay, node.topology() reports the simulated node's links and tree (as ygg() reports its own)
  topology: overlay === undefined
    ? undefined
    : (self, base) => {
        const i = index.get(self)!
        const links = new Set(overlay.neighbours[i].map(peerOf))
        const parent = overlay.parent[i] < 0 ? self : peerOf(overlay.parent[i])
        const children = overlay.neighbours[i].filter(j => overlay.parent[j] === i).map(peerOf)
        return {
          ...base,
          root: peerOf(overlay.root),
          parent,
          peers: base.peers.filter(p => links.has(p.publicKey as PeerId)),
          tree: [{ publicKey: self, parent, sequence: 0 }, ...children.map(c => ({ publicKey: c, parent: self, sequence: 0 }))]
        }
      }
})
const nodes: Array<AxlNode<{ pubsub: GossipSub }>> = []
for (let i = 0; i < N; i++) {
  nodes.push(await clk.wait(createNode({
    identity: identities[i],
    transport: net.transport(),
    limits: { inboxMaxMessages: 10_000 },
    services: { pubsub: gossip({ D, Dlo, Dhi, Drandom, tree, heartbeatMs: 1000, ihaveTimeoutMs: Math.max(50, 10 * latency), maxPendingSends: 100_000 }) }
  })))
}
const published = new Map<string, number>() // id → publish time
const deliveries: Array<{ id: string, at: number, hops: number }> = []
const deliveredById = new Map<string, number>()
for (const n of nodes) {
  const sub = n.services.pubsub.subscribe('bench')
  void (async () => {
    for await (const m of sub as AsyncIterable<PubSubMessage>) {
      deliveries.push({ id: m.id, at: clk.now(), hops: m.hops })
      deliveredById.set(m.id, (deliveredById.get(m.id) ?? 0) + 1)
    }
  })()
}
// run (with a deadline) until every node has at least Dlo mesh peers
if (!await clk.runUntil(() => nodes.every(n => n.services.pubsub.meshPeers('bench').length >= Dlo), 120_000, 100)) {
  throw new Error('meshes did not form within 120 s')
}
const meshAt = (clk.now() - v0) / 1000
log(`meshes formed after ${meshAt.toFixed(1)} s ${clk.kind} (wall ${((performance.now() - wall0) / 1000).toFixed(1)} s)`)
// Settle: run until the meshes and the tree have (nearly) stopped changing — fewer GRAFTs, PRUNEs and parent
// changes in the last 5 s than 2 % of the nodes (a full peer refusing a GRAFT every pruneBackoffMs never stops
// entirely) — at most --settle s.
const changes = (): number => nodes.reduce((s, n) => { const st = n.services.pubsub.stats; return s + st.graftSent + st.pruneSent + st.parentChanges }, 0)
const window: number[] = [changes()] // one sample a second
let recentChanges = Infinity
const settled = await clk.runUntil(() => {
  window.push(changes())
  if (window.length > 6) window.shift()
  recentChanges = window.length < 6 ? Infinity : window[5] - window[0]
  return recentChanges < Math.max(5, N / 50)
}, settleLimit * 1000, 1000)
const settledAt = (clk.now() - v0) / 1000
const trees = nodes.map(n => n.services.pubsub.treeOf('bench')!)
const roots = new Set(trees.map(x => x.root)).size
const depthMax = Math.max(...trees.map(x => x.depth))
log(`${settled ? 'settled' : 'still changing'} at ${settledAt.toFixed(1)} s ${clk.kind} (wall ${((performance.now() - wall0) / 1000).toFixed(1)} s): ${changes()} grafts, prunes and parent changes so far, ${recentChanges} in the last 5 s; ${tree ? `tree: ${roots} root(s), depth ≤ ${depthMax}` : 'no tree (Plumtree only)'}`)

/** Diameter of the union of mesh links (BFS from every node; the largest eccentricity). */
function meshDiameter (): number {
  const adj: number[][] = nodes.map(() => [])
  nodes.forEach((n, i) => {
    for (const p of n.services.pubsub.meshPeers('bench')) {
      const j = index.get(p)
      if (j !== undefined) { adj[i].push(j); adj[j].push(i) }
    }
  })
  let diameter = 0
  const dist = new Int32Array(N)
  for (let s = 0; s < N; s++) {
    dist.fill(-1); dist[s] = 0
    const q = [s]
    for (let h = 0; h < q.length; h++) for (const v of adj[q[h]]) if (dist[v] < 0) { dist[v] = dist[q[h]] + 1; q.push(v) }
    for (let i = 0; i < N; i++) diameter = Math.max(diameter, dist[i] < 0 ? Infinity : dist[i])
  }
  return diameter
}

async function publishSome (count: number): Promise<string[]> {
  const ids: string[] = []
  for (let k = 0; k < count; k++) {
    const n = nodes[Math.floor(pubRand() * N)]
    const t = clk.now()
    const { id } = await clk.wait(n.services.pubsub.publish('bench', new TextEncoder().encode(`message ${k} ${'x'.repeat(64)}`)))
    published.set(id, t)
    ids.push(id)
    await clk.sleep(clk.kind === 'virtual' ? Math.max(0, t + interval - clk.now()) : interval)
  }
  return ids
}

async function settle (ids: string[]): Promise<void> {
  await clk.runUntil(() => ids.every(id => (deliveredById.get(id) ?? 0) >= N - 1), 60_000, 10)
}

const totals = (): { recv: number, bytes: number, frames: number } => nodes.reduce((s, n) => {
  const st = n.services.pubsub.stats
  return { recv: s.recv + st.messagesReceived, bytes: s.bytes + st.bytesSent, frames: s.frames + st.framesSent }
}, { recv: 0, bytes: 0, frames: 0 })

await settle(await publishSome(warmup))
const before = totals()
const elu0 = performance.eventLoopUtilization()
const deliveredBefore = deliveries.length
const ids = await publishSome(M)
await settle(ids)
const after = totals()
// share of the measured wall time the (single) event loop was busy: near 1 means the process, not the network, sets wall-clock latency
const elu = performance.eventLoopUtilization(elu0).utilization
const idSet = new Set(ids)
const measured = deliveries.slice(deliveredBefore).filter(d => idSet.has(d.id))
const lat = measured.map(d => d.at - published.get(d.id)!).sort((a, b) => a - b)
const hops = measured.map(d => d.hops).sort((a, b) => a - b)
const q = (a: number[], p: number): number => a.length === 0 ? NaN : a[Math.min(a.length - 1, Math.floor(a.length * p))]
const meshDiam = meshDiameter()
// on the overlay: how far (hops) mesh links and tree links reach — proximity keeps both short
let linkHops: { mesh: number, tree: number } | undefined
if (overlay !== undefined) {
  let ms = 0; let mc = 0; let ts = 0; let tc = 0
  nodes.forEach((n, i) => {
    for (const p of n.services.pubsub.meshPeers('bench')) { ms += overlay.hops[i * N + index.get(p)!]; mc++ }
    const parent = trees[i].parent
    if (parent !== undefined) { ts += overlay.hops[i * N + index.get(parent)!]; tc++ }
  })
  linkHops = { mesh: ms / Math.max(1, mc), tree: tc === 0 ? NaN : ts / tc }
}
const diameter = overlay?.diameter ?? meshDiam
const target = 2 * diameter * latency
const copies = after.recv - before.recv
const deliveryRatio = measured.length / (M * (N - 1))
const redundancy = copies / Math.max(1, measured.length)
const bytesPerMsg = (after.bytes - before.bytes) / Math.max(1, measured.length)
const st = nodes.map(n => n.services.pubsub.stats)
const sum = (k: keyof typeof st[0]): number => st.reduce((s, x) => s + x[k], 0)
const p50 = q(lat, 0.5); const p99 = q(lat, 0.99)
const diameterText = overlay === undefined ? `gossip mesh diameter ${meshDiam} hops` : `overlay diameter ${overlay.diameter} hops (gossip mesh diameter ${meshDiam}; mesh links span ${linkHops!.mesh.toFixed(2)} overlay hops on average${tree ? `, tree links ${linkHops!.tree.toFixed(2)}` : ''})`
log(`delivered ${measured.length}/${M * (N - 1)}; redundancy ${redundancy.toFixed(3)}; latency p50 ${p50.toFixed(1)} ms p99 ${p99.toFixed(1)} ms; hops p50 ${q(hops, 0.5)} p99 ${q(hops, 0.99)}; ${diameterText} → p99 target ${target} ms; ${(bytesPerMsg).toFixed(0)} bytes and ${((after.frames - before.frames) / Math.max(1, measured.length)).toFixed(2)} frames per delivered message`)
const timeouts = st.map(x => x.ihaveTimeoutMs).sort((a, b) => a - b)
log(`counters: iwant sent ${sum('iwantSent')}, served ${sum('iwantServed')}, gave up ${sum('iwantGaveUp')}; send failures ${sum('sendFailures')}, dropped ${sum('sendsDropped')}; tree switches ${sum('treeOptimized')}; signature memo hits ${sum('signatureMemoHits')}; IHAVE timeout p50 ${q(timeouts, 0.5)} ms p99 ${q(timeouts, 0.99)} ms; event loop busy ${(100 * elu).toFixed(0)}%${clk.kind === 'virtual' ? `; ${clk.timersFired()} timers fired` : ''}`)
const clockS = (clk.now() - v0) / 1000
await clk.wait(Promise.all(nodes.map(async n => { await n.stop() })))
clk.uninstall()
const wall = (performance.now() - wall0) / 1000
const met = { delivery: deliveryRatio === 1, redundancy: redundancy <= 1.2, latency_p99: p99 <= target }
log(`targets: delivery 1.0 ${met.delivery ? 'met' : 'NOT met'}, redundancy ≤ 1.2 ${met.redundancy ? 'met' : 'NOT met'}, p99 ≤ ${target} ms ${met.latency_p99 ? 'met' : 'NOT met'}; wall ${wall.toFixed(1)} s`)

console.log(JSON.stringify({
  nodes: N,
  topology,
  clock: clk.kind,
  messages: M,
  warmup_messages: warmup,
  interval_ms: interval,
  seed,
  [topology === 'overlay' ? 'hop_delay_ms' : 'one_way_delay_ms']: latency,
  mesh_degree: { D, Dlo, Dhi, Drandom },
  delivery_ratio: Number(deliveryRatio.toFixed(4)),
  redundancy: Number(redundancy.toFixed(3)),
  latency_p50_ms: Number(p50.toFixed(1)),
  latency_p99_ms: Number(p99.toFixed(1)),
  latency_p99_target_ms: target,
  targets_met: met,
  hops_p50: q(hops, 0.5),
  hops_p99: q(hops, 0.99),
  mesh_diameter_hops: meshDiam,
  transport_diameter_hops: overlay?.diameter ?? 1,
  ...(overlay !== undefined
    ? {
        overlay_diameter_hops: overlay.diameter,
        overlay_hops_mean: Number(overlay.meanHops.toFixed(2)),
        overlay_graph_diameter_hops: overlay.graphDiameter,
        overlay_links: overlay.edges,
        overlay_route_check: routeCheck,
        mesh_link_overlay_hops_mean: Number(linkHops!.mesh.toFixed(2)),
        tree_link_overlay_hops_mean: tree ? Number(linkHops!.tree.toFixed(2)) : null
      }
    : {}),
  event_loop_utilization: Number(elu.toFixed(2)),
  tree_switches: sum('treeOptimized'),
  iwant_sent: sum('iwantSent'),
  bytes_per_delivered_message: Math.round(bytesPerMsg),
  frames_per_delivered_message: Number(((after.frames - before.frames) / Math.max(1, measured.length)).toFixed(2)),
  mesh_formed_s: Number(meshAt.toFixed(1)),
  mesh_settled_s: Number(settledAt.toFixed(1)),
  mesh_settled: settled,
  mesh_changes_last_5s: recentChanges,
  tree: tree ? { roots, depth_max: depthMax, parent_changes: sum('parentChanges') } : 'off',
  mesh_optimized: sum('meshOptimized'),
  [clk.kind === 'virtual' ? 'virtual_s' : 'run_s']: Number(clockS.toFixed(1)),
  wall_s: Number(wall.toFixed(1)),
  axl_delivery_ratio: 1.0,
  axl_redundancy: 1.05
}))
