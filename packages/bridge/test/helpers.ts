import { createServer, request as httpRequest, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterEach } from 'vitest'
import { MemoryNetwork, type Identity } from '@axl/core'
import { parseConfig, startNode, type RunningNode } from '../src/index.js'

const cleanups: Array<() => Promise<void> | void> = []

/** Undo everything a test started, even when it failed. */
afterEach(async () => {
  const all = cleanups.splice(0).reverse()
  for (const c of all) await c()
})

/** Register a cleanup for the current test. */
export function onCleanup (fn: () => Promise<void> | void): void { cleanups.push(fn) }

/** A node with its HTTP API on 127.0.0.1:0, built from config JSON (merged over `{"api_port":0}`). */
export async function startTestNode (net: MemoryNetwork, config: Record<string, unknown> = {}, identity?: Identity): Promise<RunningNode> {
  const cfg = parseConfig(JSON.stringify({ api_port: 0, ...config }))
  const r = await startNode(cfg, { transport: () => net.transport(), identity })
  onCleanup(async () => { await r.stop() })
  return r
}

/** Two nodes A and B on one memory network. */
export async function pair (bConfig: Record<string, unknown> = {}, aConfig: Record<string, unknown> = {}): Promise<{ net: MemoryNetwork, a: RunningNode, b: RunningNode }> {
  const net = new MemoryNetwork()
  const a = await startTestNode(net, aConfig)
  const b = await startTestNode(net, bConfig)
  return { net, a, b }
}

/** An HTTP answer. */
export interface Reply { status: number, headers: IncomingHttpHeaders, body: Buffer, text: string }

/** Options of call(). */
export interface CallInit { rawPath?: string, method?: string, headers?: Record<string, string>, body?: string | Uint8Array, chunked?: boolean, timeoutMs?: number }

/** One HTTP request with exactly the given headers (plus Host), over node:http. */
export async function call (url: string, init: CallInit = {}): Promise<Reply> {
  const u = new URL(url)
  return await new Promise<Reply>((resolve, reject) => {
    const headers: Record<string, string> = { ...init.headers }
    const body = init.body === undefined ? undefined : typeof init.body === 'string' ? Buffer.from(init.body) : Buffer.from(init.body)
    if (body !== undefined && init.chunked !== true && headers['Content-Length'] === undefined) headers['Content-Length'] = String(body.byteLength)
    const req = httpRequest({ host: u.hostname, port: u.port, path: init.rawPath ?? u.pathname + u.search, method: init.method ?? 'GET', headers, agent: false }, res => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => {
        const b = Buffer.concat(chunks)
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: b, text: b.toString('utf8') })
      })
      res.on('error', reject)
    })
    req.setTimeout(init.timeoutMs ?? 10_000, () => { req.destroy(new Error(`request to ${url} timed out`)) })
    req.on('error', reject)
    if (body !== undefined && init.chunked === true) {
      // several chunks, so the server sees a streamed body without Content-Length
      const step = Math.max(1, Math.ceil(body.byteLength / 4))
      for (let i = 0; i < body.byteLength; i += step) req.write(body.subarray(i, i + step))
      req.end()
    } else req.end(body)
  })
}

/** A request a stub server saw. */
export interface Seen { method: string, url: string, headers: IncomingHttpHeaders, body: string }

/** What a stub answers. */
export interface StubAnswer { status?: number, headers?: Record<string, string>, body?: string }

/** A real HTTP server on 127.0.0.1:0 that records requests and answers with `answer(seen)`. */
export async function stubServer (answer: (seen: Seen) => StubAnswer | Promise<StubAnswer>): Promise<{ url: string, port: number, seen: Seen[], next: () => Promise<Seen> }> {
  const seen: Seen[] = []
  const waiters: Array<(s: Seen) => void> = []
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const s: Seen = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8') }
      seen.push(s)
      waiters.shift()?.(s)
      void Promise.resolve(answer(s)).then(a => {
        res.writeHead(a.status ?? 200, a.headers ?? { 'Content-Type': 'application/json' })
        res.end(a.body ?? '')
      })
    })
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  onCleanup(async () => { server.closeAllConnections(); await new Promise(resolve => server.close(resolve)) })
  const port = (server.address() as AddressInfo).port
  let taken = 0
  const next = async (): Promise<Seen> => {
    if (taken < seen.length) return seen[taken++]
    return await new Promise<Seen>((resolve, reject) => {
      const t = setTimeout(() => { reject(new Error('the stub saw no request within 5 s')) }, 5000)
      waiters.push(s => { clearTimeout(t); taken++; resolve(s) })
    })
  }
  return { url: `http://127.0.0.1:${port}`, port, seen, next }
}

/** A port that was free a moment ago, and is closed now (for "connection refused" cases). */
export async function closedPort (): Promise<number> {
  const s = createServer()
  await new Promise<void>(resolve => s.listen(0, '127.0.0.1', resolve))
  const port = (s.address() as AddressInfo).port
  await new Promise(resolve => s.close(resolve))
  return port
}

/** The PEM of seed 32×0x01 (axl-reference §1.4 vectors). */
export const SEED1_PEM = '-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIAEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEB\n-----END PRIVATE KEY-----\n'
export const SEED1_KEY = '8a88e3dd7409f195fd52db2d3cba5d72ca6709bf1d94121bf3748801b40f6f5c'
export const SEED1_IPV6 = '200:eaee:3845:17ec:1cd4:55a:49a5:868b'

/** The headers of Go's http.Error. */
export function expectGoError (r: Reply, status: number, message: string): void {
  const problems: string[] = []
  if (r.status !== status) problems.push(`status ${r.status} (want ${status})`)
  if (r.headers['content-type'] !== 'text/plain; charset=utf-8') problems.push(`content-type ${String(r.headers['content-type'])}`)
  if (r.headers['x-content-type-options'] !== 'nosniff') problems.push('no nosniff')
  if (r.text !== message + '\n') problems.push(`body ${JSON.stringify(r.text)} (want ${JSON.stringify(message + '\n')})`)
  if (problems.length > 0) throw new Error(`not Go's http.Error(${status}, ${JSON.stringify(message)}): ${problems.join('; ')}`)
}

export const HEX64 = 'ab'.repeat(32)

/** Wait until `cond()` holds (checked on every timer tick), failing after `timeoutMs`. */
export async function until (cond: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('condition not met within ' + String(timeoutMs) + ' ms')
    await new Promise(resolve => setTimeout(resolve, 5))
  }
}
