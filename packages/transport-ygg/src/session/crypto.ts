/**
 * The cryptography of ironwood's encrypted layer (`encrypted/crypto.go`, `internal/e2c/e2c.go` @743fe2f),
 * byte-compatible with Go:
 *  - ed25519 → X25519: private = sha512(seed)[0:32] (clamped later, inside X25519); public = the Montgomery
 *    u = (1+y)/(1−y) mod p of the Edwards y, with no point validation (like Go; u = 0 when 1−y ≡ 0);
 *  - X25519 through libsodium on raw scalars when `sodium-native` loads (it passed RFC 7748's vector), else on
 *    node:crypto with cached KeyObjects (both ≈30× faster than pure JS here); an all-zero result (low-order
 *    peer key), which libsodium and OpenSSL refuse, is computed as Go does (zeros) instead of throwing;
 *  - box.Precompute = HSalsa20(X25519(priv, pub), 0^16);
 *  - XSalsa20-Poly1305 seal/open with the tag first (tag ‖ body), 24-byte nonce = 0^16 ‖ BE64(counter).
 *
 * The symmetric cipher has three byte-identical backends: native libsodium (`native.ts`, the `sodium-native`
 * addon, loaded synchronously and preferred when it loads), libsodium's WASM build (`sodium.ts`, loaded in the
 * background when native is unavailable, used for messages ≥ WASM_MIN_BYTES) and pure JavaScript ('js':
 * `@noble/ciphers`' xsalsa20poly1305, always available). A libsodium backend is used only once it has
 * reproduced a NaCl test vector. AXL_SESSION_CRYPTO=js stays on the JavaScript backend; AXL_SESSION_CRYPTO=wasm
 * skips the native one.
 *
 * Importing this module does no work: the backends are loaded on the first call that needs one (any key,
 * seal/open or backend query), or explicitly with loadSodiumNative() / loadSodium() / sessionCryptoReady().
 */
import { Buffer } from 'node:buffer'
import { createHash, createPrivateKey, createPublicKey, diffieHellman, generateKeyPairSync, type KeyObject } from 'node:crypto'
import { InvalidKeyError } from '@axl/core'
import { hsalsa, xsalsa20poly1305 } from '@noble/ciphers/salsa.js'
import { u32, u8, utf8ToBytes } from '@noble/ciphers/utils.js'
import { importRawSodium, wasmBackend, type WasmBox } from './sodium.js'
import { importSodiumNative, nativeBackend } from './native.js'

/** Size of an X25519 public key, private key and precomputed shared key. */
export const BOX_KEY_SIZE = 32
/** Poly1305 tag size: a box is 16 bytes longer than its plaintext. */
export const BOX_OVERHEAD = 16
/** XSalsa20 nonce size. */
export const BOX_NONCE_SIZE = 24
/**
 * Messages at least this long use the WASM backend once it is loaded. Measured here (bench/session-crypto):
 * WASM is faster than the pure-JS backend at every size from 64 B up, so the threshold is 0.
 */
export const WASM_MIN_BYTES = 0

const X25519_PKCS8_PREFIX = Buffer.from('302e020100300506032b656e04220420', 'hex')
const X25519_SPKI_PREFIX = Buffer.from('302a300506032b656e032100', 'hex')
const P = (1n << 255n) - 19n
const MASK64 = (1n << 64n) - 1n
const ZERO16 = new Uint8Array(16)
/** Salsa20's "expand 32-byte k" constant as host-order words (the form noble's hsalsa takes). */
const SIGMA = u32(utf8ToBytes('expand 32-byte k'))

function checkLen (what: string, b: Uint8Array, n: number): void {
  if (!(b instanceof Uint8Array) || b.length !== n) {
    throw new InvalidKeyError(`${what} must be a ${n}-byte Uint8Array, got ${b instanceof Uint8Array ? `${b.length} bytes` : typeof b}`)
  }
}

