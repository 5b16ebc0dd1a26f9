/**
 * Pure TypeScript Salsa20 / HSalsa20 / Poly1305 and the NaCl secretbox construction (XSalsa20-Poly1305,
 * output = 16-byte tag ‖ body). Written for this project from the specifications (Bernstein, "The Salsa20
 * family of stream ciphers", "Extending the Salsa20 nonce", "The Poly1305-AES message-authentication code").
 *
 * It is the always-available backend of `session/crypto.ts` (used until the WASM backend is loaded, and
 * wherever WASM is unavailable) and the HSalsa20 of `box.Precompute`. Hot-path choices:
 *  - ironwood's nonces are always 16 zero bytes ‖ BE64(counter), so the XSalsa20 subkey
 *    HSalsa20(key, 0^16) is the same for every message of a key: callers derive it once (`subkeyOf`) and
 *    each message costs only Salsa20 + Poly1305;
 *  - the keystream is XORed 32 bits at a time when the buffer is 4-byte aligned (little-endian hosts);
 *  - Poly1305 uses ten 13-bit limbs so every partial sum stays below 2^32 (exact in doubles, `>>>` safe).
 */

const SIGMA0 = 0x61707865
const SIGMA1 = 0x3320646e
const SIGMA2 = 0x79622d32
const SIGMA3 = 0x6b206574

const LITTLE_ENDIAN = new Uint8Array(Uint32Array.of(1).buffer)[0] === 1

function u32le (b: Uint8Array, o: number): number {
  return (b[o] | (b[o + 1] << 8) | (b[o + 2] << 16) | (b[o + 3] << 24)) >>> 0
}

/** The 8 little-endian words of a 32-byte key. */
export function keyWords (key: Uint8Array): Uint32Array {
  const w = new Uint32Array(8)
  for (let i = 0; i < 8; i++) w[i] = u32le(key, 4 * i)
  return w
}

/** The 16-word Salsa20 input state of the block being computed (scratch: every call is synchronous). */
const state = new Uint32Array(16)

