/**
 * Optional WASM backend for XSalsa20-Poly1305: libsodium (the `libsodium-wrappers` npm package, WASM build of
 * libsodium 1.0.x). It is the fastest byte-identical implementation measured here for messages of a few hundred
 * bytes and up (see bench/session-crypto). We call the raw emscripten exports (`_crypto_box_easy_afternm`,
 * `_crypto_box_open_easy_afternm`) on persistent heap buffers, so a message costs one copy in and one copy out.
 *
 * Loading is asynchronous (WASM instantiation), so `session/crypto.ts` starts on its pure-JS backend
 * (@noble/ciphers) and switches once `loadSodium()` has resolved AND the module reproduced a known NaCl vector
 * byte for byte.
 */

/** The raw emscripten module surface we use (a subset of `sodium.libsodium`). */
export interface RawSodium {
  HEAPU8: Uint8Array
  _malloc: (n: number) => number
  _free: (p: number) => void
  _crypto_box_easy_afternm: (c: number, m: number, mlenLo: number, mlenHi: number, n: number, k: number) => number
  _crypto_box_open_easy_afternm: (m: number, c: number, clenLo: number, clenHi: number, n: number, k: number) => number
}

/** Seal/open on libsodium's heap; created by `wasmBackend(raw)`. */
export interface WasmBox {
  /** Writes tag ‖ body of `parts` (concatenated) sealed under (key, nonce24) into `out[outOff..]`. */
  seal: (key: Uint8Array, nonce: Uint8Array, parts: readonly Uint8Array[], len: number, out: Uint8Array, outOff: number) => void
  /** Opens `boxed[off .. off+total)`; returns the plaintext in a fresh buffer or undefined. */
  open: (key: Uint8Array, nonce: Uint8Array, boxed: Uint8Array, off: number, total: number) => Uint8Array | undefined
  /** `seal` with ironwood's nonce 0^16 ‖ BE64(hi·2^32 + lo), written straight into the heap (no allocation). */
  sealCounter: (key: Uint8Array, hi: number, lo: number, parts: readonly Uint8Array[], len: number, out: Uint8Array, outOff: number) => void
  /** `open` with ironwood's counter nonce. */
  openCounter: (key: Uint8Array, hi: number, lo: number, boxed: Uint8Array, off: number, total: number) => Uint8Array | undefined
  /**
   * Optional: `openCounter` decrypting in place, the plaintext a view of `boxed` after the tag. `boxed` is
   * left unchanged when it does not authenticate.
   */
  openCounterInPlace?: (key: Uint8Array, hi: number, lo: number, boxed: Uint8Array, off: number, total: number) => Uint8Array | undefined
}

function isRaw (x: unknown): x is RawSodium {
  const r = x as Partial<RawSodium> | null | undefined
  return r != null && typeof r._malloc === 'function' && typeof r._free === 'function' &&
    typeof r._crypto_box_easy_afternm === 'function' && typeof r._crypto_box_open_easy_afternm === 'function' &&
    r.HEAPU8 instanceof Uint8Array
}

/** Wraps a raw libsodium module; throws if it lacks the exports we need. */
export function wasmBackend (raw: unknown): WasmBox {
  if (!isRaw(raw)) throw new TypeError('not a raw libsodium module')
  const L = raw
  const keyPtr = L._malloc(32)
  const noncePtr = L._malloc(24)
  let cap = 0
  let inPtr = 0
  let outPtr = 0
  function ensure (n: number): void {
    if (n <= cap) return
    if (cap > 0) { L._free(inPtr); L._free(outPtr) }
    cap = Math.max(n, 2048, cap * 2)
    inPtr = L._malloc(cap)
    outPtr = L._malloc(cap)
    if (inPtr === 0 || outPtr === 0) { cap = 0; throw new RangeError('libsodium heap exhausted') }
  }
  // The key last written to the heap (by identity): a session seals many messages under one key.
  let lastKey: Uint8Array | undefined
  function setKey (H: Uint8Array, key: Uint8Array): void {
    if (key !== lastKey) { H.set(key, keyPtr); lastKey = key }
  }
  function setCounter (H: Uint8Array, hi: number, lo: number): void {
    H.fill(0, noncePtr, noncePtr + 16)
    H[noncePtr + 16] = hi >>> 24; H[noncePtr + 17] = hi >>> 16; H[noncePtr + 18] = hi >>> 8; H[noncePtr + 19] = hi
    H[noncePtr + 20] = lo >>> 24; H[noncePtr + 21] = lo >>> 16; H[noncePtr + 22] = lo >>> 8; H[noncePtr + 23] = lo
  }
  function doSeal (parts: readonly Uint8Array[], len: number, out: Uint8Array, outOff: number): void {
    let p = inPtr
    let H = L.HEAPU8
    for (const part of parts) { H.set(part, p); p += part.length }
    L._crypto_box_easy_afternm(outPtr, inPtr, len, 0, noncePtr, keyPtr)
    H = L.HEAPU8 // the heap may have grown
    out.set(H.subarray(outPtr, outPtr + len + 16), outOff)
  }
  function doOpen (boxed: Uint8Array, off: number, total: number): Uint8Array | undefined {
    L.HEAPU8.set(boxed.subarray(off, off + total), inPtr)
    const rc = L._crypto_box_open_easy_afternm(outPtr, inPtr, total, 0, noncePtr, keyPtr)
    if (rc !== 0) return undefined
    return L.HEAPU8.slice(outPtr, outPtr + total - 16)
  }
  return {
    seal (key, nonce, parts, len, out, outOff) {
      ensure(len + 16)
      const H = L.HEAPU8
      lastKey = undefined
      H.set(key, keyPtr)
      H.set(nonce, noncePtr)
      doSeal(parts, len, out, outOff)
    },
    open (key, nonce, boxed, off, total) {
      if (total < 16) return undefined
      ensure(total)
      const H = L.HEAPU8
      lastKey = undefined
      H.set(key, keyPtr)
      H.set(nonce, noncePtr)
      return doOpen(boxed, off, total)
    },
    sealCounter (key, hi, lo, parts, len, out, outOff) {
      ensure(len + 16)
      const H = L.HEAPU8
      setKey(H, key)
      setCounter(H, hi, lo)
      doSeal(parts, len, out, outOff)
    },
    openCounter (key, hi, lo, boxed, off, total) {
      if (total < 16) return undefined
      ensure(total)
      const H = L.HEAPU8
      setKey(H, key)
      setCounter(H, hi, lo)
      return doOpen(boxed, off, total)
    }
  }
}

/** Imports `libsodium-wrappers` and waits for its WASM; returns the raw module, or undefined if unavailable. */
export async function importRawSodium (): Promise<unknown> {
  try {
    const mod = await import('libsodium-wrappers') as unknown as { default?: { ready: Promise<void>, libsodium?: unknown }, ready?: Promise<void>, libsodium?: unknown }
    const s = mod.default ?? mod
    await s.ready
    return s.libsodium
  } catch {
    return undefined
  }
}
