/**
 * Wire formats of ironwood's encrypted layer (`encrypted/session.go` @743fe2f):
 *
 *  init / ack (193 bytes; an ack is an init with byte 0 = 2):
 *    type(1) ‖ fromPub(32, fresh ephemeral X25519) ‖ box(nonce 0, Precompute(e2c(recipientEd), fromPriv))[
 *      sig(64) ‖ current(32) ‖ next(32) ‖ BE64(keySeq) ‖ BE64(seq) ]
 *    sig = ed25519(sender, fromPub ‖ current ‖ next ‖ BE64(keySeq) ‖ BE64(seq))
 *
 *  traffic:
 *    03 ‖ uvarint(sender.localKeySeq) ‖ uvarint(sender.remoteKeySeq) ‖ uvarint(nonce) ‖ box(nonce, sendShared)[
 *      nextPub(32) ‖ message ]
 */
import { verify } from '@axl/core'
import { readUvarint, uvarintSize, writeUvarint } from '../network/uvarint.js'
import { BOX_OVERHEAD, boxOpen, boxPrecompute, dhPublic, newBoxKeys, sealParts, type BoxKey, type BoxPrivate } from './crypto.js'
import type { KeyObject } from 'node:crypto'

/** Session message type bytes (`sessionType*`). */
export const SESSION_TYPE_DUMMY = 0
/** Session init. */
export const SESSION_TYPE_INIT = 1
/** Session ack (an init with a different type byte). */
export const SESSION_TYPE_ACK = 2
/** Session traffic. */
export const SESSION_TYPE_TRAFFIC = 3

/** Size of an init or ack: 1 + 32 + 16 + 64 + 32 + 32 + 8 + 8. */
export const SESSION_INIT_SIZE = 193
/** Smallest traffic message ironwood looks at: 1 + 1 + 1 + 1 + 16 + 32 (`sessionTrafficOverheadMin`). */
export const SESSION_TRAFFIC_OVERHEAD_MIN = 52
/** Worst-case traffic overhead (three 10-byte uvarints; ironwood reserves 79 with 9-byte ones). */
export const SESSION_TRAFFIC_OVERHEAD = 1 + 10 + 10 + 10 + BOX_OVERHEAD + 32

const MASK64 = (1n << 64n) - 1n
const PLAINTEXT_SIZE = 64 + 32 + 32 + 8 + 8

/** The signed content of an init or ack. */
export interface SessionInit {
  /** The sender's current send key (X25519 public). */
  current: Uint8Array
  /** The sender's next key. */
  next: Uint8Array
  /** The sender's localKeySeq (uint64). */
  keySeq: bigint
  /** Replay guard: Unix seconds at the sender (uint64). */
  seq: bigint
}

function putBE64 (b: Uint8Array, o: number, v: bigint): void {
  const x = v & MASK64
  const hi = Number(x >> 32n)
  const lo = Number(x & 0xffffffffn)
  b[o] = hi >>> 24; b[o + 1] = hi >>> 16; b[o + 2] = hi >>> 8; b[o + 3] = hi
  b[o + 4] = lo >>> 24; b[o + 5] = lo >>> 16; b[o + 6] = lo >>> 8; b[o + 7] = lo
}

function getBE64 (b: Uint8Array, o: number): bigint {
  const hi = ((b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]) >>> 0
  const lo = ((b[o + 4] << 24) | (b[o + 5] << 16) | (b[o + 6] << 8) | b[o + 7]) >>> 0
  return (BigInt(hi) << 32n) | BigInt(lo)
}

/** The bytes an init/ack signature covers: fromPub ‖ current ‖ next ‖ BE64(keySeq) ‖ BE64(seq). */
export function initSigBytes (fromPub: Uint8Array, init: SessionInit): Uint8Array {
  const b = new Uint8Array(32 + 32 + 32 + 8 + 8)
  b.set(fromPub, 0)
  b.set(init.current, 32)
  b.set(init.next, 64)
  putBE64(b, 96, init.keySeq)
  putBE64(b, 104, init.seq)
  return b
}

/**
 * Encrypts an init (type 1) or ack (type 2) from `sign` (the sender's ed25519 key) to the recipient whose e2c
 * X25519 key is `toBox` (Go `sessionInit.encrypt`). A fresh ephemeral key pair is used for every message.
 */
