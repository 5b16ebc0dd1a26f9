/**
 * Options of the userspace TCP stack and their defaults. Defaults follow Go AXL's gVisor stack where it
 * matters for interop (MTU 1280, 1 MiB buffers) and Linux/RFC values elsewhere.
 */
import { ConfigError } from '@axl/core'
import type { Clock } from '../clock.js'
import { IPV6_HEADER_LENGTH, IPV6_MAX_PAYLOAD, IPV6_MIN_MTU } from '../ipv6/ipv6.js'
import { MAX_WSCALE, TCP_HEADER_LENGTH } from './segment.js'

/** Options of a TcpStack. */
export interface TcpStackOptions {
  /** Our IPv6 address (16 bytes); inbound packets for other addresses are dropped. */
  address: Uint8Array
  /** Sends one IPv6 packet. The packet is handed over (never reused by the stack); it may be a view into a larger buffer. */
  output: (ipv6Packet: Uint8Array) => void
  /** Time source for every timer (default: the system clock). */
  clock?: Clock
  /** Link MTU in bytes, 1280..65575 (default 1280, as Go AXL's NIC). The advertised MSS is mtu − 60. */
  mtu?: number
  /** Send buffer per connection in bytes (default 1 MiB, as gVisor). `write()` returns false above it. */
  sendBuffer?: number
  /** Receive buffer per connection in bytes (default 1 MiB, as gVisor): the largest advertised window. */
  recvBuffer?: number
  /** Most connections in any state except TIME_WAIT (default 4096). */
  maxConnections?: number
  /** Most half-open (SYN received) connections; the oldest is evicted beyond it (default 256). */
  maxSynBacklog?: number
  /** Most connections kept in TIME_WAIT; the oldest is dropped beyond it (default 4096). */
  maxTimeWait?: number
  /** Random uint32 source for ISNs and ephemeral ports (default: crypto). */
  random?: () => number
  /** Initial retransmission timeout (default 1000 ms, RFC 6298). */
  initialRtoMs?: number
  /** Lower bound of the RTO (default 200 ms, as Linux and gVisor). */
  minRtoMs?: number
  /** Upper bound of the RTO (default 60 000 ms). */
  maxRtoMs?: number
  /** SYN retransmissions before connect() fails (default 6). */
  synRetries?: number
  /** SYN-ACK retransmissions before a half-open connection is dropped (default 5). */
  synAckRetries?: number
  /** Consecutive data retransmissions before the connection is aborted (default 15). */
  maxRetransmits?: number
  /** Abort when sent data stays unacknowledged (or probes unanswered) this long (default 60 000 ms). */
  userTimeoutMs?: number
  /** Delayed-ACK timeout; 0 acknowledges every segment at once (default 40 ms). Every 2nd full segment is acked at once. */
  delayedAckMs?: number
  /** TIME_WAIT duration (default 60 000 ms = 2 × MSL of 30 s, like Linux). */
  timeWaitMs?: number
  /** How long FIN_WAIT_2 waits for the peer's FIN (default 60 000 ms, like Linux tcp_fin_timeout). */
  finWait2TimeoutMs?: number
  /** Idle time before keepalive probes start; 0 disables keepalive (default 0). */
  keepAliveIdleMs?: number
  /** Interval between keepalive probes (default 10 000 ms). */
  keepAliveIntervalMs?: number
  /** Unanswered keepalive probes before the connection is aborted (default 5). */
  keepAliveProbes?: number
  /** Most out-of-order segments held per connection (default 1024); bytes are bounded by the window. */
  maxOutOfOrderSegments?: number
  /** Initial congestion window in segments (default 10, RFC 6928). */
  initialCwndSegments?: number
  /**
   * Accept inbound TCP segments without verifying their checksum (default false). Only for a stack whose every
   * input packet arrived through an authenticated, integrity-protected channel (ygg: an ironwood session's
   * Poly1305 tag already covers each packet byte for byte). Outgoing checksums are always computed.
   */
  skipInboundChecksum?: boolean
}

