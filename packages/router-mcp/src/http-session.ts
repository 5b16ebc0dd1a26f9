/**
 * One MCP session over the session protocol, forwarded to a Streamable-HTTP endpoint as one upstream MCP
 * session (`Mcp-Session-Id`): every client message is POSTed with the session's headers; every SSE event of
 * a POST's answer stream and of the standalone GET stream is relayed to the client (notifications,
 * server-to-client requests, the response); a stream that ends before its response is resumed with
 * `Last-Event-ID`; the client's answers to server requests are POSTed back; the session ends with `DELETE`.
 */
import { AbortError, type PeerId } from '@axl/core'
import type { BackendSession, SessionSink } from './backend.js'
import { RouterErrorCode } from './error-codes.js'
import { BackendError } from './errors.js'
import { readCapped } from './http-body.js'
import { idKey, isRequest } from './session-protocol.js'
import { readSse, SseTooLargeError } from './sse.js'

/** What an HttpSession needs from its backend. */
export interface HttpSessionConfig {
  /** The endpoint. */
  url: URL
  /** Extra request headers (e.g. Authorization). */
  headers: Record<string, string> | undefined
  /** The fetch implementation. */
  fetch: typeof fetch
  /** Largest answer or SSE event accepted, bytes. */
  maxBytes: number
  /** The service name (X-Service). */
  service: string
  /** The client's peer id (X-From-Peer-Id). */
  from: PeerId
  /** Counters shared with the backend. */
  stats: { httpErrors: number, resumptions: number, meshSessions: number }
}

/** Times a stream that ended early is resumed with Last-Event-ID before the request fails. */
const MAX_RESUMES = 3
/** How long requests wait for the standalone GET stream to be answered before going out anyway, ms. */
const STANDALONE_WAIT_MS = 2000

/** Longest wait a server's `retry:` field can impose before a stream is resumed, ms. */
const MAX_RETRY_WAIT_MS = 30_000

/** Resolves after `ms`, or rejects with the signal's reason when it fires first. */
async function abortableDelay (ms: number, signal: AbortSignal): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    if (signal.aborted) { reject(signal.reason); return }
    const t = setTimeout(() => { signal.removeEventListener('abort', onAbort); resolve() }, ms)
    const onAbort = (): void => { clearTimeout(t); reject(signal.reason) }
    signal.addEventListener('abort', onAbort, { once: true })
  })
}

/** Consecutive failures of the standalone GET stream before it is given up. */
const MAX_GET_FAILURES = 5

/** A Streamable-HTTP upstream session owned by one mesh session. */
export class HttpSession implements BackendSession {
  private sessionId: string | undefined
  private protocolVersion: string | undefined
  private readonly life = new AbortController()
  private readonly requests = new Map<string, AbortController>()
  private standalone = false
  private wantsStandalone = false
  /** Why the standalone GET stream last failed (for diagnostics). */
  lastGetError: string | undefined
  private closed = false
  /** Pending while the standalone GET stream is being opened (requests wait for it, bounded). */
  private standaloneReady: Promise<void> | undefined

  constructor (private readonly c: HttpSessionConfig, private readonly sink: SessionSink) {
    c.stats.meshSessions++
  }

  send (m: Record<string, unknown>): void {
    if (this.closed) throw new AbortError('the HTTP session is closed')
    if (isRequest(m)) { void this.request(m); return }
    // As the SDK's own client does: the standalone GET stream is opened once the client is initialized, before
    // its next request goes out (requests wait for the GET's answer, at most STANDALONE_WAIT_MS).
    if (m.method === 'notifications/initialized') this.openStandalone()
    void this.post(m).then(() => {
      if (m.method === 'notifications/cancelled') {
        // The server stops working on it; the answer stream it leaves open is ours to drop.
        const id = (m.params as { requestId?: unknown } | undefined)?.requestId
        this.requests.get(idKey(id))?.abort(new AbortError('cancelled by the client'))
      }
    })
  }

  private headers (accept: string, lastEventId?: string): Record<string, string> {
    const h: Record<string, string> = {
      accept,
      'x-from-peer-id': this.c.from,
      'x-service': this.c.service,
      ...this.c.headers
    }
    if (accept !== 'text/event-stream') h['content-type'] = 'application/json'
    if (this.sessionId !== undefined) h['mcp-session-id'] = this.sessionId
    if (this.protocolVersion !== undefined) h['mcp-protocol-version'] = this.protocolVersion
    if (lastEventId !== undefined) h['last-event-id'] = lastEventId
    return h
  }

  /** POST a notification or an answer to a server request (202 expected). */
  private async post (m: Record<string, unknown>): Promise<void> {
    try {
      const res = await this.c.fetch(this.c.url, { method: 'POST', headers: this.headers('application/json, text/event-stream'), body: JSON.stringify(m), signal: this.life.signal })
      await res.body?.cancel()
      if (!res.ok) this.c.stats.httpErrors++
      if (res.status === 404 && this.sessionId !== undefined) this.sink.close(`the endpoint no longer knows MCP session ${this.sessionId} (HTTP 404)`)
    } catch (err) {
      if (!this.closed) this.sink.close(`cannot reach ${this.c.url.href}: ${describe(err)}`)
    }
  }