function leToBig (b: Uint8Array): bigint {
  let x = 0n
  for (let i = b.length - 1; i >= 0; i--) x = (x << 8n) | BigInt(b[i])
  return x
}

function bigToLe32 (x: bigint): Uint8Array {
  const out = new Uint8Array(32)
  for (let i = 0; i < 32; i++) { out[i] = Number(x & 0xffn); x >>= 8n }
  return out
}

/** a^−1 mod p for 0 < a < p (extended Euclid; ≈15× faster than a^(p−2) with BigInt). */
function invModP (a: bigint): bigint {
  let r0 = a
  let r1 = P
  let s0 = 1n
  let s1 = 0n
  while (r1 !== 0n) {
    const q = r0 / r1
    const r2 = r0 - q * r1; r0 = r1; r1 = r2
    const s2 = s0 - q * s1; s0 = s1; s1 = s2
  }
  return ((s0 % P) + P) % P
}

/** e2c private: the X25519 scalar of an ed25519 seed, sha512(seed)[0:32] (unclamped, as Go returns it). */
export function edPrivateToX25519 (seed: Uint8Array): Uint8Array {
  checkLen('ed25519 seed', seed, 32)
  const h = createHash('sha512').update(seed).digest()
  return new Uint8Array(h.subarray(0, 32))
}

/**
 * e2c public: the X25519 public key (Montgomery u) of an ed25519 public key, exactly as ironwood's e2c: clear the
 * sign bit, u = (1 + y) · (1 − y)^−1 mod p, little-endian. No point validation; any 32 bytes give a result
 * (y ≡ 1 gives u = 0, as Go's failed ModInverse does).
 */
export function edPublicToX25519 (edPub: Uint8Array): Uint8Array {
  checkLen('ed25519 public key', edPub, 32)
  const y = leToBig(edPub) & ((1n << 255n) - 1n)
  const denom = ((1n - y) % P + P) % P
  if (denom === 0n) return new Uint8Array(32)
  const u = ((y + 1n) * invModP(denom)) % P
  return bigToLe32(u)
}

/** RFC 7748 X25519 in BigInt (slow; the reference the fast path is tested against, and its low-order fallback). */
export function x25519Reference (scalar: Uint8Array, u: Uint8Array): Uint8Array {
  checkLen('X25519 scalar', scalar, 32)
  checkLen('X25519 u-coordinate', u, 32)
  const k = new Uint8Array(scalar)
  k[0] &= 248; k[31] &= 127; k[31] |= 64
  const kn = leToBig(k)
  const x1 = (leToBig(u) & ((1n << 255n) - 1n)) % P
  let x2 = 1n; let z2 = 0n; let x3 = x1; let z3 = 1n; let swap = 0n
  const m = (a: bigint): bigint => ((a % P) + P) % P
  for (let t = 254n; t >= 0n; t--) {
    const kt = (kn >> t) & 1n
    if ((swap ^ kt) === 1n) { [x2, x3] = [x3, x2]; [z2, z3] = [z3, z2] }
    swap = kt
    const A = m(x2 + z2); const AA = m(A * A); const B = m(x2 - z2); const BB = m(B * B); const E = m(AA - BB)
    const C = m(x3 + z3); const D = m(x3 - z3); const DA = m(D * A); const CB = m(C * B)
    x3 = m((DA + CB) * (DA + CB)); z3 = m(x1 * m((DA - CB) * (DA - CB)))
    x2 = m(AA * BB); z2 = m(E * m(AA + 121665n * E))
  }
  if (swap === 1n) { [x2, x3] = [x3, x2]; [z2, z3] = [z3, z2] }
  return bigToLe32(z2 === 0n ? 0n : m(x2 * invModP(z2)))
}

/** A raw X25519 private scalar: the form used when libsodium (`sodium-native`) does the curve math. */
export class RawBoxPrivate {
  constructor (readonly scalar: Uint8Array) {}
}

