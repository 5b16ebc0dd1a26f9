/**
 * AXL's stream framing (axl-reference §2.1): each message is a uint32 big-endian length followed by that
 * many payload bytes. No magic, version or checksum; zero-length frames are legal.
 */
import { ConfigError, FrameTooLargeError, TruncatedFrameError } from './errors.js'
import type { AxlError } from './errors.js'

/** Size of the length prefix in bytes. */
export const FRAME_HEADER_BYTES = 4

/** Go AXL's `max_message_size` default (16 MiB): the largest frame a node accepts by default. */
export const DEFAULT_MAX_MESSAGE_SIZE = 16 * 1024 * 1024

/** Largest length a uint32 header can carry. */
export const MAX_FRAME_LENGTH = 0xffffffff

/**
 * Declared lengths up to this size get their exact-size buffer as soon as the first payload byte arrives.
 * Above it, received chunks are held as they are until half the declared length has arrived, and only then
 * is the exact-size buffer allocated (each byte is copied once), so a peer that claims 16 MiB and sends
 * 10 bytes costs ~10 bytes, not 16 MiB, and what is allocated never exceeds twice what arrived.
 */
export const EAGER_ALLOCATION_LIMIT = 64 * 1024

function checkLength (length: number): void {
  if (typeof length !== 'number' || !Number.isInteger(length) || length < 0) {
    throw new ConfigError(`frame length must be an integer between 0 and ${MAX_FRAME_LENGTH}, got ${String(length)}`)
  }
  if (length > MAX_FRAME_LENGTH) throw new FrameTooLargeError(length, MAX_FRAME_LENGTH)
}

/** The 4-byte big-endian length prefix for a payload of `length` bytes. */
export function frameHeader (length: number): Uint8Array {
  checkLength(length)
  const h = new Uint8Array(FRAME_HEADER_BYTES)
  h[0] = length >>> 24
  h[1] = (length >>> 16) & 0xff
  h[2] = (length >>> 8) & 0xff
  h[3] = length & 0xff
  return h
}

/** One buffer holding the length prefix followed by `payload`. */
export function encodeFrame (payload: Uint8Array): Uint8Array {
  checkLength(payload.length)
  const out = new Uint8Array(FRAME_HEADER_BYTES + payload.length)
  const n = payload.length
  out[0] = n >>> 24
  out[1] = (n >>> 16) & 0xff
  out[2] = (n >>> 8) & 0xff
  out[3] = n & 0xff
  out.set(payload, FRAME_HEADER_BYTES)
  return out
}

function readU32 (b: Uint8Array, i: number): number {
  return ((b[i] << 24) >>> 0) + (b[i + 1] << 16) + (b[i + 2] << 8) + b[i + 3]
}

/** Options of {@link FrameDecoder}. */
export interface FrameDecoderOptions {
  /** Largest accepted payload length in bytes (a frame of exactly this length is accepted). Default 16 MiB. */
  maxFrameSize?: number
}

/**
 * Incremental decoder: feed it the chunks of a byte stream, get complete frames back.
 *
 * - A declared length above `maxFrameSize` throws {@link FrameTooLargeError} as soon as the 4 header bytes
 *   are known, before anything is allocated for the payload. The decoder then stays failed: every later
 *   `push()`/`end()` throws the same error. Frames completed earlier in the same `push()` call are dropped
 *   with it (Go AXL would have dispatched them before closing; only a misbehaving peer pipelines a valid
 *   frame and an oversize one into the same chunk).
 * - A frame wholly inside one chunk is returned as a zero-copy `subarray` of that chunk, and parts of a large
 *   frame may be held as views until it is assembled: do not modify a pushed chunk's memory afterwards.
 *   A frame spanning chunks is copied into one buffer of exactly its length; see
 *   {@link EAGER_ALLOCATION_LIMIT} for when that buffer is allocated.
 */
export class FrameDecoder {
  /** The configured frame size limit. */
  readonly maxFrameSize: number
  readonly #header = new Uint8Array(FRAME_HEADER_BYTES)
  #headerFill = 0
  #length: number | undefined
  #buf: Uint8Array | undefined
  /** Views of the chunks of a large frame received before its buffer is allocated. */
  #pieces: Uint8Array[] = []
  #fill = 0
  #error: AxlError | undefined

