/**
 * Gossip pub/sub benchmark: N nodes with the @axl/pubsub service on the in-memory mesh (core MemoryNetwork, one
 * one-way delay per chunk and stream open), one process. Every node subscribes to one topic; after the meshes
 * formed, random nodes publish; we measure delivery ratio, redundancy (MESSAGE copies received per delivered
 * message), latency p50/p99 (publish → delivery, wall clock) and hops, and bytes of all gossip frames (control
 * included) per delivered message. Last stdout line: one JSON object.
 *
 *   pnpm bench gossip --nodes 1000 [--messages 50] [--warmup 10] [--latency 5] [--interval 20] [--D 6 --Dlo 4 --Dhi 12]
 *
 * Diameters: the gossip mesh's is the largest shortest-path hop count over the union of all nodes' mesh links
 * (BFS from every node); the transport's is 1 (on the memory network every node reaches every other in one
 * one-way delay). The target for p99 is 2 × the diameter of the gossip mesh (hops, over the union of all mesh links) × the
 * one-way delay; the mesh is what a message travels here (on the memory network every pair of nodes is one hop
 * apart, so the transport's own diameter is 1). AXL's published figures for its Python example
 * (results.tsv: delivery 1.0, redundancy 1.05) are printed as axl_* for comparison.
 *
 * event_loop_utilization is the share of the measured phase the one event loop was busy (all N nodes share it):
 * near 1, messages wait for CPU, and latency measures the process, not the protocol.
 *
 * Not on the overlay simulator: `@axl/transport-ygg/testing`'s Sim carries ironwood datagrams on a virtual clock,
 * not node streams; a node there needs the whole session + TCP stack, which testnet() runs for real and not cheaply.
 */
import { createNode, MemoryNetwork, type AxlNode } from '@axl/core'
import { gossip, type GossipSub, type PubSubMessage } from '@axl/pubsub'
import { arg } from '../lib/args.js'


const N = arg('nodes', 200)
const M = arg('messages', 50)
const warmup = arg('warmup', 10)
const latency = arg('latency', 5)
const interval = arg('interval', 20)
const D = arg('D', 6); const Dlo = arg('Dlo', 4); const Dhi = arg('Dhi', 12)
const log = (s: string): void => { console.log(s) }
const sleep = async (ms: number): Promise<void> => { await new Promise(resolve => setTimeout(resolve, ms)) }

log(`gossip: ${N} nodes on the in-memory mesh, one-way delay ${latency} ms, D=${D} Dlo=${Dlo} Dhi=${Dhi}; ${warmup} warm-up + ${M} measured messages, one every ${interval} ms`)
const wall0 = performance.now()
const net = new MemoryNetwork({ latencyMs: latency })
const nodes: Array<AxlNode<{ pubsub: GossipSub }>> = []
for (let i = 0; i < N; i++) {
  nodes.push(await createNode({
    transport: net.transport(),
    limits: { inboxMaxMessages: 10_000 },
    services: { pubsub: gossip({ D, Dlo, Dhi, heartbeatMs: 1000, ihaveTimeoutMs: Math.max(50, 10 * latency), maxPendingSends: 100_000 }) }
  }))
}
const published = new Map<string, number>() // id → publish time
const deliveries: Array<{ id: string, at: number, hops: number }> = []
for (const n of nodes) {
  const sub = n.services.pubsub.subscribe('bench')
  void (async () => {
    for await (const m of sub as AsyncIterable<PubSubMessage>) deliveries.push({ id: m.id, at: performance.now(), hops: m.hops })
  })()
}
// wait (with a deadline) until every node has at least Dlo mesh peers
const meshDeadline = Date.now() + 120_000
while (!nodes.every(n => n.services.pubsub.meshPeers('bench').length >= Dlo)) {
  if (Date.now() > meshDeadline) throw new Error('meshes did not form within 120 s')
  await sleep(100)
}
const meshAt = (performance.now() - wall0) / 1000
log(`meshes formed after ${meshAt.toFixed(1)} s`)

