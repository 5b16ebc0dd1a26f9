/**
 * The overlay's signing adapter and key helpers. The network layer needs only "sign with my key" and
 * "verify with that key", so it takes a tiny `Signer` plus a `VerifyFn` instead of a full identity.
 * Real ed25519 (node:crypto) is the default; a fast fake exists ONLY for large simulations.
 *
 * Keys inside the router are "key strings": the 32 key bytes as a latin1 string. They are compact,
 * usable as Map keys, and compare with `<` exactly like ironwood's byte-wise `publicKey.less`.
 */
import { Buffer } from 'node:buffer'
import { createPrivateKey, createPublicKey, randomBytes, sign as cryptoSign, verify as cryptoVerify, type KeyObject } from 'node:crypto'
import { ConfigError } from '@axl/core'
import { ed25519PrivateKeyDer, ed25519PublicKeyDer } from '@axl/core/wire'

/** Something that holds an ed25519 private key: its public key and a signing function. */
export interface Signer {
  /** The 32-byte ed25519 public key. */
  readonly publicKey: Uint8Array
  /** Signs `data` (pure ed25519); returns 64 bytes. */
  sign: (data: Uint8Array) => Uint8Array
}

/** Verifies an ed25519 signature; must return false (never throw) on malformed input. */
export type VerifyFn = (publicKey: Uint8Array, data: Uint8Array, sig: Uint8Array) => boolean

/** A 32-byte key as a latin1 string (see the module comment). */
export type KeyStr = string


const fromCharCode = String.fromCharCode

/** The latin1 key string of 32 key bytes (one flat string, built without a Buffer: this runs per packet). */
export function keyStr (k: Uint8Array): KeyStr {
  if (k.length !== 32) return Buffer.from(k.buffer, k.byteOffset, k.byteLength).toString('latin1')
  return fromCharCode(k[0], k[1], k[2], k[3], k[4], k[5], k[6], k[7], k[8], k[9], k[10], k[11], k[12], k[13], k[14], k[15],
    k[16], k[17], k[18], k[19], k[20], k[21], k[22], k[23], k[24], k[25], k[26], k[27], k[28], k[29], k[30], k[31])
}

/** The bytes of a key string (a fresh, plain Uint8Array). */
export function keyBytes (k: KeyStr): Uint8Array {
  const b = Buffer.from(k, 'latin1')
  const out = new Uint8Array(b.length)
  out.set(b)
  return out
}

/** Lowercase hex of a key string. */
export function keyHex (k: KeyStr): string {
  return Buffer.from(k, 'latin1').toString('hex')
}

/** An ed25519 signer on node:crypto from a 32-byte seed (random when omitted). */
export function ed25519Signer (seed: Uint8Array = randomBytes(32)): Signer {
  if (seed.length !== 32) throw new ConfigError(`ed25519 seed must be 32 bytes, got ${seed.length}`)
  const der = ed25519PrivateKeyDer(seed)
  const priv = createPrivateKey({ key: der, format: 'der', type: 'pkcs8' })
  der.fill(0)
  const spki = createPublicKey(priv).export({ format: 'der', type: 'spki' })
  const publicKey = new Uint8Array(spki.subarray(spki.length - 32))
  return {
    publicKey,
    sign: (data) => new Uint8Array(cryptoSign(null, data, priv))
  }
}

/** A VerifyFn on node:crypto that caches up to `cacheSize` imported public keys. */
export function ed25519Verifier (cacheSize = 1024): VerifyFn {
  const cache = new Map<string, KeyObject>()
  return (publicKey, data, sig) => {
    if (publicKey.length !== 32 || sig.length !== 64) return false
    const k = keyStr(publicKey)
    let ko = cache.get(k)
    if (ko === undefined) {
      try {
        ko = createPublicKey({ key: ed25519PublicKeyDer(publicKey), format: 'der', type: 'spki' })
      } catch {
        return false
      }
      if (cache.size >= cacheSize) cache.delete(cache.keys().next().value as string)
      cache.set(k, ko)
    }
    try {
      return cryptoVerify(null, data, ko, sig)
    } catch {
      return false
    }
  }
}

let defaultVerifier: VerifyFn | undefined
/** The process-wide default VerifyFn (real ed25519, shared key cache). */
export function defaultVerify (): VerifyFn {
  defaultVerifier ??= ed25519Verifier()
  return defaultVerifier
}

const ZERO_SIG = new Uint8Array(64)

/**
 * INSECURE, simulation only: a "signer" whose signatures are 64 zero bytes and a verifier that accepts
 * everything. Lets 10,000-node benchmarks skip ~3 ed25519 operations per tree message. Never use it on
 * a real network; nothing in the SDK uses it by default.
 */
export function INSECURE_simulationCrypto (publicKey: Uint8Array): { signer: Signer, verify: VerifyFn } {
  return {
    signer: { publicKey, sign: () => ZERO_SIG },
    verify: () => true
  }
}
