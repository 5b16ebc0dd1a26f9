/**
 * A JSON-RPC multiplexer over one MCP connection shared by many callers (an in-process server connection,
 * a stdio child). Each forwarded request gets a fresh local id so ids from different peers never collide;
 * the router puts the caller's own id back on the answer.
 */
import { abortReason, type PeerId } from '@axl/core'
import { RouterErrorCode } from './error-codes.js'
import type { JsonRpcRequest } from './jsonrpc.js'

/** Writes one message to the backend; `from` is the caller it is sent for (undefined for the router's own messages). */
export type ChannelWriter = (message: Record<string, unknown>, from: PeerId | undefined) => void

/** Where the backend's messages related to one request go (an MCP session); may return a backpressure promise. */
export type Route = (message: Record<string, unknown>) => Promise<void> | undefined

interface Pending {
  resolve: (response: Record<string, unknown>) => void
  reject: (err: Error) => void
  key: string | undefined
  route: Route | undefined
}

/** Server-to-client requests waiting for a session's answer, at most. */
const MAX_ROUTED_REQUESTS = 1024

/** Counters of a channel. */
export interface ChannelStats {
  /** Notifications the backend sent that could not be delivered over AXL (progress, logging, list_changed). */
  droppedNotifications: number
  /** Requests the backend sent to the client (sampling, elicitation, roots) that were refused. */
  refusedServerRequests: number
  /** Answers with an id nobody waits for (late answers after a timeout). */
  unmatchedResponses: number
  /** Messages the backend sent that were delivered to an MCP session (related to its request, or broadcast). */
  routedToSessions: number
}

/** Multiplexes JSON-RPC requests of many callers over one connection. */
export class JsonRpcChannel {
  /** Counters. */
  readonly stats: ChannelStats = { droppedNotifications: 0, refusedServerRequests: 0, unmatchedResponses: 0, routedToSessions: 0 }
  /** Server-to-client requests sent to a session: JSON id → the session that may answer. */
  private readonly routedRequests = new Map<string, Route>()
  /** Open sessions: notifications not related to any request (list_changed, ...) go to each. */
  private readonly sessions = new Set<Route>()
  private nextId = 1
  private readonly pending = new Map<number, Pending>()
  /** `${peer}\0${JSON id}` → local id, so a caller's notifications/cancelled reaches the right request. */
  private readonly byCaller = new Map<string, number>()

  constructor (private readonly write: ChannelWriter) {}

  /** Requests waiting for an answer. */
  get inFlight (): number { return this.pending.size }

  /** Forward a request; resolves with the backend's response object (carrying the local id). */
  async request (message: JsonRpcRequest, from: PeerId | undefined, signal: AbortSignal, route?: Route): Promise<Record<string, unknown>> {
    if (signal.aborted) throw abortReason(signal)
    const local = this.nextId++
    const key = from === undefined ? undefined : `${from}\0${JSON.stringify(message.id)}`
    return await new Promise((resolve, reject) => {
      const cleanup = (): void => {
        this.pending.delete(local)
        if (key !== undefined && this.byCaller.get(key) === local) this.byCaller.delete(key)
        signal.removeEventListener('abort', onAbort)
      }
      const onAbort = (): void => {
        cleanup()
        const err = abortReason(signal)
        try { this.write({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: local, reason: err.message } }, from) } catch { /* backend gone */ }
        reject(err)
      }
      signal.addEventListener('abort', onAbort, { once: true })
      this.pending.set(local, {
        resolve: r => { cleanup(); resolve(r) },
        reject: e => { cleanup(); reject(e) },
        key,
        route
      })
      if (key !== undefined) this.byCaller.set(key, local)
      try {
        this.write({ ...message, id: local }, from)
      } catch (err) {
        cleanup()
        reject(err as Error)
      }
    })
  }

  /** Forward a notification; a caller's notifications/cancelled is translated to the local id (dropped if unknown). */
  notify (message: JsonRpcRequest, from: PeerId | undefined): void {
    if (message.method === 'notifications/cancelled') {
      const params = (message.params ?? {}) as Record<string, unknown>
      const local = this.byCaller.get(`${from}\0${JSON.stringify(params.requestId)}`)
      if (local === undefined) return
      this.write({ ...message, params: { ...params, requestId: local } }, from)
      return
    }
    this.write({ ...message }, from)
  }

  /** An MCP session joins: it gets the backend's notifications that relate to no request. */
  openSession (route: Route): void { this.sessions.add(route) }

  /** A session leaves: server requests it did not answer are answered with an error, so the backend stops waiting. */
  closeSession (route: Route): void {
    this.sessions.delete(route)
    for (const [key, r] of [...this.routedRequests]) {
      if (r !== route) continue
      this.routedRequests.delete(key)
      try {
        this.write({ jsonrpc: '2.0', id: JSON.parse(key), error: { code: RouterErrorCode.InternalError, message: 'the MCP session that was asked closed before answering' } }, undefined)
      } catch {
        this.stats.unmatchedResponses++ // the backend is gone: nobody waits for the answer any more
      }
    }
  }

  /** A session's answer to a server-to-client request it was sent; false (dropped) if it was not that session's to answer. */
  answer (message: Record<string, unknown>, route: Route): boolean {
    const key = JSON.stringify(message.id)
    if (this.routedRequests.get(key) !== route) { this.stats.unmatchedResponses++; return false }
    this.routedRequests.delete(key)
    this.write({ ...message }, undefined)
    return true
  }

  /**
   * Feed one message the backend sent. `related` is the local id of the request it belongs to (the SDK's
   * relatedRequestId): if that request came from a session, the message goes to that session.
   */
  receive (message: unknown, related?: unknown): void {
    if (message === null || typeof message !== 'object' || Array.isArray(message)) return
    const m = message as Record<string, unknown>
    if (typeof m.method === 'string') {
      const route = typeof related === 'number' ? this.pending.get(related)?.route : undefined
      if (route !== undefined && (m.id === undefined || this.routedRequests.size < MAX_ROUTED_REQUESTS)) {
        if (m.id !== undefined) this.routedRequests.set(JSON.stringify(m.id), route)
        this.stats.routedToSessions++
        void route(m)
        return
      }
      if (m.id === undefined) {
        if (related === undefined && this.sessions.size > 0) {
          this.stats.routedToSessions++
          for (const r of this.sessions) void r(m)
          return
        }
        this.stats.droppedNotifications++
        return
      }
      // A server-to-client request: there is no way back to the caller over one AXL request/response.
      if (m.method === 'ping') { this.write({ jsonrpc: '2.0', id: m.id, result: {} }, undefined); return }
      this.stats.refusedServerRequests++
      this.write({
        jsonrpc: '2.0',
        id: m.id,
        error: { code: RouterErrorCode.MethodNotFound, message: `"${m.method}" from the server cannot be carried over AXL (one request, one answer)` }
      }, undefined)
      return
    }
    const p = typeof m.id === 'number' ? this.pending.get(m.id) : undefined
    if (p === undefined) { this.stats.unmatchedResponses++; return }
    p.resolve(m)
  }

  /** Reject every waiting request (the backend went away). */
  failAll (err: Error): void {
    for (const p of [...this.pending.values()]) p.reject(err)
  }
}
