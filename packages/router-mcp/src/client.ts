/**
 * The client half of MCP over the mesh, on nothing but `node.request()`: one JSON-RPC message in an AXL MCP
 * envelope, one envelope back. `McpRouter` uses it for `call()`/`callRaw()`, `MeshClientTransport` needs only
 * its `McpCaller` shape, and a node without the router can use it alone: `new McpClient(node).call(peer, ...)`.
 */
import { UnsupportedProtocolError, parsePeerId, type AxlNode, type PeerId, type RawJson, type WaitOptions } from '@axl/core'
import { decodeMcpResponse, encodeMcpRequest } from './envelope.js'
import { RouterErrorCode } from './error-codes.js'
import { openClientSession, type ClientSession, type OpenSessionOptions, type SessionNode } from './session-client.js'
import { MCP_SESSION_PROTOCOL } from './session-protocol.js'
import { errorResponse, parseInbound, type JsonRpcRequest, type JsonRpcResponse } from './jsonrpc.js'

/** Options of call(). */
export interface CallOptions extends WaitOptions {}

/** Sends one JSON-RPC message to a service on a peer; what MeshClientTransport needs. */
export interface McpCaller {
  /** One request (resolves to the response's JSON text) or notification (resolves to null). */
  callRaw: (peer: PeerId | string, service: string, request: JsonRpcRequest | RawJson, opts?: CallOptions) => Promise<RawJson | null>
}

/** The node features the client uses. */
export type RequestNode = Pick<AxlNode, 'request' | 'limits'>

/** Calls MCP services on other nodes through `node.request()` (and opens MCP sessions when the node can dial protocols). */
export class McpClient implements McpCaller {
  constructor (private readonly node: RequestNode & Partial<Pick<AxlNode, 'dialProtocol'>>) {}

  /** Open an MCP session (`/axl/mcp/1`) to `service` on `peer`; UnsupportedProtocolError when either side has none. */
  async dialSession (peer: PeerId | string, service: string, opts: OpenSessionOptions = {}): Promise<ClientSession> {
    const to = parsePeerId(peer)
    if (this.node.dialProtocol === undefined) throw new UnsupportedProtocolError(to, MCP_SESSION_PROTOCOL, 'this node cannot dial custom protocols')
    return await openClientSession(this.node as SessionNode, to, service, opts)
  }

  /**
   * Send one JSON-RPC request to `service` on `peer` and return its response object. Remote failures
   * (unknown service, refused, busy, timeout, crash) arrive as JSON-RPC error responses; an envelope error
   * from the remote node becomes `{ error: { code: -32603, message, data: { axl: 'remote_error' } } }`.
   * Local/transport failures throw typed errors (TimeoutError, AbortError, UnreachableError,
   * MessageTooLargeError, ProtocolError, MalformedEnvelopeError). A notification (no id) resolves to null.
   * Default deadline: the node's requestTimeoutMs.
   */
  async call (peer: PeerId | string, service: string, request: JsonRpcRequest | RawJson, opts: CallOptions = {}): Promise<JsonRpcResponse | null> {
    const raw = await this.callRaw(peer, service, request, opts)
    if (raw === null) return null
    return JSON.parse(raw) as JsonRpcResponse
  }

  /** Like call(), but returns the response's exact JSON text (null for a notification). */
  async callRaw (peer: PeerId | string, service: string, request: JsonRpcRequest | RawJson, opts: CallOptions = {}): Promise<RawJson | null> {
    const to = parsePeerId(peer)
    const frame = encodeMcpRequest(service, request)
    const parsed = parseInbound(typeof request === 'string' ? request : JSON.stringify(request))
    const isRequest = parsed.kind !== 'notification' // an invalid request still gets an error answer
    const rawId = parsed.kind === 'notification' ? 'null' : parsed.rawId
    const replyFrame = await this.node.request(to, frame, { timeoutMs: opts.timeoutMs ?? this.node.limits.requestTimeoutMs, signal: opts.signal })
    const r = decodeMcpResponse(replyFrame)
    if (!isRequest) return null
    if (r.error !== undefined) return errorResponse(rawId, RouterErrorCode.RemoteError, r.error, { axl: 'remote_error', service })
    if (r.response === null || r.response === 'null') {
      return errorResponse(rawId, RouterErrorCode.RemoteError, `peer ${to} answered with an empty response`, { axl: 'remote_error', service })
    }
    return r.response
  }
}
