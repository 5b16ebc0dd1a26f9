/**
 * murmur3_x64_128 and bits-and-blooms `baseHashes`.
 *
 * Vector sources:
 * - REF_STRINGS: the reference table of spaolacci/murmur3 (`murmur_test.go`, `var data`, the h64_1 /
 *   h64_2 columns = `Sum128WithSeed(s, seed)`), which bits-and-blooms/bloom v3.7.0 `murmur.go` states it
 *   is "strictly equivalent" to.
 * - baseHashes = [murmur3(data), murmur3(data ‖ 0x01)]: bits-and-blooms/bloom v3.7.0 `murmur.go`
 *   (`sum256`) and its `murmur_test.go` (TestHashBasic compares against hashing data then data+[1]).
 * - End-to-end Go captures of the hash (through the bloom filter) are in bloom.test.ts.
 * - Property tests compare against an independent straightforward BigInt implementation in this file.
 */
import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { baseHashWords, baseHashes, murmur3x64_128 } from '../src/network/murmur3.js'

const REF_STRINGS: Array<[number, bigint, bigint, string]> = [
  [0x00, 0x0000000000000000n, 0x0000000000000000n, ''],
  [0x00, 0xcbd8a7b341bd9b02n, 0x5b1e906a48ae1d19n, 'hello'],
  [0x00, 0x342fac623a5ebc8en, 0x4cdcbc079642414dn, 'hello, world'],
  [0x00, 0xb89e5988b737affcn, 0x664fc2950231b2cbn, '19 Jan 2038 at 3:14:07 AM'],
  [0x00, 0xcd99481f9ee902c9n, 0x695da1a38987b6e7n, 'The quick brown fox jumps over the lazy dog.'],
  [0x01, 0x4610abe56eff5cb5n, 0x51622daa78f83583n, ''],
  [0x01, 0xa78ddff5adae8d10n, 0x128900ef20900135n, 'hello'],
  [0x01, 0x8b95f808840725c6n, 0x1597ed5422bd493bn, 'hello, world'],
  [0x01, 0x2a929de9c8f97b2fn, 0x56a41d99af43a2dbn, '19 Jan 2038 at 3:14:07 AM'],
  [0x01, 0xfb3325171f9744dan, 0xaaf8b92a5f722952n, 'The quick brown fox jumps over the lazy dog.'],
  [0x2a, 0xf02aa77dfa1b8523n, 0xd1016610da11cbb9n, ''],
  [0x2a, 0xc4b8b3c960af6f08n, 0x2334b875b0efbc7an, 'hello'],
  [0x2a, 0xb91864d797caa956n, 0xd5d139a55afe6150n, 'hello, world'],
  [0x2a, 0xfd8f19ebdc8c6b6an, 0xd30fdc310fa08ff9n, '19 Jan 2038 at 3:14:07 AM'],
  [0x2a, 0x74f33c659cda5af7n, 0x4ec7a891caf316f0n, 'The quick brown fox jumps over the lazy dog.']
]

/* Independent reference: MurmurHash3_x64_128 written directly over uint64 BigInts. */
const M = (1n << 64n) - 1n
const C1 = 0x87c37b91114253d5n
const C2 = 0x4cf5ad432745937fn
const rotl = (x: bigint, r: bigint): bigint => ((x << r) | (x >> (64n - r))) & M
const fmix = (k: bigint): bigint => {
  k ^= k >> 33n; k = (k * 0xff51afd7ed558ccdn) & M
  k ^= k >> 33n; k = (k * 0xc4ceb9fe1a85ec53n) & M
  return k ^ (k >> 33n)
}
function refMurmur (data: Uint8Array, seed = 0): [bigint, bigint] {
  let h1 = BigInt(seed >>> 0); let h2 = h1
  const le = (o: number, n: number): bigint => {
    let v = 0n
    for (let i = n - 1; i >= 0; i--) v = (v << 8n) | BigInt(data[o + i])
    return v
  }
  const nblocks = Math.floor(data.length / 16)
  for (let b = 0; b < nblocks; b++) {
    let k1 = le(b * 16, 8); let k2 = le(b * 16 + 8, 8)
    k1 = (k1 * C1) & M; k1 = rotl(k1, 31n); k1 = (k1 * C2) & M; h1 ^= k1
    h1 = rotl(h1, 27n); h1 = (h1 + h2) & M; h1 = (h1 * 5n + 0x52dce729n) & M
    k2 = (k2 * C2) & M; k2 = rotl(k2, 33n); k2 = (k2 * C1) & M; h2 ^= k2
    h2 = rotl(h2, 31n); h2 = (h2 + h1) & M; h2 = (h2 * 5n + 0x38495ab5n) & M
  }
  const t = nblocks * 16; const rem = data.length - t
  if (rem > 8) { let k2 = le(t + 8, rem - 8); k2 = (k2 * C2) & M; k2 = rotl(k2, 33n); k2 = (k2 * C1) & M; h2 ^= k2 }
  if (rem > 0) { let k1 = le(t, Math.min(rem, 8)); k1 = (k1 * C1) & M; k1 = rotl(k1, 31n); k1 = (k1 * C2) & M; h1 ^= k1 }
  h1 ^= BigInt(data.length); h2 ^= BigInt(data.length)
  h1 = (h1 + h2) & M; h2 = (h2 + h1) & M
  h1 = fmix(h1); h2 = fmix(h2)
  h1 = (h1 + h2) & M; h2 = (h2 + h1) & M
  return [h1, h2]
}

