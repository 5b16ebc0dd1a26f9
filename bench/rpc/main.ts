/**
 * `pnpm bench rpc [--calls N] [--window W] [--stdio-calls S] [--notifications N] [--progress-samples S] [--session auto|off]`
 * MCP tools/call round trips with the SDK Client on node A and an in-process SDK Server on node B over the
 * in-memory mesh (@axl/router-mcp end to end), beside the same Client↔Server over the SDK's own
 * InMemoryTransport (the ceiling: no mesh, no envelopes). Also: a raw call() to a handler service, and a
 * tools/call to server-everything over stdio through the mesh. Relayed: the same SDK Client on node A
 * calling node B through a relay P over the Yggdrasil overlay (ygg() over tcp:// on loopback), P and B in
 * their own processes (this file re-run with --role). Across the same relay, over an MCP session (/axl/mcp/1):
 * server-to-client notifications per second (a tool emits N logging notifications, the client counts them) and
 * the latency of one progress notification (server emits → client's onprogress; both clocks are this host's).
 * Last line: one JSON object.
 */
import { createNode, MemoryNetwork, type MeshComponents } from '@axl/core'
import { mcp } from '@axl/router-mcp'
import { ygg, type YggMesh, type YggOptions } from '@axl/transport-ygg'
import { spawn, type ChildProcess } from 'node:child_process'
import { createInterface } from 'node:readline'
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { Server } from '@modelcontextprotocol/sdk/server/index.js'
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js'
import { CallToolRequestSchema, ListToolsRequestSchema, LoggingMessageNotificationSchema } from '@modelcontextprotocol/sdk/types.js'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { parseArgs } from 'node:util'

const { values } = parseArgs({
  options: {
    calls: { type: 'string', default: '5000' },
    window: { type: 'string', default: '32' },
    'stdio-calls': { type: 'string', default: '1000' },
    'relayed-calls': { type: 'string', default: '2000' },
    notifications: { type: 'string', default: '20000' },
    session: { type: 'string', default: 'auto' },
    'progress-samples': { type: 'string', default: '500' },
    role: { type: 'string' },
    peer: { type: 'string' }
  }
})
const RELAYED_CALLS = Number(values['relayed-calls'])
const CALLS = Number(values.calls)
const WINDOW = Number(values.window)
const STDIO_CALLS = Number(values['stdio-calls'])
const NOTIFICATIONS = Number(values.notifications)
/** How the tools/call figures' SDK transports reach B: 'auto' (an MCP session), or 'off' (AXL envelopes). */
const SESSION = values.session === 'off' ? 'off' : 'auto'
const PROGRESS_SAMPLES = Number(values['progress-samples'])

/** Epoch time in ms with sub-ms resolution, comparable between processes on one host. */
const nowMs = (): number => performance.timeOrigin + performance.now()

/** A server for the session figures: `burst` emits n logging notifications, `stamp` one progress notification carrying its send time. */
function notifyServer (): Server {
  const s = new Server({ name: 'notify', version: '1.0.0' }, { capabilities: { tools: {}, logging: {} } })
  s.setRequestHandler(ListToolsRequestSchema, async () => ({ tools: [{ name: 'burst', inputSchema: { type: 'object' as const } }, { name: 'stamp', inputSchema: { type: 'object' as const } }] }))
  s.setRequestHandler(CallToolRequestSchema, async (r, extra) => {
    if (r.params.name === 'burst') {
      const n = Number((r.params.arguments as { n?: number } | undefined)?.n ?? 0)
      for (let i = 0; i < n; i++) await extra.sendNotification({ method: 'notifications/message', params: { level: 'info', data: i } })
      return { content: [{ type: 'text', text: String(n) }] }
    }
    const token = r.params._meta?.progressToken
    if (token !== undefined) await extra.sendNotification({ method: 'notifications/progress', params: { progressToken: token, progress: 1, message: String(nowMs()) } })
    return { content: [] }
  })
  return s
}

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
  await client.connect(a.services.mcp.transport(b.peerId, 'echo', { session: SESSION }))
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
    await c2.connect(a.services.mcp.transport(b.peerId, 'everything', { session: SESSION }))
    stdio = await measure(STDIO_CALLS, WINDOW, async () => await c2.callTool({ name: 'echo', arguments: { message: 'x'.repeat(100) } }))
    await c2.close()
  } catch (err) {
    console.log(`  (stdio figure skipped: ${(err as Error).message})`)
  }
  await a.stop(); await b.stop()
  return { sdk, handler, stdio }
}

