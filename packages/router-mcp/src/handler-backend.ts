import { LATEST_PROTOCOL_VERSION } from '@modelcontextprotocol/sdk/types.js'
import { AbortError } from '@axl/core'
import type { Backend, BackendSession, CallContext, ServiceStatus, SessionContext, SessionSink } from './backend.js'
import { RouterErrorCode } from './error-codes.js'
import { idKey, isRequest } from './session-protocol.js'
import { isJsonRpcResponse, type JsonRpcId, type JsonRpcRequest } from './jsonrpc.js'

/** True for an object shaped like an MCP InitializeResult (what the SDK Client expects back from `initialize`). */
function isInitializeResult (v: unknown): boolean {
  if (v === null || typeof v !== 'object') return false
  const r = v as { protocolVersion?: unknown, serverInfo?: unknown, capabilities?: unknown }
  return typeof r.protocolVersion === 'string' && r.serverInfo !== null && typeof r.serverInfo === 'object' && r.capabilities !== null && typeof r.capabilities === 'object'
}

/**
 * A service answered by an async function. It may return a full JSON-RPC response
 * (`{ jsonrpc: '2.0', result }` or `{ jsonrpc: '2.0', error }`; the id is always set to the caller's),
 * or any other value, which becomes the `result`. A throw becomes a -32603 error.
 * `initialize` is answered for the handler when it does not answer it itself with an InitializeResult, so the
 * MCP SDK's Client can connect to a handler service: the client's protocol version, no declared capabilities
 * (the SDK Client still calls any method), and `serverInfo` `{ name: <service>, version: '0.0.0' }`.
 */
export type JsonRpcHandler = (request: JsonRpcRequest, ctx: CallContext) => Promise<unknown> | unknown

/** Internal: wraps a JsonRpcHandler. */
export class HandlerBackend implements Backend {
  readonly kind = 'handler' as const
  status: ServiceStatus = 'starting'

  constructor (private readonly fn: JsonRpcHandler) {}

  /** Notifications of sessions whose handler threw (there is no answer to carry the failure). */
  private notificationErrors = 0

  info (): Record<string, unknown> { return { notificationErrors: this.notificationErrors } }

  async start (): Promise<void> { this.status = 'ready' }

  async stop (): Promise<void> { this.status = 'stopped' }

  async request (message: JsonRpcRequest & { id: JsonRpcId }, ctx: CallContext): Promise<unknown> {
    if (message.method === 'initialize') return await this.initialize(message, ctx)
    const v = await this.fn(message, ctx)
    if (isJsonRpcResponse(v)) return v
    return { jsonrpc: '2.0', id: message.id, result: v === undefined ? null : v }
  }

  async notify (message: JsonRpcRequest, ctx: CallContext): Promise<void> {
    await this.fn(message, ctx)
  }

  /**
   * A session: every request and notification of the client goes to the handler, whose `ctx.notify` sends
   * notifications back to this client; the client's notifications/cancelled aborts that request's `ctx.signal`.
   */
  async openSession (sctx: SessionContext, sink: SessionSink): Promise<BackendSession> {
    const inflight = new Map<string, AbortController>()
    let closed = false
    const notify = (n: { method: string, params?: Record<string, unknown> }): void => {
      if (closed) return
      sink.message({ jsonrpc: '2.0', method: n.method, ...(n.params === undefined ? {} : { params: n.params }) })
    }
    return {
      send: (m) => {
        if (closed) throw new AbortError('the session is closed')
        if (typeof m.method !== 'string') return // an answer to a server request: a handler sends none
        if (m.method === 'notifications/cancelled') {
          const id = (m.params as { requestId?: unknown } | undefined)?.requestId
          inflight.get(idKey(id))?.abort(new AbortError('the request was cancelled by the client'))
        }
        const ac = new AbortController()
        const ctx: CallContext = { from: sctx.from, service: sctx.service, signal: AbortSignal.any([sctx.signal, ac.signal]), notify }
        if (!isRequest(m)) {
          void Promise.resolve().then(async () => { await this.fn(m as unknown as JsonRpcRequest, ctx) }).catch(() => { this.notificationErrors++ })
          return
        }
        const key = idKey(m.id)
        inflight.set(key, ac)
        const id = m.id as JsonRpcId
        void this.request(m as unknown as JsonRpcRequest & { id: JsonRpcId }, ctx)
          .then(r => ({ ...(r as Record<string, unknown>), jsonrpc: '2.0', id }), (err: unknown) => ({
            jsonrpc: '2.0', id, error: { code: RouterErrorCode.InternalError, message: `service "${sctx.service}" failed: ${err instanceof Error ? err.message : String(err)}`, data: { axl: 'handler_error', service: sctx.service } }
          }))
          .then(r => { if (!ac.signal.aborted && !closed) sink.message(r) })
          .finally(() => { if (inflight.get(key) === ac) inflight.delete(key) })
      },
      close: async () => {
        closed = true
        for (const ac of inflight.values()) ac.abort(new AbortError('the session closed'))
        inflight.clear()
      }
    }
  }

  /** `initialize`: the handler's own InitializeResult if it gives one, else a minimal one (see the type's doc). */
  private async initialize (message: JsonRpcRequest & { id: JsonRpcId }, ctx: CallContext): Promise<unknown> {
    let own: unknown
    try {
      own = await this.fn(message, ctx)
    } catch {
      own = undefined // a handler that knows no `initialize` (throws or answers an error): answered for it below
    }
    if (isJsonRpcResponse(own) && 'result' in own && isInitializeResult(own.result)) return own
    if (!isJsonRpcResponse(own) && isInitializeResult(own)) return { jsonrpc: '2.0', id: message.id, result: own }
    const params = message.params as { protocolVersion?: unknown } | undefined
    const protocolVersion = typeof params?.protocolVersion === 'string' ? params.protocolVersion : LATEST_PROTOCOL_VERSION
    return { jsonrpc: '2.0', id: message.id, result: { protocolVersion, capabilities: {}, serverInfo: { name: ctx.service, version: '0.0.0' } } }
  }
}