/** The 20 Salsa20 rounds over `state`, without the feed-forward, into `out` (Salsa20 and HSalsa20 share them). */
function rounds (out: Uint32Array): void {
  const s = state
  let x0 = s[0]; let x1 = s[1]; let x2 = s[2]; let x3 = s[3]
  let x4 = s[4]; let x5 = s[5]; let x6 = s[6]; let x7 = s[7]
  let x8 = s[8]; let x9 = s[9]; let x10 = s[10]; let x11 = s[11]
  let x12 = s[12]; let x13 = s[13]; let x14 = s[14]; let x15 = s[15]
  let t: number
  for (let i = 0; i < 20; i += 2) {
    t = (x0 + x12) | 0; x4 ^= (t << 7) | (t >>> 25)
    t = (x4 + x0) | 0; x8 ^= (t << 9) | (t >>> 23)
    t = (x8 + x4) | 0; x12 ^= (t << 13) | (t >>> 19)
    t = (x12 + x8) | 0; x0 ^= (t << 18) | (t >>> 14)
    t = (x5 + x1) | 0; x9 ^= (t << 7) | (t >>> 25)
    t = (x9 + x5) | 0; x13 ^= (t << 9) | (t >>> 23)
    t = (x13 + x9) | 0; x1 ^= (t << 13) | (t >>> 19)
    t = (x1 + x13) | 0; x5 ^= (t << 18) | (t >>> 14)
    t = (x10 + x6) | 0; x14 ^= (t << 7) | (t >>> 25)
    t = (x14 + x10) | 0; x2 ^= (t << 9) | (t >>> 23)
    t = (x2 + x14) | 0; x6 ^= (t << 13) | (t >>> 19)
    t = (x6 + x2) | 0; x10 ^= (t << 18) | (t >>> 14)
    t = (x15 + x11) | 0; x3 ^= (t << 7) | (t >>> 25)
    t = (x3 + x15) | 0; x7 ^= (t << 9) | (t >>> 23)
    t = (x7 + x3) | 0; x11 ^= (t << 13) | (t >>> 19)
    t = (x11 + x7) | 0; x15 ^= (t << 18) | (t >>> 14)
    t = (x0 + x3) | 0; x1 ^= (t << 7) | (t >>> 25)
    t = (x1 + x0) | 0; x2 ^= (t << 9) | (t >>> 23)
    t = (x2 + x1) | 0; x3 ^= (t << 13) | (t >>> 19)
    t = (x3 + x2) | 0; x0 ^= (t << 18) | (t >>> 14)
    t = (x5 + x4) | 0; x6 ^= (t << 7) | (t >>> 25)
    t = (x6 + x5) | 0; x7 ^= (t << 9) | (t >>> 23)
    t = (x7 + x6) | 0; x4 ^= (t << 13) | (t >>> 19)
    t = (x4 + x7) | 0; x5 ^= (t << 18) | (t >>> 14)
    t = (x10 + x9) | 0; x11 ^= (t << 7) | (t >>> 25)
    t = (x11 + x10) | 0; x8 ^= (t << 9) | (t >>> 23)
    t = (x8 + x11) | 0; x9 ^= (t << 13) | (t >>> 19)
    t = (x9 + x8) | 0; x10 ^= (t << 18) | (t >>> 14)
    t = (x15 + x14) | 0; x12 ^= (t << 7) | (t >>> 25)
    t = (x12 + x15) | 0; x13 ^= (t << 9) | (t >>> 23)
    t = (x13 + x12) | 0; x14 ^= (t << 13) | (t >>> 19)
    t = (x14 + x13) | 0; x15 ^= (t << 18) | (t >>> 14)
  }
  out[0] = x0; out[1] = x1; out[2] = x2; out[3] = x3; out[4] = x4; out[5] = x5; out[6] = x6; out[7] = x7
  out[8] = x8; out[9] = x9; out[10] = x10; out[11] = x11; out[12] = x12; out[13] = x13; out[14] = x14; out[15] = x15
}

/** Loads the Salsa20 state: constants, key words k[0..8), and the 4 input words `in0..in3` (nonce, counter). */
function load (k0: number, k1: number, k2: number, k3: number, k4: number, k5: number, k6: number, k7: number, in0: number, in1: number, in2: number, in3: number): void {
  const s = state
  s[0] = SIGMA0; s[1] = k0; s[2] = k1; s[3] = k2; s[4] = k3; s[5] = SIGMA1; s[6] = in0; s[7] = in1
  s[8] = in2; s[9] = in3; s[10] = SIGMA2; s[11] = k4; s[12] = k5; s[13] = k6; s[14] = k7; s[15] = SIGMA3
}

const hout = new Uint32Array(16)
/** The state words HSalsa20 outputs, in order. */
const HSALSA_WORDS = [0, 5, 10, 15, 6, 7, 8, 9]

/**
 * HSalsa20(key, input16) → 32 bytes (words 0, 5, 10, 15, 6, 7, 8, 9 of the 20-round state, no feed-forward).
 * `out` may be given to avoid an allocation.
 */
export function hsalsa20 (key: Uint8Array, input: Uint8Array, out: Uint8Array = new Uint8Array(32)): Uint8Array {
  load(u32le(key, 0), u32le(key, 4), u32le(key, 8), u32le(key, 12), u32le(key, 16), u32le(key, 20), u32le(key, 24), u32le(key, 28),
    u32le(input, 0), u32le(input, 4), u32le(input, 8), u32le(input, 12))
  rounds(hout)
  for (let i = 0; i < 8; i++) {
    const w = hout[HSALSA_WORDS[i]]
    out[4 * i] = w; out[4 * i + 1] = w >>> 8; out[4 * i + 2] = w >>> 16; out[4 * i + 3] = w >>> 24
  }
  return out
}

const ZERO16 = new Uint8Array(16)

