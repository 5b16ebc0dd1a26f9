/**
 * A test-controlled peer: one end of a memory PeerConn pair is handed to an Overlay, the other end is driven
 * by the test (raw writes, decoded frames captured).
 */
import type { VirtualClock } from '../../src/clock.js'
import { peerConnPair, type PeerConn } from '../../src/network/peer-conn.js'
import { FrameReader, type Frame } from '../../src/network/wire.js'
import type { Overlay } from '../../src/network/overlay.js'

/** The test side of a link to an overlay node. */
export interface RawPeer {
  /** Our end of the link. */
  conn: PeerConn
  /** The overlay's end of the link. */
  remote: PeerConn
  /** Frames the overlay sent us, in order. */
  frames: Frame[]
  /** True once the link closed. */
  closed: () => boolean
  /** Writes raw bytes to the overlay. */
  write: (bytes: Uint8Array) => void
}

/** Attaches a raw peer with key `key` to `overlay`, delivering after `latencyMs` of virtual time. */
export function attachRawPeer (overlay: Overlay, key: Uint8Array, clock: VirtualClock, latencyMs = 1, opts: { writeResult?: () => boolean } = {}): RawPeer {
  const defer = (fn: () => void): void => { clock.setTimeout(fn, latencyMs) }
  const [mine, theirs] = peerConnPair(key, overlay.publicKey, { uri: 'memory://raw', defer })
  const reader = new FrameReader(1 << 20)
  const frames: Frame[] = []
  let closed = false
  mine.onData = (d) => { for (const f of reader.push(d)) frames.push({ type: f.type, body: f.body.slice() }) }
  mine.onClose = () => { closed = true }
  if (opts.writeResult !== undefined) {
    const orig = theirs.write.bind(theirs)
    const wr = opts.writeResult
    theirs.write = (data: Uint8Array) => { orig(data); return wr() }
  }
  overlay.addPeer(theirs)
  return { conn: mine, remote: theirs, frames, closed: () => closed, write: (b) => { mine.write(b) } }
}
