/**
 * The per-link queue of droppable frames (PathLookup, PathNotify, PathBroken, Traffic), used while the link's
 * writer is not ready (the PeerConn asked us to wait for `onDrain`). Like ironwood's `packetQueue`
 * (`packetqueue.go`), frames are grouped by destination key: `pop` takes the globally oldest frame and a drop
 * removes the oldest frame of the destination holding the most bytes, so one busy flow cannot starve the
 * others. Like ironwood @aa85220 the queue is capped in bytes (not @743fe2f's 25 ms age rule; see
 * ygg-protocol.md §1.10). Tree and bloom frames never enter this queue.
 */

interface Entry { frame: Uint8Array, seq: number }
interface Flow { entries: Entry[], head: number, bytes: number }

/** A byte-capped, per-destination-fair FIFO of encoded frames. */
export class PacketQueue {
  /** Largest number of queued bytes before the oldest frames of the largest flow are dropped. */
  readonly capBytes: number
  private readonly flows = new Map<string, Flow>()
  private seq = 0
  private _bytes = 0
  private _length = 0

  constructor (capBytes: number) {
    this.capBytes = capBytes
  }

  /** Queued bytes. */
  get bytes (): number { return this._bytes }
  /** Queued frames. */
  get length (): number { return this._length }

  /** Queues `frame` for destination `dest`; returns how many frames were dropped to stay under the cap. */
  push (dest: string, frame: Uint8Array): number {
    let flow = this.flows.get(dest)
    if (flow === undefined) {
      flow = { entries: [], head: 0, bytes: 0 }
      this.flows.set(dest, flow)
    }
    flow.entries.push({ frame, seq: this.seq++ })
    flow.bytes += frame.length
    this._bytes += frame.length
    this._length++
    let dropped = 0
    while (this._bytes > this.capBytes && this._length > 0) {
      this.drop()
      dropped++
    }
    return dropped
  }

  /** Removes and returns the globally oldest frame, or undefined when empty. */
  pop (): Uint8Array | undefined {
    let best: Flow | undefined
    let bestKey = ''
    let bestSeq = Infinity
    for (const [k, f] of this.flows) {
      const e = f.entries[f.head]
      if (e.seq < bestSeq) { bestSeq = e.seq; best = f; bestKey = k }
    }
    if (best === undefined) return undefined
    return this.take(bestKey, best)
  }

  /** Drops the oldest frame of the flow holding the most bytes; returns false when empty. */
  drop (): boolean {
    let best: Flow | undefined
    let bestKey = ''
    for (const [k, f] of this.flows) {
      if (best === undefined || f.bytes > best.bytes) { best = f; bestKey = k }
    }
    if (best === undefined) return false
    this.take(bestKey, best)
    return true
  }

  /** Empties the queue. */
  clear (): void {
    this.flows.clear()
    this._bytes = 0
    this._length = 0
  }

  private take (key: string, f: Flow): Uint8Array {
    const e = f.entries[f.head++]
    f.bytes -= e.frame.length
    this._bytes -= e.frame.length
    this._length--
    if (f.head === f.entries.length) {
      this.flows.delete(key)
    } else if (f.head > 32 && f.head * 2 > f.entries.length) {
      f.entries = f.entries.slice(f.head)
      f.head = 0
    }
    return e.frame
  }
}
