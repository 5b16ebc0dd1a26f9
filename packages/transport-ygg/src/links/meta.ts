/**
 * Yggdrasil's link handshake (`meta`), byte for byte as yggdrasil-go v0.5.12 `src/core/version.go` writes it.
 * Both ends send theirs at once, then read the other's:
 *
 * ```
 * "meta" ‖ BE16 remaining length ‖ TLVs ‖ ed25519 signature(64)
 * TLV = BE16 type ‖ BE16 length ‖ value:  0 major version (BE16 0), 1 minor version (BE16 5),
 *       2 public key (32 bytes), 3 priority (1 byte)
 * signature = ed25519(BLAKE2b-512(key = password, message = public key))   (no password: unkeyed BLAKE2b)
 * ```
 *
 * 123 bytes in all. The password only changes the signed hash, so a wrong password shows as a signature that
 * does not verify (yggdrasil-go says "password does not match remote side"). Decoding is stricter than
 * v0.5.12 (as v0.5.14): a TLV that runs past the end, or a known TLV of the wrong size, is refused; unknown
 * TLV types are skipped, so later minor additions still decode.
 */
import { blake2b } from '@noble/hashes/blake2.js'
import { verify } from '@axl/core'
import { HandshakeError, IncompatibleVersionError, IncorrectPasswordError } from './errors.js'

/** The four bytes every Yggdrasil link starts with. */
export const META_PREAMBLE = Uint8Array.of(0x6d, 0x65, 0x74, 0x61) // "meta"
/** Protocol version spoken (Yggdrasil 0.5). */
export const META_VERSION_MAJOR = 0
/** Protocol version spoken (Yggdrasil 0.5). */
export const META_VERSION_MINOR = 5
/** Bytes of the fixed part before the body: preamble and the BE16 length. */
export const META_HEADER_SIZE = 6
/** Size of our encoded handshake (123 bytes). */
export const META_SIZE = 123
/** Longest password BLAKE2b accepts as a key (and yggdrasil-go allows). */
export const MAX_LINK_PASSWORD_BYTES = 64

const TLV_MAJOR = 0
const TLV_MINOR = 1
const TLV_PUBLIC_KEY = 2
const TLV_PRIORITY = 3
const SIG_SIZE = 64
const KEY_SIZE = 32

/** What the remote said about itself in its `meta` handshake. */
export interface LinkMeta {
  /** Major protocol version (0 for Yggdrasil 0.5). */
  majorVersion: number
  /** Minor protocol version (5 for Yggdrasil 0.5). */
  minorVersion: number
  /** The remote's ed25519 public key (its signature over it verified). */
  publicKey: Uint8Array
  /** The remote's link priority, 0..255 (lower is preferred). */
  priority: number
}

/** BLAKE2b-512 of the public key, keyed with the password (unkeyed when the password is empty). */
export function metaDigest (publicKey: Uint8Array, password: Uint8Array = new Uint8Array(0)): Uint8Array {
  if (password.byteLength > MAX_LINK_PASSWORD_BYTES) throw new HandshakeError(`link password is ${password.byteLength} bytes; at most ${MAX_LINK_PASSWORD_BYTES} are allowed`)
  return blake2b(publicKey, password.byteLength > 0 ? { dkLen: 64, key: password } : { dkLen: 64 })
}

/** Our `meta` handshake: version 0.5, our key and priority, signed over BLAKE2b-512(password; key). */
export function encodeMeta (opts: { publicKey: Uint8Array, sign: (data: Uint8Array) => Uint8Array, priority?: number, password?: Uint8Array }): Uint8Array {
  const priority = opts.priority ?? 0
  if (!Number.isInteger(priority) || priority < 0 || priority > 255) throw new HandshakeError(`link priority must be 0..255, got ${priority}`)
  if (opts.publicKey.byteLength !== KEY_SIZE) throw new HandshakeError('link public key must be 32 bytes')
  const out = new Uint8Array(META_SIZE)
  const dv = new DataView(out.buffer)
  out.set(META_PREAMBLE, 0)
  dv.setUint16(4, META_SIZE - META_HEADER_SIZE)
  let o = META_HEADER_SIZE
  const tlv = (type: number, len: number): void => { dv.setUint16(o, type); dv.setUint16(o + 2, len); o += 4 }
  tlv(TLV_MAJOR, 2); dv.setUint16(o, META_VERSION_MAJOR); o += 2
  tlv(TLV_MINOR, 2); dv.setUint16(o, META_VERSION_MINOR); o += 2
  tlv(TLV_PUBLIC_KEY, KEY_SIZE); out.set(opts.publicKey, o); o += KEY_SIZE
  tlv(TLV_PRIORITY, 1); out[o++] = priority
  const sig = opts.sign(metaDigest(opts.publicKey, opts.password))
  if (sig.byteLength !== SIG_SIZE) throw new HandshakeError('signer returned a signature that is not 64 bytes')
  out.set(sig, o)
  return out
}

