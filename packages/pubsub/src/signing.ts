/**
 * Message signatures: the origin signs (with its node identity, ed25519) the fields a relay must not change —
 * topic, msg_id, origin, timestamp_ms and data — and not `from`/`hop`, which every relay (ours or the Python
 * example) rewrites.
 */
import { verify, peerIdToBytes, type Identity } from '@axl/core'
import type { WireMessage } from './wire.js'

/** Domain separation: these bytes can never be mistaken for another protocol's signed payload. */
const DOMAIN = 'axl-gossipsub/1'

/** The bytes a MESSAGE's signature covers. */
export function signedBytes (m: Pick<WireMessage, 'topic' | 'msg_id' | 'origin' | 'data'>, timestampMs: number): Uint8Array {
  return new TextEncoder().encode(JSON.stringify([DOMAIN, m.topic, m.msg_id, m.origin, timestampMs, m.data]))
}

/** Sign a MESSAGE in place (sets timestamp_ms and signature). */
export function signMessage (m: WireMessage, identity: Identity, timestampMs: number): void {
  m.timestamp_ms = timestampMs
  m.signature = Buffer.from(identity.sign(signedBytes(m, timestampMs))).toString('base64')
}

/** True when the MESSAGE carries a valid signature of its origin. */
export function verifyMessage (m: WireMessage): boolean {
  if (m.signature === undefined || m.timestamp_ms === undefined) return false
  const sig = Buffer.from(m.signature, 'base64')
  return verify(peerIdToBytes(m.origin), signedBytes(m, m.timestamp_ms), new Uint8Array(sig.buffer, sig.byteOffset, sig.byteLength))
}
