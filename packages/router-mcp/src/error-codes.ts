/**
 * JSON-RPC error codes the router answers with. The -32000..-32099 range is JSON-RPC's
 * "implementation-defined server errors"; the router uses -32001 and -32010..-32015 and avoids -32002
 * (MCP's "resource not found") and -32042 (MCP's URL elicitation).
 */
export const RouterErrorCode = {
  /** The request was not JSON. */
  ParseError: -32700,
  /** The request was not a valid JSON-RPC 2.0 request (or was a batch). */
  InvalidRequest: -32600,
  /** The method is not available (server-to-client requests the router cannot carry). */
  MethodNotFound: -32601,
  /** The service's handler threw, or the backend answered with something that is not JSON-RPC. */
  InternalError: -32603,
  /** The caller is not allowed to use this service (allow-list or predicate refused it). */
  AccessDenied: -32001,
  /** No service of that name is registered on the node. */
  UnknownService: -32010,
  /** The service already runs `maxConcurrent` requests. */
  Busy: -32011,
  /** The service did not answer within its `timeoutMs`. */
  Timeout: -32012,
  /** The backend is down: stdio server restarting, HTTP endpoint unreachable, service being stopped. */
  Unavailable: -32013,
  /** The answer is larger than `maxResponseBytes` (or than what the mesh can carry). */
  ResponseTooLarge: -32014,
  /** The caller's node reported an envelope error (the remote node or router failed; AXL's bridge uses -32603 for this). */
  RemoteError: -32603
} as const

/** One of the codes in {@link RouterErrorCode}. */
export type RouterErrorCodeValue = typeof RouterErrorCode[keyof typeof RouterErrorCode]
