/**
 * The two DER wrappings node:crypto needs to import raw ed25519 keys (RFC 8410): PKCS#8 around a 32-byte seed
 * and SubjectPublicKeyInfo around a 32-byte public key. One place for the fixed prefixes every package used.
 */
import { Buffer } from 'node:buffer'
import { InvalidKeyError } from './errors.js'

/** DER of PKCS#8 `PrivateKeyInfo { v1, id-Ed25519, OCTET STRING(OCTET STRING(seed)) }` up to the seed. */
const PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex')
/** DER of `SubjectPublicKeyInfo { id-Ed25519, BIT STRING(pub) }` up to the key. */
const SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex')

function check32 (what: string, b: Uint8Array): void {
  if (!(b instanceof Uint8Array) || b.length !== 32) {
    throw new InvalidKeyError(`${what} must be a 32-byte Uint8Array, got ${b instanceof Uint8Array ? `${b.length} bytes` : typeof b}`)
  }
}

/** PKCS#8 DER (48 bytes) of an ed25519 seed, for createPrivateKey({ format: 'der', type: 'pkcs8' }); secret: zero it after use. */
export function ed25519PrivateKeyDer (seed: Uint8Array): Buffer {
  check32('ed25519 seed', seed)
  return Buffer.concat([PKCS8_PREFIX, seed])
}

/** SubjectPublicKeyInfo DER (44 bytes) of a raw ed25519 public key, for createPublicKey({ format: 'der', type: 'spki' }). */
export function ed25519PublicKeyDer (publicKey: Uint8Array): Buffer {
  check32('ed25519 public key', publicKey)
  return Buffer.concat([SPKI_PREFIX, publicKey])
}

/** The seed inside a canonical 48-byte ed25519 PKCS#8 DER (what OpenSSL exports), or undefined for any other encoding. */
export function ed25519SeedFromPrivateKeyDer (der: Uint8Array): Uint8Array | undefined {
  if (der.length !== PKCS8_PREFIX.length + 32 || !PKCS8_PREFIX.equals(der.subarray(0, PKCS8_PREFIX.length))) return undefined
  return new Uint8Array(der.subarray(PKCS8_PREFIX.length))
}
