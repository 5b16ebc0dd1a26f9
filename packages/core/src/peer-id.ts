/**
 * Peer ids: the lowercase hex of a node's 32-byte ed25519 public key (64 characters), as AXL prints it in
 * `our_public_key`. Input is parsed like Go's `hex.DecodeString`, so upper case is accepted.
 */
import { Buffer } from 'node:buffer'
import { InvalidKeyError, InvalidPeerIdError } from './errors.js'

/** A normalised peer id: exactly 64 lowercase hex characters (a 32-byte ed25519 public key). */
export type PeerId = string & { readonly __brand: 'PeerId' }

/** Length of an ed25519 public key in bytes. */
export const PUBLIC_KEY_LENGTH = 32

const PEER_ID_LENGTH = PUBLIC_KEY_LENGTH * 2
const LOWER_HEX_64 = /^[0-9a-f]{64}$/
const ANY_HEX_64 = /^[0-9a-fA-F]{64}$/
const NON_HEX = /[^0-9a-fA-F]/
const MAX_ECHO = 80

/** Quotes (and shortens) untrusted input for an error message. */
function echo (s: string): string {
  const shown = s.length > MAX_ECHO ? `${s.slice(0, MAX_ECHO)}…` : s
  return JSON.stringify(shown)
}

/** Describes the first non-hex character of `s`, or returns undefined when all characters are hex. */
function nonHexDetail (s: string): string | undefined {
  const m = NON_HEX.exec(s)
  if (m === null) return undefined
  return `non-hex character ${JSON.stringify(m[0])} at position ${m.index}`
}

/** Parses a peer id: trims whitespace, accepts upper case, returns it lowercase; throws InvalidPeerIdError. */
export function parsePeerId (s: string): PeerId {
  if (typeof s !== 'string') {
    throw new InvalidPeerIdError(`invalid peer id: expected a string, got ${s === null ? 'null' : typeof s}`)
  }
  if (s.length === PEER_ID_LENGTH && LOWER_HEX_64.test(s)) return s as PeerId
  const t = s.trim()
  if (ANY_HEX_64.test(t)) return t.toLowerCase() as PeerId
  if (t.length !== PEER_ID_LENGTH) {
    let msg = `invalid peer id ${echo(t)}: expected ${PEER_ID_LENGTH} hex characters (${PUBLIC_KEY_LENGTH} bytes), got ${t.length} characters`
    if (t.length === PEER_ID_LENGTH + 2 && /^0x/i.test(t) && !NON_HEX.test(t.slice(2))) {
      msg += ' (remove the "0x" prefix)'
    } else {
      const bad = nonHexDetail(t)
      if (bad !== undefined) msg += `; ${bad}`
    }
    throw new InvalidPeerIdError(msg)
  }
  throw new InvalidPeerIdError(`invalid peer id ${echo(t)}: ${nonHexDetail(t) ?? 'not hex'}`)
}

/** True iff `s` is a normalised peer id (exactly 64 lowercase hex characters, no whitespace). */
export function isPeerId (s: unknown): s is PeerId {
  return typeof s === 'string' && s.length === PEER_ID_LENGTH && LOWER_HEX_64.test(s)
}

/** Returns the peer id of a 32-byte ed25519 public key; throws InvalidKeyError for any other length. */
export function peerIdFromBytes (key: Uint8Array): PeerId {
  if (!(key instanceof Uint8Array)) {
    throw new InvalidKeyError(`public key must be a Uint8Array of ${PUBLIC_KEY_LENGTH} bytes, got ${key === null ? 'null' : typeof key}`)
  }
  if (key.length !== PUBLIC_KEY_LENGTH) {
    throw new InvalidKeyError(`public key must be ${PUBLIC_KEY_LENGTH} bytes, got ${key.length} bytes`)
  }
  return Buffer.from(key.buffer, key.byteOffset, key.byteLength).toString('hex') as PeerId
}

/** Returns the 32 public-key bytes of a peer id (a fresh, unpooled Uint8Array); throws InvalidPeerIdError. */
export function peerIdToBytes (id: PeerId | string): Uint8Array {
  const hex = parsePeerId(id)
  const out = new Uint8Array(PUBLIC_KEY_LENGTH)
  Buffer.from(out.buffer, out.byteOffset, out.byteLength).write(hex, 'hex')
  return out
}