  /** POST a request and relay its answer stream (resumed if it ends early) until the response. */
  private async request (m: Record<string, unknown>): Promise<void> {
    if (this.standaloneReady !== undefined) await this.standaloneReady
    const key = idKey(m.id)
    const ac = new AbortController()
    this.requests.set(key, ac)
    const signal = AbortSignal.any([this.life.signal, ac.signal])
    const fail = (code: number, reason: string, message: string): void => {
      if (!signal.aborted) this.sink.message({ jsonrpc: '2.0', id: m.id, error: { code, message, data: { axl: reason, service: this.c.service } } })
    }
    try {
      const res = await this.c.fetch(this.c.url, { method: 'POST', headers: this.headers('application/json, text/event-stream'), body: JSON.stringify(m), signal })
      if (!res.ok) this.c.stats.httpErrors++
      if (res.status === 404 && this.sessionId !== undefined && m.method !== 'initialize') {
        // The endpoint forgot the session (restart, expiry): this mesh session ends, the client reconnects.
        await res.body?.cancel()
        fail(RouterErrorCode.Unavailable, 'unavailable', `the endpoint no longer knows MCP session ${this.sessionId} (HTTP 404)`)
        this.sink.close(`the endpoint no longer knows MCP session ${this.sessionId} (HTTP 404)`)
        return
      }
      if (m.method === 'initialize') this.sessionId = res.headers.get('mcp-session-id') ?? undefined
      if (res.status === 202 || res.status === 204) {
        await res.body?.cancel()
        fail(RouterErrorCode.InternalError, 'no_answer', `the endpoint accepted the request without answering it (HTTP ${res.status})`)
        return
      }
      const type = res.headers.get('content-type') ?? ''
      if (res.ok && type.includes('text/event-stream') && res.body !== null) {
        const learn = (o: Record<string, unknown>): void => { this.learn(m, o) }
        let r = await this.relay(res.body, m.id, signal, learn)
        for (let i = 0; !r.answered && r.lastEventId !== undefined && i < MAX_RESUMES && !signal.aborted; i++) {
          this.c.stats.resumptions++
          // Wait as long as the server's `retry:` field asked (SEP-1699), bounded, before resuming.
          if (r.retryMs !== undefined && r.retryMs > 0) await abortableDelay(Math.min(r.retryMs, MAX_RETRY_WAIT_MS), signal)
          const again = await this.c.fetch(this.c.url, { method: 'GET', headers: this.headers('text/event-stream', r.lastEventId), signal })
          if (!again.ok || again.body === null) { await again.body?.cancel(); break }
          const next = await this.relay(again.body, m.id, signal, learn)
          const retryMs = next.retryMs ?? r.retryMs
          r = { answered: next.answered, lastEventId: next.lastEventId ?? r.lastEventId, events: r.events + next.events, ...(retryMs !== undefined ? { retryMs } : {}) }
        }
        if (!r.answered) fail(RouterErrorCode.InternalError, 'no_answer', 'the endpoint closed its event stream without answering')
        return
      }
      const text = await readCapped(res, this.c.maxBytes)
      let answer: unknown
      try { answer = JSON.parse(text) } catch {
        fail(RouterErrorCode.InternalError, 'bad_answer', `the endpoint answered HTTP ${res.status} with a body that is not JSON: ${text.slice(0, 200)}`)
        return
      }
      const all = Array.isArray(answer) ? answer : [answer]
      let answered = false
      for (const a of all) {
        if (a === null || typeof a !== 'object') continue
        const o = a as Record<string, unknown>
        if (o.id !== undefined && idKey(o.id) === key && o.method === undefined) { answered = true; this.learn(m, o) }
        this.sink.message(o)
      }
      if (!answered) fail(RouterErrorCode.InternalError, res.ok ? 'bad_answer' : 'http_error', `the endpoint answered HTTP ${res.status} without a JSON-RPC response`)
    } catch (err) {
      if (signal.aborted) return
      if (err instanceof BackendError) { fail(err.rpcCode, err.reason, err.message); return }
      if (err instanceof SseTooLargeError) { fail(RouterErrorCode.ResponseTooLarge, 'too_large', err.message); return }
      fail(RouterErrorCode.Unavailable, 'unavailable', `cannot reach ${this.c.url.href}: ${describe(err)}`)
    } finally {
      if (this.requests.get(key) === ac) this.requests.delete(key)
    }
  }

