/**
 * A small HTTP client for the inbound forwarders: deadline, AbortSignal, a response-size cap, any status accepted.
 *
 * Why not `fetch` (which router-mcp's HTTP backend uses): these calls go to the local router and A2A server on
 * behalf of remote peers, and must behave like Go AXL's plain net/http requests.
 *  - The request carries only the headers we set (plus Host / Connection / Content-Length). Node's fetch adds
 *    accept, accept-language, sec-fetch-mode, user-agent and `accept-encoding: gzip, deflate`, and then
 *    decompresses transparently, so `maxBytes` would cap decompressed bytes rather than what crossed the socket.
 *  - Redirects are not followed (fetch follows them unless told `redirect: 'manual'`).
 *  - Each forwarder owns a keep-alive pool with a socket cap (`agent`) that its close() destroys; with fetch
 *    that needs an undici Agent as `dispatcher`, i.e. `undici` as a dependency (Node's bundled copy cannot be
 *    imported), or sharing the process-wide pool that nothing closes.
 *  - Failures are split into 'connect' (no response head) and 'read' (body) phases with Go-style messages
 *    (`Post "url": ECONNREFUSED: ...`), which pick the error text returned to the peer ("failed to contact
 *    router" / "failed to read router response"); fetch reports both as `TypeError: fetch failed` + cause.
 * The last point alone could be rebuilt on fetch; together they would cost about as much code as this file.
 */
import http from 'node:http'
import https from 'node:https'

/** Options of httpCall. */
export interface HttpCallOptions {
  method: 'GET' | 'POST'
  headers?: Record<string, string>
  body?: Uint8Array | string
  /** Deadline of the whole exchange, ms. */
  timeoutMs: number
  /** Largest response body read, bytes. */
  maxBytes: number
  /** Abandons the call. */
  signal?: AbortSignal
  /** Connection pool. */
  agent?: http.Agent
}

/** The response of httpCall. */
export interface HttpCallResult { status: number, contentType: string, body: Buffer }

/** The call could not be made or its answer not read; `phase` says which. */
export class HttpCallError extends Error {
  constructor (readonly phase: 'connect' | 'read', message: string) { super(message) }
}

/** Make one HTTP request; resolves with any status, rejects with HttpCallError. */
export async function httpCall (url: string, opts: HttpCallOptions): Promise<HttpCallResult> {
  const u = new URL(url)
  const lib = u.protocol === 'https:' ? https : http
  return await new Promise<HttpCallResult>((resolve, reject) => {
    let settled = false
    let phase: 'connect' | 'read' = 'connect'
    const finish = (err: Error | undefined, r?: HttpCallResult): void => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      opts.signal?.removeEventListener('abort', onAbort)
      if (err !== undefined) { req.destroy(); reject(err) } else resolve(r as HttpCallResult)
    }
    const body = opts.body === undefined ? undefined : typeof opts.body === 'string' ? Buffer.from(opts.body) : opts.body
    const headers: Record<string, string> = { ...opts.headers }
    if (body !== undefined) headers['Content-Length'] = String(body.byteLength)
    const req = lib.request(u, { method: opts.method, headers, agent: opts.agent }, res => {
      phase = 'read'
      const chunks: Buffer[] = []
      let total = 0
      res.on('data', (c: Buffer) => {
        total += c.byteLength
        if (total > opts.maxBytes) { finish(new HttpCallError('read', `response larger than ${opts.maxBytes} bytes`)); return }
        chunks.push(c)
      })
      res.on('end', () => { finish(undefined, { status: res.statusCode ?? 0, contentType: String(res.headers['content-type'] ?? ''), body: Buffer.concat(chunks, total) }) })
      res.on('error', e => { finish(new HttpCallError('read', e.message)) })
      res.on('aborted', () => { finish(new HttpCallError('read', 'connection closed before the response ended')) })
    })
    req.on('error', (e: NodeJS.ErrnoException) => {
      const what = e.code !== undefined && !e.message.includes(e.code) ? `${e.code}: ${e.message}` : e.message
      finish(new HttpCallError(phase, `${opts.method === 'GET' ? 'Get' : 'Post'} "${url}": ${what}`))
    })
    const timer = setTimeout(() => {
      finish(new HttpCallError(phase, `${opts.method === 'GET' ? 'Get' : 'Post'} "${url}": timed out after ${opts.timeoutMs} ms`))
    }, Math.max(0, Math.min(opts.timeoutMs, 0x7fffffff)))
    timer.unref()
    const onAbort = (): void => { finish(new HttpCallError(phase, `${opts.method === 'GET' ? 'Get' : 'Post'} "${url}": aborted (${String((opts.signal?.reason as Error | undefined)?.message ?? 'signal')})`)) }
    if (opts.signal?.aborted === true) { onAbort(); return }
    opts.signal?.addEventListener('abort', onAbort, { once: true })
    req.end(body)
  })
}
