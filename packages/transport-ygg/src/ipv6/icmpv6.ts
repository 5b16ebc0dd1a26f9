/**
 * The ICMPv6 (RFC 4443) subset the userspace TCP needs: echo replies, and parsing the errors that matter to
 * TCP (Destination Unreachable, Packet Too Big) down to the quoted TCP ports and sequence number.
 */
import { IPV6_HEADER_LENGTH, IPPROTO_ICMPV6, IPPROTO_TCP, IPV6_MIN_MTU, encodeIpv6Header, setIpv6PayloadChecksum } from './ipv6.js'

/** ICMPv6 Destination Unreachable. */
export const ICMPV6_DEST_UNREACHABLE = 1
/** ICMPv6 Packet Too Big. */
export const ICMPV6_PACKET_TOO_BIG = 2
/** ICMPv6 Time Exceeded. */
export const ICMPV6_TIME_EXCEEDED = 3
/** ICMPv6 Parameter Problem. */
export const ICMPV6_PARAM_PROBLEM = 4
/** ICMPv6 Echo Request. */
export const ICMPV6_ECHO_REQUEST = 128
/** ICMPv6 Echo Reply. */
export const ICMPV6_ECHO_REPLY = 129

/** An ICMPv6 error that quotes a TCP segment we sent. */
export interface IcmpTcpError {
  type: number
  code: number
  /** For Packet Too Big: the MTU of the next hop. */
  mtu: number
  /** Quoted original packet's destination (the remote peer) as a view. */
  remote: Uint8Array
  /** Quoted TCP source port (ours) and destination port (theirs). */
  localPort: number
  remotePort: number
  /** Quoted TCP sequence number. */
  seq: number
}

/**
 * Parses an ICMPv6 error (types 1–4) whose body quotes an IPv6+TCP packet; the checksum must already be
 * verified. Returns undefined when it is not such an error or the quote is too short.
 */
export function parseIcmpTcpError (packet: Uint8Array): IcmpTcpError | undefined {
  const plen = (packet[4] << 8) | packet[5]
  const o = IPV6_HEADER_LENGTH
  if (plen < 8) return undefined
  const type = packet[o]
  if (type < 1 || type > 4) return undefined
  const q = o + 8 // quoted IPv6 header
  if (plen < 8 + IPV6_HEADER_LENGTH + 8) return undefined
  if ((packet[q] >> 4) !== 6 || packet[q + 6] !== IPPROTO_TCP) return undefined
  const t = q + IPV6_HEADER_LENGTH
  return {
    type,
    code: packet[o + 1],
    mtu: ((packet[o + 4] << 24) | (packet[o + 5] << 16) | (packet[o + 6] << 8) | packet[o + 7]) >>> 0,
    remote: packet.subarray(q + 24, q + 40),
    localPort: (packet[t] << 8) | packet[t + 1],
    remotePort: (packet[t + 2] << 8) | packet[t + 3],
    seq: ((packet[t + 4] << 24) | (packet[t + 5] << 16) | (packet[t + 6] << 8) | packet[t + 7]) >>> 0
  }
}

/**
 * The Echo Reply to an Echo Request `packet` (checksum already verified), from `local`, or undefined if it
 * is not an echo request. The reply is at most 1280 bytes (the request's data is truncated beyond that).
 */
export function buildEchoReply (packet: Uint8Array, local: Uint8Array): Uint8Array | undefined {
  const plen = (packet[4] << 8) | packet[5]
  if (plen < 8 || packet[IPV6_HEADER_LENGTH] !== ICMPV6_ECHO_REQUEST || packet[IPV6_HEADER_LENGTH + 1] !== 0) return undefined
  const len = Math.min(plen, IPV6_MIN_MTU - IPV6_HEADER_LENGTH)
  const out = new Uint8Array(IPV6_HEADER_LENGTH + len)
  encodeIpv6Header(out, 0, local, packet.subarray(8, 24), IPPROTO_ICMPV6, len)
  out.set(packet.subarray(IPV6_HEADER_LENGTH, IPV6_HEADER_LENGTH + len), IPV6_HEADER_LENGTH)
  out[IPV6_HEADER_LENGTH] = ICMPV6_ECHO_REPLY
  setIpv6PayloadChecksum(out, 2)
  return out
}

/** Builds an ICMPv6 message of `type`/`code` with a 4-byte `word` and `body` from `src` to `dst`. */
export function buildIcmpv6 (src: Uint8Array, dst: Uint8Array, type: number, code: number, word: number, body: Uint8Array): Uint8Array {
  const len = 8 + body.length
  const out = new Uint8Array(IPV6_HEADER_LENGTH + len)
  encodeIpv6Header(out, 0, src, dst, IPPROTO_ICMPV6, len)
  const o = IPV6_HEADER_LENGTH
  out[o] = type
  out[o + 1] = code
  out[o + 4] = word >>> 24
  out[o + 5] = (word >>> 16) & 0xff
  out[o + 6] = (word >>> 8) & 0xff
  out[o + 7] = word & 0xff
  out.set(body, o + 8)
  setIpv6PayloadChecksum(out, 2)
  return out
}