/** TcpStackOptions with every default filled in (internal). */
export interface ResolvedTcpOptions {
  mtu: number
  mss: number
  sendBuffer: number
  recvBuffer: number
  wscale: number
  maxConnections: number
  maxSynBacklog: number
  maxTimeWait: number
  initialRtoMs: number
  minRtoMs: number
  maxRtoMs: number
  synRetries: number
  synAckRetries: number
  maxRetransmits: number
  userTimeoutMs: number
  delayedAckMs: number
  timeWaitMs: number
  finWait2TimeoutMs: number
  keepAliveIdleMs: number
  keepAliveIntervalMs: number
  keepAliveProbes: number
  maxOutOfOrderSegments: number
  initialCwndSegments: number
  skipInboundChecksum: boolean
}

function int (name: string, v: number | undefined, dflt: number, min: number, max: number): number {
  if (v === undefined) return dflt
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw new ConfigError(`TCP option ${name} must be an integer in ${min}..${max}, got ${String(v)}`)
  }
  return v
}

function bool (name: string, v: boolean | undefined, dflt: boolean): boolean {
  if (v === undefined) return dflt
  if (typeof v !== 'boolean') throw new ConfigError(`TCP option ${name} must be a boolean, got ${String(v)}`)
  return v
}

/** Validates options and fills in defaults; throws ConfigError. */
export function resolveTcpOptions (o: Partial<TcpStackOptions>): ResolvedTcpOptions {
  const mtu = int('mtu', o.mtu, IPV6_MIN_MTU, IPV6_MIN_MTU, IPV6_HEADER_LENGTH + IPV6_MAX_PAYLOAD)
  const recvBuffer = int('recvBuffer', o.recvBuffer, 1 << 20, 1024, 1 << 30)
  let wscale = 0
  while (wscale < MAX_WSCALE && (65535 * 2 ** wscale) < recvBuffer) wscale++
  return {
    mtu,
    // The IPv6 payload length field caps a segment at 65535 − 20 bytes of data.
    mss: Math.min(mtu - IPV6_HEADER_LENGTH, IPV6_MAX_PAYLOAD) - TCP_HEADER_LENGTH,
    sendBuffer: int('sendBuffer', o.sendBuffer, 1 << 20, 1024, 1 << 30),
    recvBuffer,
    wscale,
    maxConnections: int('maxConnections', o.maxConnections, 4096, 1, 1 << 20),
    maxSynBacklog: int('maxSynBacklog', o.maxSynBacklog, 256, 1, 1 << 20),
    maxTimeWait: int('maxTimeWait', o.maxTimeWait, 4096, 0, 1 << 20),
    initialRtoMs: int('initialRtoMs', o.initialRtoMs, 1000, 1, 600_000),
    minRtoMs: int('minRtoMs', o.minRtoMs, 200, 1, 600_000),
    maxRtoMs: int('maxRtoMs', o.maxRtoMs, 60_000, 1, 3_600_000),
    synRetries: int('synRetries', o.synRetries, 6, 0, 100),
    synAckRetries: int('synAckRetries', o.synAckRetries, 5, 0, 100),
    maxRetransmits: int('maxRetransmits', o.maxRetransmits, 15, 1, 1000),
    userTimeoutMs: int('userTimeoutMs', o.userTimeoutMs, 60_000, 1, 86_400_000),
    delayedAckMs: int('delayedAckMs', o.delayedAckMs, 40, 0, 500),
    timeWaitMs: int('timeWaitMs', o.timeWaitMs, 60_000, 0, 600_000),
    finWait2TimeoutMs: int('finWait2TimeoutMs', o.finWait2TimeoutMs, 60_000, 1, 86_400_000),
    keepAliveIdleMs: int('keepAliveIdleMs', o.keepAliveIdleMs, 0, 0, 86_400_000),
    keepAliveIntervalMs: int('keepAliveIntervalMs', o.keepAliveIntervalMs, 10_000, 1, 86_400_000),
    keepAliveProbes: int('keepAliveProbes', o.keepAliveProbes, 5, 1, 1000),
    maxOutOfOrderSegments: int('maxOutOfOrderSegments', o.maxOutOfOrderSegments, 1024, 1, 1 << 20),
    initialCwndSegments: int('initialCwndSegments', o.initialCwndSegments, 10, 1, 1000),
    skipInboundChecksum: bool('skipInboundChecksum', o.skipInboundChecksum, false)
  }
}
