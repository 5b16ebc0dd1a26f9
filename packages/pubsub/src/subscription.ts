/** A subscription: an async iterator over one topic's messages with a bounded queue. */
import { AbortError, NotStartedError, withDeadline, type PeerId, type WaitOptions } from '@axl/core'

/** A message delivered to a subscriber. */
export interface PubSubMessage {
  /** The topic it was published on. */
  topic: string
  /** The payload. */
  data: Uint8Array
  /** The publisher (origin): authenticated by its signature when `signed`, else as claimed by the frame. */
  from: PeerId
  /** The message id (unique per message, the same on every node). */
  id: string
  /** The peer this copy came from (the authenticated sender of the frame). */
  receivedFrom: PeerId
  /** Links this copy travelled (1 = straight from the publisher). */
  hops: number
  /** True when the origin's signature was verified; false for an accepted unsigned (Python) message. */
  signed: boolean
  /** Publication time (ms since the epoch) from a signed message; undefined when unsigned. */
  timestamp?: number
}

/** Options of subscribe(). */
export interface SubscribeOptions {
  /** Ends the subscription when it fires (as unsubscribe()). */
  signal?: AbortSignal
  /** Messages queued for this subscriber before new ones are dropped (counted in `dropped`). @default 1024 */
  maxQueued?: number
}

/** A subscription to one topic: `for await (const msg of sub)`; ends on unsubscribe(), its signal, or stop. */
export interface Subscription extends AsyncIterableIterator<PubSubMessage> {
  /** The topic. */
  readonly topic: string
  /** Messages dropped because this subscriber's queue was full. */
  readonly dropped: number
  /** Messages waiting in the queue. */
  readonly queued: number
  /** Wait for the next message with a deadline (rejects with TimeoutError, AbortError, or NotStartedError once ended). */
  nextMessage: (opts?: WaitOptions) => Promise<PubSubMessage>
  /** End the subscription (idempotent); the topic is left when its last subscription ends. */
  unsubscribe: () => void
}

/** @internal The subscription's implementation; the service pushes into it. */
export class TopicSubscription implements Subscription {
  dropped = 0
  private readonly queue: PubSubMessage[] = []
  private waiter: { resolve: (m: PubSubMessage | undefined) => void } | undefined
  private ended = false
  private readonly onAbort = (): void => { this.unsubscribe() }

  constructor (readonly topic: string, private readonly maxQueued: number, private readonly signal: AbortSignal | undefined, private readonly onEnd: (s: TopicSubscription) => void) {
    signal?.addEventListener('abort', this.onAbort, { once: true })
  }

  get queued (): number { return this.queue.length }
  get active (): boolean { return !this.ended }

  /** @internal Deliver a message (dropped and counted when the queue is full). */
  push (m: PubSubMessage): void {
    if (this.ended) return
    if (this.waiter !== undefined) { const w = this.waiter; this.waiter = undefined; w.resolve(m); return }
    if (this.queue.length >= this.maxQueued) { this.dropped++; return }
    this.queue.push(m)
  }

  /** @internal End without notifying the service (it is stopping). */
  close (): void {
    if (this.ended) return
    this.ended = true
    this.signal?.removeEventListener('abort', this.onAbort)
    const w = this.waiter
    this.waiter = undefined
    w?.resolve(undefined)
  }

  unsubscribe (): void {
    if (this.ended) return
    this.close()
    this.onEnd(this)
  }

  private async take (opts: WaitOptions): Promise<PubSubMessage | undefined> {
    const m = this.queue.shift()
    if (m !== undefined || this.ended) return m
    if (this.waiter !== undefined) throw new AbortError('another read of this subscription is in progress')
    const p = new Promise<PubSubMessage | undefined>(resolve => { this.waiter = { resolve } })
    return await withDeadline(p, opts, `waiting for a message on "${this.topic}"`, () => { this.waiter = undefined })
  }

  async next (): Promise<IteratorResult<PubSubMessage>> {
    const m = await this.take({})
    return m === undefined ? { done: true, value: undefined } : { done: false, value: m }
  }

  async nextMessage (opts: WaitOptions = {}): Promise<PubSubMessage> {
    const m = await this.take(opts)
    if (m === undefined) throw new NotStartedError(`the subscription to "${this.topic}" has ended`)
    return m
  }

  async return (): Promise<IteratorResult<PubSubMessage>> {
    this.unsubscribe()
    return { done: true, value: undefined }
  }

  [Symbol.asyncIterator] (): this { return this }
}
