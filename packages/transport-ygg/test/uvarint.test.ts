/**
 * uvarint: Go `encoding/binary` Uvarint/AppendUvarint semantics.
 *
 * Vector sources:
 * - LEB128 byte strings below are derived by hand from the format definition (7 bits per byte, LSB group
 *   first) and agree with Go's `binary.AppendUvarint`; `ac 02` = 300 is the classic example from the
 *   protobuf encoding documentation.
 * - The 10-byte nonces are the SigReq nonces Go 0.5.14 sent, captured by theguywhoburns/roots
 *   (tests/go_vectors.rs, FRAME_SIGREQ at commits 5260d61 and 933b6eb).
 * - Overflow/truncation rules are Go's `binary.Uvarint` (`encoding/binary/varint.go`): at most 10 bytes,
 *   10th byte ≤ 1, non-minimal encodings accepted.
 * - Property tests compare against an independent BigInt reference written in this file.
 */
import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { WireError } from '../src/errors.js'
import {
  MAX_UINT64, encodeUvarint, readUvarint, readUvarintNumber, uvarintSize, writeUvarint
} from '../src/network/uvarint.js'

const hex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s.replace(/\s+/g, ''), 'hex'))
const toHex = (b: Uint8Array): string => Buffer.from(b).toString('hex')

/** Independent reference: minimal LEB128 with BigInt. */
function refEncode (v: bigint): Uint8Array {
  const out: number[] = []
  do {
    let b = Number(v & 0x7fn)
    v >>= 7n
    if (v !== 0n) b |= 0x80
    out.push(b)
  } while (v !== 0n)
  return Uint8Array.from(out)
}

const KNOWN: Array<[bigint, string]> = [
  [0n, '00'],
  [1n, '01'],
  [127n, '7f'],
  [128n, '8001'],
  [300n, 'ac02'],
  [16383n, 'ff7f'],
  [16384n, '808001'],
  [2n ** 31n - 1n, 'ffffffff07'],
  [2n ** 31n, '8080808008'],
  [2n ** 32n, '8080808010'],
  [2n ** 53n - 1n, 'ffffffffffffff0f'],
  [2n ** 56n, '8080808080808080' + '01'],
  [2n ** 63n, '808080808080808080' + '01'],
  [MAX_UINT64, 'ffffffffffffffffff' + '01']
]

describe('encodeUvarint / uvarintSize / writeUvarint', () => {
  it('encodes known values byte-exactly (bigint and number inputs)', () => {
    for (const [v, h] of KNOWN) {
      expect(toHex(encodeUvarint(v))).toBe(h)
      expect(uvarintSize(v)).toBe(h.length / 2)
      if (v <= BigInt(Number.MAX_SAFE_INTEGER)) {
        expect(toHex(encodeUvarint(Number(v)))).toBe(h)
        expect(uvarintSize(Number(v))).toBe(h.length / 2)
      }
    }
  })

  it('accepts integral numbers above 2^53 exactly', () => {
    expect(toHex(encodeUvarint(2 ** 63))).toBe('808080808080808080' + '01')
    expect(uvarintSize(2 ** 60)).toBe(9)
  })

  it('rejects values outside [0, 2^64-1] with WireError', () => {
    for (const bad of [-1, -1n, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 64, MAX_UINT64 + 1n]) {
      expect(() => encodeUvarint(bad)).toThrow(WireError)
      expect(() => uvarintSize(bad)).toThrow(WireError)
    }
  })

  it('writeUvarint returns the new offset and refuses to write past the end', () => {
    const buf = new Uint8Array(4)
    expect(writeUvarint(buf, 1, 300)).toBe(3)
    expect(toHex(buf)).toBe('00ac0200')
    expect(() => writeUvarint(buf, 2, 2 ** 21)).toThrow(WireError) // needs 4 bytes, has 2
    expect(toHex(buf)).toBe('00ac0200') // nothing written
    expect(() => writeUvarint(buf, -1, 1)).toThrow(WireError)
  })
})