/** The XSalsa20 subkey for nonces whose first 16 bytes are zero: HSalsa20(key, 0^16), as 8 words. */
export function subkeyOf (key: Uint8Array): Uint32Array {
  return keyWords(hsalsa20(key, ZERO16))
}

/**
 * One Salsa20/20 block: key words `k`, 8-byte nonce as two LE words (n0, n1), 64-bit block counter
 * (c0 low word, c1 high word). Writes 16 output words to `out`.
 */
function salsaBlock (k: Uint32Array, n0: number, n1: number, c0: number, c1: number, out: Uint32Array): void {
  load(k[0], k[1], k[2], k[3], k[4], k[5], k[6], k[7], n0, n1, c0, c1)
  rounds(out)
  const s = state
  for (let i = 0; i < 16; i++) out[i] += s[i]
}

const block = new Uint32Array(16)
const blockBytes = new Uint8Array(block.buffer)

/** Byte `i` (0..63) of the current keystream block, independent of host endianness. */
function ksByte (i: number): number {
  return (block[i >>> 2] >>> ((i & 3) << 3)) & 0xff
}

/**
 * XORs the Salsa20 keystream (subkey words `k`, nonce words n0/n1) into `buf[off .. off+len)`, skipping the
 * first 32 keystream bytes (which NaCl's secretbox uses as the Poly1305 key, written to `polyKey`).
 */
function secretboxStream (k: Uint32Array, n0: number, n1: number, buf: Uint8Array, off: number, len: number, polyKey: Uint8Array): void {
  salsaBlock(k, n0, n1, 0, 0, block)
  for (let i = 0; i < 32; i++) polyKey[i] = ksByte(i)
  const first = Math.min(len, 32)
  for (let i = 0; i < first; i++) buf[off + i] ^= ksByte(32 + i)
  let pos = off + first
  let left = len - first
  let c0 = 1
  let c1 = 0
  const aligned = LITTLE_ENDIAN && ((buf.byteOffset + pos) & 3) === 0
  const words = aligned && left >= 64 ? new Uint32Array(buf.buffer, buf.byteOffset + pos, left >>> 2) : undefined
  let wi = 0
  while (left >= 64) {
    salsaBlock(k, n0, n1, c0, c1, block)
    if (words !== undefined) {
      words[wi] ^= block[0]; words[wi + 1] ^= block[1]; words[wi + 2] ^= block[2]; words[wi + 3] ^= block[3]
      words[wi + 4] ^= block[4]; words[wi + 5] ^= block[5]; words[wi + 6] ^= block[6]; words[wi + 7] ^= block[7]
      words[wi + 8] ^= block[8]; words[wi + 9] ^= block[9]; words[wi + 10] ^= block[10]; words[wi + 11] ^= block[11]
      words[wi + 12] ^= block[12]; words[wi + 13] ^= block[13]; words[wi + 14] ^= block[14]; words[wi + 15] ^= block[15]
      wi += 16
    } else if (LITTLE_ENDIAN) {
      for (let i = 0; i < 64; i++) buf[pos + i] ^= blockBytes[i]
    } else {
      for (let i = 0; i < 64; i++) buf[pos + i] ^= ksByte(i)
    }
    pos += 64
    left -= 64
    c0 = (c0 + 1) >>> 0
    if (c0 === 0) c1 = (c1 + 1) >>> 0
  }
  if (left > 0) {
    salsaBlock(k, n0, n1, c0, c1, block)
    for (let i = 0; i < left; i++) buf[pos + i] ^= ksByte(i)
  }
}

