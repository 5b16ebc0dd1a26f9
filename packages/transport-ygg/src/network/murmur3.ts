/**
 * MurmurHash3 x64_128, bit-exact with the implementation bits-and-blooms/bloom v3.7.0 uses for its
 * filters (`murmur.go`, "strictly equivalent" to spaolacci/murmur3 `Sum128WithSeed`), and that
 * library's `baseHashes`: the four uint64 values `h1, h2 = murmur3(data)` and
 * `h3, h4 = murmur3(data ‖ 0x01)` from which bloom bit locations are derived.
 *
 * 64-bit arithmetic is done on 32-bit halves in plain numbers (no BigInt, no allocation per block), so
 * hashing a 32-byte key costs well under a microsecond.
 */

// Constants of the 128-bit x64 variant, split into high / low 32-bit halves.
const C1H = 0x87c37b91; const C1L = 0x114253d5 // c1 = 0x87c37b91114253d5
const C2H = 0x4cf5ad43; const C2L = 0x2745937f // c2 = 0x4cf5ad432745937f
const F1H = 0xff51afd7; const F1L = 0xed558ccd // fmix64 multipliers
const F2H = 0xc4ceb9fe; const F2L = 0x1a85ec53

// Result registers of the 64-bit helpers (module-level so the helpers allocate nothing).
let rh = 0
let rl = 0

/** (ah:al) * (bh:bl) mod 2^64 → rh:rl. */
function mul (ah: number, al: number, bh: number, bl: number): void {
  const a0 = al & 0xffff; const a1 = al >>> 16
  const b0 = bl & 0xffff; const b1 = bl >>> 16
  const p00 = a0 * b0; const p01 = a0 * b1; const p10 = a1 * b0
  const mid = (p00 >>> 16) + (p01 & 0xffff) + (p10 & 0xffff)
  const carry = a1 * b1 + (p01 >>> 16) + (p10 >>> 16) + (mid >>> 16) // high 32 bits of al*bl
  rl = (((mid & 0xffff) << 16) | (p00 & 0xffff)) >>> 0
  rh = (carry + Math.imul(ah, bl) + Math.imul(al, bh)) >>> 0
}

/** rotl64(h:l, r) for 0 < r < 32 → rh:rl. */
function rotl (h: number, l: number, r: number): void {
  rh = ((h << r) | (l >>> (32 - r))) >>> 0
  rl = ((l << r) | (h >>> (32 - r))) >>> 0
}

/** (ah:al) + (bh:bl) mod 2^64 → rh:rl. */
function add (ah: number, al: number, bh: number, bl: number): void {
  const l = al + bl
  rl = l >>> 0
  rh = (ah + bh + (l > 0xffffffff ? 1 : 0)) >>> 0
}

/** fmix64(h:l) → rh:rl. */
function fmix (h: number, l: number): void {
  l = (l ^ (h >>> 1)) >>> 0 // k ^= k >> 33
  mul(h, l, F1H, F1L)
  h = rh; l = (rl ^ (rh >>> 1)) >>> 0
  mul(h, l, F2H, F2L)
  h = rh; l = (rl ^ (rh >>> 1)) >>> 0
  rh = h; rl = l
}

function le32 (d: Uint8Array, o: number): number {
  return (d[o] | (d[o + 1] << 8) | (d[o + 2] << 16) | (d[o + 3] << 24)) >>> 0
}

/** Reads up to 4 tail bytes little-endian starting at `o`, stopping at `end`. */
function tail32 (d: Uint8Array, o: number, end: number): number {
  let v = 0
  for (let i = Math.min(3, end - o - 1); i >= 0; i--) v = (v << 8) | d[o + i]
  return v >>> 0
}

// Output registers of hashInto: h1 = oh1:ol1, h2 = oh2:ol2.
let oh1 = 0; let ol1 = 0; let oh2 = 0; let ol2 = 0

