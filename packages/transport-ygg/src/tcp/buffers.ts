/**
 * The byte queues of a TCP connection: the send queue (user chunks kept by reference until acknowledged,
 * copied exactly once into outgoing packets), the out-of-order reassembly queue (bounded in bytes and
 * segments), and a lazy deadline timer that does not touch the clock on every ACK.
 */
import type { Clock, TimerHandle } from '../clock.js'

/**
 * Unacknowledged + unsent bytes, as the chunks the application wrote (no copy on write). Byte 0 is the
 * oldest unacknowledged byte (SND.UNA).
 */
export class SendQueue {
  private chunks: Uint8Array[] = []
  private head = 0
  private headOff = 0
  /** Bytes queued. */
  length = 0
  // Stream offset of the front byte, and a cursor (chunk index, stream offset of its first byte) that makes
  // sequential copies O(1) instead of a walk from the front.
  private base = 0
  private curIdx = 0
  private curStart = 0

  /** Queues `data` (kept by reference: the caller must not modify it afterwards). */
  push (data: Uint8Array): void {
    if (data.length === 0) return
    if (this.head === this.chunks.length) {
      // Empty queue: restart the array so it does not grow forever.
      this.chunks.length = 0
      this.head = 0
      this.headOff = 0
      this.curIdx = 0
      this.curStart = this.base
    }
    this.chunks.push(data)
    this.length += data.length
  }

  /** Drops `n` bytes from the front (they were acknowledged). */
  consume (n: number): void {
    if (n <= 0) return
    if (n > this.length) n = this.length
    this.length -= n
    this.base += n
    let left = n
    while (left > 0) {
      const c = this.chunks[this.head]
      const avail = c.length - this.headOff
      if (left < avail) { this.headOff += left; break }
      left -= avail
      this.chunks[this.head] = EMPTY // release the reference early
      this.head++
      this.headOff = 0
    }
    if (this.head > 64 && this.head * 2 > this.chunks.length) {
      this.chunks = this.chunks.slice(this.head)
      this.curIdx -= this.head
      this.head = 0
    }
    if (this.curIdx < this.head) { this.curIdx = this.head; this.curStart = this.base - this.headOff }
  }

  /** Copies `len` bytes starting `offset` bytes after the front into `dst[dstOff..]`. */
  copyTo (dst: Uint8Array, dstOff: number, offset: number, len: number): void {
    let target = this.base + offset
    let idx: number
    let start: number
    if (this.curIdx >= this.head && this.curIdx < this.chunks.length && this.curStart <= target) {
      idx = this.curIdx
      start = this.curStart
    } else {
      idx = this.head
      start = this.base - this.headOff
    }
    while (start + this.chunks[idx].length <= target) { start += this.chunks[idx].length; idx++ }
    this.curIdx = idx
    this.curStart = start
    while (len > 0) {
      const c = this.chunks[idx]
      const from = target - start
      const n = Math.min(len, c.length - from)
      if (n === c.length) dst.set(c, dstOff)
      else if (n < 16) { for (let i = 0; i < n; i++) dst[dstOff + i] = c[from + i] }
      else dst.set(c.subarray(from, from + n), dstOff)
      dstOff += n
      len -= n
      target += n
      if (len > 0) { start += c.length; idx++ }
    }
  }

  /** Drops everything. */
  clear (): void {
    this.chunks = []
    this.head = 0
    this.headOff = 0
    this.base += this.length
    this.length = 0
    this.curIdx = 0
    this.curStart = this.base
  }
}

const EMPTY = new Uint8Array(0)

interface OooSegment { seq: number, data: Uint8Array }

/**
 * Out-of-order segments waiting for a hole to fill, sorted by sequence number and never overlapping.
 * Bounded by the receive window (the caller only inserts in-window data) and by a segment count, so tiny
 * segments cannot explode the bookkeeping.
 */
export class Reassembly {
  private segs: OooSegment[] = []
  /** Bytes held. */
  bytes = 0
  /** Largest number of segments held. */
  readonly maxSegments: number

  constructor (maxSegments: number) { this.maxSegments = maxSegments }

  /** Segments held. */
  get count (): number { return this.segs.length }