/** ygg() that also hands back its mesh (for the bound listen URI). */
function yggWithMesh (opts: YggOptions): { transport: (c: MeshComponents) => YggMesh, mesh: () => YggMesh } {
  let m: YggMesh | undefined
  const f = ygg(opts)
  return { transport: c => (m = f(c) as YggMesh), mesh: () => m! }
}

/** Child roles: a relay P, or a server B behind it. They print one JSON line, then live until stdin closes. */
if (values.role !== undefined) {
  const t = yggWithMesh(values.role === 'relay' ? { listen: ['tcp://127.0.0.1:0'] } : { peers: [values.peer ?? ''] })
  const node = await createNode({ transport: t.transport, services: { mcp: mcp({ defaults: { maxConcurrent: 256 } }) } })
  if (values.role === 'server') {
    await node.services.mcp.register('echo', echoServer())
    await node.services.mcp.register('notify', { serverPerSession: () => notifyServer() })
  }
  process.stdout.write(JSON.stringify({ key: node.peerId, uri: t.mesh().listening[0] }) + '\n')
  process.stdin.resume()
  process.stdin.on('end', () => { void node.stop().then(() => process.exit(0)) })
} else {
  await main()
}

/** Spawn this file in a role; resolves with its first JSON line. */
async function child (role: string, args: string[]): Promise<{ proc: ChildProcess, info: { key: string, uri?: string } }> {
  const proc = spawn(process.execPath, [process.argv[1], '--role', role, ...args], { stdio: ['pipe', 'pipe', 'inherit'] })
  const info = await new Promise<{ key: string, uri?: string }>((resolve, reject) => {
    const timer = setTimeout(() => { reject(new Error(`${role} did not start within 30 s`)) }, 30_000)
    createInterface({ input: proc.stdout! }).once('line', line => { clearTimeout(timer); resolve(JSON.parse(line)) })
    proc.once('exit', code => { clearTimeout(timer); reject(new Error(`${role} exited with ${code}`)) })
  })
  return { proc, info }
}

/** The SDK Client on node A (this process) → relay P → node B, over the overlay; P and B are child processes. */
interface SessionFigures { notificationsPerSec: number, progressP50Ms: number, progressP99Ms: number, mode: string }

async function relayed (): Promise<{ calls: Awaited<ReturnType<typeof measure>>, session: SessionFigures }> {
  const p = await child('relay', [])
  const b = await child('server', ['--peer', p.info.uri!])
  const a = await createNode({ transport: ygg({ peers: [p.info.uri!] }), services: { mcp: mcp() } })
  try {
    const client = new Client({ name: 'bench', version: '1' })
    const deadline = Date.now() + 30_000
    for (;;) { // the tree forms in a second or two: retry the first connection until then
      try { await client.connect(a.services.mcp.transport(b.info.key, 'echo', { session: SESSION })); break } catch (err) {
        if (Date.now() > deadline) throw err
      }
    }
    const r = await measure(RELAYED_CALLS, WINDOW, async () => await client.callTool(ARGS))
    await client.close()
    return { calls: r, session: await sessionFigures(a, b.info.key) }
  } finally {
    await a.stop()
    for (const c of [b.proc, p.proc]) { c.stdin!.end(); await new Promise(resolve => c.once('exit', resolve)) }
  }
}

