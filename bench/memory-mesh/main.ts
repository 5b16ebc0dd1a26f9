/**
 * `pnpm bench memory-mesh [--messages N] [--window W] [--requests R]`
 * One-way 1 KiB messages/s and request round trips through the in-memory mesh, beside a plain in-process
 * async call chain doing the same hand-off (the ceiling). Last line: one JSON object.
 */
import { createNode, MemoryNetwork } from '@axl/core'
import { encodeMcpRequest, encodeMcpResponse } from '@axl/router-mcp'
import { parseArgs } from 'node:util'

const { values } = parseArgs({
  options: {
    messages: { type: 'string', default: '200000' },
    window: { type: 'string', default: '1,16,256' },
    requests: { type: 'string', default: '20000' },
    size: { type: 'string', default: '1024' }
  }
})
const MESSAGES = Number(values.messages)
const WINDOWS = values.window.split(',').map(Number)
let WINDOW = WINDOWS[0]
const REQUESTS = Number(values.requests)
const SIZE = Number(values.size)
const payload = new Uint8Array(SIZE).fill(0x61)

/** Run `total` operations with at most `window` in flight; returns seconds. */
async function windowed (total: number, window: number, op: () => Promise<void>): Promise<number> {
  let started = 0
  const t0 = performance.now()
  const worker = async (): Promise<void> => {
    while (started < total) { started++; await op() }
  }
  await Promise.all(Array.from({ length: Math.min(window, total) }, worker))
  return (performance.now() - t0) / 1000
}

/** The ceiling: the same hand-off (async send → queue → consumer) as plain in-process calls. */
async function ceiling (total: number): Promise<number> {
  const queue: Uint8Array[] = []
  let wake: (() => void) | undefined
  let received = 0
  const consumer = (async () => {
    while (received < total) {
      if (queue.length === 0) await new Promise<void>(resolve => { wake = resolve })
      while (queue.length > 0) { queue.shift(); received++ }
    }
  })()
  const deliver = async (data: Uint8Array): Promise<void> => {
    queue.push(data.slice())
    const w = wake; wake = undefined; w?.()
  }
  const secs = await windowed(total, WINDOW, async () => { await deliver(payload) })
  await consumer
  return total / secs
}

async function oneWay (total: number): Promise<number> {
  const net = new MemoryNetwork()
  const a = await createNode({ transport: net.transport() })
  const b = await createNode({ transport: net.transport(), limits: { inboxMaxMessages: 1_000_000, inboxMaxBytes: 2 ** 31, maxConcurrentStreams: 4 * WINDOW } })
  let received = 0
  const drained = (async () => {
    for await (const _ of b.messages()) { if (++received === total) break }
  })()
  const secs = await windowed(total, WINDOW, async () => { await a.send(b.peerId, payload) })
  await drained
  await a.stop(); await b.stop()
  return total / secs
}

async function roundTrips (total: number): Promise<number[]> {
  const net = new MemoryNetwork()
  const a = await createNode({ transport: net.transport() })
  const b = await createNode({ transport: net.transport() })
  b.handle('mcp', async req => encodeMcpResponse(req.service, req.request))
  const frame = encodeMcpRequest('echo', { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { text: 'x'.repeat(100) } })
  const samples: number[] = []
  for (let i = 0; i < total; i++) {
    const t0 = performance.now()
    await a.request(b.peerId, frame)
    samples.push((performance.now() - t0) * 1000)
  }
  await a.stop(); await b.stop()
  return samples
}

function pct (sorted: number[], p: number): number { return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] }

console.log(`memory-mesh: ${MESSAGES} one-way ${SIZE}-byte messages per run (windows ${WINDOWS.join(', ')} in flight), ${REQUESTS} request round trips, Node ${process.version}`)
await oneWay(Math.min(20_000, MESSAGES)) // warm-up
await ceiling(Math.min(20_000, MESSAGES))
const median = (xs: number[]): number => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]
const perWindow: Record<string, { mesh: number, ceiling: number }> = {}
for (const w of WINDOWS) {
  WINDOW = w
  const rates: number[] = []
  const ceilings: number[] = []
  for (let rep = 0; rep < 3; rep++) {
    rates.push(await oneWay(MESSAGES))
    ceilings.push(await ceiling(MESSAGES))
  }
  perWindow[w] = { mesh: median(rates), ceiling: median(ceilings) }
  console.log(`  window ${String(w).padStart(4)}: mesh ${Math.round(median(rates)).toLocaleString()} msgs/s, ceiling ${Math.round(median(ceilings)).toLocaleString()} msgs/s (medians of 3), ratio ${(median(rates) / median(ceilings)).toFixed(3)}`)
}
const best = WINDOWS.reduce((a, b) => perWindow[b].mesh > perWindow[a].mesh ? b : a)
await roundTrips(Math.min(2000, REQUESTS)) // warm-up
const rtt = (await roundTrips(REQUESTS)).sort((x, y) => x - y)
const result = {
  msgs_per_s_1kib: Math.round(perWindow[best].mesh),
  ceiling_msgs_per_s: Math.round(perWindow[best].ceiling),
  ratio_vs_ceiling: Number((perWindow[best].mesh / perWindow[best].ceiling).toFixed(3)),
  best_window: best,
  ...Object.fromEntries(WINDOWS.map(w => [`msgs_per_s_window_${w}`, Math.round(perWindow[w].mesh)])),
  rtt_p50_us: Math.round(pct(rtt, 0.5)),
  rtt_p99_us: Math.round(pct(rtt, 0.99)),
  message_bytes: SIZE,
  node: process.version
}
console.log(`  request round trip: p50 ${result.rtt_p50_us} µs, p99 ${result.rtt_p99_us} µs`)
console.log(JSON.stringify(result))