  constructor (opts: FrameDecoderOptions = {}) {
    const max = opts.maxFrameSize ?? DEFAULT_MAX_MESSAGE_SIZE
    if (typeof max !== 'number' || !Number.isInteger(max) || max < 0 || max > MAX_FRAME_LENGTH) {
      throw new ConfigError(`maxFrameSize must be an integer between 0 and ${MAX_FRAME_LENGTH}, got ${String(max)}`)
    }
    this.maxFrameSize = max
  }

  /** Bytes received and held for the frame in progress (partial header or partial payload). */
  get bufferedBytes (): number {
    return this.#headerFill + this.#fill
  }

  /** Declared payload length of the frame in progress, once its header is complete. */
  get pendingFrameLength (): number | undefined {
    return this.#length
  }

  /** Bytes currently held for the partial payload: its buffer, or the received chunks before it (diagnostics). */
  get allocatedBytes (): number {
    return this.#buf?.length ?? this.#fill
  }

  /** The error that failed this decoder, if any. */
  get error (): AxlError | undefined {
    return this.#error
  }

  /** Feeds a chunk; returns the frames it completed, in order. */
  push (chunk: Uint8Array): Uint8Array[] {
    if (this.#error !== undefined) throw this.#error
    const frames: Uint8Array[] = []
    const n = chunk.length
    const max = this.maxFrameSize
    let pos = 0
    while (pos < n) {
      if (this.#length === undefined) {
        let len: number
        if (this.#headerFill === 0 && n - pos >= FRAME_HEADER_BYTES) {
          len = readU32(chunk, pos)
          pos += FRAME_HEADER_BYTES
        } else {
          const take = Math.min(FRAME_HEADER_BYTES - this.#headerFill, n - pos)
          this.#header.set(chunk.subarray(pos, pos + take), this.#headerFill)
          this.#headerFill += take
          pos += take
          if (this.#headerFill < FRAME_HEADER_BYTES) break
          this.#headerFill = 0
          len = readU32(this.#header, 0)
        }
        if (len > max) this.#fail(new FrameTooLargeError(len, max), frames)
        if (n - pos >= len) { // whole payload in this chunk: zero copy
          frames.push(chunk.subarray(pos, pos + len))
          pos += len
          continue
        }
        this.#length = len
        if (pos === n) break
      }
      const length = this.#length
      const take = Math.min(length - this.#fill, n - pos)
      const part = chunk.subarray(pos, pos + take)
      if (this.#buf === undefined && length > EAGER_ALLOCATION_LIMIT && (this.#fill + take) * 2 < length) {
        this.#pieces.push(part) // less than half of a large frame is here: hold the chunk, allocate nothing
        this.#fill += take
        pos += take
        continue
      }
      const buf = this.#buf ?? this.#allocate(length)
      buf.set(part, this.#fill)
      this.#fill += take
      pos += take
      if (this.#fill === length) {
        frames.push(buf)
        this.#buf = undefined
        this.#fill = 0
        this.#length = undefined
      }
    }
    return frames
  }

  /** Declares the end of the stream; throws TruncatedFrameError if a partial frame is buffered. */
  end (): void {
    if (this.#error !== undefined) throw this.#error
    if (this.#headerFill > 0) {
      this.#error = new TruncatedFrameError(
        `stream ended inside a frame header (${this.#headerFill} of ${FRAME_HEADER_BYTES} bytes)`)
    } else if (this.#length !== undefined) {
      this.#error = new TruncatedFrameError(
        `stream ended after ${this.#fill} of ${this.#length} payload bytes of a frame`)
    } else {
      return
    }
    this.#buf = undefined
    this.#pieces = []
    throw this.#error
  }

  /** The exact-size buffer of the frame in progress, with the held pieces copied in. */
  #allocate (length: number): Uint8Array {
    const buf = new Uint8Array(length)
    let o = 0
    for (const p of this.#pieces) { buf.set(p, o); o += p.length }
    this.#pieces = []
    this.#buf = buf
    return buf
  }

  #fail (err: AxlError, frames: Uint8Array[]): never {
    this.#error = err
    this.#buf = undefined
    this.#pieces = []
    this.#fill = 0
    this.#length = undefined
    this.#headerFill = 0
    frames.length = 0
    throw err
  }
}
