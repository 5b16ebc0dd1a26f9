/**
 * Typed errors of the userspace TCP. They extend the core error classes so upper layers can branch on the
 * core `code` (a refused connection is `ERR_UNREACHABLE`, a reset `ERR_STREAM_CLOSED`, a give-up
 * `ERR_TIMEOUT`) and, when they care, on the subclass or its `reason`.
 */
import { AxlError, StreamClosedError, TimeoutError, UnreachableError } from '@axl/core'

/** Why a TCP connection failed. */
export type TcpFailure = 'refused' | 'unreachable' | 'reset' | 'timeout' | 'closed'

/** connect(): the remote answered the SYN with RST (nothing listens on the port). */
export class ConnectionRefusedError extends UnreachableError {
  /** Always 'refused'. */
  readonly reason: TcpFailure = 'refused'
  constructor (peer: string) { super(peer, 'connection refused (RST)') }
}

/** connect(): an ICMPv6 Destination Unreachable answered the SYN. */
export class HostUnreachableError extends UnreachableError {
  /** Always 'unreachable'. */
  readonly reason: TcpFailure = 'unreachable'
  constructor (peer: string, detail: string) { super(peer, detail) }
}

/** The remote reset an established connection (or the local side reset it with an error). */
export class ConnectionResetError extends StreamClosedError {
  /** Always 'reset'. */
  readonly reason: TcpFailure = 'reset'
  constructor (message = 'connection reset by peer') { super(message) }
}

/**
 * The connection gave up: the handshake, retransmissions, zero-window probes or keepalives went
 * unanswered for too long (the peer vanished), or connect()'s own deadline passed.
 */
export class ConnectionTimeoutError extends TimeoutError {
  /** Always 'timeout'. */
  readonly reason: TcpFailure = 'timeout'
  constructor (message: string) { super(message) }
}

/** A resource limit of the TCP stack was reached (connections, ports, send buffer). */
export class TcpLimitError extends AxlError {
  constructor (message: string) { super('ERR_TCP_LIMIT', message) }
}

/** listen(): the port already has a listener. */
export class PortInUseError extends AxlError {
  /** The port. */
  readonly port: number
  constructor (port: number) {
    super('ERR_PORT_IN_USE', `TCP port ${port} already has a listener`)
    this.port = port
  }
}