/** Poly1305 of `m[off .. off+len)` under the 32-byte one-time key; writes the 16-byte tag to `out[outOff..]`. */
export function poly1305 (key: Uint8Array, m: Uint8Array, off: number, len: number, out: Uint8Array, outOff: number): void {
  // r, clamped, as ten 13-bit limbs (the last one 9 bits wide... plus the clamp).
  const t0 = key[0] | (key[1] << 8); const t1 = key[2] | (key[3] << 8)
  const t2 = key[4] | (key[5] << 8); const t3 = key[6] | (key[7] << 8)
  const t4 = key[8] | (key[9] << 8); const t5 = key[10] | (key[11] << 8)
  const t6 = key[12] | (key[13] << 8); const t7 = key[14] | (key[15] << 8)
  const r0 = t0 & 0x1fff
  const r1 = ((t0 >>> 13) | (t1 << 3)) & 0x1fff
  const r2 = ((t1 >>> 10) | (t2 << 6)) & 0x1f03
  const r3 = ((t2 >>> 7) | (t3 << 9)) & 0x1fff
  const r4 = ((t3 >>> 4) | (t4 << 12)) & 0x00ff
  const r5 = (t4 >>> 1) & 0x1ffe
  const r6 = ((t4 >>> 14) | (t5 << 2)) & 0x1fff
  const r7 = ((t5 >>> 11) | (t6 << 5)) & 0x1f81
  const r8 = ((t6 >>> 8) | (t7 << 8)) & 0x1fff
  const r9 = (t7 >>> 5) & 0x007f
  const s1 = 5 * r1; const s2 = 5 * r2; const s3 = 5 * r3; const s4 = 5 * r4; const s5 = 5 * r5
  const s6 = 5 * r6; const s7 = 5 * r7; const s8 = 5 * r8; const s9 = 5 * r9

  let h0 = 0; let h1 = 0; let h2 = 0; let h3 = 0; let h4 = 0
  let h5 = 0; let h6 = 0; let h7 = 0; let h8 = 0; let h9 = 0
  const pad = new Uint8Array(16)
  let p = off
  const end = off + len
  while (p < end) {
    let src = m
    let q = p
    let hibit = 1 << 11
    if (end - p < 16) {
      // Final partial block: bytes, then 0x01, then zeros; no 2^128 bit.
      const n = end - p
      pad.fill(0)
      for (let i = 0; i < n; i++) pad[i] = m[p + i]
      pad[n] = 1
      src = pad
      q = 0
      hibit = 0
    }
    const b0 = src[q] | (src[q + 1] << 8); const b1 = src[q + 2] | (src[q + 3] << 8)
    const b2 = src[q + 4] | (src[q + 5] << 8); const b3 = src[q + 6] | (src[q + 7] << 8)
    const b4 = src[q + 8] | (src[q + 9] << 8); const b5 = src[q + 10] | (src[q + 11] << 8)
    const b6 = src[q + 12] | (src[q + 13] << 8); const b7 = src[q + 14] | (src[q + 15] << 8)
    h0 += b0 & 0x1fff
    h1 += ((b0 >>> 13) | (b1 << 3)) & 0x1fff
    h2 += ((b1 >>> 10) | (b2 << 6)) & 0x1fff
    h3 += ((b2 >>> 7) | (b3 << 9)) & 0x1fff
    h4 += ((b3 >>> 4) | (b4 << 12)) & 0x1fff
    h5 += (b4 >>> 1) & 0x1fff
    h6 += ((b4 >>> 14) | (b5 << 2)) & 0x1fff
    h7 += ((b5 >>> 11) | (b6 << 5)) & 0x1fff
    h8 += ((b6 >>> 8) | (b7 << 8)) & 0x1fff
    h9 += (b7 >>> 5) | hibit

    // h *= r (mod 2^130 - 5); 2^130 ≡ 5, so a product that wraps picks up a factor 5 (the s limbs).
    let c = 0
    let d0 = c + h0 * r0 + h1 * s9 + h2 * s8 + h3 * s7 + h4 * s6
    c = d0 >>> 13; d0 &= 0x1fff
    d0 += h5 * s5 + h6 * s4 + h7 * s3 + h8 * s2 + h9 * s1
    c += d0 >>> 13; d0 &= 0x1fff
    let d1 = c + h0 * r1 + h1 * r0 + h2 * s9 + h3 * s8 + h4 * s7
    c = d1 >>> 13; d1 &= 0x1fff
    d1 += h5 * s6 + h6 * s5 + h7 * s4 + h8 * s3 + h9 * s2
    c += d1 >>> 13; d1 &= 0x1fff
    let d2 = c + h0 * r2 + h1 * r1 + h2 * r0 + h3 * s9 + h4 * s8
    c = d2 >>> 13; d2 &= 0x1fff
    d2 += h5 * s7 + h6 * s6 + h7 * s5 + h8 * s4 + h9 * s3
    c += d2 >>> 13; d2 &= 0x1fff
    let d3 = c + h0 * r3 + h1 * r2 + h2 * r1 + h3 * r0 + h4 * s9
    c = d3 >>> 13; d3 &= 0x1fff
    d3 += h5 * s8 + h6 * s7 + h7 * s6 + h8 * s5 + h9 * s4
    c += d3 >>> 13; d3 &= 0x1fff
    let d4 = c + h0 * r4 + h1 * r3 + h2 * r2 + h3 * r1 + h4 * r0
    c = d4 >>> 13; d4 &= 0x1fff
    d4 += h5 * s9 + h6 * s8 + h7 * s7 + h8 * s6 + h9 * s5
    c += d4 >>> 13; d4 &= 0x1fff
    let d5 = c + h0 * r5 + h1 * r4 + h2 * r3 + h3 * r2 + h4 * r1
    c = d5 >>> 13; d5 &= 0x1fff
    d5 += h5 * r0 + h6 * s9 + h7 * s8 + h8 * s7 + h9 * s6
    c += d5 >>> 13; d5 &= 0x1fff
    let d6 = c + h0 * r6 + h1 * r5 + h2 * r4 + h3 * r3 + h4 * r2
    c = d6 >>> 13; d6 &= 0x1fff
    d6 += h5 * r1 + h6 * r0 + h7 * s9 + h8 * s8 + h9 * s7
    c += d6 >>> 13; d6 &= 0x1fff
    let d7 = c + h0 * r7 + h1 * r6 + h2 * r5 + h3 * r4 + h4 * r3
    c = d7 >>> 13; d7 &= 0x1fff
    d7 += h5 * r2 + h6 * r1 + h7 * r0 + h8 * s9 + h9 * s8
    c += d7 >>> 13; d7 &= 0x1fff
    let d8 = c + h0 * r8 + h1 * r7 + h2 * r6 + h3 * r5 + h4 * r4
    c = d8 >>> 13; d8 &= 0x1fff
    d8 += h5 * r3 + h6 * r2 + h7 * r1 + h8 * r0 + h9 * s9
    c += d8 >>> 13; d8 &= 0x1fff
    let d9 = c + h0 * r9 + h1 * r8 + h2 * r7 + h3 * r6 + h4 * r5
    c = d9 >>> 13; d9 &= 0x1fff
    d9 += h5 * r4 + h6 * r3 + h7 * r2 + h8 * r1 + h9 * r0
    c += d9 >>> 13; d9 &= 0x1fff
    c = ((c << 2) + c) | 0
    c = (c + d0) | 0
    d0 = c & 0x1fff
    c = c >>> 13
    d1 += c
    h0 = d0; h1 = d1; h2 = d2; h3 = d3; h4 = d4; h5 = d5; h6 = d6; h7 = d7; h8 = d8; h9 = d9
    p += 16
  }

  // Full carry, then reduce mod 2^130 - 5 (constant time select of h or h - p).
  const h = [h0, h1, h2, h3, h4, h5, h6, h7, h8, h9]
  let c = h[1] >>> 13
  h[1] &= 0x1fff
  for (let i = 2; i < 10; i++) { h[i] += c; c = h[i] >>> 13; h[i] &= 0x1fff }
  h[0] += c * 5
  c = h[0] >>> 13; h[0] &= 0x1fff
  h[1] += c; c = h[1] >>> 13; h[1] &= 0x1fff
  h[2] += c
  const g = new Array<number>(10)
  g[0] = h[0] + 5
  c = g[0] >>> 13; g[0] &= 0x1fff
  for (let i = 1; i < 10; i++) { g[i] = h[i] + c; c = g[i] >>> 13; g[i] &= 0x1fff }
  g[9] -= 1 << 13
  g[9] &= 0xffff
  // mask = all ones if g (= h + 5 - 2^130) did not borrow, i.e. h >= p.
  let mask = (c ^ 1) - 1
  mask &= 0xffff
  for (let i = 0; i < 10; i++) g[i] &= mask
  mask = ~mask
  for (let i = 0; i < 10; i++) h[i] = (h[i] & mask) | g[i]

  // Pack into eight 16-bit words, add s (the second half of the key) mod 2^128.
  const w0 = ((h[0]) | (h[1] << 13)) & 0xffff
  const w1 = ((h[1] >>> 3) | (h[2] << 10)) & 0xffff
  const w2 = ((h[2] >>> 6) | (h[3] << 7)) & 0xffff
  const w3 = ((h[3] >>> 9) | (h[4] << 4)) & 0xffff
  const w4 = ((h[4] >>> 12) | (h[5] << 1) | (h[6] << 14)) & 0xffff
  const w5 = ((h[6] >>> 2) | (h[7] << 11)) & 0xffff
  const w6 = ((h[7] >>> 5) | (h[8] << 8)) & 0xffff
  const w7 = ((h[8] >>> 8) | (h[9] << 5)) & 0xffff
  const ws = [w0, w1, w2, w3, w4, w5, w6, w7]
  let f = 0
  for (let i = 0; i < 8; i++) {
    f = ws[i] + (key[16 + 2 * i] | (key[17 + 2 * i] << 8)) + (f >>> 16)
    out[outOff + 2 * i] = f
    out[outOff + 2 * i + 1] = f >>> 8
  }
}

