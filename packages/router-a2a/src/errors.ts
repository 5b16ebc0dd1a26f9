import { AxlError } from '@axl/core'

/**
 * The remote node answered the A2A envelope with an error instead of a response: it has no A2A service,
 * it was busy, or its handler failed (AXL's bridge turns this into HTTP 502 with the text).
 */
export class A2aRemoteError extends AxlError {
  /** The peer that answered. */
  readonly peer: string
  /** The remote's error text, verbatim. */
  readonly remoteError: string
  constructor (peer: string, remoteError: string) {
    super('ERR_A2A_REMOTE', `peer ${peer} answered the A2A request with an error: ${remoteError}`)
    this.peer = peer
    this.remoteError = remoteError
  }
}

/** The remote A2A endpoint answered with a JSON-RPC error (`cause` is the `@a2a-js/sdk` error for it). */
export class A2aRpcError extends AxlError {
  /** The JSON-RPC error code, e.g. -32601 (method not found) or -32004 (unsupported operation). */
  readonly rpcCode: number
  /** The JSON-RPC error `data`, if any. */
  readonly data: unknown
  constructor (method: string, rpcCode: number, message: string, data: unknown, options?: { cause?: unknown }) {
    super('ERR_A2A_RPC', `${method} failed with JSON-RPC error ${rpcCode}: ${message}`, options)
    this.rpcCode = rpcCode
    this.data = data
  }
}

/** A URL given to the mesh fetch names no peer (expected `axl://<peerId>/…` or `…/a2a/<peerId>`). */
export class A2aUrlError extends AxlError {
  constructor (message: string) { super('ERR_A2A_URL', message) }
}

/**
 * The peer does not serve A2A streams (`/axl/a2a-stream/1`): a Go AXL node, an older node, or one started with
 * `stream: false`. An A2aRpcError with code -32004 (unsupported operation), as the endpoint's own refusal.
 */
export class A2aStreamingUnsupportedError extends A2aRpcError {
  /** The peer that refused. */
  readonly peer: string
  /** Why the stream protocol was refused (the peer's words, or the transport's). */
  readonly reason: string
  constructor (method: string, peer: string, reason: string, message: string, options?: { cause?: unknown }) {
    super(method, -32004, message, undefined, options)
    this.peer = peer
    this.reason = reason
  }
}

/** This node already has as many A2A streams open as its bounds allow (per peer or in total). */
export class A2aStreamLimitError extends AxlError {
  constructor (message: string) { super('ERR_A2A_STREAM_LIMIT', message) }
}
