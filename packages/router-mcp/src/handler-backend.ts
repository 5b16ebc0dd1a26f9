import { LATEST_PROTOCOL_VERSION } from '@modelcontextprotocol/sdk/types.js'
import type { Backend, CallContext, ServiceStatus } from './backend.js'
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

  info (): Record<string, unknown> { return {} }

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
