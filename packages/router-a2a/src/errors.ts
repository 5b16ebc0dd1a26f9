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
