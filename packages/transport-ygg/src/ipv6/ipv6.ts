/**
 * IPv6 (RFC 8200) header encode/decode and the Internet checksum (RFC 1071) over the IPv6 pseudo-header, as
 * used by TCP (next header 6) and ICMPv6 (58). Only what the userspace TCP needs: a fixed 40-byte header with
 * traffic class and flow label 0 and no extension headers.
 *
 * Input paths never throw: `validateIpv6()` returns a drop reason (a string) or null, with no allocation.
 * `decodeIpv6()` is the throwing convenience form for tools and tests.
 */
import { AxlError } from '@axl/core'

/** Length of the fixed IPv6 header. */
export const IPV6_HEADER_LENGTH = 40
/** Next-header value of TCP. */
export const IPPROTO_TCP = 6
/** Next-header value of ICMPv6. */
export const IPPROTO_ICMPV6 = 58
/** Hop limit we put on every packet (like gVisor and Linux defaults). */
export const DEFAULT_HOP_LIMIT = 64
/** Smallest MTU every IPv6 link must carry (RFC 8200 §5); AXL's gVisor NIC uses exactly this. */
export const IPV6_MIN_MTU = 1280
/** Largest payload a non-jumbogram IPv6 packet can carry. */
export const IPV6_MAX_PAYLOAD = 65535

/** Why an inbound IPv6 packet was dropped (also the key of the drop counters). */
export type Ipv6DropReason =
  | 'short' // fewer than 40 bytes
  | 'version' // version field is not 6
  | 'length' // payload length exceeds the bytes present, or is 0 (jumbogram)
  | 'source' // unspecified, multicast or our own address as source
  | 'destination' // not addressed to us
  | 'protocol' // next header is neither TCP nor ICMPv6 (extension headers are not supported)

/** A malformed IPv6 packet (thrown by `decodeIpv6` only; input paths count drops instead). */
export class Ipv6Error extends AxlError {
  /** The drop reason. */
  readonly reason: Ipv6DropReason
  constructor (reason: Ipv6DropReason, message: string) {
    super('ERR_IPV6', message)
    this.reason = reason
  }
}

/** A decoded IPv6 header; `payload` is a view into the packet (no copy). */
export interface Ipv6Packet {
  src: Uint8Array
  dst: Uint8Array
  nextHeader: number
  hopLimit: number
  trafficClass: number
  flowLabel: number
  payload: Uint8Array
}

/** True when the 16 bytes at `packet[offset..]` equal `addr`. */
export function addressEquals (packet: Uint8Array, offset: number, addr: Uint8Array): boolean {
  for (let i = 0; i < 16; i++) if (packet[offset + i] !== addr[i]) return false
  return true
}

/**
 * Checks an inbound packet without allocating. Returns null when it is a well-formed IPv6 packet for
 * `localAddress` (when given) carrying TCP or ICMPv6, else the drop reason. Bytes after the declared payload
 * length are ignored (the payload length is authoritative, as in RFC 8200).
 */
export function validateIpv6 (packet: Uint8Array, localAddress?: Uint8Array): Ipv6DropReason | null {
  if (packet.length < IPV6_HEADER_LENGTH) return 'short'
  if ((packet[0] >> 4) !== 6) return 'version'
  const plen = (packet[4] << 8) | packet[5]
  if (plen === 0 || IPV6_HEADER_LENGTH + plen > packet.length) return 'length'
  const s0 = packet[8]
  if (s0 === 0xff) return 'source'
  let zero = true
  for (let i = 8; i < 24; i++) if (packet[i] !== 0) { zero = false; break }
  if (zero) return 'source'
  if (localAddress !== undefined) {
    if (!addressEquals(packet, 24, localAddress)) return 'destination'
    if (addressEquals(packet, 8, localAddress)) return 'source'
  }
  const nh = packet[6]
  if (nh !== IPPROTO_TCP && nh !== IPPROTO_ICMPV6) return 'protocol'
  return null
}

/** Decodes (views into) an IPv6 packet; throws Ipv6Error when `validateIpv6` would drop it. */
export function decodeIpv6 (packet: Uint8Array, localAddress?: Uint8Array): Ipv6Packet {
  const reason = validateIpv6(packet, localAddress)
  if (reason !== null) throw new Ipv6Error(reason, `invalid IPv6 packet (${packet.length} bytes): ${reason}`)
  const plen = (packet[4] << 8) | packet[5]
  return {
    src: packet.subarray(8, 24),
    dst: packet.subarray(24, 40),
    nextHeader: packet[6],
    hopLimit: packet[7],
    trafficClass: ((packet[0] & 0x0f) << 4) | (packet[1] >> 4),
    flowLabel: ((packet[1] & 0x0f) << 16) | (packet[2] << 8) | packet[3],
    payload: packet.subarray(IPV6_HEADER_LENGTH, IPV6_HEADER_LENGTH + plen)
  }
}

/** Writes a 40-byte IPv6 header (version 6, traffic class and flow label 0) at `out[offset..]`. */
export function encodeIpv6Header (out: Uint8Array, offset: number, src: Uint8Array, dst: Uint8Array,
  nextHeader: number, payloadLength: number, hopLimit = DEFAULT_HOP_LIMIT): void {
  out[offset] = 0x60
  out[offset + 1] = 0
  out[offset + 2] = 0
  out[offset + 3] = 0
  out[offset + 4] = (payloadLength >> 8) & 0xff
  out[offset + 5] = payloadLength & 0xff
  out[offset + 6] = nextHeader
  out[offset + 7] = hopLimit
  out.set(src, offset + 8)
  out.set(dst, offset + 24)
}

