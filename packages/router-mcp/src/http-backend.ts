/**
 * A Streamable-HTTP MCP endpoint, forwarded to the way AXL's Python router does it (POST the JSON-RPC body
 * unchanged with `Content-Type: application/json`, `Accept: application/json, text/event-stream`,
 * `X-From-Peer-Id`, `X-Service`), minus its gaps: SSE answers are read, 202/204 are fine for
 * notifications, JSON-RPC error bodies of non-200 answers are passed on, and an `Mcp-Session-Id` returned
 * for a caller's `initialize` is remembered per caller and sent on that caller's later requests.
 */
import { abortReason, type PeerId, type RawJson } from '@axl/core'
import type { Backend, BackendSession, CallContext, ServiceStatus, SessionContext, SessionSink } from './backend.js'
import { HttpSession } from './http-session.js'
import { readCapped } from './http-body.js'
import { BackendError, unavailable } from './errors.js'
import { RouterErrorCode } from './error-codes.js'
import { isJsonRpcResponse, type JsonRpcId, type JsonRpcRequest } from './jsonrpc.js'
import { readSse, SseTooLargeError } from './sse.js'

/** A Streamable-HTTP MCP endpoint. A plain URL string or URL object also works as a service definition. */
export interface HttpEndpointSpec {
  /** The endpoint, e.g. `http://127.0.0.1:8080/mcp`. */
  url: string | URL
  /** Extra request headers (e.g. Authorization). */
  headers?: Record<string, string>
  /** fetch implementation. Default: globalThis.fetch. */
  fetch?: typeof fetch
  /** Callers whose MCP session id is remembered (LRU). Default 256. */
  maxSessions?: number
}

/** True when `v` is an http(s) URL string, a URL, or an HttpEndpointSpec. */
export function isHttpSpec (v: unknown): v is HttpEndpointSpec | string | URL {
  if (v instanceof URL) return true
  if (typeof v === 'string') return /^https?:\/\//i.test(v)
  return v !== null && typeof v === 'object' && (typeof (v as { url?: unknown }).url === 'string' || (v as { url?: unknown }).url instanceof URL)
}

interface Session { sessionId?: string, protocolVersion?: string }

/** Internal: forwards to a Streamable-HTTP endpoint. */
export class HttpBackend implements Backend {
  readonly kind = 'http' as const
  status: ServiceStatus = 'starting'
  private readonly url: URL
  private readonly spec: HttpEndpointSpec
  private readonly fetch: typeof fetch
  private readonly sessions = new Map<PeerId, Session>()
  private readonly maxSessions: number
  private readonly live = new Set<HttpSession>()
  private lastError: string | undefined
  private readonly stats = { httpErrors: 0, resumptions: 0, meshSessions: 0, refusedServerRequests: 0, droppedNotifications: 0 }

  constructor (def: HttpEndpointSpec | string | URL, private readonly service: string, private readonly maxBytes: number) {
    this.spec = typeof def === 'string' || def instanceof URL ? { url: def } : def
    this.url = new URL(this.spec.url)
    if (this.url.protocol !== 'http:' && this.url.protocol !== 'https:') throw new TypeError(`an MCP endpoint URL must be http(s), got ${this.url.protocol}`)
    this.fetch = this.spec.fetch ?? globalThis.fetch
    this.maxSessions = this.spec.maxSessions ?? 256
  }

  info (): Record<string, unknown> { return { url: this.url.href, sessions: this.sessions.size + this.stats.meshSessions, ...this.stats, ...(this.lastError === undefined ? {} : { lastError: this.lastError }) } }

  /** A session protocol session: its own upstream MCP session (see http-session.ts). */
  async openSession (ctx: SessionContext, sink: SessionSink): Promise<BackendSession> {
    if (this.status !== 'ready') throw unavailable(`service "${this.service}" is ${this.status}`)
    const s = new HttpSession({ url: this.url, headers: this.spec.headers, fetch: this.fetch, maxBytes: this.maxBytes, service: this.service, from: ctx.from, stats: this.stats }, sink)
    this.live.add(s)
    ctx.signal.addEventListener('abort', () => { this.live.delete(s) }, { once: true })
    return s
  }

  async start (): Promise<void> { this.status = 'ready' }

  async stop (): Promise<void> {
    if (this.status === 'stopped') return
    this.status = 'stopped'
    const live = [...this.live]
    this.live.clear()
    // Best effort: end the sessions we opened on the caller's behalf (Streamable HTTP DELETE).
    const ids = [...this.sessions.values()].map(s => s.sessionId).filter((s): s is string => s !== undefined)
    this.sessions.clear()
    await Promise.allSettled([...live.map(async s => { await s.close() }), ...ids.map(async id => {
      const r = await this.fetch(this.url, { method: 'DELETE', headers: { 'mcp-session-id': id, ...this.spec.headers }, signal: AbortSignal.timeout(1000) })
      await r.body?.cancel()
    })])
  }

