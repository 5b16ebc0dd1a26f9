/**
 * Ironwood's per-link bloom filter (`network/bloomfilter.go` @743fe2f over bits-and-blooms/bloom v3.7.0):
 * m = 8192 bits (128 uint64 words), k = 8. A key's bit positions are bits-and-blooms'
 * `location(h, i) = h[i%2] + i·h[2 + ((i + i%2)%4)/2]` (uint64 wrap-around) mod 8192, over the four
 * `baseHashes` of the key; bit b lives in word b>>6 at bit b&63 (LSB-first, as `bitset` stores it).
 *
 * Wire body (ygg-protocol §1.6): `flags0[16] ‖ flags1[16] ‖ 8 bytes big-endian per remaining word`,
 * where bit `0x80 >> (i % 8)` of flags byte `i / 8` marks word i all-zero (flags0) or all-ones (flags1).
 */
import { keyForSubnet, subnetForKey } from '@axl/core'
import { WireError } from '../errors.js'
import { baseHashWords } from './murmur3.js'
import { FrameType, frameHeaderSize, writeFrameHeader } from './wire.js'

/** Number of bits in an ironwood bloom filter (`bloomFilterM`). */
export const BLOOM_BITS = 8192
/** Number of hash functions per key (`bloomFilterK`). */
export const BLOOM_K = 8
/** Number of uint64 words (`bloomFilterU`). */
export const BLOOM_WORDS = 128
/** Bytes in each of the two flag blocks of the wire format (`bloomFilterF`). */
export const BLOOM_FLAG_BYTES = 16
/** Largest possible bloom body: both flag blocks plus all 128 words. */
export const BLOOM_MAX_BODY = 2 * BLOOM_FLAG_BYTES + 8 * BLOOM_WORDS

/** Maps a node key to what is inserted into / tested against filters (ironwood `WithBloomTransform`). */
export type KeyTransform = (key: Uint8Array) => Uint8Array

/** Ironwood's default transform: the key itself. */
export const identityTransform: KeyTransform = (key) => key

/**
 * Yggdrasil's transform (`core.go`: `address.SubnetForKey(key).GetKey()`): the partial key recoverable from
 * the key's /64 subnet, so that a lookup for an IPv6 address finds the node. Every node of one network must
 * use the same transform: yggdrasil-go and Go AXL use this one.
 */
export const yggdrasilTransform: KeyTransform = (key) => keyForSubnet(subnetForKey(key))

const hashScratch = new Uint32Array(8)

/**
 * The 8 bit positions (0…8191) a key sets, in bits-and-blooms order. Hash once, then use
 * `Bloom.testLocations` / `addLocations` against many filters.
 */
export function bloomLocations (key: Uint8Array, out: Uint16Array = new Uint16Array(BLOOM_K)): Uint16Array {
  const h = baseHashWords(key, hashScratch)
  // Only the low 13 bits of the uint64 sum matter (8192 = 2^13), so the low 32-bit halves suffice.
  const lo0 = h[1]; const lo1 = h[3]; const lo2 = h[5]; const lo3 = h[7]
  out[0] = lo0 & 8191
  out[1] = (lo1 + lo3) & 8191
  out[2] = (lo0 + Math.imul(2, lo3)) & 8191
  out[3] = (lo1 + Math.imul(3, lo2)) & 8191
  out[4] = (lo0 + Math.imul(4, lo2)) & 8191
  out[5] = (lo1 + Math.imul(5, lo3)) & 8191
  out[6] = (lo0 + Math.imul(6, lo3)) & 8191
  out[7] = (lo1 + Math.imul(7, lo2)) & 8191
  return out
}

const locScratch = new Uint16Array(BLOOM_K)

/** An 8192-bit ironwood bloom filter. */
export class Bloom {
  /**
   * The 128 uint64 words as 256 uint32s, low half first: bit b is bit (b & 31) of `bits[b >> 5]`.
   * Exposed for the router's bulk operations; treat as read-only unless you own the filter.
   */
  readonly bits: Uint32Array

  constructor (bits?: Uint32Array) {
    if (bits !== undefined && bits.length !== 2 * BLOOM_WORDS) throw new WireError(`bloom needs ${2 * BLOOM_WORDS} uint32 words, got ${bits.length}`)
    this.bits = bits ?? new Uint32Array(2 * BLOOM_WORDS)
  }

  /** Inserts a (transformed) key. */
  add (key: Uint8Array): this {
    return this.addLocations(bloomLocations(key, locScratch))
  }

  /** True if the key may be in the set (false positives possible, no false negatives). */
  test (key: Uint8Array): boolean {
    return this.testLocations(bloomLocations(key, locScratch))
  }

  /** Sets the bits of precomputed `bloomLocations`. */
  addLocations (locs: ArrayLike<number>): this {
    const b = this.bits
    for (let i = 0; i < locs.length; i++) { const l = locs[i]; b[l >>> 5] |= 1 << (l & 31) }
    return this
  }

  /** Tests precomputed `bloomLocations`. */
  testLocations (locs: ArrayLike<number>): boolean {
    const b = this.bits
    for (let i = 0; i < locs.length; i++) { const l = locs[i]; if ((b[l >>> 5] & (1 << (l & 31))) === 0) return false }
    return true
  }