/** murmur3_x64_128 of d[0, len) with a 32-bit seed → oh1:ol1, oh2:ol2. */
function hashInto (d: Uint8Array, len: number, seed: number): void {
  let h1h = 0; let h1l = seed >>> 0; let h2h = 0; let h2l = seed >>> 0
  let k1h: number; let k1l: number; let k2h: number; let k2l: number
  const nblocks = len >>> 4
  for (let b = 0; b < nblocks; b++) {
    const o = b << 4
    k1l = le32(d, o); k1h = le32(d, o + 4); k2l = le32(d, o + 8); k2h = le32(d, o + 12)
    // k1 *= c1; k1 = rotl(k1, 31); k1 *= c2; h1 ^= k1
    mul(k1h, k1l, C1H, C1L); rotl(rh, rl, 31); mul(rh, rl, C2H, C2L)
    h1h = (h1h ^ rh) >>> 0; h1l = (h1l ^ rl) >>> 0
    // h1 = rotl(h1, 27); h1 += h2; h1 = h1*5 + 0x52dce729
    rotl(h1h, h1l, 27); add(rh, rl, h2h, h2l); mul(rh, rl, 0, 5); add(rh, rl, 0, 0x52dce729)
    h1h = rh; h1l = rl
    // k2 *= c2; k2 = rotl(k2, 33); k2 *= c1; h2 ^= k2
    mul(k2h, k2l, C2H, C2L); rotl(rl, rh, 1); mul(rh, rl, C1H, C1L)
    h2h = (h2h ^ rh) >>> 0; h2l = (h2l ^ rl) >>> 0
    // h2 = rotl(h2, 31); h2 += h1; h2 = h2*5 + 0x38495ab5
    rotl(h2h, h2l, 31); add(rh, rl, h1h, h1l); mul(rh, rl, 0, 5); add(rh, rl, 0, 0x38495ab5)
    h2h = rh; h2l = rl
  }
  const t = nblocks << 4
  const rem = len - t
  if (rem > 8) {
    k2l = tail32(d, t + 8, len); k2h = rem > 12 ? tail32(d, t + 12, len) : 0
    mul(k2h, k2l, C2H, C2L); rotl(rl, rh, 1); mul(rh, rl, C1H, C1L)
    h2h = (h2h ^ rh) >>> 0; h2l = (h2l ^ rl) >>> 0
  }
  if (rem > 0) {
    k1l = tail32(d, t, len); k1h = rem > 4 ? tail32(d, t + 4, len) : 0
    mul(k1h, k1l, C1H, C1L); rotl(rh, rl, 31); mul(rh, rl, C2H, C2L)
    h1h = (h1h ^ rh) >>> 0; h1l = (h1l ^ rl) >>> 0
  }
  // h ^= length (lengths are < 2^32 here); h1 += h2; h2 += h1
  h1l = (h1l ^ len) >>> 0; h2l = (h2l ^ len) >>> 0
  add(h1h, h1l, h2h, h2l); h1h = rh; h1l = rl
  add(h2h, h2l, h1h, h1l); h2h = rh; h2l = rl
  fmix(h1h, h1l); h1h = rh; h1l = rl
  fmix(h2h, h2l); h2h = rh; h2l = rl
  add(h1h, h1l, h2h, h2l); h1h = rh; h1l = rl
  add(h2h, h2l, h1h, h1l); h2h = rh; h2l = rl
  oh1 = h1h; ol1 = h1l; oh2 = h2h; ol2 = h2l
}

function toBig (h: number, l: number): bigint {
  return (BigInt(h) << 32n) | BigInt(l)
}

/** murmur3_x64_128(data, seed) as spaolacci/murmur3 `Sum128WithSeed` returns it: `[h1, h2]`. */
export function murmur3x64_128 (data: Uint8Array, seed: number = 0): [bigint, bigint] {
  hashInto(data, data.length, seed)
  return [toBig(oh1, ol1), toBig(oh2, ol2)]
}

// Scratch buffer for `data ‖ 0x01`, grown on demand (keys are 32 bytes, so it rarely grows).
let scratch = new Uint8Array(64)

/**
 * bits-and-blooms `baseHashes` as 8 uint32 words, high half first:
 * `[h1hi, h1lo, h2hi, h2lo, h3hi, h3lo, h4hi, h4lo]` (h3, h4 hash `data ‖ 0x01`). Allocation-free when
 * `out` is given.
 */
export function baseHashWords (data: Uint8Array, out: Uint32Array = new Uint32Array(8)): Uint32Array {
  hashInto(data, data.length, 0)
  out[0] = oh1; out[1] = ol1; out[2] = oh2; out[3] = ol2
  if (scratch.length < data.length + 1) scratch = new Uint8Array(Math.max(2 * scratch.length, data.length + 1))
  scratch.set(data)
  scratch[data.length] = 1
  hashInto(scratch, data.length + 1, 0)
  out[4] = oh1; out[5] = ol1; out[6] = oh2; out[7] = ol2
  return out
}

/** bits-and-blooms/bloom v3.7.0 `baseHashes(data)`: `[h1, h2, h3, h4]` as uint64 bigints. */
export function baseHashes (data: Uint8Array): [bigint, bigint, bigint, bigint] {
  const w = baseHashWords(data)
  return [toBig(w[0], w[1]), toBig(w[2], w[3]), toBig(w[4], w[5]), toBig(w[6], w[7])]
}
