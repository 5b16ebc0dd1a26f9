/**
 * Typed errors of the link layer. Deadlines use `TimeoutError` and aborts `AbortError` from `@axl/core`.
 */
import { AxlError } from '@axl/core'

/** A link could not be opened (connection refused, no listener, bad address). */
export class LinkDialError extends AxlError {
  /** The URI that was dialled. */
  readonly uri: string
  constructor (uri: string, reason: string, options?: { cause?: unknown }) {
    super('ERR_LINK_DIAL', `cannot dial ${uri}: ${reason}`, options)
    this.uri = uri
  }
}

/** The Noise handshake failed (bad bytes, closed early, unsupported identity key). */
export class HandshakeError extends AxlError {
  constructor (message: string, options?: { cause?: unknown }) { super('ERR_HANDSHAKE', message, options) }
}

/** The remote authenticated with a different key than the one expected (`?key=` or `expectedKey`). */
export class UnexpectedPeerKeyError extends AxlError {
  /** The expected key, lowercase hex. */
  readonly expected: string
  constructor (expected: string, message?: string, options?: { cause?: unknown }) {
    super('ERR_UNEXPECTED_PEER_KEY', message ?? `remote did not authenticate as ${expected}`, options)
    this.expected = expected
  }
}

/** A link was refused after the handshake (link to self, key not in allowedPublicKeys). */
export class LinkRefusedError extends AxlError {
  constructor (message: string) { super('ERR_LINK_REFUSED', message) }
}
