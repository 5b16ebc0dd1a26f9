/**
 * TCP header layout (RFC 9293 §3.1), option parsing (MSS, window scale, SACK-permitted, timestamps) and
 * modulo-2^32 sequence arithmetic. Parsing fills a caller-owned object, so the input path allocates nothing.
 */

/** FIN flag. */
export const FIN = 0x01
/** SYN flag. */
export const SYN = 0x02
/** RST flag. */
export const RST = 0x04
/** PSH flag. */
export const PSH = 0x08
/** ACK flag. */
export const ACK = 0x10
/** URG flag. */
export const URG = 0x20

/** Length of a TCP header without options. */
export const TCP_HEADER_LENGTH = 20
/** Largest window shift (RFC 7323 §2.3). */
export const MAX_WSCALE = 14
/** MSS assumed when a SYN carries no MSS option, for IPv6 (RFC 9293 §3.7.1: 1280 − 60). */
export const DEFAULT_IPV6_MSS = 1220

/** Why a TCP segment was dropped before reaching a connection. */
export type TcpDropReason = 'short' | 'offset' | 'checksum' | 'port'

/** A parsed TCP header; offsets refer to the packet given to `parseTcp`. */
export interface TcpSegment {
  srcPort: number
  dstPort: number
  seq: number
  ack: number
  flags: number
  window: number
  /** Offset of the payload in the packet, and its length. */
  dataOffset: number
  dataLength: number
  /** Options (only meaningful on SYN segments except timestamps): 0 / -1 when absent. */
  mss: number
  wscale: number
  sackPermitted: boolean
  hasTimestamp: boolean
  tsVal: number
  tsEcr: number
}

/** A fresh, reusable segment object. */
export function newSegment (): TcpSegment {
  return { srcPort: 0, dstPort: 0, seq: 0, ack: 0, flags: 0, window: 0, dataOffset: 0, dataLength: 0, mss: 0, wscale: -1, sackPermitted: false, hasTimestamp: false, tsVal: 0, tsEcr: 0 }
}

/** Reads a big-endian uint32. */
export function readU32 (b: Uint8Array, o: number): number {
  return ((b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]) >>> 0
}

/** Writes a big-endian uint32. */
export function writeU32 (b: Uint8Array, o: number, v: number): void {
  b[o] = v >>> 24
  b[o + 1] = (v >>> 16) & 0xff
  b[o + 2] = (v >>> 8) & 0xff
  b[o + 3] = v & 0xff
}

/**
 * Parses the TCP header of `packet[off .. off+len)` into `out`; returns null or a drop reason. The checksum
 * is not checked here. Malformed options end option parsing (like Linux) without dropping the segment.
 */
export function parseTcp (packet: Uint8Array, off: number, len: number, out: TcpSegment): TcpDropReason | null {
  if (len < TCP_HEADER_LENGTH) return 'short'
  const hlen = (packet[off + 12] >> 4) * 4
  if (hlen < TCP_HEADER_LENGTH || hlen > len) return 'offset'
  out.srcPort = (packet[off] << 8) | packet[off + 1]
  out.dstPort = (packet[off + 2] << 8) | packet[off + 3]
  if (out.srcPort === 0 || out.dstPort === 0) return 'port'
  out.seq = readU32(packet, off + 4)
  out.ack = readU32(packet, off + 8)
  out.flags = packet[off + 13] & 0x3f
  out.window = (packet[off + 14] << 8) | packet[off + 15]
  out.dataOffset = off + hlen
  out.dataLength = len - hlen
  out.mss = 0
  out.wscale = -1
  out.sackPermitted = false
  out.hasTimestamp = false
  if (hlen > TCP_HEADER_LENGTH) parseOptions(packet, off + TCP_HEADER_LENGTH, off + hlen, out)
  return null
}

function parseOptions (b: Uint8Array, i: number, end: number, out: TcpSegment): void {
  while (i < end) {
    const kind = b[i]
    if (kind === 0) return // end of option list
    if (kind === 1) { i++; continue } // NOP
    if (i + 1 >= end) return
    const olen = b[i + 1]
    if (olen < 2 || i + olen > end) return
    if (kind === 2 && olen === 4) out.mss = (b[i + 2] << 8) | b[i + 3]
    else if (kind === 3 && olen === 3) out.wscale = Math.min(b[i + 2], MAX_WSCALE)
    else if (kind === 4 && olen === 2) out.sackPermitted = true
    else if (kind === 8 && olen === 10) {
      out.hasTimestamp = true
      out.tsVal = readU32(b, i + 2)
      out.tsEcr = readU32(b, i + 6)
    }
    i += olen
  }
}

/** a < b in sequence space. */
export function seqLt (a: number, b: number): boolean { return ((a - b) | 0) < 0 }
/** a <= b in sequence space. */
export function seqLeq (a: number, b: number): boolean { return ((a - b) | 0) <= 0 }
/** a > b in sequence space. */
export function seqGt (a: number, b: number): boolean { return ((a - b) | 0) > 0 }
/** a >= b in sequence space. */
export function seqGeq (a: number, b: number): boolean { return ((a - b) | 0) >= 0 }
/** (a + n) mod 2^32. */
export function seqAdd (a: number, n: number): number { return (a + n) >>> 0 }
/** The distance b − a mod 2^32 (for a <= b). */
export function seqDiff (b: number, a: number): number { return (b - a) >>> 0 }