/**
 * An X25519 private key: a raw scalar for libsodium when `sodium-native` loaded (no KeyObject import, and
 * native code from the first call: session handshakes run on rarely used, not yet optimised paths), else a
 * node:crypto KeyObject.
 */
export type BoxPrivate = RawBoxPrivate | KeyObject

/** An X25519 key pair: raw public bytes plus the private key. */
export interface BoxKeyPair {
  /** The 32-byte X25519 public key. */
  readonly pub: Uint8Array
  /** The private key (never exported on the hot path). */
  readonly priv: BoxPrivate
}

/** The libsodium X25519 calls we use. */
interface SodiumDh {
  crypto_box_keypair: (pk: Uint8Array, sk: Uint8Array) => void
  crypto_scalarmult: (q: Uint8Array, n: Uint8Array, p: Uint8Array) => void
}
let sodiumDh: SodiumDh | undefined

/** The X25519 base point u = 9 as a KeyObject (imported on first use). */
let basepoint: KeyObject | undefined

/** A fresh random X25519 key pair generated now. The public half is X25519(priv, 9), not an export. */
function generateBoxKeys (): BoxKeyPair {
  autoLoad()
  if (sodiumDh !== undefined) {
    const pub = new Uint8Array(32)
    const sk = new Uint8Array(32)
    sodiumDh.crypto_box_keypair(pub, sk)
    return { pub, priv: new RawBoxPrivate(sk) }
  }
  const { privateKey } = generateKeyPairSync('x25519')
  basepoint ??= createPublicKey({ key: { kty: 'OKP', crv: 'X25519', x: Buffer.from([9, ...new Array<number>(31).fill(0)]).toString('base64url') }, format: 'jwk' })
  const pub = diffieHellman({ privateKey, publicKey: basepoint })
  return { pub: new Uint8Array(pub.buffer, pub.byteOffset, 32), priv: privateKey }
}

/** Key pairs generated ahead of use: a handshake needs up to three, and each costs ~80 µs (more when cold). */
const KEY_POOL_SIZE = 6
/** Pairs generated per event-loop turn while refilling (keeps each refill step short). */
const KEY_POOL_STEP = 2
const keyPool: BoxKeyPair[] = []
let refilling = false

function refillKeyPool (): void {
  for (let i = 0; i < KEY_POOL_STEP && keyPool.length < KEY_POOL_SIZE; i++) keyPool.push(generateBoxKeys())
  if (keyPool.length < KEY_POOL_SIZE) setImmediate(refillKeyPool)
  else refilling = false
}

/**
 * A fresh random X25519 key pair (Go's `newBoxKeys`). Taken from a small pool that is refilled between events,
 * so session handshakes do not wait for key generation on their critical path; each pair is used once.
 */
export function newBoxKeys (): BoxKeyPair {
  const k = keyPool.pop() ?? generateBoxKeys()
  if (!refilling) { refilling = true; setImmediate(refillKeyPool) }
  return k
}

/** An X25519 private key from a raw 32-byte scalar (without libsodium a PKCS#8 import: slow, do it once). */
export function boxPrivateKey (raw: Uint8Array): BoxPrivate {
  checkLen('X25519 private key', raw, 32)
  autoLoad()
  if (sodiumDh !== undefined) return new RawBoxPrivate(new Uint8Array(raw))
  return boxPrivateKeyObject(raw)
}

/** A private X25519 KeyObject from a raw 32-byte scalar (PKCS#8 DER import). */
function boxPrivateKeyObject (raw: Uint8Array): KeyObject {
  const der = Buffer.concat([X25519_PKCS8_PREFIX, raw])
  try {
    return createPrivateKey({ key: der, format: 'der', type: 'pkcs8' })
  } finally {
    der.fill(0)
  }
}

/**
 * A peer's X25519 public key in the form `x25519` is fastest with, to cache per peer: the raw bytes with
 * libsodium, else an imported KeyObject.
 */
