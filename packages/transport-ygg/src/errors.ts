/**
 * Typed errors of the ironwood wire layer. `WireError` marks bytes from a peer that ironwood would
 * refuse (and drop the link for), or a value that cannot be put on the wire.
 * Callers can branch on `err.code === 'ERR_WIRE'` or `instanceof WireError`.
 */
import { AxlError } from '@axl/core'

/** Malformed or oversized link frame / frame body, or a value that cannot be encoded. */
export class WireError extends AxlError {
  constructor (message: string, options?: { cause?: unknown }) {
    super('ERR_WIRE', message, options)
  }
}

/**
 * Thrown by `FrameReader.push()` when the byte stream is malformed. `frames` holds the well-formed frames
 * that preceded the error in the same chunk: ironwood handles those before it drops the link.
 */
export class FrameStreamError extends WireError {
  /** Frames decoded from the same `push()` before the error, in order. */
  readonly frames: ReadonlyArray<{ type: number, body: Uint8Array }>
  constructor (message: string, frames: ReadonlyArray<{ type: number, body: Uint8Array }> = [], options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'FrameStreamError'
    this.frames = frames
  }
}
