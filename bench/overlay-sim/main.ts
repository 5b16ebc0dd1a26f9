/**
 * Overlay simulation benchmark: N ironwood-style nodes on a seeded Barabási–Albert graph, memory links and
 * one shared virtual clock. Prints convergence time (virtual and wall), delivery ratio and stretch over random
 * pairs (greedy-routed hops vs BFS shortest path), and heap per node. Last stdout line: one JSON object.
 *
 *   pnpm bench overlay-sim --nodes 1000 [--seed 1] [--m 2] [--pairs 1000] [--latency 5] [--real-crypto] [--hub-root] [--settle S]
 *
 * --settle S runs S more virtual seconds after convergence (past refreshes) before measuring.
 * --hub-root gives the highest-degree node the lowest key (so it becomes root), as operators of public hubs do
 * by grinding keys; by default keys are random and the root is wherever the lowest key happens to be.
 *
 * Signatures are faked (INSECURE_simulationCrypto) unless --real-crypto: the benchmark measures routing,
 * not ed25519.
 *
 * Adversary mode (issue #14), after convergence and before the pairs are measured:
 *   --adversary flood --adversary-n N   one malicious peer (linked to the highest-degree node) announces N fresh keys
 *   --adversary chain --adversary-n N   one malicious peer forges a parent chain N keys deep (its lowest key re-roots)
 * The forged frames are validly signed (the forger in @axl/transport-ygg/testing). Reported: the honest pairs'
 * delivery with the adversary present, the worst stall (wall time of one 10 ms step of virtual time while the
 * victim digests the attack), and the victim's tree size and evictions.
 */
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { Sim, graphs, prng, bfs, attachForger, forgeAnnounce, forgedSigner, signerBelow } from '@axl/transport-ygg/testing'
import { keyStr } from '@axl/transport-ygg/overlay'
import { arg } from '../lib/args.js'


setFlagsFromString('--expose_gc')
const gc = runInNewContext('gc') as () => void
function heap (): { used: number, ab: number } {
  gc(); gc()
  const m = process.memoryUsage()
  return { used: m.heapUsed, ab: m.arrayBuffers }
}

const N = arg('nodes', 1000)
const seed = arg('seed', 1)
const m = arg('m', 2)
const pairs = arg('pairs', 1000)
const latency = arg('latency', 5)
const realCrypto = process.argv.includes('--real-crypto')
const hubRoot = process.argv.includes('--hub-root')
const settle = arg('settle', 0)
const advIdx = process.argv.indexOf('--adversary')
const adversary = advIdx > 0 ? process.argv[advIdx + 1] : undefined
if (adversary !== undefined && adversary !== 'flood' && adversary !== 'chain') throw new Error('--adversary takes flood or chain')
const advN = arg('adversary-n', 20_000)

const log = (s: string): void => { console.log(s) }
log(`overlay-sim: ${N} nodes, Barabási–Albert m=${m}, seed ${seed}, link latency ${latency} ms, ${realCrypto ? 'real ed25519' : 'fake crypto (INSECURE, simulation only)'}`)

const rand = prng(seed * 31 + 7)
const graph = graphs.barabasiAlbert(N, m, rand)
let keys: Uint8Array[] | undefined
if (hubRoot && !realCrypto) {
  // Random keys, except that the highest-degree node gets the lowest one.
  const deg = new Int32Array(N)
  for (const [a, b] of graph) { deg[a]++; deg[b]++ }
  let hub = 0
  for (let i = 1; i < N; i++) if (deg[i] > deg[hub]) hub = i
  const krand = prng(seed * 7 + 3)
  keys = Array.from({ length: N }, (_, i) => {
    const k = new Uint8Array(32)
    for (let j = 0; j < 32; j++) k[j] = Math.floor(krand() * 256)
    k[0] = i === hub ? 0 : Math.max(1, k[0])
    return k
  })
}

// Pair bookkeeping for the traffic hook (set up before nodes exist; filled later).
const PAIR_MAGIC = 0xa7
let pairHops: Int32Array = new Int32Array(0)
let pairDelivered: Uint8Array = new Uint8Array(0)
let visits: Map<number, Set<number>> | undefined
let loopViolations = 0

const h0 = heap()
const wall0 = performance.now()
const sim = new Sim({
  n: N,
  seed,
  latencyMs: latency,
  fakeCrypto: !realCrypto,
  keys,
  record: false,
  onTrafficEvent: (node, kind, tr) => {
    const p = tr.payload
    if (p.length < 5 || p[0] !== PAIR_MAGIC) return
    const id = (p[1] << 24 | p[2] << 16 | p[3] << 8 | p[4]) >>> 0
    if (pairDelivered[id] === 1) return
    if (kind === 'forward') {
      pairHops[id]++
      if (visits !== undefined) {
        let s = visits.get(id)
        if (s === undefined) visits.set(id, s = new Set())
        if (s.has(node)) loopViolations++
        s.add(node)
      }
    } else if (kind === 'deliver') {
      pairDelivered[id] = 1
    }
  }
})
sim.connectGraph(graph)
const wallBuilt = performance.now()

