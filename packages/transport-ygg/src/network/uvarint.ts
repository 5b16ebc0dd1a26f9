/**
 * Unsigned LEB128 varints exactly as Go's `encoding/binary` writes and reads them (`AppendUvarint`,
 * `Uvarint`, `ReadUvarint`): 7 bits per byte, least-significant group first, high bit set on every byte
 * but the last, at most 10 bytes, and the 10th byte may only be 0 or 1 (2^64 overflows). Like Go, the
 * decoder accepts non-minimal encodings (`80 00` reads as 0); the encoder always writes the minimal form.
 */
import { WireError } from '../errors.js'

/** 2^64 − 1, the largest value a uvarint can carry (Go's `^uint64(0)`). */
export const MAX_UINT64 = 0xffff_ffff_ffff_ffffn
/** Longest uvarint in bytes (Go's `binary.MaxVarintLen64`). */
export const MAX_UVARINT_LEN = 10

const TWO_POW_31 = 0x8000_0000
const MAX_SAFE_BIG = BigInt(Number.MAX_SAFE_INTEGER)
/** Minimal encoding of 2^64 − 1 (the "infinite" watermark): written often, so kept precomputed. */
const MAX_UINT64_BYTES = Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01)
/** 128^i for i = 0..9, so number-mode decoding never shifts past bit 31. */
const POW128: readonly number[] = Array.from({ length: 10 }, (_, i) => 128 ** i)

/** Checks that `v` is an integer in [0, 2^64 − 1]; returns it as a number when it is a safe integer. */
function normalise (v: bigint | number): bigint | number {
  if (typeof v === 'number') {
    if (!Number.isInteger(v) || v < 0) throw new WireError(`uvarint value must be a non-negative integer, got ${v}`)
    if (v <= Number.MAX_SAFE_INTEGER) return v
    const big = BigInt(v)
    if (big > MAX_UINT64) throw new WireError(`uvarint value ${v} exceeds 2^64 - 1`)
    return big
  }
  if (typeof v !== 'bigint') throw new WireError(`uvarint value must be a bigint or a number, got ${typeof v}`)
  if (v < 0n || v > MAX_UINT64) throw new WireError(`uvarint value ${v} is outside [0, 2^64 - 1]`)
  return v <= MAX_SAFE_BIG ? Number(v) : v
}

function sizeNumber (v: number): number {
  if (v < 0x80) return 1
  if (v < 0x4000) return 2
  if (v < 0x20_0000) return 3
  if (v < 0x1000_0000) return 4
  let n = 4
  v = Math.floor(v / 0x1000_0000)
  while (v > 0) { n++; v = Math.floor(v / 128) }
  return n
}

/** 128^i as bigints, i = 0..10. */
const POW128_BIG: readonly bigint[] = Array.from({ length: 11 }, (_, i) => 128n ** BigInt(i))

function sizeBig (v: bigint): number {
  let n = 1
  while (n < MAX_UVARINT_LEN && v >= POW128_BIG[n]) n++
  return n
}

/** Writes a safe integer; the caller has checked that it fits. */
function writeNumber (buf: Uint8Array, o: number, v: number): number {
  while (v >= TWO_POW_31) { buf[o++] = (v % 128) | 0x80; v = Math.floor(v / 128) }
  while (v >= 0x80) { buf[o++] = (v & 0x7f) | 0x80; v >>>= 7 }
  buf[o++] = v
  return o
}

function writeBig (buf: Uint8Array, o: number, v: bigint): number {
  if (v === MAX_UINT64) { buf.set(MAX_UINT64_BYTES, o); return o + 10 }
  while (v >= 0x80n) { buf[o++] = Number(v & 0x7fn) | 0x80; v >>= 7n }
  buf[o++] = Number(v)
  return o
}

/** Number of bytes the minimal uvarint encoding of `v` takes (1–10). */
export function uvarintSize (v: bigint | number): number {
  if (typeof v === 'number' && v >= 0 && v < TWO_POW_31 && (v | 0) === v) return sizeNumber(v)
  const n = normalise(v)
  return typeof n === 'number' ? sizeNumber(n) : sizeBig(n)
}

