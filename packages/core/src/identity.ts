/**
 * Node identity: an ed25519 key pair, loaded from the PKCS#8 PEM that `openssl genpkey -algorithm ed25519`
 * writes (AXL's `PrivateKeyPath`) or from Yggdrasil's `PrivateKey` hex (seed‖pub), plus fast sign/verify
 * on node:crypto with cached KeyObjects.
 *
 * Node 20 can deadlock in `KeyObject.export({ format: 'jwk' })` for ed25519 keys, so keys are only ever
 * exported as DER here. Public keys are imported via JWK (10× faster than DER on OpenSSL 3.0).
 */
import { Buffer } from 'node:buffer'
import {
  createPrivateKey, createPublicKey, randomBytes, sign as cryptoSign, verify as cryptoVerify, type KeyObject
} from 'node:crypto'
import { open, rename, readFile, unlink } from 'node:fs/promises'
import { inspect } from 'node:util'
import { addressStringForKey } from './address.js'
import { ed25519PrivateKeyDer, ed25519PublicKeyDer, ed25519SeedFromPrivateKeyDer } from './ed25519-der.js'
import { ConfigError, InvalidKeyError } from './errors.js'
import { peerIdFromBytes, type PeerId } from './peer-id.js'
import { defaultLogger } from '@libp2p/logger'

const log = defaultLogger().forComponent('axl:identity')

/** Length of an ed25519 private seed in bytes. */
export const SEED_LENGTH = 32
/** Length of an ed25519 signature in bytes. */
export const SIGNATURE_LENGTH = 64

const PUBLIC_KEY_LENGTH = 32
const PEM_TYPE = 'PRIVATE KEY'

/** A node's ed25519 identity. `seed` is the private key: treat it (and `toPem`/`toYggdrasilHex`) as secret. */
export interface Identity {
  /** The 32-byte ed25519 public key. */
  readonly publicKey: Uint8Array
  /** Lowercase hex of the public key. */
  readonly peerId: PeerId
  /** The Yggdrasil IPv6 address (200::/7) of the key, as text. */
  readonly address: string
  /** The 32-byte private seed; treat as secret. */
  readonly seed: Uint8Array
  /** Signs `data` (pure ed25519, RFC 8032); returns the 64-byte signature. */
  sign: (data: Uint8Array) => Uint8Array
  /** PKCS#8 PEM, byte-identical to what `openssl genpkey -algorithm ed25519` writes. */
  toPem: () => string
  /** Yggdrasil's `PrivateKey` config form: 128 lowercase hex characters, seed‖public key. */
  toYggdrasilHex: () => string
}

/** Zero-copy Buffer view of a Uint8Array. */
function buf (u: Uint8Array): Buffer {
  return Buffer.from(u.buffer, u.byteOffset, u.byteLength)
}

/** Plain (non-pooled, non-Buffer) copy of bytes. */
function plain (u: Uint8Array): Uint8Array {
  const out = new Uint8Array(u.length)
  out.set(u)
  return out
}

/** Imports a seed as a node:crypto private KeyObject via PKCS#8 DER, and derives the public key via SPKI DER. */
function keysFromSeed (seed: Uint8Array): { privateKey: KeyObject, publicKey: Uint8Array } {
  const der = ed25519PrivateKeyDer(seed)
  const privateKey = createPrivateKey({ key: der, format: 'der', type: 'pkcs8' })
  der.fill(0)
  const spki = createPublicKey(privateKey).export({ format: 'der', type: 'spki' })
  return { privateKey, publicKey: plain(spki.subarray(spki.length - PUBLIC_KEY_LENGTH)) }
}

class IdentityImpl implements Identity {
  readonly publicKey: Uint8Array
  readonly peerId: PeerId
  readonly address: string
  readonly seed: Uint8Array
  readonly #privateKey: KeyObject

  constructor (seed: Uint8Array, privateKey: KeyObject, publicKey: Uint8Array) {
    this.seed = seed
    this.#privateKey = privateKey
    this.publicKey = publicKey
    this.peerId = peerIdFromBytes(publicKey)
    this.address = addressStringForKey(publicKey)
    // Keep the seed out of JSON.stringify / console.log / for-in.
    Object.defineProperty(this, 'seed', { enumerable: false })
  }

