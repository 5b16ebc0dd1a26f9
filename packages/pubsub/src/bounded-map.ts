/** Counters of a BoundedMap. */
export interface BoundedMapStats {
  /** Entries held now. */
  size: number
  /** Entries removed because their time-to-live passed. */
  expired: number
  /** Entries evicted (oldest first) before their time because the map was full. */
  evicted: number
  /** Total weight held now (bytes, for a map given a weight function). */
  weight: number
}

/**
 * A map bounded by size and age: entries older than `ttlMs` are dropped by `prune()` (and not returned by
 * `get`), and inserting into a full map evicts the oldest entry first. Both are counted. Insertion order is
 * age order (a re-set entry keeps its place and its first insertion time).
 */
export class BoundedMap<K, V> {
  readonly stats: BoundedMapStats = { size: 0, expired: 0, evicted: 0, weight: 0 }
  private readonly entries = new Map<K, { value: V, at: number, w: number }>()

  /**
   * `onEvict` learns about each entry evicted early (map full), e.g. to raise a replay floor; with `weight`,
   * the map also holds at most `maxWeight` in total (e.g. bytes).
   */
  constructor (readonly maxSize: number, readonly ttlMs: number, private readonly opts: {
    onEvict?: (key: K, value: V) => void, weight?: (value: V) => number, maxWeight?: number
  } = {}) {}

  /** True when `key` is held and not expired. */
  has (key: K, now = Date.now()): boolean { return this.get(key, now) !== undefined }

  /** The value of `key`, unless absent or expired. */
  get (key: K, now = Date.now()): V | undefined {
    const e = this.entries.get(key)
    if (e === undefined || now - e.at > this.ttlMs) return undefined
    return e.value
  }

  /** Insert (or replace the value of) `key`, keeping its age; evicts the oldest entries when full. */
  set (key: K, value: V, now = Date.now()): void {
    const w = this.opts.weight?.(value) ?? 0
    const existing = this.entries.get(key)
    if (existing !== undefined) { this.stats.weight += w - existing.w; existing.value = value; existing.w = w; return }
    const maxWeight = this.opts.maxWeight ?? Infinity
    while (this.entries.size > 0 && (this.entries.size >= this.maxSize || this.stats.weight + w > maxWeight)) {
      const [k, old] = this.entries.entries().next().value as [K, { value: V, at: number, w: number }]
      this.entries.delete(k)
      this.stats.weight -= old.w
      if (now - old.at > this.ttlMs) this.stats.expired++
      else { this.stats.evicted++; this.opts.onEvict?.(k, old.value) }
    }
    this.entries.set(key, { value, at: now, w })
    this.stats.weight += w
    this.stats.size = this.entries.size
  }

  /** Remove `key`. */
  delete (key: K): void {
    const e = this.entries.get(key)
    if (e === undefined) return
    this.entries.delete(key)
    this.stats.weight -= e.w
    this.stats.size = this.entries.size
  }

  /** Drop expired entries (oldest first, stops at the first live one). */
  prune (now = Date.now()): void {
    for (const [k, e] of this.entries) {
      if (now - e.at <= this.ttlMs) break
      this.entries.delete(k)
      this.stats.weight -= e.w
      this.stats.expired++
    }
    this.stats.size = this.entries.size
  }

  /** Live entries, oldest first. */
  * values (now = Date.now()): IterableIterator<V> {
    for (const e of this.entries.values()) if (now - e.at <= this.ttlMs) yield e.value
  }

  /** Live entries younger than `ageMs`, newest first, at most `max`. */
  newest (ageMs: number, max: number, now = Date.now()): V[] {
    const out: V[] = []
    const all = [...this.entries.values()]
    for (let i = all.length - 1; i >= 0 && out.length < max; i--) {
      if (now - all[i].at > Math.min(ageMs, this.ttlMs)) break
      out.push(all[i].value)
    }
    return out
  }

  /** Number of entries held (expired ones not yet pruned included). */
  get size (): number { return this.entries.size }
}
