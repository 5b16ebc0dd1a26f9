/** Seeded randomness (mulberry32): every experiment is reproducible from its seed. */

/** A seeded generator of uniform numbers in [0, 1), normal numbers and integers. */
export class Rng {
  private s: number
  private spare: number | undefined

  constructor (seed: number) { this.s = seed >>> 0 }

  /** Uniform in [0, 1). */
  next (): number {
    let t = (this.s = (this.s + 0x6d2b79f5) >>> 0)
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }

  /** Uniform integer in [0, n). */
  int (n: number): number { return Math.floor(this.next() * n) }

  /** Standard normal (Box–Muller). */
  normal (): number {
    if (this.spare !== undefined) { const v = this.spare; this.spare = undefined; return v }
    const u = Math.max(this.next(), 1e-12)
    const r = Math.sqrt(-2 * Math.log(u))
    const a = 2 * Math.PI * this.next()
    this.spare = r * Math.sin(a)
    return r * Math.cos(a)
  }
}

/** Mix integers into one 32-bit seed (FNV-1a over their bytes, then a final avalanche). */
export function mixSeed (...parts: number[]): number {
  let h = 0x811c9dc5
  for (const p of parts) {
    for (let i = 0; i < 4; i++) { h ^= (p >>> (8 * i)) & 0xff; h = Math.imul(h, 0x01000193) }
  }
  h ^= h >>> 16; h = Math.imul(h, 0x85ebca6b); h ^= h >>> 13
  return h >>> 0
}