  sign (data: Uint8Array): Uint8Array {
    const sig = cryptoSign(null, data, this.#privateKey)
    return new Uint8Array(sig.buffer, sig.byteOffset, sig.byteLength)
  }

  toPem (): string {
    const der = ed25519PrivateKeyDer(this.seed)
    const b64 = der.toString('base64')
    der.fill(0)
    const lines: string[] = []
    for (let i = 0; i < b64.length; i += 64) lines.push(b64.slice(i, i + 64))
    return `-----BEGIN ${PEM_TYPE}-----\n${lines.join('\n')}\n-----END ${PEM_TYPE}-----\n`
  }

  toYggdrasilHex (): string {
    return buf(this.seed).toString('hex') + buf(this.publicKey).toString('hex')
  }

  /** JSON form without the secret. */
  toJSON (): { peerId: string, address: string } {
    return { peerId: this.peerId, address: this.address }
  }

  [inspect.custom] (): string {
    return `Identity { peerId: '${this.peerId}', address: '${this.address}' }`
  }
}

/** Creates a fresh random identity (node:crypto CSPRNG). */
export function generateIdentity (): Identity {
  return identityFromSeed(randomBytes(SEED_LENGTH))
}

/** Creates the identity of a 32-byte ed25519 private seed (the seed is copied); throws InvalidKeyError. */
export function identityFromSeed (seed: Uint8Array): Identity {
  if (!(seed instanceof Uint8Array)) {
    throw new InvalidKeyError(`ed25519 seed must be a Uint8Array of ${SEED_LENGTH} bytes, got ${seed === null ? 'null' : typeof seed}`)
  }
  if (seed.length !== SEED_LENGTH) {
    throw new InvalidKeyError(`ed25519 seed must be ${SEED_LENGTH} bytes, got ${seed.length} bytes`)
  }
  const own = plain(seed)
  const { privateKey, publicKey } = keysFromSeed(own)
  return new IdentityImpl(own, privateKey, publicKey)
}

const PEM_BEGIN = /-----BEGIN ([^\r\n]*?)-----[ \t]*\r?\n/g
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/

/** Finds the first well-formed PEM block like Go's `pem.Decode`; returns its type and bytes, or undefined. */
function decodePem (pem: string): { type: string, der: Buffer } | undefined {
  PEM_BEGIN.lastIndex = 0
  for (let m = PEM_BEGIN.exec(pem); m !== null; m = PEM_BEGIN.exec(pem)) {
    const type = m[1]
    const bodyStart = PEM_BEGIN.lastIndex
    const endMarker = `-----END ${type}-----`
    const end = pem.indexOf(endMarker, bodyStart)
    if (end < 0) continue
    const body = pem.slice(bodyStart, end).replace(/[ \t\r\n]+/g, '')
    if (body.length % 4 !== 0 || !BASE64.test(body)) continue
    return { type, der: Buffer.from(body, 'base64') }
  }
  return undefined
}

/**
 * Loads the identity of a PKCS#8 PEM private key as `openssl genpkey -algorithm ed25519` writes it. Errors
 * (InvalidKeyError) follow Yggdrasil: `failed to parse PEM file`, `unexpected PEM type "..."`,
 * `failed to unmarshal PKCS8 key: ...`, `private key must be ed25519 key`.
 */
export function identityFromPem (pem: string): Identity {
  if (typeof pem !== 'string') throw new InvalidKeyError('failed to parse PEM file: expected a string')
  const block = decodePem(pem)
  if (block === undefined) throw new InvalidKeyError('failed to parse PEM file')
  if (block.type !== PEM_TYPE) {
    throw new InvalidKeyError(`unexpected PEM type ${JSON.stringify(block.type)} (expected "${PEM_TYPE}", e.g. from \`openssl genpkey -algorithm ed25519\`)`)
  }
  let key: KeyObject
  try {
    key = createPrivateKey({ key: block.der, format: 'der', type: 'pkcs8' })
  } catch (err) {
    throw new InvalidKeyError(`failed to unmarshal PKCS8 key: ${(err as Error).message}`, { cause: err })
  }
  if (key.asymmetricKeyType !== 'ed25519') {
    throw new InvalidKeyError(`private key must be ed25519 key (got ${key.asymmetricKeyType ?? 'unknown'})`)
  }
  // Re-export as DER (never JWK): OpenSSL writes the canonical 48-byte RFC 8410 form, seed last.
  const der = key.export({ format: 'der', type: 'pkcs8' })
  const seed = ed25519SeedFromPrivateKeyDer(der)
  der.fill(0)
  if (seed === undefined) throw new InvalidKeyError('failed to unmarshal PKCS8 key: unexpected ed25519 PKCS#8 encoding')
  const spki = createPublicKey(key).export({ format: 'der', type: 'spki' })
  return new IdentityImpl(seed, key, plain(spki.subarray(spki.length - PUBLIC_KEY_LENGTH)))
}

/**
 * Loads Yggdrasil's `PrivateKey` config form: 128 hex characters = 32-byte seed ‖ 32-byte public key (upper
 * case and surrounding whitespace accepted). Throws InvalidKeyError if the public half does not match the seed.
 */
export function identityFromYggdrasilHex (hex: string): Identity {
  if (typeof hex !== 'string') {
    throw new InvalidKeyError(`Yggdrasil private key must be a hex string, got ${hex === null ? 'null' : typeof hex}`)
  }
  const t = hex.trim()
  const want = (SEED_LENGTH + PUBLIC_KEY_LENGTH) * 2
  if (t.length !== want) {
    throw new InvalidKeyError(`Yggdrasil private key must be ${want} hex characters (64 bytes: seed + public key), got ${t.length} characters`)
  }
  const bad = /[^0-9a-fA-F]/.exec(t)
  if (bad !== null) {
    throw new InvalidKeyError(`Yggdrasil private key: non-hex character ${JSON.stringify(bad[0])} at position ${bad.index}`)
  }
  const bytes = Buffer.from(t, 'hex')
  const id = identityFromSeed(bytes.subarray(0, SEED_LENGTH))
  const pubHex = bytes.subarray(SEED_LENGTH).toString('hex')
  bytes.fill(0)
  if (pubHex !== id.peerId) {
    throw new InvalidKeyError(`Yggdrasil private key: the public half ${pubHex} does not match the seed (expected ${id.peerId})`)
  }
  return id
}

/** Reads a PKCS#8 PEM identity file; errors (InvalidKeyError) name the path. */
export async function loadIdentity (path: string): Promise<Identity> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    throw new InvalidKeyError(`cannot read identity file "${path}": ${code ?? (err as Error).message}`, { cause: err })
  }
  try {
    return identityFromPem(text)
  } catch (err) {
    throw new InvalidKeyError(`invalid identity file "${path}": ${(err as Error).message}`, { cause: err })
  }
}

