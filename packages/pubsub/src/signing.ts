/**
 * Message signatures: the origin signs (with its node identity, ed25519) the fields a relay must not change —
 * topic, msg_id, origin, timestamp_ms and data — and not `from`/`hop`, which every relay (ours or the Python
 * example) rewrites.
 */
import { verify, peerIdToBytes, type Identity } from '@axl/core'
import type { WireMessage } from './wire.js'
import type { VerifiedSignatures } from './verified-signatures.js'

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

/**
 * True when the MESSAGE carries a valid signature of its origin. With `memo`, a triple (origin key, signed
 * bytes, signature) verified before is not verified again (see verified-signatures.ts for why that is safe).
 */
export function verifyMessage (m: WireMessage, memo?: VerifiedSignatures): boolean {
  if (m.signature === undefined || m.timestamp_ms === undefined) return false
  const raw = Buffer.from(m.signature, 'base64')
  const sig = new Uint8Array(raw.buffer, raw.byteOffset, raw.byteLength)
  const key = peerIdToBytes(m.origin)
  const data = signedBytes(m, m.timestamp_ms)
  return memo === undefined ? verify(key, data, sig) : memo.check(key, data, sig, () => verify(key, data, sig))
}
