import { AbortError, AxlError, StreamClosedError } from './errors.js'
import { withDeadline, type WaitOptions } from './deadline.js'
import type { PeerId } from './peer-id.js'

/**
 * A reliable, ordered byte stream between two nodes, as every Mesh transport provides it.
 *
 * It follows the conventions of `@libp2p/interface` v3 message streams: `send()` returns false when the
 * caller should wait for `onDrain()`; `closeWrite()` half-closes (FIN), `close()` closes gracefully,
 * `abort(err)` resets. Reading is pull-based (`read()` or `for await`), with a bounded receive buffer
 * whose state the transport uses for flow control.
 */

/** Where a stream stands. */
export type StreamStatus = 'open' | 'closed' | 'aborted'

/** How bytes leave this end of a stream; implemented by each transport. */
export interface StreamSink {
  /**
   * Send bytes to the remote; return false to ask the writer to wait until the controller's `drain()`. When `owned` is
   * true the caller hands the buffer over (it will never touch it again), so an in-process sink may keep it
   * instead of copying.
   */
  write: (data: Uint8Array, owned?: boolean) => boolean
  /** Half-close: no more bytes from this side (FIN). */
  end: () => void
  /** Reset the stream (RST); the remote's pending and future reads fail with `reason`. */
  reset: (reason: string) => void
}

/** Options for a MeshStream. */
export interface MeshStreamInit {
  /** The authenticated remote peer (full key). */
  remotePeer: PeerId
  /** Who opened the stream. */
  direction: 'inbound' | 'outbound'
  /** How bytes leave this end. */
  sink: StreamSink
  /** Receive-buffer high-water mark in bytes; `readableFull` turns true above it. Default 1 MiB. */
  readableHighWaterMark?: number
  /** Called after the reader consumed bytes (transports use it to reopen their window). */
  onConsumed?: (bytes: number) => void
}

let nextStreamId = 1

/**
 * The transport's side of a MeshStream, handed only to the transport that created the stream (the application
 * gets the MeshStream: read, send, close). Calls after the stream ended or was reset are ignored.
 */
export interface StreamController {
  /** Bytes arrived from the remote (handed over: the stream keeps the buffer). */
  deliver: (data: Uint8Array) => void
  /** The remote half-closed (FIN). */
  end: () => void
  /** The remote reset the stream, or the connection under it failed. */
  reset: (reason: string) => void
  /** The sink can take more bytes again (after a write that returned false). */
  drain: () => void
}

/** Create a stream and its controller: for transports (the in-memory mesh, ygg(), your own Mesh). */
export function createMeshStream (init: MeshStreamInit): { stream: MeshStream, controller: StreamController } {
  return MeshStream.create(init)
}

/** One end of a stream. Transports create them; applications use read/send/close. */
export class MeshStream implements AsyncIterable<Uint8Array> {
  /** Unique id within this process, for logs. */
  readonly id: number
  /** The authenticated remote peer. */
  readonly remotePeer: PeerId
  /** Who opened the stream. */
  readonly direction: 'inbound' | 'outbound'
  private readonly sink: StreamSink
  private readonly hwm: number
  private readonly onConsumed?: (bytes: number) => void
  private chunks: Uint8Array[] = []
  private head = 0
  private buffered = 0
  private remoteEnded = false
  private localEnded = false
  private resetReason: string | undefined
  /** The Error passed to abort(), thrown to this side's pending and later operations. */
  private localError: Error | undefined
  private readWaiters: Array<() => void> = []
  /** True between a sink write that returned false and the controller's next drain(). */
  private needDrain = false
  private drainWaiters: Array<() => void> = []
  private closeWaiters: Array<() => void> = []
  private discarding = false
  /** Bytes put back by unread() and not read again yet (already reported to onConsumed once). */
  private replayed = 0

  private constructor (init: MeshStreamInit) {
    this.id = nextStreamId++
    this.remotePeer = init.remotePeer
    this.direction = init.direction
    this.sink = init.sink
    this.hwm = init.readableHighWaterMark ?? 1024 * 1024
    this.onConsumed = init.onConsumed
  }