export function dhPublic (pub: Uint8Array): Uint8Array | KeyObject {
  checkLen('X25519 public key', pub, 32)
  autoLoad()
  return sodiumDh !== undefined ? pub : boxPublicKey(pub)
}

/** A public X25519 KeyObject from 32 raw bytes (JWK import, ≈10× faster than SPKI DER on OpenSSL 3.0). */
export function boxPublicKey (pub: Uint8Array): KeyObject {
  checkLen('X25519 public key', pub, 32)
  const b = Buffer.from(pub.buffer, pub.byteOffset, 32)
  try {
    return createPublicKey({ key: { kty: 'OKP', crv: 'X25519', x: b.toString('base64url') }, format: 'jwk' })
  } catch {
    return createPublicKey({ key: Buffer.concat([X25519_SPKI_PREFIX, b]), format: 'der', type: 'spki' })
  }
}

/** The raw bytes of a public KeyObject (JWK export; only when a raw-scalar key meets a KeyObject, e.g. in tests). */
function rawPublic (pub: KeyObject): Uint8Array {
  const x = pub.export({ format: 'jwk' }).x
  return new Uint8Array(Buffer.from(x ?? '', 'base64url'))
}

/** The raw scalar of a private KeyObject (PKCS#8 DER export; used only on the rare low-order fallback path). */
function rawPrivate (priv: KeyObject): Uint8Array {
  const der = priv.export({ format: 'der', type: 'pkcs8' })
  const raw = new Uint8Array(der.subarray(der.length - 32))
  der.fill(0)
  return raw
}

/**
 * X25519(priv, pub) like Go's `curve25519.ScalarMult` (which box.Precompute uses): an all-zero result for a
 * low-order `pub` is returned, not refused. Never throws for any 32-byte `pub`.
 */
export function x25519 (priv: BoxPrivate, pub: Uint8Array | KeyObject): Uint8Array {
  autoLoad()
  if (priv instanceof RawBoxPrivate) {
    const u = pub instanceof Uint8Array ? pub : rawPublic(pub)
    checkLen('X25519 public key', u, 32)
    if (sodiumDh === undefined) return x25519(boxPrivateKeyObject(priv.scalar), u)
    const q = new Uint8Array(32)
    try {
      sodiumDh.crypto_scalarmult(q, priv.scalar, u)
      return q
    } catch {
      // libsodium refuses an all-zero shared secret; Go returns it. Recompute exactly (it is zero in practice).
      return x25519Reference(priv.scalar, u)
    }
  }
  const pubKey = pub instanceof Uint8Array ? boxPublicKey(pub) : pub
  try {
    const s = diffieHellman({ privateKey: priv, publicKey: pubKey })
    return new Uint8Array(s.buffer, s.byteOffset, 32)
  } catch {
    // OpenSSL refuses an all-zero shared secret; Go returns it. Recompute exactly (it is zero in practice).
    const raw = rawPrivate(priv)
    const u = pub instanceof Uint8Array ? pub : new Uint8Array(pub.export({ format: 'der', type: 'spki' }).subarray(12))
    const out = x25519Reference(raw, u)
    raw.fill(0)
    return out
  }
}

/** A precomputed box key (Go `boxShared`). */
export class BoxKey {
  /** The 32-byte precomputed key, HSalsa20(X25519(priv, pub), 0^16). */
  readonly shared: Uint8Array
  constructor (shared: Uint8Array) {
    checkLen('box shared key', shared, 32)
    this.shared = shared
  }

  /** Whether two keys are the same secret (constant-time over the 32 bytes). */
  equals (other: BoxKey): boolean {
    let d = 0
    for (let i = 0; i < 32; i++) d |= this.shared[i] ^ other.shared[i]
    return d === 0
  }
}