describe('murmur3x64_128', () => {
  it('matches the spaolacci/murmur3 reference table (seeds 0, 1, 0x2a)', () => {
    const enc = new TextEncoder()
    for (const [seed, h1, h2, s] of REF_STRINGS) {
      expect(murmur3x64_128(enc.encode(s), seed)).toEqual([h1, h2])
      expect(refMurmur(enc.encode(s), seed)).toEqual([h1, h2]) // the reference itself is checked too
    }
  })

  it('defaults to seed 0', () => {
    expect(murmur3x64_128(new TextEncoder().encode('hello'))).toEqual([0xcbd8a7b341bd9b02n, 0x5b1e906a48ae1d19n])
  })

  it('matches the BigInt reference for every length 0..100 and random data/seeds', () => {
    const data = Uint8Array.from({ length: 100 }, (_, i) => (i * 37 + 11) & 0xff)
    for (let len = 0; len <= 100; len++) {
      expect(murmur3x64_128(data.subarray(0, len))).toEqual(refMurmur(data.subarray(0, len)))
    }
    fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), fc.nat({ max: 0xffffffff }), (d, seed) => {
      expect(murmur3x64_128(d, seed)).toEqual(refMurmur(d, seed))
    }), { numRuns: 3000 })
  })

  it('is not fooled by views into larger buffers', () => {
    const big = Uint8Array.from({ length: 64 }, (_, i) => i)
    expect(murmur3x64_128(big.subarray(5, 38))).toEqual(refMurmur(big.slice(5, 38)))
  })
})

describe('baseHashes (bits-and-blooms v3.7.0)', () => {
  it('is [murmur3(data), murmur3(data ‖ 0x01)] for every length 0..100 (covers the 15-byte-tail branch)', () => {
    const data = Uint8Array.from({ length: 101 }, (_, i) => (i * 91 + 3) & 0xff)
    for (let len = 0; len <= 100; len++) {
      const d = data.subarray(0, len)
      const withOne = new Uint8Array(len + 1); withOne.set(d); withOne[len] = 1
      expect(baseHashes(d)).toEqual([...refMurmur(d), ...refMurmur(withOne)])
    }
  })

  it('baseHashWords gives the same values as hi/lo uint32 halves and reuses `out`', () => {
    fc.assert(fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), (key) => {
      const out = new Uint32Array(8)
      expect(baseHashWords(key, out)).toBe(out)
      const h = baseHashes(key)
      for (let i = 0; i < 4; i++) {
        expect(BigInt(out[2 * i])).toBe(h[i] >> 32n)
        expect(BigInt(out[2 * i + 1])).toBe(h[i] & 0xffffffffn)
      }
    }), { numRuns: 2000 })
  })

  it('is fast enough for large simulations (32-byte keys)', () => {
    const key = new Uint8Array(32).fill(7)
    const out = new Uint32Array(8)
    const n = 100_000
    const t0 = performance.now()
    for (let i = 0; i < n; i++) { key[0] = i; baseHashWords(key, out) }
    const perKeyUs = (performance.now() - t0) * 1000 / n
    // Generous bound so slow CI machines pass; typically ~0.2 µs.
    expect(perKeyUs).toBeLessThan(20)
  })
})