  /**
   * Adds `data` at sequence `seq` (which must lie after `rcvNxt`); overlapping parts already held are
   * trimmed away. Returns false when the segment was dropped because the queue is full.
   */
  insert (seq: number, data: Uint8Array, rcvNxt: number): boolean {
    let start = (seq - rcvNxt) >>> 0
    let end = start + data.length
    const segs = this.segs
    // Find the first held segment whose end is beyond our start (scan from the back: appends are common).
    let i = segs.length
    while (i > 0) {
      const p = segs[i - 1]
      const pStart = (p.seq - rcvNxt) >>> 0
      if (pStart + p.data.length <= start) break
      i--
    }
    // Now segs[i..] end after `start`. Trim our front against segs[i] if it starts before us.
    while (i < segs.length) {
      const s = segs[i]
      const sStart = (s.seq - rcvNxt) >>> 0
      const sEnd = sStart + s.data.length
      if (sStart >= end) break
      if (sStart <= start) {
        // s covers our front.
        if (sEnd >= end) return true // fully duplicate
        start = sEnd
        i++
        continue
      }
      // s starts inside us.
      if (sEnd <= end) {
        // We cover s fully: replace it.
        segs.splice(i, 1)
        this.bytes -= s.data.length
        continue
      }
      // s overlaps our tail: trim our end.
      end = sStart
      break
    }
    if (end <= start) return true
    if (segs.length >= this.maxSegments) return false
    const off = start - ((seq - rcvNxt) >>> 0)
    const piece = off === 0 && end - start === data.length ? data : data.subarray(off, off + (end - start))
    segs.splice(i, 0, { seq: (rcvNxt + start) >>> 0, data: piece })
    this.bytes += piece.length
    return true
  }

  /** Removes and returns the next in-order chunk at `rcvNxt` (trimmed), or undefined if there is a hole. */
  shift (rcvNxt: number): Uint8Array | undefined {
    while (this.segs.length > 0) {
      const s = this.segs[0]
      const rel = (s.seq - rcvNxt) | 0
      if (rel > 0) return undefined
      this.segs.shift()
      this.bytes -= s.data.length
      if (rel + s.data.length <= 0) continue // entirely old
      return rel === 0 ? s.data : s.data.subarray(-rel)
    }
    return undefined
  }

  /** End (exclusive) of the highest held segment relative to rcvNxt, or 0 when empty. */
  highest (rcvNxt: number): number {
    const s = this.segs[this.segs.length - 1]
    return s === undefined ? 0 : ((s.seq - rcvNxt) >>> 0) + s.data.length
  }

  /** Drops everything. */
  clear (): void { this.segs = []; this.bytes = 0 }
}

/**
 * One timer that can be moved often and cheaply: moving the deadline later only records it; the clock timer
 * is replaced only when the deadline moves earlier. When the clock timer fires early it re-arms itself.
 */
export class LazyTimer {
  private handle: TimerHandle | undefined
  private scheduledAt = Infinity
  private wantAt = Infinity
  private readonly clock: Clock
  private readonly fn: () => void

  constructor (clock: Clock, fn: () => void) {
    this.clock = clock
    this.fn = fn
  }

  /** True when a deadline is set. */
  get armed (): boolean { return this.wantAt !== Infinity }
  /** The deadline (Infinity when not armed). */
  get at (): number { return this.wantAt }

  /** Fires `fn` at absolute clock time `at` (replacing any earlier deadline). */
  setAt (at: number): void {
    this.wantAt = at
    if (at < this.scheduledAt) {
      if (this.handle !== undefined) this.clock.clearTimeout(this.handle)
      this.scheduledAt = at
      this.handle = this.clock.setTimeout(this.fire, Math.max(0, at - this.clock.now()))
    }
  }

  /** Fires `fn` after `ms`. */
  set (ms: number): void { this.setAt(this.clock.now() + ms) }

  /** Disarms (the clock timer, if any, is left to expire as a no-op). */
  cancel (): void { this.wantAt = Infinity }

  /** Disarms and releases the clock timer. */
  dispose (): void {
    this.wantAt = Infinity
    if (this.handle !== undefined) this.clock.clearTimeout(this.handle)
    this.handle = undefined
    this.scheduledAt = Infinity
  }

  private readonly fire = (): void => {
    this.handle = undefined
    this.scheduledAt = Infinity
    if (this.wantAt === Infinity) return
    const now = this.clock.now()
    if (now < this.wantAt) { this.setAt(this.wantAt); return }
    this.wantAt = Infinity
    this.fn()
  }
}
