/**
 * Receive-side anti-replay window (RFC 6479 style, as proposed for ironwood in PR #53): accepts each nonce at
 * most once, in any order, as long as it is within `size` of the highest nonce accepted so far. Ironwood
 * @743fe2f instead keeps a strict high-water mark (`nonce > last`), which drops every reordered packet.
 *
 * Use `check()` before decrypting and `accept()` only after the box authenticated, so forged packets never
 * move the window. Nonce 0 is never valid (ironwood's first nonce is 1).
 */

const MASK64 = (1n << 64n) - 1n

/** Result of a window check. */
export type ReplayVerdict = 'ok' | 'duplicate' | 'too-old'

/** A sliding bitmap of recently accepted uint64 nonces. */
export class ReplayWindow {
  /** Window size in nonces. */
  readonly size: number
  private readonly bits: Uint32Array
  private readonly wordMask: bigint
  private top = 0n

  constructor (size = 8128) {
    if (!Number.isInteger(size) || size < 1) throw new RangeError(`replay window size must be a positive integer, got ${size}`)
    this.size = size
    // One spare word so the word being filled never aliases the oldest word still inside the window.
    let words = 1
    while (words * 32 < size + 32) words *= 2
    this.bits = new Uint32Array(words)
    this.wordMask = BigInt(words - 1)
    this.bits[0] = 1 // nonce 0 counts as seen
  }

  /** The highest nonce accepted so far (0 if none). */
  get highest (): bigint { return this.top }

  /** Would `nonce` be accepted? Does not change the window. */
  check (nonce: bigint): ReplayVerdict {
    nonce &= MASK64
    if (nonce > this.top) return 'ok'
    if (this.top - nonce >= BigInt(this.size)) return 'too-old'
    const w = Number((nonce >> 5n) & this.wordMask)
    return (this.bits[w] & (1 << Number(nonce & 31n))) !== 0 ? 'duplicate' : 'ok'
  }

  /** Records an authenticated `nonce`; returns false (and changes nothing) if it is a replay or too old. */
  accept (nonce: bigint): boolean {
    if (this.check(nonce) !== 'ok') return false
    nonce &= MASK64
    if (nonce > this.top) {
      const oldWord = this.top >> 5n
      const newWord = nonce >> 5n
      const n = this.bits.length
      const gap = newWord - oldWord
      if (gap >= BigInt(n)) {
        this.bits.fill(0)
      } else {
        for (let i = 1n; i <= gap; i++) this.bits[Number((oldWord + i) & this.wordMask)] = 0
      }
      this.top = nonce
    }
    this.bits[Number((nonce >> 5n) & this.wordMask)] |= 1 << Number(nonce & 31n)
    return true
  }
}