  /** The protocol version from initialize's result (sent on later requests). */
  private learn (m: Record<string, unknown>, response: Record<string, unknown>): void {
    if (m.method !== 'initialize') return
    const result = response.result as { protocolVersion?: unknown, capabilities?: Record<string, { listChanged?: unknown, subscribe?: unknown } | undefined> } | undefined
    if (typeof result?.protocolVersion === 'string') this.protocolVersion = result.protocolVersion
    // The standalone GET stream carries only unsolicited messages: opened when the server declares some, or when
    // the client declared requests the server may send it outside any request (sampling, elicitation, roots).
    const caps = result?.capabilities ?? {}
    const clientCaps = ((m.params as { capabilities?: Record<string, unknown> } | undefined)?.capabilities) ?? {}
    this.wantsStandalone = caps.logging !== undefined || Object.values(caps).some(c => c?.listChanged === true || c?.subscribe === true) ||
      clientCaps.sampling !== undefined || clientCaps.elicitation !== undefined || clientCaps.roots !== undefined
  }

  /** Relay every event of a stream; stops at the response to `id` (if given). */
  private async relay (body: ReadableStream<Uint8Array>, id: unknown, signal: AbortSignal, onAnswer?: (response: Record<string, unknown>) => void): Promise<{ answered: boolean, lastEventId?: string, events: number, retryMs?: number }> {
    let lastEventId: string | undefined
    let retryMs: number | undefined
    let events = 0
    const onAbort = (): void => { body.cancel().catch(() => { /* the stream already ended */ }) }
    signal.addEventListener('abort', onAbort, { once: true })
    try {
      for await (const ev of readSse(body, this.c.maxBytes, ms => { retryMs = ms })) {
        if (ev.id !== undefined) lastEventId = ev.id
        events++
        if (ev.event !== 'message' || ev.data === '') continue // priming events carry only an id
        let msg: unknown
        try { msg = JSON.parse(ev.data) } catch { this.c.stats.httpErrors++; continue }
        if (msg === null || typeof msg !== 'object' || Array.isArray(msg)) continue
        const o = msg as Record<string, unknown>
        const isAnswer = id !== undefined && o.method === undefined && o.id !== undefined && idKey(o.id) === idKey(id)
        if (isAnswer) onAnswer?.(o)
        await this.sink.message(o) // backpressure: the stream is read no faster than the mesh takes it
        if (isAnswer) return { answered: true, lastEventId, events, ...(retryMs !== undefined ? { retryMs } : {}) }
      }
    } catch (err) {
      if (signal.aborted || err instanceof SseTooLargeError) throw err
      // A broken stream is resumed like one that ended early.
    } finally {
      signal.removeEventListener('abort', onAbort)
    }
    return { answered: false, lastEventId, events, ...(retryMs !== undefined ? { retryMs } : {}) }
  }

  /** The standalone GET stream (server notifications and requests outside any request); 405 means none. */
  private openStandalone (): void {
    if (this.standalone || this.closed || !this.wantsStandalone) return
    this.standalone = true
    let ready!: () => void
    this.standaloneReady = new Promise<void>(resolve => {
      ready = resolve
      setTimeout(resolve, STANDALONE_WAIT_MS).unref()
    }).then(() => { this.standaloneReady = undefined })
    void (async () => {
      let failures = 0
      let lastEventId: string | undefined
      while (!this.closed && failures < MAX_GET_FAILURES) {
        try {
          let res: Response
          try {
            res = await this.c.fetch(this.c.url, { method: 'GET', headers: this.headers('text/event-stream', lastEventId), signal: this.life.signal })
          } finally { ready() }
          if (res.status === 405 || res.status === 404) { await res.body?.cancel(); return }
          if (!res.ok || res.body === null) { await res.body?.cancel(); failures++ } else {
            const r = await this.relay(res.body, undefined, this.life.signal)
            lastEventId = r.lastEventId ?? lastEventId
            // A stream that carried something was healthy; one that ended empty counts as a failure.
            failures = r.events > 0 ? 0 : failures + 1
          }
        } catch (err) {
          if (this.closed) return
          failures++
          this.lastGetError = describe(err)
        }
        if (this.closed) return
        await new Promise(resolve => setTimeout(resolve, Math.min(5000, 100 * 2 ** failures)).unref())
      }
    })()
  }

  async close (): Promise<void> {
    if (this.closed) return
    this.closed = true
    this.c.stats.meshSessions--
    this.life.abort(new AbortError('the MCP session ended'))
    if (this.sessionId === undefined) return
    try {
      const r = await this.c.fetch(this.c.url, { method: 'DELETE', headers: this.headers('application/json'), signal: AbortSignal.timeout(2000) })
      await r.body?.cancel()
    } catch (err) {
      throw new Error(`DELETE of MCP session ${this.sessionId} failed: ${describe(err)}`)
    }
  }
}

function describe (err: unknown): string {
  const cause = (err as { cause?: { code?: string, message?: string } }).cause
  return cause?.code ?? cause?.message ?? (err as Error).message ?? String(err)
}
