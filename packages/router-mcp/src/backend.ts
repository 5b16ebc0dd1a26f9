import type { PeerId, RawJson } from '@axl/core'
import type { JsonRpcId, JsonRpcRequest } from './jsonrpc.js'

/** What kind of thing answers a service. */
export type ServiceKind = 'handler' | 'sdk' | 'stdio' | 'http'

/** A service's lifecycle state, as list() reports it. */
export type ServiceStatus = 'starting' | 'ready' | 'restarting' | 'stopping' | 'stopped' | 'failed'

/** What a backend learns about one call. */
export interface CallContext {
  /** The caller's full, authenticated peer id. */
  from: PeerId
  /** The service name the caller asked for. */
  service: string
  /** Fires on timeout, node stop, or when the service is replaced/deregistered. */
  signal: AbortSignal
}

/** Internal: one way of answering JSON-RPC for a service. */
export interface Backend {
  readonly kind: ServiceKind
  readonly status: ServiceStatus
  /** Extra fields for list() (pid, restarts, url, ...). */
  info: () => Record<string, unknown>
  /** Bring the backend up; resolves when it can answer. */
  start: (signal: AbortSignal) => Promise<void>
  /** Stop it and release everything (child processes, connections). Idempotent. */
  stop: () => Promise<void>
  /** Answer one request (`raw` is its exact JSON text); resolves to a JSON-RPC response object (its id is replaced by the caller's). */
  request: (message: JsonRpcRequest & { id: JsonRpcId }, ctx: CallContext, raw: RawJson) => Promise<unknown>
  /** Deliver one notification (no answer). */
  notify: (message: JsonRpcRequest, ctx: CallContext, raw: RawJson) => Promise<void>
  /** Observe status changes (the router re-emits them as events). */
  onStatus?: (status: ServiceStatus, detail: Record<string, unknown>) => void
}