// Converge: every node has the lowest key as root, then the network goes quiet (no frames for 2 s).
const totalFrames = (): number => { let s = 0; for (const n of sim.nodes) s += n.overlay.stats.framesOut; return s }
const treeOk = sim.runUntil(() => sim.treeConverged(), 600_000, 1000)
const treeAt = sim.clock.now()
let last = totalFrames()
let quietFor = 0
const quietOk = sim.runUntil(() => {
  const f = totalFrames()
  quietFor = f === last ? quietFor + 1 : 0
  last = f
  return quietFor >= 2
}, 600_000, 1000)
const convergeVirtual = sim.clock.now() / 1000
const wallConverged = performance.now()
if (settle > 0) {
  sim.runUntil(() => false, settle * 1000, 1000)
  log(`settled for ${settle} s more virtual time (wall ${((performance.now() - wallConverged) / 1000).toFixed(1)} s)`)
}
const h1 = heap()
log(`tree converged: ${treeOk} at ${(treeAt / 1000).toFixed(1)} s virtual; quiet: ${quietOk} at ${convergeVirtual.toFixed(1)} s virtual; wall ${((wallConverged - wall0) / 1000).toFixed(1)} s (build ${((wallBuilt - wall0) / 1000).toFixed(1)} s)`)

// Stats of the tree.
let maxDepth = 0; let sumDepth = 0; let infos = 0
for (const n of sim.nodes) {
  const d = n.overlay.router.tree.coordsOf(n.keyStr).length
  maxDepth = Math.max(maxDepth, d); sumDepth += d
  infos += n.overlay.router.tree.infos.size
}
const rootIdx = sim.lowestAlive()
log(`root: node ${rootIdx} with degree ${sim.adjacency()[rootIdx].length} (max degree ${Math.max(...sim.adjacency().map(a => a.length))})`)
const rootBfs = bfs(sim.adjacency(), rootIdx)
const bfsDepthMean = rootBfs.reduce((s, x) => s + x, 0) / N
log(`tree depth mean ${(sumDepth / N).toFixed(2)} max ${maxDepth} (shortest-path depth from the root: mean ${bfsDepthMean.toFixed(2)}); tree infos per node ${(infos / N).toFixed(1)}`)

// Adversary: a forger linked to the highest-degree node floods it with forged tree entries.
let worstStallMs = 0
let advVictimInfos = 0
let advEvicted = 0
let advDropped = 0
if (adversary !== undefined) {
  const degs = sim.adjacency().map(a => a.length)
  const victimIdx = degs.indexOf(Math.max(...degs))
  const victim = sim.nodes[victimIdx]!
  const fake = !realCrypto
  // For a chain, a forged root below every honest key re-roots the network (the worst case).
  const lowest = sim.nodes[sim.lowestAlive()]!.key
  const forger = attachForger(victim.overlay, adversary === 'chain' ? signerBelow('adv-root', lowest, fake) : forgedSigner('adv', 0, fake), sim.clock)
  sim.runUntil(() => forger.answered > 0, 10_000, 10)
  const frames: Uint8Array[] = []
  const t0 = performance.now()
  if (adversary === 'flood') {
    for (let i = 1; i <= advN; i++) frames.push(forgeAnnounce(forgedSigner('adv-flood', i, fake), forger.signer, i))
  } else {
    let parent = forger.signer
    frames.push(forgeAnnounce(parent, parent, 0))
    for (let i = 1; i <= advN; i++) {
      const child = forgedSigner('adv-chain', i, fake)
      frames.push(forgeAnnounce(child, parent, 1))
      parent = child
    }
  }
  log(`adversary ${adversary}: ${advN} forged announcements (made in ${((performance.now() - t0) / 1000).toFixed(1)} s) into node ${victimIdx} (degree ${degs[victimIdx]})`)
  forger.writeAll(frames)
  // Digest the attack in 10 ms steps of virtual time, timing each step's wall time (the event-loop stall).
  const advEnd = sim.clock.now() + 30_000
  while (sim.clock.now() < advEnd) {
    const w = performance.now()
    sim.runUntil(() => false, 10, 10)
    worstStallMs = Math.max(worstStallMs, performance.now() - w)
  }
  const st = victim.overlay.stats
  advVictimInfos = victim.overlay.router.tree.infos.size
  advEvicted = st.treeInfosEvicted
  advDropped = st.treeInfosDropped
  log(`adversary digested: worst stall ${worstStallMs.toFixed(0)} ms per 10 ms virtual step; victim holds ${advVictimInfos} tree infos (${advEvicted} evicted, ${advDropped} dropped)`)
}

