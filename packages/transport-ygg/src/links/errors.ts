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

/** The link handshake (Yggdrasil `meta` or Noise) failed: bad bytes, closed early, unsupported identity key. */
export class HandshakeError extends AxlError {
  constructor (message: string, options?: { cause?: unknown, code?: string }) { super(options?.code ?? 'ERR_HANDSHAKE', message, options) }
}

/** The remote's `meta` signature does not verify with our link password: the two sides use different passwords. */
export class IncorrectPasswordError extends HandshakeError {
  constructor (message: string) { super(message, { code: 'ERR_LINK_PASSWORD' }) }
}

/** The remote speaks another Yggdrasil protocol version (we speak 0.5). */
export class IncompatibleVersionError extends HandshakeError {
  constructor (message: string) { super(message, { code: 'ERR_LINK_VERSION' }) }
}

/**
 * The remote authenticated with a different key than the one expected (`?key=` pinning), or, on a `tls://`
 * link, its TLS certificate holds another key than its `meta` handshake (a relayed handshake).
 */
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