describe('readUvarint (Go binary.Uvarint strictness)', () => {
  it('decodes known values and reports the new offset', () => {
    for (const [v, h] of KNOWN) {
      const buf = hex('aa' + h + 'bb')
      expect(readUvarint(buf, 1)).toEqual({ value: v, offset: 1 + h.length / 2 })
    }
  })

  it('decodes the 10-byte nonces Go 0.5.14 put in SigReq frames (roots tests/go_vectors.rs)', () => {
    // FRAME_SIGREQ = 0c 02 02 <nonce>: the nonce is 8 random bytes as a big-endian uint64, uvarint-coded.
    for (const h of ['989088dbb5989884a701', 'f4a6dfc495bdbeb4f601']) {
      const r = readUvarint(hex(h), 0)
      expect(r.offset).toBe(10)
      expect(r.value >= 2n ** 63n).toBe(true) // top bit set is what makes it 10 bytes
      expect(toHex(encodeUvarint(r.value))).toBe(h)
    }
  })

  it('accepts non-minimal encodings, like Go', () => {
    expect(readUvarint(hex('8000'), 0)).toEqual({ value: 0n, offset: 2 })
    expect(readUvarint(hex('818080808080808080' + '00'), 0)).toEqual({ value: 1n, offset: 10 })
  })

  it('rejects a 10th byte above 1 (value >= 2^64) as overflow', () => {
    expect(() => readUvarint(hex('ffffffffffffffffff' + '02'), 0)).toThrow(/overflow/)
    expect(() => readUvarint(hex('808080808080808080' + '7f'), 0)).toThrow(WireError)
  })

  it('rejects more than 10 bytes as overflow and a cut-off varint as truncated', () => {
    expect(() => readUvarint(hex('80808080808080808080' + '00'), 0)).toThrow(/overflow/)
    expect(() => readUvarint(hex('80808080808080808080'), 0)).toThrow(WireError)
    expect(() => readUvarint(hex(''), 0)).toThrow(/truncated/)
    expect(() => readUvarint(hex('80'), 0)).toThrow(/truncated/)
    expect(() => readUvarint(hex('ffffffff'), 0)).toThrow(/truncated/)
    expect(() => readUvarint(hex('ffffffffffffffff'), 0)).toThrow(/truncated/)
    expect(() => readUvarint(hex('01'), 1)).toThrow(/truncated/)
    expect(() => readUvarint(hex('01'), -1)).toThrow(WireError)
  })
})

describe('readUvarintNumber', () => {
  it('decodes numbers and enforces max', () => {
    expect(readUvarintNumber(hex('ac02'), 0)).toEqual({ value: 300, offset: 2 })
    expect(readUvarintNumber(hex('ac02'), 0, 300)).toEqual({ value: 300, offset: 2 })
    expect(() => readUvarintNumber(hex('ac02'), 0, 299)).toThrow(/exceeds/)
    expect(readUvarintNumber(hex('ffffffffffffff0f'), 0)).toEqual({ value: Number.MAX_SAFE_INTEGER, offset: 8 })
    expect(() => readUvarintNumber(hex('8080808080808010'), 0)).toThrow(/exceeds/) // 2^53
    expect(() => readUvarintNumber(hex('ffffffffffffffffff01'), 0)).toThrow(/exceeds/)
    expect(readUvarintNumber(hex('808080808080808000'), 0)).toEqual({ value: 0, offset: 9 }) // non-minimal
    expect(() => readUvarintNumber(hex('ff'), 0)).toThrow(/truncated/)
    expect(() => readUvarintNumber(hex('ffffffffffffffffff02'), 0)).toThrow(/overflow/)
  })
})

describe('properties', () => {
  const u64 = fc.bigInt({ min: 0n, max: MAX_UINT64 })
  // Bias towards the length boundaries.
  const boundary = fc.integer({ min: 0, max: 63 }).chain((k) =>
    fc.constantFrom(2n ** BigInt(k) - 1n, 2n ** BigInt(k), 2n ** BigInt(k) + 1n).map((v) => v > MAX_UINT64 ? MAX_UINT64 : v))

  it('encode matches the reference and read inverts it (bigint)', () => {
    fc.assert(fc.property(fc.oneof(u64, boundary), (v) => {
      const enc = encodeUvarint(v)
      expect(toHex(enc)).toBe(toHex(refEncode(v)))
      expect(uvarintSize(v)).toBe(enc.length)
      expect(readUvarint(enc, 0)).toEqual({ value: v, offset: enc.length })
    }), { numRuns: 5000 })
  })

  it('number and bigint paths agree for safe integers', () => {
    fc.assert(fc.property(fc.oneof(fc.integer({ min: 0, max: 2 ** 31 + 10 }), fc.maxSafeNat()), (n) => {
      const enc = encodeUvarint(n)
      expect(toHex(enc)).toBe(toHex(encodeUvarint(BigInt(n))))
      expect(uvarintSize(n)).toBe(enc.length)
      expect(readUvarintNumber(enc, 0)).toEqual({ value: n, offset: enc.length })
    }), { numRuns: 5000 })
  })

  it('random bytes: readUvarint either succeeds consistently or throws WireError', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 14 }), (buf) => {
      let r: { value: bigint, offset: number }
      try {
        r = readUvarint(buf, 0)
      } catch (e) {
        expect(e).toBeInstanceOf(WireError)
        return
      }
      expect(r.value <= MAX_UINT64).toBe(true)
      expect(r.offset).toBeLessThanOrEqual(10)
      // Go's rule: the last byte read is the first without the continuation bit.
      for (let i = 0; i < r.offset - 1; i++) expect(buf[i] & 0x80).toBe(0x80)
      expect(buf[r.offset - 1] & 0x80).toBe(0)
      try {
        const n = readUvarintNumber(buf, 0)
        expect(BigInt(n.value)).toBe(r.value)
      } catch (e) {
        expect(e).toBeInstanceOf(WireError)
        expect(r.value > BigInt(Number.MAX_SAFE_INTEGER)).toBe(true)
      }
    }), { numRuns: 10000 })
  })
})