/** Notifications per second and progress latency over one MCP session A → P → B. */
async function sessionFigures (a: Awaited<ReturnType<typeof createNode<{ mcp: ReturnType<ReturnType<typeof mcp>> }>>>, peer: string): Promise<SessionFigures> {
  const client = new Client({ name: 'bench', version: '1' })
  const transport = a.services.mcp.transport(peer, 'notify', { timeoutMs: 60_000 })
  await client.connect(transport)
  let received = 0
  let wake: (() => void) | undefined
  client.setNotificationHandler(LoggingMessageNotificationSchema, () => { if (++received >= target) wake?.() })
  let target = Math.min(1000, NOTIFICATIONS)
  let all = new Promise<void>(resolve => { wake = resolve })
  await client.callTool({ name: 'burst', arguments: { n: target } }) // warm-up
  await all
  received = 0
  target = NOTIFICATIONS
  all = new Promise<void>(resolve => { wake = resolve })
  const t0 = performance.now()
  await client.callTool({ name: 'burst', arguments: { n: NOTIFICATIONS } }, undefined, { timeout: 120_000 })
  await Promise.race([all, new Promise((_resolve, reject) => setTimeout(() => { reject(new Error(`only ${received} of ${NOTIFICATIONS} notifications within 60 s`)) }, 60_000).unref())])
  const notificationsPerSec = Math.round(NOTIFICATIONS / ((performance.now() - t0) / 1000))
  const lat: number[] = []
  for (let i = 0; i < PROGRESS_SAMPLES + 50; i++) {
    let sample = NaN
    await client.callTool({ name: 'stamp', arguments: {} }, undefined, { onprogress: p => { sample = nowMs() - Number(p.message) } })
    if (i >= 50) lat.push(sample) // the first 50 warm up
  }
  lat.sort((x, y) => x - y)
  const pct = (q: number): number => Number(lat[Math.min(lat.length - 1, Math.floor(lat.length * q))].toFixed(3))
  await client.close()
  return { notificationsPerSec, progressP50Ms: pct(0.5), progressP99Ms: pct(0.99), mode: transport.mode }
}

async function main (): Promise<void> {
console.log(`rpc: MCP tools/call round trips, ${CALLS} sequential + ${CALLS} with window ${WINDOW}, MCP session ${SESSION}, Node ${process.version}`)
const ceil = await ceiling()
console.log(`  SDK Client↔Server, InMemoryTransport (ceiling): p50 ${ceil.p50} µs, p99 ${ceil.p99} µs, ${ceil.perSec.toLocaleString()} calls/s`)
const mesh = await overMesh()
console.log(`  SDK Client → memory mesh → router → in-process Server: p50 ${mesh.sdk.p50} µs, p99 ${mesh.sdk.p99} µs, ${mesh.sdk.perSec.toLocaleString()} calls/s`)
console.log(`  router.call() → memory mesh → handler: p50 ${mesh.handler.p50} µs, p99 ${mesh.handler.p99} µs, ${mesh.handler.perSec.toLocaleString()} calls/s`)
if (mesh.stdio !== undefined) console.log(`  SDK Client → memory mesh → router → server-everything (stdio): p50 ${mesh.stdio.p50} µs, p99 ${mesh.stdio.p99} µs, ${mesh.stdio.perSec.toLocaleString()} calls/s`)
const relayedAll = await relayed()
const rel = relayedAll.calls
const ses = relayedAll.session
console.log(`  SDK Client → ygg overlay → relay P (process) → node B (process) → router → in-process Server: p50 ${rel.p50} µs, p99 ${rel.p99} µs, ${rel.perSec.toLocaleString()} calls/s`)
console.log(`  MCP session (${ses.mode}) across the relay: ${ses.notificationsPerSec.toLocaleString()} notifications/s (${NOTIFICATIONS} logging notifications); one progress notification server → client: p50 ${ses.progressP50Ms} ms, p99 ${ses.progressP99Ms} ms`)
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
  relayed_call_p50_us: rel.p50,
  relayed_call_p99_us: rel.p99,
  relayed_calls_per_s: rel.perSec,
  notifications_per_s: ses.notificationsPerSec,
  progress_latency_p50_ms: ses.progressP50Ms,
  progress_latency_p99_ms: ses.progressP99Ms,
  window: WINDOW,
  session: SESSION,
  node: process.version
}))
}