const polyKeyScratch = new Uint8Array(32)
const tagScratch = new Uint8Array(16)

/**
 * secretbox seal in place: `buf[bodyOff .. bodyOff+len)` holds the plaintext and is encrypted in place; the
 * 16-byte tag is written at `buf[bodyOff-16 ..)`. `k` = subkey words (`subkeyOf`), (n0, n1) = nonce bytes
 * 16..23 as two LE words.
 */
export function sealInPlace (k: Uint32Array, n0: number, n1: number, buf: Uint8Array, bodyOff: number, len: number): void {
  secretboxStream(k, n0, n1, buf, bodyOff, len, polyKeyScratch)
  poly1305(polyKeyScratch, buf, bodyOff, len, buf, bodyOff - 16)
  polyKeyScratch.fill(0)
}

/**
 * secretbox open: checks the tag `boxed[off .. off+16)` over `boxed[off+16 .. off+total)` and, if valid,
 * returns a fresh buffer holding the decrypted body; undefined if the tag is wrong (constant-time compare).
 */
export function openToNew (k: Uint32Array, n0: number, n1: number, boxed: Uint8Array, off: number, total: number): Uint8Array | undefined {
  if (total < 16) return undefined
  const len = total - 16
  // Poly1305 key = first 32 keystream bytes.
  salsaBlock(k, n0, n1, 0, 0, block)
  for (let i = 0; i < 32; i++) polyKeyScratch[i] = ksByte(i)
  poly1305(polyKeyScratch, boxed, off + 16, len, tagScratch, 0)
  let diff = 0
  for (let i = 0; i < 16; i++) diff |= tagScratch[i] ^ boxed[off + i]
  if (diff !== 0) { polyKeyScratch.fill(0); return undefined }
  const out = new Uint8Array(len)
  out.set(boxed.subarray(off + 16, off + total))
  secretboxStream(k, n0, n1, out, 0, len, polyKeyScratch)
  polyKeyScratch.fill(0)
  return out
}