  /** 'open' until both directions ended ('closed') or the stream was reset ('aborted'). */
  get status (): StreamStatus {
    if (this.resetReason !== undefined) return 'aborted'
    return this.remoteEnded && this.localEnded ? 'closed' : 'open'
  }

  /** Bytes received and not yet read. */
  get readableLength (): number { return this.buffered }

  /** True when the receive buffer is above its high-water mark (the transport should stop sending). */
  get readableFull (): boolean { return this.buffered >= this.hwm }

  /** True once this side half-closed or the stream was reset. */
  get writableEnded (): boolean { return this.localEnded || this.resetReason !== undefined }

  /**
   * Send bytes. Returns false when the caller should `await onDrain()` before sending more.
   * Pass `owned = true` only for a buffer you never touch again (the transport may keep it without copying).
   */
  send (data: Uint8Array, owned = false): boolean {
    if (this.resetReason !== undefined) throw this.resetError()
    if (this.localEnded) throw new StreamClosedError('cannot send after closeWrite()')
    const ok = this.sink.write(data, owned)
    if (!ok) this.needDrain = true
    return ok
  }

  /** Resolves when the transport can take more bytes (at once if the last `send()` was not pushed back). */
  async onDrain (opts: WaitOptions = {}): Promise<void> {
    if (this.resetReason !== undefined) throw this.resetError()
    if (!this.needDrain) return
    let resolve!: () => void
    const p = new Promise<void>(res => { resolve = res })
    this.drainWaiters.push(resolve)
    await withDeadline(p, opts, 'waiting for the stream to drain', () => {
      this.drainWaiters = this.drainWaiters.filter(w => w !== resolve)
    })
    if (this.resetReason !== undefined) throw this.resetError()
  }

  /** Half-close: tell the remote no more bytes will come from this side (FIN). Idempotent. */
  closeWrite (): void {
    if (this.localEnded || this.resetReason !== undefined) return
    this.localEnded = true
    this.sink.end()
    this.settleClose()
  }

  /** Close gracefully: half-close, and drop whatever else the remote sends. */
  close (): void {
    this.closeWrite()
    this.discarding = true
    this.dropBuffered()
  }

  /**
   * Reset the stream; both sides' pending operations fail. Idempotent. This side's operations then throw
   * `err` itself when it is an AxlError (e.g. a TimeoutError), else StreamClosedError.
   */
  abort (err?: Error | string): void {
    if (this.resetReason !== undefined) return
    const reason = typeof err === 'string' ? err : (err?.message ?? 'aborted')
    this.resetReason = reason
    // A typed error (TimeoutError from a deadline, NotStartedError from stop) is what this side's waiters see.
    if (err instanceof AxlError) this.localError = err
    // A reset discards what was received and not read yet: reads fail at once, as after a TCP RST.
    this.chunks = []
    this.head = 0
    this.buffered = 0
    this.sink.reset(reason)
    this.wakeAll()
  }

  /** Resolves when the stream is closed in both directions or reset. */
  async closed (opts: WaitOptions = {}): Promise<void> {
    if (this.status !== 'open') return
    let resolve!: () => void
    const p = new Promise<void>(res => { resolve = res })
    this.closeWaiters.push(resolve)
    await withDeadline(p, opts, 'waiting for the stream to close', () => {
      this.closeWaiters = this.closeWaiters.filter(w => w !== resolve)
    })
  }

  /**
   * Read the next chunk: resolves with bytes, or null at end of stream (remote half-closed).
   * Rejects with StreamClosedError if the stream was reset.
   */
  async read (opts: WaitOptions = {}): Promise<Uint8Array | null> {
    for (;;) {
      const chunk = this.readSync()
      if (chunk !== undefined) return chunk
      if (opts.signal?.aborted === true) throw new AbortError()
      let wake!: () => void
      const p = new Promise<void>(resolve => { wake = resolve })
      this.readWaiters.push(wake)
      if (opts.signal === undefined && opts.timeoutMs === undefined) { await p; continue }
      await withDeadline(p, opts, 'reading from the stream', () => {
        this.readWaiters = this.readWaiters.filter(w => w !== wake)
      })
    }
  }

