/**
 * `pnpm bench rpc [--calls N] [--window W] [--stdio-calls S]`
 * MCP tools/call round trips with the SDK Client on node A and an in-process SDK Server on node B over the
 * in-memory mesh (@axl/router-mcp end to end), beside the same Client↔Server over the SDK's own
 * InMemoryTransport (the ceiling: no mesh, no envelopes). Also: a raw call() to a handler service, and a
 * tools/call to server-everything over stdio through the mesh. The relayed figures need the overlay
 * (transport-ygg), which is not ready: they are printed as null. Last line: one JSON object.
 */
import { createNode, MemoryNetwork } from '@axl/core'
import { mcp } from '@axl/router-mcp'
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { Server } from '@modelcontextprotocol/sdk/server/index.js'
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js'
import { CallToolRequestSchema, ListToolsRequestSchema } from '@modelcontextprotocol/sdk/types.js'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { parseArgs } from 'node:util'

const { values } = parseArgs({
  options: {
    calls: { type: 'string', default: '5000' },
    window: { type: 'string', default: '32' },
    'stdio-calls': { type: 'string', default: '1000' }
  }
})
const CALLS = Number(values.calls)
const WINDOW = Number(values.window)
const STDIO_CALLS = Number(values['stdio-calls'])

function echoServer (): Server {
  const s = new Server({ name: 'bench', version: '1.0.0' }, { capabilities: { tools: {} } })
  s.setRequestHandler(ListToolsRequestSchema, async () => ({ tools: [{ name: 'echo', inputSchema: { type: 'object' as const } }] }))
  s.setRequestHandler(CallToolRequestSchema, async r => ({ content: [{ type: 'text', text: String((r.params.arguments as { text?: string } | undefined)?.text) }] }))
  return s
}

const ARGS = { name: 'echo', arguments: { text: 'x'.repeat(100) } }

/** Sequential latencies (µs) and windowed throughput (calls/s) of `op`. */
async function measure (n: number, window: number, op: () => Promise<unknown>): Promise<{ p50: number, p99: number, perSec: number }> {
  for (let i = 0; i < Math.min(500, n); i++) await op() // warm-up
  const samples: number[] = []
  for (let i = 0; i < n; i++) {
    const t0 = performance.now()
    await op()
    samples.push((performance.now() - t0) * 1000)
  }
  samples.sort((x, y) => x - y)
  let started = 0
  const t0 = performance.now()
  await Promise.all(Array.from({ length: Math.min(window, n) }, async () => { while (started++ < n) await op() }))
  const perSec = n / ((performance.now() - t0) / 1000)
  const pct = (p: number): number => samples[Math.min(samples.length - 1, Math.floor(samples.length * p))]
  return { p50: Math.round(pct(0.5)), p99: Math.round(pct(0.99)), perSec: Math.round(perSec) }
}

async function ceiling (): Promise<Awaited<ReturnType<typeof measure>>> {
  const [ct, st] = InMemoryTransport.createLinkedPair()
  const server = echoServer()
  await server.connect(st)
  const client = new Client({ name: 'bench', version: '1' })
  await client.connect(ct)
  const r = await measure(CALLS, WINDOW, async () => await client.callTool(ARGS))
  await client.close()
  return r
}

async function overMesh (): Promise<{ sdk: Awaited<ReturnType<typeof measure>>, handler: Awaited<ReturnType<typeof measure>>, stdio?: Awaited<ReturnType<typeof measure>> }> {
  const net = new MemoryNetwork()
  const a = await createNode({ transport: net.transport(), services: { mcp: mcp() } })
  const b = await createNode({ transport: net.transport(), services: { mcp: mcp({ defaults: { maxConcurrent: 256 } }) } })
  await b.services.mcp.register('echo', echoServer())
  await b.services.mcp.register('handler', async r => ({ content: [{ type: 'text', text: String((r.params as { arguments?: { text?: string } }).arguments?.text) }] }))
  const client = new Client({ name: 'bench', version: '1' })
  await client.connect(a.services.mcp.transport(b.peerId, 'echo'))
  const sdk = await measure(CALLS, WINDOW, async () => await client.callTool(ARGS))
  await client.close()
  const request = { jsonrpc: '2.0' as const, id: 1, method: 'tools/call', params: ARGS }
  const handler = await measure(CALLS, WINDOW, async () => await a.services.mcp.call(b.peerId, 'handler', request))
  let stdio: Awaited<ReturnType<typeof measure>> | undefined
  try {
    // the runner bundles this file into bench/rpc/.build and runs it from the repo root
    const routerPkg = join(process.cwd(), 'packages', 'router-mcp', 'package.json')
    const bin = createRequire(routerPkg).resolve('@modelcontextprotocol/server-everything/dist/index.js')
    await b.services.mcp.register('everything', { command: process.execPath, args: [bin, 'stdio'] })
    const c2 = new Client({ name: 'bench', version: '1' })
    await c2.connect(a.services.mcp.transport(b.peerId, 'everything'))
    stdio = await measure(STDIO_CALLS, WINDOW, async () => await c2.callTool({ name: 'echo', arguments: { message: 'x'.repeat(100) } }))
    await c2.close()
  } catch (err) {
    console.log(`  (stdio figure skipped: ${(err as Error).message})`)
  }
  await a.stop(); await b.stop()
  return { sdk, handler, stdio }
}

console.log(`rpc: MCP tools/call round trips, ${CALLS} sequential + ${CALLS} with window ${WINDOW}, Node ${process.version}`)
const ceil = await ceiling()
console.log(`  SDK Client↔Server, InMemoryTransport (ceiling): p50 ${ceil.p50} µs, p99 ${ceil.p99} µs, ${ceil.perSec.toLocaleString()} calls/s`)
const mesh = await overMesh()
console.log(`  SDK Client → memory mesh → router → in-process Server: p50 ${mesh.sdk.p50} µs, p99 ${mesh.sdk.p99} µs, ${mesh.sdk.perSec.toLocaleString()} calls/s`)
console.log(`  router.call() → memory mesh → handler: p50 ${mesh.handler.p50} µs, p99 ${mesh.handler.p99} µs, ${mesh.handler.perSec.toLocaleString()} calls/s`)
if (mesh.stdio !== undefined) console.log(`  SDK Client → memory mesh → router → server-everything (stdio): p50 ${mesh.stdio.p50} µs, p99 ${mesh.stdio.p99} µs, ${mesh.stdio.perSec.toLocaleString()} calls/s`)
const note = 'relayed_* need the Yggdrasil overlay (transport-ygg), not ready yet: null'
console.log(`  ${note}`)
console.log(JSON.stringify({
  memory_call_p50_us: mesh.sdk.p50,
  memory_call_p99_us: mesh.sdk.p99,
  memory_calls_per_s: mesh.sdk.perSec,
  ceiling_call_p50_us: ceil.p50,
  ceiling_calls_per_s: ceil.perSec,
  ratio_calls_per_s_vs_ceiling: Number((mesh.sdk.perSec / ceil.perSec).toFixed(3)),
  handler_call_p50_us: mesh.handler.p50,
  handler_calls_per_s: mesh.handler.perSec,
  stdio_call_p50_us: mesh.stdio?.p50 ?? null,
  stdio_calls_per_s: mesh.stdio?.perSec ?? null,
  relayed_call_p50_us: null,
  relayed_call_p99_us: null,
  relayed_calls_per_s: null,
  relayed_note: note,
  window: WINDOW,
  node: process.version
}))
