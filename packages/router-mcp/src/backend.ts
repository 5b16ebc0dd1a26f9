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
  /**
   * Send a notification to the caller (progress, logging, ...). Delivered inside an MCP session
   * (`/axl/mcp/1`); over a one-request/one-answer envelope it is dropped (there is no way back). Absent when
   * nothing can carry it.
   */
  notify?: (notification: { method: string, params?: Record<string, unknown> }) => void
}

/** What a backend learns about one MCP session (the session protocol, `/axl/mcp/1`). */
export interface SessionContext {
  /** The client's full, authenticated peer id. */
  from: PeerId
  /** The service name. */
  service: string
  /** Fires when the session ends (closed by either side, idle, node stop, service retired). */
  signal: AbortSignal
}

/** Where a backend session sends its server-to-client messages. */
export interface SessionSink {
  /**
   * One JSON-RPC message to the client (response, notification, or server-to-client request). May return a
   * promise that resolves once the message left (backpressure: await it before sending more); it never rejects.
   */
  message: (message: Record<string, unknown>) => Promise<void> | undefined
  /** The upstream went away; the session is ended with this reason. */
  close: (reason: string) => void
}

/** One upstream MCP session of a backend, owned by one mesh session. */
export interface BackendSession {
  /** One JSON-RPC message from the client (request, notification, or the answer to a server request). */
  send: (message: Record<string, unknown>) => void
  /** End the upstream session (idempotent). */
  close: () => Promise<void>
  /** True when the session answers every request within the service's deadline itself (no router deadline on top). */
  readonly ownDeadlines?: boolean
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
  /** Open a two-way upstream session (server-to-client traffic carried); absent: requests go through request()/notify(). */
  openSession?: (ctx: SessionContext, sink: SessionSink) => Promise<BackendSession>
  /** Observe status changes (the router re-emits them as events). */
  onStatus?: (status: ServiceStatus, detail: Record<string, unknown>) => void
}