/** HSalsa20(key, input16) → 32 bytes, through `@noble/ciphers`' hsalsa (NaCl crypto_core_hsalsa20). */
export function hsalsa20 (key: Uint8Array, input: Uint8Array): Uint8Array {
  checkLen('HSalsa20 key', key, 32)
  checkLen('HSalsa20 input', input, 16)
  const k = u32(new Uint8Array(key)) // aligned copies: noble reads host-order words
  const i = u32(new Uint8Array(input))
  const out = new Uint32Array(8)
  hsalsa(SIGMA, k, i, out)
  k.fill(0)
  return u8(out)
}

/** NaCl `box.Precompute(pub, priv)`: HSalsa20(X25519(priv, pub), 0^16) → BoxKey. */
export function boxPrecompute (pub: Uint8Array | KeyObject, priv: BoxPrivate): BoxKey {
  const dh = x25519(priv, pub)
  const k = new BoxKey(hsalsa20(dh, ZERO16))
  dh.fill(0)
  return k
}

/** Ironwood's 24-byte nonce for a counter: 16 zero bytes ‖ BE64(counter) (`nonceForUint64`). */
export function nonceForCounter (counter: bigint): Uint8Array {
  const n = new Uint8Array(24)
  const c = counter & MASK64
  const hi = Number(c >> 32n)
  const lo = Number(c & 0xffffffffn)
  n[16] = hi >>> 24; n[17] = hi >>> 16; n[18] = hi >>> 8; n[19] = hi
  n[20] = lo >>> 24; n[21] = lo >>> 16; n[22] = lo >>> 8; n[23] = lo
  return n
}

// ---- backend selection ----

/** Which cipher implementation is active for large messages: native libsodium, its WASM build, or pure JS (noble). */
export type CipherBackend = 'native' | 'wasm' | 'js'

let native: WasmBox | undefined
let wasm: WasmBox | undefined
let forced: CipherBackend | undefined
let autoLoaded = false

/**
 * The automatic backend choice, made once on the first call that needs a backend (not at import): prefer the
 * native addon (loaded synchronously), else load WASM in the background; failures leave the JS backend in
 * place. AXL_SESSION_CRYPTO=js forces the JS backend, =wasm skips the native one.
 */
function autoLoad (): void {
  if (autoLoaded) return
  autoLoaded = true
  const envChoice = process.env.AXL_SESSION_CRYPTO
  if (envChoice === 'js') { forced = 'js'; return }
  if (envChoice !== 'wasm') loadSodiumNative()
  if (native === undefined) void loadSodium()
}

/** NaCl test vector (libsodium test/default/box.c + box.exp): precomputed key of alicesk/bobpk, nonce, message. */
const SELFTEST = {
  key: '1b27556473e985d462cd51197a9a46c76009549eac6474f206c4ee0844f68389',
  nonce: '69696ee955b62b73cd62bda875fc73d68219e0036b7a0b37',
  msg: 'be075fc53c81f2d5cf141316ebeb0c7b5228c52a4c62cbd44b66849b64244ffce5ecbaaf33bd751a1ac728d45e6c61296cdc3c01233561f41db66cce314adb310e3be8250c46f06dceea3a7fa1348057e2f6556ad6b1318a024a838f21af1fde048977eb48f59ffd4924ca1c60902e52f0a089bc76897040e082f937763848645e0705',
  box: 'f3ffc7703f9400e52a7dfb4b3d3305d98e993b9f48681273c29650ba32fc76ce48332ea7164d96a4476fb8c531a1186ac0dfc17c98dce87b4da7f011ec48c97271d2c20f9b928fe2270d6fb863d51738b48eeee314a7cc8ab932164548e526ae90224368517acfeabd6bb3732bc0e9da99832b61ca01b6de56244a9e88d5f9b37973f622a43d14a6599b1f654cb45a74e355a5'
}

