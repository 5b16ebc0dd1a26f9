/**
 * Typed errors. Every error the SDK throws is an AxlError with a stable `code`, so callers can branch on
 * `err.code` (or `instanceof`) instead of parsing messages.
 */

/** Base class of every error thrown by the SDK. */
export class AxlError extends Error {
  /** Stable machine-readable code, e.g. 'ERR_INVALID_PEER_ID'. */
  readonly code: string
  constructor (code: string, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.code = code
    this.name = new.target.name
  }
}

/** A peer id was not 64 hex characters (32 bytes). */
export class InvalidPeerIdError extends AxlError {
  constructor (message: string) { super('ERR_INVALID_PEER_ID', message) }
}

/** A key (public, private, PEM, Yggdrasil hex) could not be parsed or has the wrong length. */
export class InvalidKeyError extends AxlError {
  constructor (message: string, options?: { cause?: unknown }) { super('ERR_INVALID_KEY', message, options) }
}

/** A length-prefixed frame claimed more bytes than the configured limit. Nothing was allocated for it. */
export class FrameTooLargeError extends AxlError {
  readonly length: number
  readonly limit: number
  constructor (length: number, limit: number) {
    super('ERR_FRAME_TOO_LARGE', `frame of ${length} bytes exceeds the limit of ${limit} bytes`)
    this.length = length
    this.limit = limit
  }
}

/** A frame ended before its declared length (or before the 4-byte header was complete). */
export class TruncatedFrameError extends AxlError {
  constructor (message: string) { super('ERR_TRUNCATED_FRAME', message) }
}

/** An envelope (MCP/A2A JSON) was malformed: not JSON, wrong field types, missing fields. */
export class MalformedEnvelopeError extends AxlError {
  constructor (message: string, options?: { cause?: unknown }) { super('ERR_MALFORMED_ENVELOPE', message, options) }
}

/** A message is larger than the sender's or the receiver's limit. */
export class MessageTooLargeError extends AxlError {
  readonly size: number
  readonly limit: number
  constructor (size: number, limit: number, where: 'local' | 'remote' = 'local') {
    super('ERR_MESSAGE_TOO_LARGE', `message of ${size} bytes exceeds the ${where} limit of ${limit} bytes`)
    this.size = size
    this.limit = limit
  }
}

/** The remote peer could not be reached (no route, no session, connection refused, node stopped). */
export class UnreachableError extends AxlError {
  readonly peer: string
  constructor (peer: string, reason: string, options?: { cause?: unknown }) {
    super('ERR_UNREACHABLE', `peer ${peer} is unreachable: ${reason}`, options)
    this.peer = peer
  }
}

/** The remote node received the message but refused it (inbox full, policy, too large for it). */
export class RefusedError extends AxlError {
  readonly peer: string
  readonly reason: string
  constructor (peer: string, reason: string) {
    super('ERR_REFUSED', `peer ${peer} refused the message: ${reason}`)
    this.peer = peer
    this.reason = reason
  }
}

/** A deadline passed before the operation finished. */
export class TimeoutError extends AxlError {
  constructor (message: string) { super('ERR_TIMEOUT', message) }
}

/** The caller's AbortSignal fired. */
export class AbortError extends AxlError {
  constructor (message = 'the operation was aborted', options?: { cause?: unknown }) { super('ERR_ABORTED', message, options) }
}

/** The stream or node was closed (or reset by the remote) while the operation was in progress. */
export class StreamClosedError extends AxlError {
  constructor (message: string) { super('ERR_STREAM_CLOSED', message) }
}

/** The remote answered, but the answer did not follow the protocol. */
export class ProtocolError extends AxlError {
  constructor (message: string, options?: { cause?: unknown }) { super('ERR_PROTOCOL', message, options) }
}

/** The node is not started, or has been stopped. */
export class NotStartedError extends AxlError {
  constructor (message = 'the node is stopped') { super('ERR_NOT_STARTED', message) }
}

/** A configuration value was invalid. */
export class ConfigError extends AxlError {
  constructor (message: string) { super('ERR_CONFIG', message) }
}

/** An IPv6 address, Yggdrasil address (200::/7) or subnet (300::/8) was malformed or has the wrong length. */
export class InvalidAddressError extends AxlError {
  constructor (message: string) { super('ERR_INVALID_ADDRESS', message) }
}

/**
 * A custom protocol could not be opened: the peer does not handle it, or accepts no custom protocols at all (a
 * Go AXL node, a transport without a protocol channel). `reason` says which.
 */
export class UnsupportedProtocolError extends AxlError {
  readonly peer: string
  readonly protocol: string
  readonly reason: string
  constructor (peer: string, protocol: string, reason: string, options?: { cause?: unknown }) {
    super('ERR_UNSUPPORTED_PROTOCOL', `peer ${peer} does not speak ${protocol}: ${reason}`, options)
    this.peer = peer
    this.protocol = protocol
    this.reason = reason
  }
}

/** The peer handles the protocol but its access check refused us (or its limit for that protocol is reached). */
export class ProtocolRefusedError extends AxlError {
  readonly peer: string
  readonly protocol: string
  constructor (peer: string, protocol: string, reason: string) {
    super('ERR_PROTOCOL_REFUSED', `peer ${peer} refused ${protocol}: ${reason}`)
    this.peer = peer
    this.protocol = protocol
  }
}

/** A second node with the same identity joined a MemoryNetwork (each peer id may be there once). */
export class DuplicatePeerError extends AxlError {
  readonly peer: string
  constructor (peer: string) {
    super('ERR_DUPLICATE_PEER', `a node with peer id ${peer} is already on this memory network (give each node its own identity)`)
    this.peer = peer
  }
}
