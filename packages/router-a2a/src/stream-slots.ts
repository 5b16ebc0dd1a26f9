/** Counts open streams per peer and in total, refusing past the bounds (and counting refusals). */
export class StreamSlots {
  private readonly byPeer = new Map<string, number>()
  private open = 0
  private refusedCount = 0

  constructor (private readonly maxTotal: number, private readonly maxPerPeer: number) {}

  /** Streams open now. */
  get active (): number { return this.open }
  /** Streams refused so far because a bound was reached. */
  get refused (): number { return this.refusedCount }

  /** Why a new stream with `peer` would be refused now, or undefined if it would be admitted. */
  check (peer: string): string | undefined {
    if (this.open >= this.maxTotal) return `too many A2A streams open (${this.maxTotal})`
    if ((this.byPeer.get(peer) ?? 0) >= this.maxPerPeer) return `too many A2A streams open with this peer (${this.maxPerPeer})`
    return undefined
  }

  /** Count a refusal decided from check() elsewhere (e.g. in a protocol access check). */
  countRefusal (): void { this.refusedCount++ }

  /** Take a slot: a release function (idempotent), or the refusal reason (counted). */
  take (peer: string): (() => void) | string {
    const why = this.check(peer)
    if (why !== undefined) { this.refusedCount++; return why }
    this.open++
    this.byPeer.set(peer, (this.byPeer.get(peer) ?? 0) + 1)
    let released = false
    return () => {
      if (released) return
      released = true
      this.open--
      const n = (this.byPeer.get(peer) ?? 1) - 1
      if (n <= 0) this.byPeer.delete(peer)
      else this.byPeer.set(peer, n)
    }
  }
}
