/**
 * What every link connection does the same way, whatever its handshake: hold received bytes until the
 * network layer sets `onData` (bounded), report the close exactly once (also to a handler set late), count
 * bytes, and give a graceful close a deadline. `MetaPeerConn` and `NoisePeerConn` add their write and receive
 * paths on top.
 */
import { TimeoutError } from '@axl/core'
import type { Clock, TimerHandle } from '../clock.js'
import { HandshakeError } from './errors.js'
import { noop, type RawDuplex } from './link-type.js'
import type { LinkByteCounters, LinkConn } from './secured-link.js'

/** Unread bytes kept for a link whose consumer has not set `onData` yet. */
export const MAX_PENDING_BYTES = 16 * 1024 * 1024

/** The parts of a link every handshake produces. */
export interface LinkConnInit {
  raw: RawDuplex
  rawClosed: Promise<Error | undefined>
  remoteKey: Uint8Array
  uri: string
  inbound: boolean
  priority: number
  clock: Clock
  closeTimeoutMs: number
  counters?: LinkByteCounters
}

/** The shared lifecycle of a link connection (see the module comment). */
export abstract class LinkConnBase implements LinkConn {
  readonly remoteKey: Uint8Array
  readonly uri: string
  readonly inbound: boolean
  readonly priority: number
  /** Resolves once the link is closed (with the error, if it failed). */
  readonly closed: Promise<Error | undefined>
  /** Resolves once the underlying raw duplex (socket) has closed. */
  readonly rawClosed: Promise<Error | undefined>
  onDrain: () => void = noop
  protected readonly raw: RawDuplex
  protected readonly clock: Clock
  protected readonly closeTimeoutMs: number
  protected readonly counters: LinkByteCounters | undefined
  protected closing = false
  protected isClosed = false
  protected closeError: Error | undefined
  private dataHandler: ((data: Uint8Array) => void) | undefined
  private closeHandler: ((err?: Error) => void) | undefined
  private pending: Uint8Array[] = []
  private pendingBytes = 0
  private closeReported = false
  private closeTimer: TimerHandle | undefined
  private resolveClosed!: (err: Error | undefined) => void

  constructor (init: LinkConnInit) {
    this.raw = init.raw
    this.rawClosed = init.rawClosed
    this.remoteKey = init.remoteKey
    this.uri = init.uri
    this.inbound = init.inbound
    this.priority = init.priority
    this.clock = init.clock
    this.closeTimeoutMs = init.closeTimeoutMs
    this.counters = init.counters
    this.closed = new Promise(resolve => { this.resolveClosed = resolve })
  }

  /** The raw duplex under this link (for the manager's bookkeeping). */
  get duplex (): RawDuplex { return this.raw }

  /** Received bytes go here (bytes that arrived before this was set are delivered right after). */
  get onData (): (data: Uint8Array) => void { return this.dataHandler ?? noop }
  set onData (fn: (data: Uint8Array) => void) {
    this.dataHandler = fn
    if (this.pending.length > 0) {
      const p = this.pending
      this.pending = []
      this.pendingBytes = 0
      queueMicrotask(() => { for (const c of p) if (!this.isClosed) this.dataHandler?.(c) })
    }
  }

  /** Called once when the link closes (set late, it still fires once). */
  get onClose (): (err?: Error) => void { return this.closeHandler ?? noop }
  set onClose (fn: (err?: Error) => void) {
    this.closeHandler = fn
    if (this.isClosed && !this.closeReported) queueMicrotask(() => { this.reportClose() })
  }

  /** Send bytes; false when the caller should wait for `onDrain`. */
  abstract write (data: Uint8Array): boolean
  /** Close the link: without `err`, queued bytes are flushed first; with `err`, dropped now. */
  abstract close (err?: Error): void

  /** Hand received bytes to the consumer, or hold them (bounded) until it sets `onData`. */
  protected deliver (c: Uint8Array): void {
    if (c.byteLength === 0 || this.isClosed) return
    if (this.counters !== undefined) this.counters.bytesIn += c.byteLength
    const h = this.dataHandler
    if (h !== undefined) { h(c); return }
    this.pending.push(c)
    this.pendingBytes += c.byteLength
    if (this.pendingBytes > MAX_PENDING_BYTES) this.close(new HandshakeError('PeerConn.onData was never set and too much data arrived'))
  }

  /** Start the deadline of a graceful close: the raw duplex is dropped if it has not closed by then. */
  protected startCloseTimer (): void {
    this.closeTimer = this.clock.setTimeout(() => {
      this.raw.close(new TimeoutError(`closing link ${this.uri} timed out after ${this.closeTimeoutMs} ms`))
    }, this.closeTimeoutMs)
  }

  /** The link is closed (the raw duplex or the stream reported it): settle `closed` and report once. */
  protected finish (err?: Error): void {
    if (this.isClosed) return
    this.isClosed = true
    this.closing = true
    this.closeError ??= err
    this.clock.clearTimeout(this.closeTimer)
    this.resolveClosed(this.closeError)
    if (this.closeHandler !== undefined) this.reportClose()
  }

  private reportClose (): void {
    if (this.closeReported) return
    this.closeReported = true
    this.closeHandler?.(this.closeError)
  }
}