/** Diameter of the union of mesh links (BFS from every node; the largest eccentricity). */
function meshDiameter (): number {
  const index = new Map(nodes.map((n, i) => [n.peerId as string, i]))
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
    const n = nodes[Math.floor(Math.random() * N)]
    const t = performance.now()
    const { id } = await n.services.pubsub.publish('bench', new TextEncoder().encode(`message ${k} ${'x'.repeat(64)}`))
    published.set(id, t)
    ids.push(id)
    await sleep(interval)
  }
  return ids
}

async function settle (ids: string[]): Promise<void> {
  const want = new Set(ids)
  const deadline = Date.now() + 60_000
  for (;;) {
    const got = deliveries.filter(d => want.has(d.id)).length
    if (got >= ids.length * (N - 1) || Date.now() > deadline) return
    await sleep(100)
  }
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
// share of the measured wall time the (single) event loop was busy: near 1 means the process, not the network, sets the latency
const elu = performance.eventLoopUtilization(elu0).utilization
const idSet = new Set(ids)
const measured = deliveries.slice(deliveredBefore).filter(d => idSet.has(d.id))
const lat = measured.map(d => d.at - published.get(d.id)!).sort((a, b) => a - b)
const hops = measured.map(d => d.hops).sort((a, b) => a - b)
const q = (a: number[], p: number): number => a.length === 0 ? NaN : a[Math.min(a.length - 1, Math.floor(a.length * p))]
const diameter = meshDiameter()
const copies = after.recv - before.recv
const deliveryRatio = measured.length / (M * (N - 1))
const redundancy = copies / Math.max(1, measured.length)
const bytesPerMsg = (after.bytes - before.bytes) / Math.max(1, measured.length)
const st = nodes.map(n => n.services.pubsub.stats)
const sum = (k: keyof typeof st[0]): number => st.reduce((s, x) => s + x[k], 0)
log(`delivered ${measured.length}/${M * (N - 1)}; redundancy ${redundancy.toFixed(3)}; latency p50 ${q(lat, 0.5).toFixed(1)} ms p99 ${q(lat, 0.99).toFixed(1)} ms; hops p50 ${q(hops, 0.5)} p99 ${q(hops, 0.99)}; mesh diameter ${diameter} hops → p99 target ${2 * diameter * latency} ms; ${(bytesPerMsg).toFixed(0)} bytes and ${((after.frames - before.frames) / Math.max(1, measured.length)).toFixed(2)} frames per delivered message`)
const timeouts = st.map(x => x.ihaveTimeoutMs).sort((a, b) => a - b)
log(`counters: iwant sent ${sum('iwantSent')}, served ${sum('iwantServed')}, gave up ${sum('iwantGaveUp')}; send failures ${sum('sendFailures')}, dropped ${sum('sendsDropped')}; tree switches ${sum('treeOptimized')}; signature memo hits ${sum('signatureMemoHits')}; IHAVE timeout p50 ${q(timeouts, 0.5)} ms p99 ${q(timeouts, 0.99)} ms; event loop busy ${(100 * elu).toFixed(0)}%`)
const wall = (performance.now() - wall0) / 1000
await Promise.all(nodes.map(async n => { await n.stop() }))

console.log(JSON.stringify({
  nodes: N,
  messages: M,
  warmup_messages: warmup,
  one_way_delay_ms: latency,
  mesh_degree: { D, Dlo, Dhi },
  delivery_ratio: Number(deliveryRatio.toFixed(4)),
  redundancy: Number(redundancy.toFixed(3)),
  latency_p50_ms: Number(q(lat, 0.5).toFixed(1)),
  latency_p99_ms: Number(q(lat, 0.99).toFixed(1)),
  hops_p50: q(hops, 0.5),
  hops_p99: q(hops, 0.99),
  mesh_diameter_hops: diameter,
  transport_diameter_hops: 1,
  event_loop_utilization: Number(elu.toFixed(2)),
  tree_switches: sum('treeOptimized'),
  iwant_sent: sum('iwantSent'),
  latency_p99_target_ms: 2 * diameter * latency,
  bytes_per_delivered_message: Math.round(bytesPerMsg),
  frames_per_delivered_message: Number(((after.frames - before.frames) / Math.max(1, measured.length)).toFixed(2)),
  mesh_formed_s: Number(meshAt.toFixed(1)),
  wall_s: Number(wall.toFixed(1)),
  axl_delivery_ratio: 1.0,
  axl_redundancy: 1.05
}))
