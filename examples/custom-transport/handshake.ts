/**
 * The mutual authentication handshake of the direct-TCP mesh (direct-tcp.ts): the first bytes of every TCP
 * connection, before a channel byte and the stream's own bytes.
 *
 *   dialer   → listener  HELLO   magic ‖ dialer key (32) ‖ dialer nonce (32)                        68 bytes
 *   listener → dialer    REPLY   magic ‖ listener key (32) ‖ listener nonce (32) ‖ listener sig (64) 132 bytes
 *   dialer   → listener  FINISH  dialer sig (64) ‖ channel (1)                                       65 bytes
 *   listener → dialer    STATUS  0 accepted · 1 busy · 2 not accepting streams                        1 byte
 *
 * Each side signs the whole transcript, `context(role) ‖ dialer nonce ‖ listener nonce ‖ dialer key ‖ listener key`,
 * with its ed25519 identity. The other side's fresh nonce in it proves the signature is not a replay, the role in the
 * context stops a signature being reflected back, and both keys in it bind the proof to this pair of nodes. The
 * dialer also checks that the listener's key is the one it meant to reach, so a node listening at the directory's
 * address with another key is refused. It authenticates the two ends at connect time; the bytes after it are
 * plain TCP (no encryption, no integrity): use it on loopback or a network you trust, or run it inside TLS.
 */
import { ProtocolError, type MeshChannel } from '@axl/core'

/** `AXD` and the handshake version (1). */
export const MAGIC = Uint8Array.of(0x41, 0x58, 0x44, 0x01)
/** Length of an ed25519 public key and of a nonce. */
export const KEY_LENGTH = 32
/** Length of an ed25519 signature. */
export const SIG_LENGTH = 64
/** Bytes of the dialer's HELLO. */
export const HELLO_LENGTH = MAGIC.length + KEY_LENGTH + KEY_LENGTH
/** Bytes of the listener's REPLY. */
export const REPLY_LENGTH = HELLO_LENGTH + SIG_LENGTH
/** Bytes of the dialer's FINISH (its signature and the channel byte). */
export const FINISH_LENGTH = SIG_LENGTH + 1

/** The listener's verdict, the last handshake byte. */
export const Status = { accepted: 0, busy: 1, notAccepting: 2 } as const

const CHANNELS: readonly MeshChannel[] = ['axl', 'protocols']

/** What both sides sign (each under its own role). */
export interface Transcript {
  /** The dialer's public key. */
  dialerKey: Uint8Array
  /** The dialer's random nonce. */
  dialerNonce: Uint8Array
  /** The listener's public key. */
  listenerKey: Uint8Array
  /** The listener's random nonce. */
  listenerNonce: Uint8Array
}

/** A HELLO or the first part of a REPLY: a key and a nonce (and for a REPLY, a signature). */
export interface Greeting {
  /** The sender's public key. */
  publicKey: Uint8Array
  /** The sender's nonce. */
  nonce: Uint8Array
  /** The listener's signature (REPLY only). */
  signature?: Uint8Array
}

/** The bytes a side signs: `axl-direct-tcp/1 <role>\0 ‖ dialer nonce ‖ listener nonce ‖ dialer key ‖ listener key`. */
export function signedBytes (role: 'dialer' | 'listener', t: Transcript): Uint8Array {
  const context = new TextEncoder().encode(`axl-direct-tcp/1 ${role}\0`)
  return concat([context, t.dialerNonce, t.listenerNonce, t.dialerKey, t.listenerKey])
}

/** The dialer's HELLO. */
export function encodeHello (publicKey: Uint8Array, nonce: Uint8Array): Uint8Array {
  return concat([MAGIC, publicKey, nonce])
}

/** The listener's REPLY. */
export function encodeReply (publicKey: Uint8Array, nonce: Uint8Array, signature: Uint8Array): Uint8Array {
  return concat([MAGIC, publicKey, nonce, signature])
}

/** The dialer's FINISH: its signature and the channel it opens. */
export function encodeFinish (signature: Uint8Array, channel: MeshChannel): Uint8Array {
  return concat([signature, Uint8Array.of(CHANNELS.indexOf(channel))])
}

/** Parse a HELLO (68 bytes) or REPLY (132 bytes); ProtocolError when the magic is wrong. */
export function decodeGreeting (bytes: Uint8Array): Greeting {
  if (bytes.length < HELLO_LENGTH || !MAGIC.every((b, i) => bytes[i] === b)) throw new ProtocolError('not an axl-direct-tcp/1 handshake (bad magic)')
  const publicKey = bytes.slice(MAGIC.length, MAGIC.length + KEY_LENGTH)
  const nonce = bytes.slice(MAGIC.length + KEY_LENGTH, HELLO_LENGTH)
  return bytes.length >= REPLY_LENGTH ? { publicKey, nonce, signature: bytes.slice(HELLO_LENGTH, REPLY_LENGTH) } : { publicKey, nonce }
}

/** Parse a FINISH; ProtocolError for an unknown channel byte. */
export function decodeFinish (bytes: Uint8Array): { signature: Uint8Array, channel: MeshChannel } {
  const channel = CHANNELS[bytes[SIG_LENGTH]]
  if (channel === undefined) throw new ProtocolError(`unknown channel byte ${bytes[SIG_LENGTH]}`)
  return { signature: bytes.slice(0, SIG_LENGTH), channel }
}

/** True when two byte arrays are equal. */
export function sameBytes (a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i])
}

function concat (parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
  let at = 0
  for (const p of parts) { out.set(p, at); at += p.length }
  return out
}