/**
 * Length of the body that follows a 6-byte header (preamble and BE16 length); throws HandshakeError when the
 * remote is not Yggdrasil or the length cannot hold a signature.
 */
export function metaBodyLength (header: Uint8Array): number {
  for (let i = 0; i < 4; i++) {
    if (header[i] !== META_PREAMBLE[i]) throw new HandshakeError('invalid handshake: the remote side is not Yggdrasil (no "meta" preamble)')
  }
  const len = (header[4] << 8) | header[5]
  if (len < SIG_SIZE) throw new HandshakeError(`invalid handshake length ${len} (at least ${SIG_SIZE}): possible version mismatch`)
  return len
}

/**
 * Decode and verify the body of a remote `meta` handshake (what follows the 6-byte header). Throws
 * IncorrectPasswordError when the signature does not verify with our password, IncompatibleVersionError for
 * another protocol version, HandshakeError for malformed bytes.
 */
export function decodeMeta (body: Uint8Array, password?: Uint8Array): LinkMeta {
  if (body.byteLength < SIG_SIZE) throw new HandshakeError(`invalid handshake length ${body.byteLength} (at least ${SIG_SIZE})`)
  const sig = body.subarray(body.byteLength - SIG_SIZE)
  const tlvs = body.subarray(0, body.byteLength - SIG_SIZE)
  const dv = new DataView(tlvs.buffer, tlvs.byteOffset, tlvs.byteLength)
  let major: number | undefined
  let minor: number | undefined
  let publicKey: Uint8Array | undefined
  let priority = 0
  let o = 0
  while (o < tlvs.byteLength) {
    if (tlvs.byteLength - o < 4) throw new HandshakeError('invalid handshake: trailing bytes after the last TLV')
    const type = dv.getUint16(o)
    const len = dv.getUint16(o + 2)
    o += 4
    if (tlvs.byteLength - o < len) throw new HandshakeError(`invalid handshake: TLV ${type} of ${len} bytes runs past the end`)
    const need = type === TLV_MAJOR || type === TLV_MINOR ? 2 : type === TLV_PUBLIC_KEY ? KEY_SIZE : type === TLV_PRIORITY ? 1 : len
    if (len !== need) throw new HandshakeError(`invalid handshake: TLV ${type} has ${len} bytes, expected ${need}`)
    if (type === TLV_MAJOR) major = dv.getUint16(o)
    else if (type === TLV_MINOR) minor = dv.getUint16(o)
    else if (type === TLV_PUBLIC_KEY) publicKey = tlvs.slice(o, o + KEY_SIZE)
    else if (type === TLV_PRIORITY) priority = tlvs[o]
    o += len
  }
  if (major !== META_VERSION_MAJOR || minor !== META_VERSION_MINOR || publicKey === undefined) {
    const v = `${major ?? '?'}.${minor ?? '?'}`
    throw new IncompatibleVersionError(`remote node speaks an incompatible version (local ${META_VERSION_MAJOR}.${META_VERSION_MINOR}, remote ${v}${publicKey === undefined ? ', no public key' : ''})`)
  }
  if (!verify(publicKey, metaDigest(publicKey, password), sig)) {
    throw new IncorrectPasswordError(password !== undefined && password.byteLength > 0
      ? 'link password does not match the remote side (its handshake signature does not verify with our password)'
      : 'the remote side uses a link password (its handshake signature does not verify without one), or its signature is invalid')
  }
  return { majorVersion: major, minorVersion: minor, publicKey, priority }
}