  private async post (raw: RawJson, ctx: CallContext, initialize: boolean): Promise<{ res: Response, session: Session | undefined }> {
    if (this.status !== 'ready') throw unavailable(`service "${this.service}" is ${this.status}`)
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      'x-from-peer-id': ctx.from,
      'x-service': ctx.service,
      ...this.spec.headers
    }
    const session = this.sessions.get(ctx.from)
    if (session !== undefined && !initialize) {
      if (session.sessionId !== undefined) headers['mcp-session-id'] = session.sessionId
      if (session.protocolVersion !== undefined) headers['mcp-protocol-version'] = session.protocolVersion
    }
    try {
      const res = await this.fetch(this.url, { method: 'POST', headers, body: raw, signal: ctx.signal })
      if (!res.ok) this.stats.httpErrors++
      if (res.status === 404 && session?.sessionId !== undefined) this.sessions.delete(ctx.from)
      return { res, session }
    } catch (err) {
      if (ctx.signal.aborted) throw abortReason(ctx.signal)
      const cause = (err as { cause?: { code?: string, message?: string } }).cause
      throw unavailable(`cannot reach ${this.url.href}: ${cause?.code ?? cause?.message ?? (err as Error).message}`, err)
    }
  }

  private remember (peer: PeerId, s: Session): void {
    this.sessions.delete(peer)
    this.sessions.set(peer, s)
    if (this.sessions.size > this.maxSessions) this.sessions.delete(this.sessions.keys().next().value as PeerId)
  }

  async request (message: JsonRpcRequest & { id: JsonRpcId }, ctx: CallContext, raw: RawJson): Promise<unknown> {
    const initialize = message.method === 'initialize'
    const { res } = await this.post(raw, ctx, initialize)
    if (res.status === 202 || res.status === 204) {
      await res.body?.cancel()
      throw new BackendError(RouterErrorCode.InternalError, 'no_answer', `the endpoint accepted the request without answering it (HTTP ${res.status})`)
    }
    const type = res.headers.get('content-type') ?? ''
    let answer: unknown
    if (res.ok && type.includes('text/event-stream') && res.body !== null) {
      answer = await this.fromSse(res.body, message.id, ctx)
    } else {
      const text = await readCapped(res, this.maxBytes)
      try { answer = JSON.parse(text) } catch {
        throw new BackendError(RouterErrorCode.InternalError, 'bad_answer', `the endpoint answered HTTP ${res.status} with a body that is not JSON: ${text.slice(0, 200)}`)
      }
      if (Array.isArray(answer)) answer = answer.find(r => isJsonRpcResponse(r) && sameId(r.id, message.id))
    }
    if (!isJsonRpcResponse(answer)) {
      throw new BackendError(RouterErrorCode.InternalError, 'bad_answer', `the endpoint answered HTTP ${res.status} without a JSON-RPC response`)
    }
    if (!res.ok && !('error' in answer)) {
      throw new BackendError(RouterErrorCode.InternalError, 'http_error', `the endpoint answered HTTP ${res.status}`)
    }
    if (initialize && res.ok && 'result' in answer) {
      const sid = res.headers.get('mcp-session-id') ?? undefined
      const pv = (answer.result as { protocolVersion?: unknown } | null)?.protocolVersion
      this.remember(ctx.from, { sessionId: sid, protocolVersion: typeof pv === 'string' ? pv : undefined })
    }
    return answer
  }

  private async fromSse (body: ReadableStream<Uint8Array>, id: JsonRpcId, ctx: CallContext): Promise<unknown> {
    try {
      for await (const ev of readSse(body, this.maxBytes)) {
        if (ev.event !== 'message' || ev.data === '') continue
        let msg: unknown
        try { msg = JSON.parse(ev.data) } catch { this.stats.httpErrors++; continue }
        if (isJsonRpcResponse(msg) && sameId(msg.id, id)) return msg
        const m = msg as { method?: unknown, id?: unknown }
        if (typeof m.method === 'string' && m.id !== undefined) {
          // A server-to-client request cannot travel back over one AXL answer: refused at once, so the server
          // does not wait for it (and the caller for the server).
          this.stats.refusedServerRequests++
          void this.refuseServerRequest(m.id, m.method, ctx)
        } else if (typeof m.method === 'string') {
          this.stats.droppedNotifications++
        }
      }
    } catch (err) {
      if (err instanceof BackendError) throw err
      if (err instanceof SseTooLargeError) throw new BackendError(RouterErrorCode.ResponseTooLarge, 'too_large', err.message)
      throw unavailable(`the endpoint's event stream failed: ${(err as Error).message}`, err)
    }
    throw new BackendError(RouterErrorCode.InternalError, 'no_answer', 'the endpoint closed its event stream without answering')
  }

  /** POST a -32601 answer to a server-to-client request (envelope mode), with the caller's session headers. */
  private async refuseServerRequest (id: unknown, method: string, ctx: CallContext): Promise<void> {
    const answer = JSON.stringify({ jsonrpc: '2.0', id, error: { code: RouterErrorCode.MethodNotFound, message: `"${method}" from the server cannot be carried over AXL (one request, one answer)` } })
    try {
      const { res } = await this.post(answer as RawJson, { ...ctx, signal: AbortSignal.timeout(5000) }, false)
      await res.body?.cancel()
    } catch (err) {
      this.stats.httpErrors++
      this.lastError = `the -32601 answer to ${method} was not delivered: ${(err as Error).message}`
    }
  }

  async notify (message: JsonRpcRequest, ctx: CallContext, raw: RawJson): Promise<void> {
    const { res } = await this.post(raw, ctx, false)
    await res.body?.cancel()
    if (!res.ok) throw new BackendError(RouterErrorCode.InternalError, 'http_error', `the endpoint refused the notification ${message.method} (HTTP ${res.status})`)
  }
}

function sameId (a: unknown, b: JsonRpcId): boolean {
  return a === b || JSON.stringify(a) === JSON.stringify(b)
}