  /** In-place union with `other` (bits-and-blooms `Merge`). */
  merge (other: Bloom): this {
    const a = this.bits; const b = other.bits
    for (let i = 0; i < a.length; i++) a[i] |= b[i]
    return this
  }

  /** True if both filters have exactly the same bits. */
  equals (other: Bloom): boolean {
    const a = this.bits; const b = other.bits
    for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
    return true
  }

  /** An independent copy. */
  clone (): Bloom {
    return new Bloom(this.bits.slice())
  }

  /** True if no bit is set. */
  isEmpty (): boolean {
    const a = this.bits
    for (let i = 0; i < a.length; i++) if (a[i] !== 0) return false
    return true
  }

  /** Clears every bit. */
  clear (): this {
    this.bits.fill(0)
    return this
  }

  /** Word `i` (0…127) as a uint64. */
  word (i: number): bigint {
    return (BigInt(this.bits[2 * i + 1]) << 32n) | BigInt(this.bits[2 * i])
  }
}

function wordKind (bits: Uint32Array, i: number): 0 | 1 | 2 {
  const lo = bits[2 * i]; const hi = bits[2 * i + 1]
  if ((lo | hi) === 0) return 0
  if ((lo & hi) === -1) return 1 // both halves 0xffffffff
  return 2
}

/** Size in bytes of the wire body of `b` (32 … 1056). */
export function bloomBodySize (b: Bloom): number {
  let n = 2 * BLOOM_FLAG_BYTES
  for (let i = 0; i < BLOOM_WORDS; i++) if (wordKind(b.bits, i) === 2) n += 8
  return n
}

/** Writes the wire body of `b` at `out[o]`; returns the offset after it. */
function writeBloomBody (b: Bloom, out: Uint8Array, o: number): number {
  const bits = b.bits
  let d = o + 2 * BLOOM_FLAG_BYTES
  out.fill(0, o, d)
  for (let i = 0; i < BLOOM_WORDS; i++) {
    const kind = wordKind(bits, i)
    const mask = 0x80 >>> (i & 7)
    if (kind === 0) {
      out[o + (i >>> 3)] |= mask
    } else if (kind === 1) {
      out[o + BLOOM_FLAG_BYTES + (i >>> 3)] |= mask
    } else {
      const hi = bits[2 * i + 1]; const lo = bits[2 * i]
      out[d] = hi >>> 24; out[d + 1] = hi >>> 16; out[d + 2] = hi >>> 8; out[d + 3] = hi
      out[d + 4] = lo >>> 24; out[d + 5] = lo >>> 16; out[d + 6] = lo >>> 8; out[d + 7] = lo
      d += 8
    }
  }
  return d
}

/** The wire body of `b` (no length, no type byte). */
export function encodeBloomBody (b: Bloom): Uint8Array {
  const out = new Uint8Array(bloomBodySize(b))
  writeBloomBody(b, out, 0)
  return out
}

/** The whole link frame `uvarint(N) ‖ 0x05 ‖ body` for `b`. */
export function encodeBloom (b: Bloom): Uint8Array {
  const bodyLen = bloomBodySize(b)
  const out = new Uint8Array(frameHeaderSize(bodyLen) + bodyLen)
  const o = writeFrameHeader(out, FrameType.Bloom, bodyLen)
  writeBloomBody(b, out, o)
  return out
}

/**
 * Decodes a bloom body as strictly as ironwood's `bloom.decode`: rejects a body shorter than the two
 * flag blocks, a word flagged both all-zero and all-ones, missing data words, and trailing bytes.
 */
export function decodeBloom (body: Uint8Array): Bloom {
  if (body.length < 2 * BLOOM_FLAG_BYTES) throw new WireError(`Bloom: body of ${body.length} bytes is shorter than the ${2 * BLOOM_FLAG_BYTES} flag bytes`)
  if (body.length > BLOOM_MAX_BODY) throw new WireError(`Bloom: body of ${body.length} bytes exceeds ${BLOOM_MAX_BODY}`)
  const bits = new Uint32Array(2 * BLOOM_WORDS)
  let d = 2 * BLOOM_FLAG_BYTES
  for (let i = 0; i < BLOOM_WORDS; i++) {
    const mask = 0x80 >>> (i & 7)
    const f0 = body[i >>> 3] & mask
    const f1 = body[BLOOM_FLAG_BYTES + (i >>> 3)] & mask
    if (f0 !== 0 && f1 !== 0) throw new WireError(`Bloom: word ${i} is flagged both all-zero and all-ones`)
    if (f0 !== 0) continue
    if (f1 !== 0) { bits[2 * i] = 0xffffffff; bits[2 * i + 1] = 0xffffffff; continue }
    if (body.length - d < 8) throw new WireError(`Bloom: body ends before data word ${i}`)
    bits[2 * i + 1] = ((body[d] << 24) | (body[d + 1] << 16) | (body[d + 2] << 8) | body[d + 3]) >>> 0
    bits[2 * i] = ((body[d + 4] << 24) | (body[d + 5] << 16) | (body[d + 6] << 8) | body[d + 7]) >>> 0
    d += 8
  }
  if (d !== body.length) throw new WireError(`Bloom: ${body.length - d} trailing bytes after the last data word`)
  return new Bloom(bits)
}