/** Known-answer test run before a libsodium backend is trusted: seal, open, and reject a flipped bit. */
function selfTest (w: WasmBox): boolean {
  const key = Buffer.from(SELFTEST.key, 'hex')
  const nonce = Buffer.from(SELFTEST.nonce, 'hex')
  const msg = Buffer.from(SELFTEST.msg, 'hex')
  const want = Buffer.from(SELFTEST.box, 'hex')
  const out = new Uint8Array(want.length)
  w.seal(key, nonce, [msg], msg.length, out, 0)
  if (!want.equals(out)) return false
  const back = w.open(key, nonce, want, 0, want.length)
  if (back === undefined || !msg.equals(back)) return false
  const bad = new Uint8Array(want); bad[20] ^= 1
  return w.open(key, nonce, bad, 0, bad.length) === undefined
}

/** RFC 7748 §6.1: Alice's and Bob's key pairs and their shared secret, through libsodium. */
function dhSelfTest (dh: SodiumDh): boolean {
  try {
    const a = Buffer.from('77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a', 'hex')
    const bPub = Buffer.from('de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f', 'hex')
    const q = new Uint8Array(32)
    dh.crypto_scalarmult(q, a, bPub)
    return Buffer.from(q).toString('hex') === '4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742'
  } catch {
    return false
  }
}

/** Installs a raw libsodium module (`sodium.libsodium`) as the WASM backend if it passes the NaCl self-test. */
export function useSodium (raw: unknown): boolean {
  try {
    const w = wasmBackend(raw)
    if (!selfTest(w)) return false
    wasm = w
    return true
  } catch {
    return false
  }
}

/**
 * Installs a loaded `sodium-native` module as the native backend if it passes the NaCl self-test; returns
 * whether it did. Called automatically on first use (unless AXL_SESSION_CRYPTO is js or wasm).
 */
export function useSodiumNative (mod: unknown): boolean {
  try {
    const n = nativeBackend(mod)
    if (!selfTest(n)) return false
    native = n
    const dh = mod as Partial<SodiumDh>
    if (typeof dh.crypto_box_keypair === 'function' && typeof dh.crypto_scalarmult === 'function' && dhSelfTest(dh as SodiumDh)) sodiumDh = dh as SodiumDh
    return true
  } catch {
    return false
  }
}

/** Loads `sodium-native` (synchronously) and enables the native backend; false where it is unavailable. */
export function loadSodiumNative (): boolean {
  if (native !== undefined) return true
  const mod = importSodiumNative()
  return mod !== undefined && useSodiumNative(mod)
}

let loading: Promise<boolean> | undefined
/** Loads libsodium-wrappers (once) and enables the WASM backend; resolves false where it is unavailable. */
export async function loadSodium (): Promise<boolean> {
  loading ??= importRawSodium().then(raw => raw !== undefined && useSodium(raw), () => false)
  return await loading
}

/**
 * Resolves when backend loading has settled; returns the backend used for large messages. With the native
 * backend in use this resolves at once (the WASM module is then not loaded unless loadSodium() is called).
 */
export async function sessionCryptoReady (): Promise<CipherBackend> {
  autoLoad()
  if (native === undefined) await loadSodium()
  return cipherBackend()
}

/** The backend in use for messages ≥ WASM_MIN_BYTES (native, when loaded, for every size). */
export function cipherBackend (): CipherBackend {
  autoLoad()
  return forced ?? (native !== undefined ? 'native' : wasm !== undefined ? 'wasm' : 'js')
}

/** The backends loaded and self-tested so far ('js' is always available). */
export function cipherBackends (): CipherBackend[] {
  autoLoad()
  return [...(native !== undefined ? ['native' as const] : []), ...(wasm !== undefined ? ['wasm' as const] : []), 'js']
}

/**
 * Forces a backend (it must be loaded: 'native' and 'wasm' fall back to 'js' otherwise) or restores automatic
 * choice (undefined); for tests and benchmarks.
 */
export function setCipherBackend (b: CipherBackend | undefined): void {
  autoLoad() // first, so that the environment's choice does not override this one later
  forced = b
}

