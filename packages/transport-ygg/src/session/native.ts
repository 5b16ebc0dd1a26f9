/**
 * Optional native backend for XSalsa20-Poly1305: libsodium through the `sodium-native` N-API addon (prebuilt
 * binaries ship inside the npm package, so it installs without a compiler). It is several times faster than the
 * WASM build and needs no heap round trip: it seals straight into the caller's output buffer (in place, after
 * one copy of the parts) and opens straight from the received packet into the plaintext buffer.
 *
 * NaCl `box.SealAfterPrecomputation` is `crypto_secretbox` under the precomputed key (that is what libsodium's
 * `crypto_box_easy_afternm` calls), so we use `crypto_secretbox_detached` / `crypto_secretbox_open_detached`
 * with the tag written in front of the body: byte-identical to the other backends.
 *
 * Loading is synchronous (`require`), so `session/crypto.ts` can select it on first use, synchronously; it is only used
 * after it reproduced a known NaCl vector (the same self-test as the WASM backend).
 */
import { Buffer } from 'node:buffer'
import { createRequire } from 'node:module'
import type { WasmBox } from './sodium.js'

/** The subset of `sodium-native` we call. */
export interface SodiumNative {
  crypto_secretbox_detached: (c: Uint8Array, mac: Uint8Array, m: Uint8Array, n: Uint8Array, k: Uint8Array) => void
  crypto_secretbox_open_detached: (m: Uint8Array, c: Uint8Array, mac: Uint8Array, n: Uint8Array, k: Uint8Array) => boolean
}

function isNative (x: unknown): x is SodiumNative {
  const s = x as Partial<SodiumNative> | null | undefined
  return s != null && typeof s.crypto_secretbox_detached === 'function' && typeof s.crypto_secretbox_open_detached === 'function'
}

/**
 * Wraps a loaded `sodium-native` module as a cipher backend with the same surface as the WASM one
 * (`WasmBox`); throws if it lacks the functions we need.
 */
export function nativeBackend (mod: unknown): WasmBox {
  if (!isNative(mod)) throw new TypeError('not a sodium-native module')
  const S = mod
  // Scratch nonce for the counter calls: bytes 0..15 stay zero (ironwood's nonce layout), 16..23 = BE64 counter.
  // Safe to share: every call is synchronous.
  const counterNonce = new Uint8Array(24)

  /** tag ‖ body of the concatenated parts into out[outOff ..]; one part is read in place, several are copied first. */
  function seal (key: Uint8Array, nonce: Uint8Array, parts: readonly Uint8Array[], len: number, out: Uint8Array, outOff: number): void {
    const mac = out.subarray(outOff, outOff + 16)
    const body = out.subarray(outOff + 16, outOff + 16 + len)
    if (parts.length === 1) {
      S.crypto_secretbox_detached(body, mac, parts[0], nonce, key)
      return
    }
    let o = 0
    for (const p of parts) { body.set(p, o); o += p.length }
    S.crypto_secretbox_detached(body, mac, body, nonce, key) // in place (c === m is supported by libsodium)
  }

  function open (key: Uint8Array, nonce: Uint8Array, boxed: Uint8Array, off: number, total: number): Uint8Array | undefined {
    if (total < 16) return undefined
    // allocUnsafeSlow: an unpooled, unzeroed buffer (every byte is written below); handed out as a plain
    // Uint8Array so callers never get Buffer's view-returning slice().
    const b = Buffer.allocUnsafeSlow(total - 16)
    const m = new Uint8Array(b.buffer, b.byteOffset, total - 16)
    const ok = S.crypto_secretbox_open_detached(m, boxed.subarray(off + 16, off + total), boxed.subarray(off, off + 16), nonce, key)
    return ok ? m : undefined
  }

  function setCounter (hi: number, lo: number): Uint8Array {
    const n = counterNonce
    n[16] = hi >>> 24; n[17] = hi >>> 16; n[18] = hi >>> 8; n[19] = hi
    n[20] = lo >>> 24; n[21] = lo >>> 16; n[22] = lo >>> 8; n[23] = lo
    return n
  }

  return {
    seal,
    open,
    sealCounter (key, hi, lo, parts, len, out, outOff) { seal(key, setCounter(hi, lo), parts, len, out, outOff) },
    openCounter (key, hi, lo, boxed, off, total) { return open(key, setCounter(hi, lo), boxed, off, total) },
    openCounterInPlace (key, hi, lo, boxed, off, total) {
      if (total < 16) return undefined
      const body = boxed.subarray(off + 16, off + total)
      // libsodium checks the tag before it writes anything, and supports m === c.
      return S.crypto_secretbox_open_detached(body, body, boxed.subarray(off, off + 16), setCounter(hi, lo), key) ? body : undefined
    }
  }
}

/** Loads `sodium-native` synchronously; undefined where it is not installed or its addon does not load. */
export function importSodiumNative (): unknown {
  try {
    return createRequire(import.meta.url)('sodium-native')
  } catch {
    return undefined
  }
}