export function encryptInit (type: number, init: SessionInit, sign: (data: Uint8Array) => Uint8Array, toBox: KeyObject | Uint8Array): Uint8Array {
  const eph = newBoxKeys()
  const sigBytes = initSigBytes(eph.pub, init)
  const sig = sign(sigBytes)
  const shared = boxPrecompute(toBox, eph.priv)
  const out = sealParts(shared, 0n, 1 + 32, [sig, sigBytes.subarray(32)])
  out[0] = type
  out.set(eph.pub, 1)
  return out
}

/**
 * Opens and verifies an init/ack (Go `sessionInit.decrypt`): exactly 193 bytes, the box opens with our X25519
 * private key and the ephemeral key, and the signature verifies under the sender's ed25519 key `fromEd`
 * (the network layer's authenticated source). Returns undefined on any failure; never throws.
 */
export function decryptInit (data: Uint8Array, ourBoxPriv: BoxPrivate, fromEd: Uint8Array): SessionInit | undefined {
  if (data.length !== SESSION_INIT_SIZE) return undefined
  const fromBox = data.subarray(1, 33)
  let shared: BoxKey
  try {
    shared = boxPrecompute(dhPublic(fromBox), ourBoxPriv)
  } catch {
    return undefined
  }
  const payload = boxOpen(shared, 0n, data, 33)
  if (payload === undefined || payload.length !== PLAINTEXT_SIZE) return undefined
  const sig = payload.subarray(0, 64)
  const sigBytes = new Uint8Array(32 + PLAINTEXT_SIZE - 64)
  sigBytes.set(fromBox, 0)
  sigBytes.set(payload.subarray(64), 32)
  if (!verify(fromEd, sigBytes, sig)) return undefined
  return {
    current: payload.slice(64, 96),
    next: payload.slice(96, 128),
    keySeq: getBE64(payload, 128),
    seq: getBE64(payload, 136)
  }
}

/** Header fields of a traffic message. */
export interface TrafficHeader {
  /** The sender's localKeySeq (our remoteKeySeq view). */
  senderLocalKeySeq: bigint
  /** The sender's remoteKeySeq (our localKeySeq view). */
  senderRemoteKeySeq: bigint
  /** The box nonce counter. */
  nonce: bigint
  /** Offset of the box (tag ‖ body) in the message. */
  boxOffset: number
}

/** Parses a traffic header like Go's `doRecv` (type 3, ≥ 52 bytes, three uvarints); undefined if malformed. */
export function parseTrafficHeader (msg: Uint8Array): TrafficHeader | undefined {
  if (msg.length < SESSION_TRAFFIC_OVERHEAD_MIN || msg[0] !== SESSION_TYPE_TRAFFIC) return undefined
  try {
    const a = readUvarint(msg, 1)
    const b = readUvarint(msg, a.offset)
    const c = readUvarint(msg, b.offset)
    return { senderLocalKeySeq: a.value, senderRemoteKeySeq: b.value, nonce: c.value, boxOffset: c.offset }
  } catch {
    return undefined
  }
}

/**
 * Builds a traffic message: header ‖ box(nonce, key)[nextPub ‖ message] (Go `doSend`). `message` may be given
 * as parts (sealed as their concatenation, with no intermediate copy). With `frameHeadroom`, the message is a
 * view that many bytes into its buffer, leaving room for the overlay to write its frame header in front.
 */
export function encodeTraffic (localKeySeq: bigint, remoteKeySeq: bigint, nonce: bigint, key: BoxKey, nextPub: Uint8Array, message: Uint8Array | readonly Uint8Array[], frameHeadroom = 0): Uint8Array {
  const h = 1 + uvarintSize(localKeySeq) + uvarintSize(remoteKeySeq) + uvarintSize(nonce)
  const sealed = sealParts(key, nonce, frameHeadroom + h, message instanceof Uint8Array ? [nextPub, message] : [nextPub, ...message])
  const out = frameHeadroom === 0 ? sealed : sealed.subarray(frameHeadroom)
  out[0] = SESSION_TYPE_TRAFFIC
  let o = writeUvarint(out, 1, localKeySeq)
  o = writeUvarint(out, o, remoteKeySeq)
  writeUvarint(out, o, nonce)
  return out
}