/** Options of saveIdentity. */
export interface SaveIdentityOptions {
  /** Replace an existing file (atomically, via a temporary file and rename). Default false. */
  overwrite?: boolean
}

/**
 * Writes the identity as a PKCS#8 PEM file with mode 0600. Refuses (ConfigError) to replace an existing file
 * unless `{ overwrite: true }`.
 */
export async function saveIdentity (identity: Identity, path: string, options: SaveIdentityOptions = {}): Promise<void> {
  const pem = identity.toPem()
  const target = options.overwrite === true
    ? `${path}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`
    : path
  let fh
  try {
    fh = await open(target, 'wx', 0o600)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST' && target === path) {
      throw new ConfigError(`refusing to overwrite existing identity file "${path}" (pass { overwrite: true })`)
    }
    throw err
  }
  try {
    await fh.chmod(0o600)
    await fh.writeFile(pem, 'utf8')
    await fh.sync()
  } catch (err) {
    await fh.close().catch((e: unknown) => { log('closing %s after a failed write: %s', target, String(e)) })
    await unlink(target).catch((e: unknown) => { log('removing %s after a failed write: %s', target, String(e)) })
    throw err
  }
  await fh.close()
  if (target !== path) {
    try {
      await rename(target, path)
    } catch (err) {
      await unlink(target).catch((e: unknown) => { log('removing %s after a failed rename: %s', target, String(e)) })
      throw err
    }
  }
}

/** Maximum number of public KeyObjects kept by publicKeyObject(). */
export const PUBLIC_KEY_CACHE_SIZE = 4096
const publicKeyCache = new Map<string, KeyObject>()

/** Returns a node:crypto KeyObject for a 32-byte ed25519 public key, from a bounded LRU cache; throws InvalidKeyError. */
export function publicKeyObject (publicKey: Uint8Array): KeyObject {
  if (!(publicKey instanceof Uint8Array) || publicKey.length !== PUBLIC_KEY_LENGTH) {
    const got = publicKey instanceof Uint8Array ? `${publicKey.length} bytes` : (publicKey === null ? 'null' : typeof publicKey)
    throw new InvalidKeyError(`ed25519 public key must be ${PUBLIC_KEY_LENGTH} bytes, got ${got}`)
  }
  const b = buf(publicKey)
  const id = b.toString('hex')
  let key = publicKeyCache.get(id)
  if (key !== undefined) {
    publicKeyCache.delete(id)
    publicKeyCache.set(id, key)
    return key
  }
  try {
    key = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: b.toString('base64url') }, format: 'jwk' })
  } catch (err) {
    // Fall back to DER in case the JWK import path rejects the key.
    try {
      key = createPublicKey({ key: ed25519PublicKeyDer(b), format: 'der', type: 'spki' })
    } catch {
      throw new InvalidKeyError(`invalid ed25519 public key ${id}: ${(err as Error).message}`, { cause: err })
    }
  }
  if (publicKeyCache.size >= PUBLIC_KEY_CACHE_SIZE) {
    const oldest = publicKeyCache.keys().next().value
    if (oldest !== undefined) publicKeyCache.delete(oldest)
  }
  publicKeyCache.set(id, key)
  return key
}

/** Verifies an ed25519 signature; returns false (never throws) for wrong lengths, bad keys or bad signatures. */
export function verify (publicKey: Uint8Array, data: Uint8Array, signature: Uint8Array): boolean {
  if (!(publicKey instanceof Uint8Array) || publicKey.length !== PUBLIC_KEY_LENGTH) return false
  if (!(signature instanceof Uint8Array) || signature.length !== SIGNATURE_LENGTH) return false
  if (!(data instanceof Uint8Array)) return false
  try {
    return cryptoVerify(null, data, publicKeyObject(publicKey), signature)
  } catch {
    return false
  }
}