/** A new IPv6 packet around `payload` (copied once). Throws Ipv6Error when the payload is too large. */
export function buildIpv6Packet (src: Uint8Array, dst: Uint8Array, nextHeader: number, payload: Uint8Array,
  hopLimit = DEFAULT_HOP_LIMIT): Uint8Array {
  if (payload.length > IPV6_MAX_PAYLOAD || payload.length === 0) {
    throw new Ipv6Error('length', `IPv6 payload of ${payload.length} bytes is not in 1..${IPV6_MAX_PAYLOAD}`)
  }
  const out = new Uint8Array(IPV6_HEADER_LENGTH + payload.length)
  encodeIpv6Header(out, 0, src, dst, nextHeader, payload.length, hopLimit)
  out.set(payload, IPV6_HEADER_LENGTH)
  return out
}

/**
 * Adds the big-endian 16-bit words of `data[start..end)` to `acc` without folding (an odd final byte is
 * padded with a zero low byte). Call `foldChecksum` on the result. Safe for any length below 2^36 bytes.
 */
export function onesSum (data: Uint8Array, start: number, end: number, acc = 0): number {
  if (end - start >= 256 && LITTLE_ENDIAN && ((data.byteOffset + start) & 1) === 0) {
    // Fast path for large, 2-byte aligned ranges (TCP segments): sum native little-endian 32-bit words. The
    // one's-complement sum is byte-order independent (RFC 1071 §2(B)) and 2^16 ≡ 1 mod 0xffff, so a LE 32-bit
    // word is congruent to the sum of its two 16-bit halves: the folded sum, byte-swapped, is congruent to the
    // BE sum and non-zero exactly when the data is, so the final fold is the same as the byte-wise loop's.
    if (((data.byteOffset + start) & 3) !== 0) { // 2 mod 4: one big-endian word brings it to 4-byte alignment
      acc += (data[start] << 8) | data[start + 1]
      start += 2
    }
    const n = (end - start) >> 2
    const f = foldChecksum(sumLe32(new Uint32Array(data.buffer, data.byteOffset + start, n)))
    acc += ((f & 0xff) << 8) | (f >> 8)
    start += n << 2
    if (start === end) return acc
  }
  let i = start
  const end8 = end - ((end - start) & 7)
  let a = 0
  for (; i < end8; i += 8) {
    a += ((data[i] << 8) | data[i + 1]) + ((data[i + 2] << 8) | data[i + 3]) +
      ((data[i + 4] << 8) | data[i + 5]) + ((data[i + 6] << 8) | data[i + 7])
    // Keep `a` well inside the exact-integer range of a double even for huge inputs.
    if (a > 0x3fffffff) { acc += a; a = 0 }
  }
  for (; i + 1 < end; i += 2) a += (data[i] << 8) | data[i + 1]
  if (i < end) a += data[i] << 8
  return acc + a
}

const LITTLE_ENDIAN = new Uint8Array(Uint16Array.of(1).buffer)[0] === 1

/**
 * Unfolded sum of 32-bit words, in doubles: blocks of 2^20 words keep each block's sum below 2^52 (exact).
 */
function sumLe32 (w: Uint32Array): number {
  const n = w.length
  let acc = 0
  let i = 0
  while (i < n) {
    const blockEnd = Math.min(n, i + 1048576)
    const end4 = blockEnd - ((blockEnd - i) & 3)
    let a = 0
    let b = 0
    for (; i < end4; i += 4) {
      a += w[i] + w[i + 1]
      b += w[i + 2] + w[i + 3]
    }
    for (; i < blockEnd; i++) a += w[i]
    acc = foldChecksum(acc + a + b)
  }
  return acc
}

/** Folds an unfolded one's-complement sum to 16 bits (not complemented). */
export function foldChecksum (acc: number): number {
  while (acc > 0xffff) acc = (acc & 0xffff) + Math.floor(acc / 65536)
  return acc
}

/**
 * The unfolded sum of the IPv6 pseudo-header (RFC 8200 §8.1) for `src`/`dst`, an upper-layer length and
 * a next-header value.
 */
export function pseudoHeaderSum (src: Uint8Array, dst: Uint8Array, upperLength: number, nextHeader: number): number {
  return onesSum(dst, 0, 16, onesSum(src, 0, 16, 0)) + Math.floor(upperLength / 65536) + (upperLength & 0xffff) + nextHeader
}

/**
 * The checksum of the upper-layer data of an IPv6 `packet` (TCP or ICMPv6: next header at byte 6, payload
 * from byte 40 for `payload length` bytes), computed over the pseudo-header taken from the packet itself.
 * With the checksum field zeroed this is the value to store; over a received packet it is 0 when valid.
 */
export function ipv6PayloadChecksum (packet: Uint8Array): number {
  const plen = (packet[4] << 8) | packet[5]
  // Source and destination are contiguous at bytes 8..40: sum them directly.
  let acc = onesSum(packet, 8, 40, plen + packet[6])
  acc = onesSum(packet, IPV6_HEADER_LENGTH, IPV6_HEADER_LENGTH + plen, acc)
  return (~foldChecksum(acc)) & 0xffff
}

/** Computes and stores the upper-layer checksum at payload offset `checksumOffset` (16 for TCP, 2 for ICMPv6). */
export function setIpv6PayloadChecksum (packet: Uint8Array, checksumOffset: number): void {
  const at = IPV6_HEADER_LENGTH + checksumOffset
  packet[at] = 0
  packet[at + 1] = 0
  const c = ipv6PayloadChecksum(packet)
  packet[at] = c >> 8
  packet[at + 1] = c & 0xff
}

/** True when the upper-layer checksum of a received IPv6 packet verifies. */
export function verifyIpv6PayloadChecksum (packet: Uint8Array): boolean {
  return ipv6PayloadChecksum(packet) === 0
}