/** The libsodium implementation to use for a `len`-byte message, or undefined for the JS one. */
function useSodiumBox (len: number): WasmBox | undefined {
  autoLoad()
  switch (forced) {
    case 'js': return undefined
    case 'wasm': return wasm
    case 'native': return native
  }
  return native ?? (len >= WASM_MIN_BYTES ? wasm : undefined)
}

// ---- seal / open ----

/**
 * Seals the concatenation of `parts` under (key, counter nonce). Returns a new buffer of
 * `headroom + 16 + Σ|parts|` bytes: `headroom` zero bytes left for the caller (a header), then tag ‖ body.
 */
export function sealParts (key: BoxKey, counter: bigint, headroom: number, parts: readonly Uint8Array[]): Uint8Array {
  let len = 0
  for (const p of parts) len += p.length
  const total = headroom + BOX_OVERHEAD + len
  const w = useSodiumBox(len)
  if (w !== undefined) {
    // libsodium writes every byte of tag ‖ body, so skip zero-filling the (up to 64 KiB) buffer; only the
    // headroom is cleared. An unpooled buffer, handed out as a plain Uint8Array (Buffer's slice() is a view).
    const b = Buffer.allocUnsafeSlow(total)
    const out = new Uint8Array(b.buffer, b.byteOffset, total)
    out.fill(0, 0, headroom)
    const c = counter & MASK64
    w.sealCounter(key.shared, Number(c >> 32n), Number(c & 0xffffffffn), parts, len, out, headroom)
    return out
  }
  // noble seals into a (32 + len)-byte output: 16 scratch bytes it leaves zero, the tag, then the body. Place
  // that output so its scratch ends where our tag starts (overlapping the headroom, with `front` spare bytes
  // when the headroom is under 16) and starts 4-byte aligned (noble's word-wise fast path).
  const front0 = Math.max(0, BOX_OVERHEAD - headroom)
  const front = front0 + ((4 - ((front0 + headroom) & 3)) & 3)
  const ab = new ArrayBuffer(front + total)
  const scratch = new Uint8Array(ab, front + headroom - BOX_OVERHEAD, len + 2 * BOX_OVERHEAD)
  const body = scratch.subarray(2 * BOX_OVERHEAD)
  let o = 0
  for (const p of parts) { body.set(p, o); o += p.length }
  xsalsa20poly1305(key.shared, nonceForCounter(counter)).encrypt(body, scratch)
  return new Uint8Array(ab, front, total)
}

/** NaCl `box.SealAfterPrecomputation(msg, nonce(counter), key)`: tag ‖ body. */
export function boxSeal (key: BoxKey, counter: bigint, msg: Uint8Array): Uint8Array {
  return sealParts(key, counter, 0, [msg])
}

/**
 * NaCl `box.OpenAfterPrecomputation` of `boxed[off ..]` (tag ‖ body): the plaintext in a fresh buffer, or
 * undefined if it is shorter than a tag or does not authenticate. Never throws. With `inPlace` (the caller
 * owns `boxed` and gives it up), a backend that can decrypts into `boxed` and returns a view of it.
 */
export function boxOpen (key: BoxKey, counter: bigint, boxed: Uint8Array, off = 0, inPlace = false): Uint8Array | undefined {
  const total = boxed.length - off
  if (total < BOX_OVERHEAD) return undefined
  const w = useSodiumBox(total - BOX_OVERHEAD)
  if (w !== undefined) {
    const c = counter & MASK64
    if (inPlace && w.openCounterInPlace !== undefined) return w.openCounterInPlace(key.shared, Number(c >> 32n), Number(c & 0xffffffffn), boxed, off, total)
    return w.openCounter(key.shared, Number(c >> 32n), Number(c & 0xffffffffn), boxed, off, total)
  }
  try {
    return xsalsa20poly1305(key.shared, nonceForCounter(counter)).decrypt(boxed.subarray(off))
  } catch {
    return undefined // noble throws on a tag that does not authenticate
  }
}
