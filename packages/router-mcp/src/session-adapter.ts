/**
 * An MCP session over a backend that has no two-way session of its own (a stdio child shared by every
 * caller): each request in the session is answered as an envelope request would
 * be (router dispatch: access rule, concurrency, deadline, size limit). Server-to-client traffic of such a
 * backend does not reach the session (see README: what each backend carries).
 */
import type { PeerId, RawJson } from '@axl/core'
import { AbortError } from '@axl/core'
import type { BackendSession, SessionSink } from './backend.js'
import type { McpPort } from './port.js'
import { idKey, isRequest, isResponse } from './session-protocol.js'

/** Most requests of one adapted session in flight (the router's maxConcurrent refuses earlier). */
const MAX_INFLIGHT = 1024

/** A session whose requests go through the router's envelope dispatch. */
export class DispatchSession implements BackendSession {
  /** dispatch() applies the service's deadline itself. */
  readonly ownDeadlines = true
  /** Answers from the client to server requests: none were sent, so these are dropped (counted). */
  strayResponses = 0
  private readonly inflight = new Map<string, AbortController>()
  private closed = false

  constructor (
    private readonly dispatch: McpPort['dispatch'],
    private readonly service: string,
    private readonly from: PeerId,
    private readonly signal: AbortSignal,
    private readonly sink: SessionSink
  ) {}

  send (m: Record<string, unknown>): void {
    if (this.closed) throw new AbortError('the session is closed')
    if (isResponse(m)) { this.strayResponses++; return }
    if (m.method === 'notifications/cancelled') {
      // Cancel through the router's own call signal: the backend's channel then cancels its local id.
      const id = (m.params as { requestId?: unknown } | undefined)?.requestId
      this.inflight.get(idKey(id))?.abort(new AbortError('the request was cancelled by the client'))
      return
    }
    const request = isRequest(m)
    const key = request ? idKey(m.id) : ''
    const ac = new AbortController()
    if (request) {
      if (this.inflight.size >= MAX_INFLIGHT) throw new AbortError(`${MAX_INFLIGHT} requests in flight in this session`)
      this.inflight.set(key, ac)
    }
    const signal = AbortSignal.any([this.signal, ac.signal])
    void this.dispatch({ service: this.service, request: JSON.stringify(m) as RawJson }, { from: this.from, signal })
      .then(reply => {
        if (!request || this.closed || ac.signal.aborted) return
        if (reply.response === null || reply.response === 'null') return
        this.sink.message(JSON.parse(reply.response) as Record<string, unknown>)
      })
      .finally(() => { if (request && this.inflight.get(key) === ac) this.inflight.delete(key) })
  }

  async close (): Promise<void> {
    if (this.closed) return
    this.closed = true
    for (const ac of this.inflight.values()) ac.abort(new AbortError('the session closed'))
    this.inflight.clear()
  }
}
