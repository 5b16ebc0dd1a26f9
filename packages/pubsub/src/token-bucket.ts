/** A token bucket: `rate` tokens per second, at most `burst` saved up. */
export class TokenBucket {
  private tokens: number
  private last: number

  constructor (private readonly rate: number, private readonly burst: number, now = Date.now()) {
    this.tokens = burst
    this.last = now
  }

  /** Take one token; false (nothing taken) when the bucket is empty. */
  take (now = Date.now()): boolean {
    if (this.rate === Infinity) return true
    this.tokens = Math.min(this.burst, this.tokens + (now - this.last) * this.rate / 1000)
    this.last = now
    if (this.tokens < 1) return false
    this.tokens -= 1
    return true
  }
}