// Delivery and stretch over random pairs.
pairHops = new Int32Array(pairs)
pairDelivered = new Uint8Array(pairs)
visits = N <= 20000 ? new Map() : undefined
const adj = sim.adjacency()
const prand = prng(seed * 977 + 13)
const pairList: Array<[number, number]> = []
while (pairList.length < pairs) {
  const a = Math.floor(prand() * N); const b = Math.floor(prand() * N)
  if (a !== b) pairList.push([a, b])
}
const framesBefore = totalFrames()
const lookupsBefore = sim.nodes.reduce((s, n) => s + n.overlay.stats.lookupsSent, 0)
const wallT0 = performance.now()
const tSend = sim.clock.now()
pairList.forEach(([a, b], id) => {
  const payload = new Uint8Array(16)
  payload[0] = PAIR_MAGIC
  payload[1] = id >>> 24; payload[2] = id >>> 16; payload[3] = id >>> 8; payload[4] = id
  sim.nodes[a].overlay.sendTo(sim.nodes[b].key, payload)
})
sim.runUntil(() => pairDelivered.every(x => x === 1), 30_000, 100)
const deliverVirtual = (sim.clock.now() - tSend) / 1000
const wallT1 = performance.now()
let delivered = 0
const stretches: number[] = []
for (let id = 0; id < pairs; id++) {
  if (pairDelivered[id] !== 1) continue
  delivered++
  const [a, b] = pairList[id]
  const d = bfs(adj, a)[b]
  if (d > 0) stretches.push(pairHops[id] / d)
}
stretches.sort((x, y) => x - y)
const mean = stretches.reduce((s, x) => s + x, 0) / Math.max(1, stretches.length)
const p99 = stretches.length > 0 ? stretches[Math.min(stretches.length - 1, Math.floor(stretches.length * 0.99))] : NaN
const framesPerLookup = (totalFrames() - framesBefore) / pairs
const lookups = sim.nodes.reduce((s, n) => s + n.overlay.stats.lookupsSent, 0) - lookupsBefore
const wmDrops = sim.nodes.reduce((s, n) => s + n.overlay.stats.watermarkDrops, 0)
log(`delivery ${delivered}/${pairs} within ${deliverVirtual.toFixed(1)} s virtual (wall ${((wallT1 - wallT0) / 1000).toFixed(1)} s); stretch mean ${mean.toFixed(3)} p99 ${p99.toFixed(3)}; ${lookups} lookups, ${framesPerLookup.toFixed(0)} frames per pair; watermark drops ${wmDrops}; loop violations ${loopViolations}`)

const heapPerNode = (h1.used - h0.used) / N
const abPerNode = (h1.ab - h0.ab) / N
log(`heap per node: ${(heapPerNode / 1024).toFixed(1)} KiB JS heap + ${(abPerNode / 1024).toFixed(1)} KiB ArrayBuffers (blooms, frames)`)
sim.close()
void keyStr

console.log(JSON.stringify({
  nodes: N,
  ...(adversary !== undefined ? { adversary, adversary_n: advN, adversary_worst_stall_ms: Math.round(worstStallMs), adversary_victim_tree_infos: advVictimInfos, adversary_infos_evicted: advEvicted, adversary_infos_dropped: advDropped } : {}),
  edges: graph.length,
  seed,
  delivery_ratio: delivered / pairs,
  stretch_mean: Number(mean.toFixed(4)),
  stretch_p99: Number(p99.toFixed(4)),
  heap_bytes_per_node: Math.round(heapPerNode),
  array_buffer_bytes_per_node: Math.round(abPerNode),
  converge_virtual_s: Number(convergeVirtual.toFixed(1)),
  tree_converge_virtual_s: Number((treeAt / 1000).toFixed(1)),
  wall_s: Number(((performance.now() - wall0) / 1000).toFixed(1)),
  converge_wall_s: Number(((wallConverged - wall0) / 1000).toFixed(1)),
  tree_depth_mean: Number((sumDepth / N).toFixed(2)),
  shortest_path_depth_mean: Number(bfsDepthMean.toFixed(2)),
  frames_per_pair: Math.round(framesPerLookup),
  loop_violations: loopViolations,
  root_degree: sim.adjacency()[rootIdx].length,
  hub_root: hubRoot,
  fake_crypto: !realCrypto
}))
