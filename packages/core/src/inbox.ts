import { AbortError } from './errors.js'
import { withDeadline, type WaitOptions } from './deadline.js'
import type { OverflowPolicy } from './limits.js'
import type { PeerId } from './peer-id.js'

/** A raw message received from a peer. */
export interface InboundMessage {
  /** The sender's full, authenticated peer id. */
  from: PeerId
  /** The payload exactly as sent. */
  data: Uint8Array
  /** When it arrived (Date.now()). */
  receivedAt: number
}

/** Counters of the inbound queue. */
export interface InboxStats {
  /** Messages accepted into the queue since start. */
  accepted: number
  /** Messages refused because the queue was full (policy 'refuse'); their senders got RefusedError. */
  refused: number
  /** Messages dropped after acceptance (policies 'drop-oldest' and 'drop-newest'). */
  dropped: number
  /** Messages waiting now. */
  queued: number
  /** Bytes waiting now. */
  queuedBytes: number
}

/**
 * What `push` did. `dropped`: the message dropped to make room ('drop-oldest': the last one evicted) or the
 * new one itself ('drop-newest'). `evicted`: every message 'drop-oldest' evicted for this push, oldest first.
 */
export type PushResult = { ok: true, dropped?: InboundMessage, evicted?: InboundMessage[] } | { ok: false, reason: string }

/** A bounded FIFO of inbound raw messages (count and bytes) with an explicit overflow policy. */
export class Inbox {
  private items: InboundMessage[] = []
  private head = 0
  private bytes = 0
  private waiters: Array<() => void> = []
  private closed = false
  readonly stats: InboxStats = { accepted: 0, refused: 0, dropped: 0, queued: 0, queuedBytes: 0 }

  /** `onRemove` is called with every message that leaves the queue (taken by a reader, or evicted). */
  constructor (private readonly maxMessages: number, private readonly maxBytes: number, private readonly policy: OverflowPolicy, private readonly onRemove?: (msg: InboundMessage) => void) {}

  /** Number of messages waiting. */
  get length (): number { return this.items.length - this.head }

  /** Offer a message; the result says whether it was queued and, for 'drop-oldest', what was evicted. */
  push (msg: InboundMessage): PushResult {
    const size = msg.data.byteLength
    if (size > this.maxBytes || this.maxMessages === 0) {
      this.stats.refused++
      return { ok: false, reason: `message of ${size} bytes exceeds the inbox capacity (${this.maxBytes} bytes)` }
    }
    const full = (): boolean => this.length >= this.maxMessages || this.bytes + size > this.maxBytes
    const evicted: InboundMessage[] = []
    if (full()) {
      if (this.policy === 'refuse') {
        this.stats.refused++
        return { ok: false, reason: `inbox full (${this.length} messages, ${this.bytes} bytes)` }
      }
      if (this.policy === 'drop-newest') {
        this.stats.accepted++
        this.stats.dropped++
        this.onRemove?.(msg)
        return { ok: true, dropped: msg }
      }
      while (full()) {
        const old = this.shift()
        if (old === undefined) break
        this.stats.dropped++
        evicted.push(old)
      }
    }
    this.items.push(msg)
    this.bytes += size
    this.stats.accepted++
    this.sync()
    const w = this.waiters.shift()
    if (w !== undefined) w()
    return evicted.length === 0 ? { ok: true } : { ok: true, dropped: evicted[evicted.length - 1], evicted }
  }

  /** Take the oldest message, or undefined when empty. */
  shift (): InboundMessage | undefined {
    if (this.head >= this.items.length) return undefined
    const msg = this.items[this.head]
    this.items[this.head++] = undefined as unknown as InboundMessage
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head)
      this.head = 0
    } else if (this.head === this.items.length) {
      this.items = []
      this.head = 0
    }
    this.bytes -= msg.data.byteLength
    this.sync()
    this.onRemove?.(msg)
    return msg
  }

  /** Wait for the next message (with deadline and signal); rejects once the inbox is closed. */
  async next (opts: WaitOptions = {}): Promise<InboundMessage> {
    for (;;) {
      const msg = this.shift()
      if (msg !== undefined) return msg
      if (this.closed) throw new AbortError('the node is stopped')
      let wake!: () => void
      const p = new Promise<void>(resolve => { wake = resolve })
      this.waiters.push(wake)
      await withDeadline(p, opts, 'waiting for a message', () => {
        this.waiters = this.waiters.filter(w => w !== wake)
      })
    }
  }

  /** Stop waiting consumers (they reject); queued messages stay readable with shift(). */
  close (): void {
    this.closed = true
    const waiters = this.waiters
    this.waiters = []
    for (const w of waiters) w()
  }

  private sync (): void {
    this.stats.queued = this.length
    this.stats.queuedBytes = this.bytes
  }
}