/** Writes the minimal uvarint of `v` at `buf[offset]` and returns the offset just past it. */
export function writeUvarint (buf: Uint8Array, offset: number, v: bigint | number): number {
  const n = (typeof v === 'number' && v >= 0 && v < TWO_POW_31 && (v | 0) === v) ? v : normalise(v)
  const size = typeof n === 'number' ? sizeNumber(n) : sizeBig(n)
  if (!Number.isInteger(offset) || offset < 0 || offset + size > buf.length) {
    throw new WireError(`no room for a ${size}-byte uvarint at offset ${offset} of a ${buf.length}-byte buffer`)
  }
  return typeof n === 'number' ? writeNumber(buf, offset, n) : writeBig(buf, offset, n)
}

/** The minimal uvarint encoding of `v` (Go `binary.AppendUvarint`). */
export function encodeUvarint (v: bigint | number): Uint8Array {
  const out = new Uint8Array(uvarintSize(v))
  writeUvarint(out, 0, v)
  return out
}

function truncated (offset: number): WireError {
  return new WireError(`truncated uvarint at offset ${offset}`)
}

function overflow (offset: number): WireError {
  return new WireError(`uvarint at offset ${offset} overflows 64 bits`)
}

/** Slow path: decodes with BigInt once the value may exceed 2^49. */
function readBig (buf: Uint8Array, offset: number): { value: bigint, offset: number } {
  let x = 0n
  let s = 0n
  for (let i = 0; ; i++) {
    if (i === MAX_UVARINT_LEN) throw overflow(offset)
    const p = offset + i
    if (p >= buf.length) throw truncated(offset)
    const b = buf[p]
    if (b < 0x80) {
      if (i === MAX_UVARINT_LEN - 1 && b > 1) throw overflow(offset)
      return { value: x | (BigInt(b) << s), offset: p + 1 }
    }
    x |= BigInt(b & 0x7f) << s
    s += 7n
  }
}

/**
 * Decodes one uvarint at `buf[offset]`, as strictly as Go's `binary.Uvarint`: a value above 2^64 − 1 or
 * longer than 10 bytes is an overflow error, a buffer ending mid-varint is a truncation error.
 */
export function readUvarint (buf: Uint8Array, offset: number): { value: bigint, offset: number } {
  if (!Number.isInteger(offset) || offset < 0) throw new WireError(`invalid uvarint offset ${offset}`)
  let x = 0
  const end = Math.min(buf.length, offset + 7)
  for (let p = offset; p < end; p++) {
    const b = buf[p]
    if (b < 0x80) return { value: BigInt(x + b * POW128[p - offset]), offset: p + 1 }
    x += (b & 0x7f) * POW128[p - offset]
  }
  if (end === buf.length) throw truncated(offset)
  return readBig(buf, offset)
}

/**
 * Decodes one uvarint at `buf[offset]` as a number (for ports and lengths), with the same strictness as
 * `readUvarint`, and rejects values above `max` (default `Number.MAX_SAFE_INTEGER`).
 */
export function readUvarintNumber (buf: Uint8Array, offset: number, max: number = Number.MAX_SAFE_INTEGER): { value: number, offset: number } {
  if (!Number.isInteger(offset) || offset < 0) throw new WireError(`invalid uvarint offset ${offset}`)
  let x = 0
  const end = Math.min(buf.length, offset + 7)
  for (let p = offset; p < end; p++) {
    const b = buf[p]
    if (b < 0x80) {
      x += b * POW128[p - offset]
      if (x > max) throw new WireError(`uvarint ${x} at offset ${offset} exceeds the limit ${max}`)
      return { value: x, offset: p + 1 }
    }
    x += (b & 0x7f) * POW128[p - offset]
  }
  if (end === buf.length) throw truncated(offset)
  const r = readBig(buf, offset)
  if (r.value > BigInt(Math.min(max, Number.MAX_SAFE_INTEGER))) {
    throw new WireError(`uvarint ${r.value} at offset ${offset} exceeds the limit ${max}`)
  }
  return { value: Number(r.value), offset: r.offset }
}
