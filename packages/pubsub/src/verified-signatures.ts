/**
 * A process-wide memo of ed25519 verifications that succeeded, so several gossip nodes in one process (tests,
 * the benchmark, a host running many agents) verify a message once instead of once each.
 *
 * Why this is as safe as verifying every time: verification is a pure function of (public key, signed bytes,
 * signature), and the memo key is SHA-256 over all three (length-prefixed), so a hit means "this exact triple was
 * verified before" — never "a message with this id/signature was". A relay that keeps the id and signature but
 * alters the data, topic, timestamp or origin changes the key and is verified (and refused) afresh. Only
 * successes are remembered: getting an entry in needs a valid signature by the origin's key, so a flood of forged
 * copies cannot evict good entries or make a forgery look verified. Freshness (maxAgeMs, the replay floor) and
 * the seen-set are checked by each node as before; the memo answers only "is this signature valid".
 * In a process with one node it costs one SHA-256 per new message and misses (each message is verified once
 * there anyway). Bounded: oldest entries evicted first, counted.
 */
import { createHash } from 'node:crypto'

/** Counters of a VerifiedSignatures memo. */
export interface VerifiedSignaturesStats {
  /** Verifications answered from the memo. */
  hits: number
  /** Verifications computed (valid or not). */
  misses: number
  /** Entries evicted because the memo was full. */
  evicted: number
  /** Entries held now. */
  size: number
}

/** A bounded memo of successful verifications, keyed by SHA-256 of (public key, signed bytes, signature). */
export class VerifiedSignatures {
  readonly stats: VerifiedSignaturesStats = { hits: 0, misses: 0, evicted: 0, size: 0 }
  private readonly keys = new Set<string>()

  /** @param max entries held at most. @default 16384 */
  constructor (readonly max = 16_384) {}

  /** `verify()` unless this exact (publicKey, data, signature) was verified successfully before. */
  check (publicKey: Uint8Array, data: Uint8Array, signature: Uint8Array, verify: () => boolean): boolean {
    const h = createHash('sha256')
    for (const part of [publicKey, data, signature]) {
      const len = Buffer.allocUnsafe(4)
      len.writeUInt32BE(part.byteLength)
      h.update(len).update(part)
    }
    const key = h.digest('base64')
    if (this.keys.has(key)) { this.stats.hits++; return true }
    this.stats.misses++
    if (!verify()) return false
    if (this.keys.size >= this.max) {
      const oldest = this.keys.values().next().value as string
      this.keys.delete(oldest)
      this.stats.evicted++
    }
    this.keys.add(key)
    this.stats.size = this.keys.size
    return true
  }
}

/** The memo shared by every gossip service in this process. */
export const sharedVerifiedSignatures = new VerifiedSignatures()