  /**
   * Take the next buffered chunk without waiting: a chunk, null at end of stream, or undefined if nothing
   * is buffered yet. Throws StreamClosedError if the stream was reset.
   */
  readSync (): Uint8Array | null | undefined {
    if (this.head < this.chunks.length) {
      const chunk = this.chunks[this.head]
      this.chunks[this.head++] = EMPTY
      if (this.head === this.chunks.length) { this.chunks = []; this.head = 0 }
      this.buffered -= chunk.byteLength
      let consumed = chunk.byteLength
      if (this.replayed > 0) {
        const again = Math.min(this.replayed, consumed)
        this.replayed -= again
        consumed -= again
      }
      if (consumed > 0) this.onConsumed?.(consumed)
      return chunk
    }
    if (this.resetReason !== undefined) throw this.resetError()
    if (this.remoteEnded) return null
    return undefined
  }

  /**
   * Put bytes back in front of the receive buffer, to be read again (a protocol layer that read past its own
   * header hands the rest to the application).
   */
  unread (data: Uint8Array): void {
    if (data.byteLength === 0 || this.resetReason !== undefined) return
    if (this.head > 0) { this.chunks = this.chunks.slice(this.head); this.head = 0 }
    this.chunks.unshift(data)
    this.buffered += data.byteLength
    this.replayed += data.byteLength
  }

  /** Iterate over received chunks until the remote half-closes. */
  async * [Symbol.asyncIterator] (): AsyncIterator<Uint8Array> {
    for (;;) {
      const chunk = await this.read()
      if (chunk === null) return
      yield chunk
    }
  }

  // ---- transport side (reached only through the StreamController of createMeshStream) ----------------

  /** Create a stream and the controller its transport drives it with (see createMeshStream). */
  static create (init: MeshStreamInit): { stream: MeshStream, controller: StreamController } {
    const stream = new MeshStream(init)
    const controller: StreamController = {
      deliver: (data) => { stream.#deliver(data) },
      end: () => { stream.#deliverEnd() },
      reset: (reason) => { stream.#deliverReset(reason) },
      drain: () => { stream.#notifyDrain() }
    }
    return { stream, controller }
  }

  #deliver (data: Uint8Array): void {
    if (this.remoteEnded || this.resetReason !== undefined) return
    if (this.discarding) { this.onConsumed?.(data.byteLength); return }
    if (data.byteLength === 0) return
    this.chunks.push(data)
    this.buffered += data.byteLength
    this.wakeReader()
  }

  #deliverEnd (): void {
    if (this.remoteEnded || this.resetReason !== undefined) return
    this.remoteEnded = true
    this.wakeReader()
    this.settleClose()
  }

  #deliverReset (reason: string): void {
    if (this.resetReason !== undefined) return
    this.resetReason = reason
    this.wakeAll()
  }

  #notifyDrain (): void {
    this.needDrain = false
    const waiters = this.drainWaiters
    this.drainWaiters = []
    for (const w of waiters) w()
  }

  /** The error for operations on a reset stream: the aborting owner's own error, else StreamClosedError. */
  private resetError (): Error {
    return this.localError ?? new StreamClosedError(`stream reset: ${this.resetReason ?? 'unknown'}`)
  }

  private dropBuffered (): void {
    const n = this.buffered
    this.chunks = []
    this.head = 0
    this.buffered = 0
    if (n > 0) this.onConsumed?.(n)
  }

  private wakeReader (): void {
    if (this.readWaiters.length === 0) return
    const waiters = this.readWaiters
    this.readWaiters = []
    for (const w of waiters) w()
  }

  private settleClose (): void {
    if (this.status === 'open') return
    const waiters = this.closeWaiters
    this.closeWaiters = []
    for (const w of waiters) w()
  }

  private wakeAll (): void {
    this.wakeReader()
    this.#notifyDrain()
    this.settleClose()
  }
}

const EMPTY = new Uint8Array(0)
