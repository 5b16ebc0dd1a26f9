import type { Backend, CallContext, ServiceStatus } from './backend.js'
import { isJsonRpcResponse, type JsonRpcId, type JsonRpcRequest } from './jsonrpc.js'

/**
 * A service answered by an async function. It may return a full JSON-RPC response
 * (`{ jsonrpc: '2.0', result }` or `{ jsonrpc: '2.0', error }`; the id is always set to the caller's),
 * or any other value, which becomes the `result`. A throw becomes a -32603 error.
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
    const v = await this.fn(message, ctx)
    if (isJsonRpcResponse(v)) return v
    return { jsonrpc: '2.0', id: message.id, result: v === undefined ? null : v }
  }

  async notify (message: JsonRpcRequest, ctx: CallContext): Promise<void> {
    await this.fn(message, ctx)
  }
}
