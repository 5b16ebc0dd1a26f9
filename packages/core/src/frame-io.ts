import { TruncatedFrameError } from './errors.js'
import { FrameDecoder, frameHeader } from './framing.js'
import type { WaitOptions } from './deadline.js'
import type { MeshStream } from './stream.js'

/** Reads AXL frames (4-byte big-endian length + payload) from a MeshStream, checking the size limit first. */
export class FrameReader {
  private readonly decoder: FrameDecoder
  private ready: Uint8Array[] = []

  /**
   * `onFrameStart` is called when the first bytes of a frame arrive without the whole frame (for read deadlines);
   * `onBuffered` after every chunk with the bytes of partial frame now held (for memory budgets; it may throw to
   * stop reading, and the error is thrown from next()).
   */
  constructor (private readonly stream: MeshStream, maxFrameSize: number, private readonly onFrameStart?: () => void, private readonly onBuffered?: (bytes: number) => void) {
    this.decoder = new FrameDecoder({ maxFrameSize })
  }

  /** True when part of a frame (header or payload) has been received but not all of it. */
  get midFrame (): boolean { return this.decoder.bufferedBytes > 0 || this.decoder.pendingFrameLength !== undefined }

  /**
   * The next frame, or null when the remote half-closed cleanly between frames.
   * `timeoutMs` bounds the whole call; `frameTimeoutMs`, if set, bounds the rest of a frame once its
   * first byte has arrived (AXL's conn_read_timeout, against peers that trickle a frame forever).
   * Throws FrameTooLargeError (before allocating), TruncatedFrameError, StreamClosedError, TimeoutError, AbortError.
   */
  async next (opts: WaitOptions & { frameTimeoutMs?: number } = {}): Promise<Uint8Array | null> {
    const deadline = opts.timeoutMs === undefined ? Infinity : Date.now() + opts.timeoutMs
    let frameDeadline = Infinity
    for (;;) {
      const frame = this.ready.shift()
      if (frame !== undefined) return frame
      if (opts.frameTimeoutMs !== undefined && frameDeadline === Infinity && this.midFrame) frameDeadline = Date.now() + opts.frameTimeoutMs
      const until = Math.min(deadline, frameDeadline)
      const chunk = await this.stream.read({ signal: opts.signal, timeoutMs: until === Infinity ? undefined : Math.max(0, until - Date.now()) })
      if (chunk === null) {
        this.decoder.end() // throws TruncatedFrameError inside a header or a payload
        return null
      }
      const wasMid = this.midFrame
      const frames = this.decoder.push(chunk)
      this.onBuffered?.(Math.max(this.decoder.bufferedBytes, this.decoder.allocatedBytes))
      if (this.onFrameStart !== undefined && this.midFrame && (!wasMid || frames.length > 0)) this.onFrameStart()
      if (frames.length === 1) return frames[0]
      if (frames.length > 1) { this.ready = frames; return this.ready.shift()! }
    }
  }
}

/** Frames up to this size are written as one buffer (header + payload); larger ones as two writes, uncopied. */
const COALESCE_LIMIT = 64 * 1024

/** Write one frame (4-byte length, then payload) and wait for the stream to drain if needed. */
export async function writeFrame (stream: MeshStream, payload: Uint8Array, opts: WaitOptions = {}): Promise<void> {
  let ok: boolean
  if (payload.byteLength <= COALESCE_LIMIT) {
    // One buffer, handed over to the transport: one allocation per small message, none downstream in memory.
    const buf = new Uint8Array(4 + payload.byteLength)
    new DataView(buf.buffer).setUint32(0, payload.byteLength)
    buf.set(payload, 4)
    ok = stream.send(buf, true)
  } else {
    stream.send(frameHeader(payload.byteLength))
    ok = stream.send(payload)
  }
  if (!ok) await stream.onDrain(opts)
}
