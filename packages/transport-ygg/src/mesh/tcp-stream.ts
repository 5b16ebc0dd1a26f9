/**
 * A userspace TCP connection as a core MeshStream: FIN is closeWrite, RST is abort, and the receive window
 * follows what the application has read (the connection is paused while the stream's buffer is full).
 * Writes of any size are accepted: what the TCP send buffer cannot take yet waits here, by reference, and
 * send() returns false until it has been handed over (the usual drain contract).
 */
import { createMeshStream, type MeshStream, type PeerId } from '@axl/core'
import type { TcpConnection } from '../tcp/connection.js'

/** Largest piece handed to TCP in one write() (well under its send buffer). */
const PIECE = 256 * 1024

/** Options of tcpConnectionStream. */
export interface TcpStreamOptions {
  /**
   * The stack's input packets are fresh buffers that nobody modifies after `input()` (ygg: each is a session
   * plaintext just decrypted into its own buffer), so received data may be kept as views instead of copied.
   * Views that are less than half of their buffer are still copied, so small reads do not pin large packets.
   * Default false: every chunk is copied.
   */
  inputOwned?: boolean
}

/** Wrap a TCP connection to `peer` as a MeshStream. */
export function tcpConnectionStream (conn: TcpConnection, peer: PeerId, direction: 'inbound' | 'outbound', opts: TcpStreamOptions = {}): MeshStream {
  const inputOwned = opts.inputOwned === true
  let paused = false
  let backlog: Uint8Array[] = [] // owned buffers TCP could not take yet
  let endPending = false

  // Writes made in one burst (a sender's synchronous loop, a frame header then its payload) are coalesced:
  // TCP is corked until the end of the current microtask checkpoint, so only full segments go out meanwhile
  // and a partial tail waits for the next write instead of becoming a tiny segment of its own (a 64 KiB
  // write with MSS 65475 was one full and one 61-byte segment: twice the packets, seals and frames).
  let corked = false
  const uncork = (): void => { corked = false; conn.uncork() }

  /** Hand backlog to TCP until it pushes back; true when everything went. */
  const pump = (): boolean => {
    if (!corked) { corked = true; conn.cork(); queueMicrotask(uncork) }
    while (backlog.length > 0) {
      const head = backlog[0]
      const piece = head.length > PIECE ? head.subarray(0, PIECE) : head
      const more = conn.write(piece)
      if (piece === head) backlog.shift(); else backlog[0] = head.subarray(PIECE)
      if (!more) return false
    }
    return true
  }

  const { stream, controller } = createMeshStream({
    remotePeer: peer,
    direction,
    sink: {
      write: (data, owned) => {
        // TCP keeps written buffers by reference until acknowledged: copy what the caller did not hand over.
        backlog.push(owned === true ? data : data.slice())
        return backlog.length === 1 ? pump() : false
      },
      end: () => {
        if (backlog.length > 0) endPending = true
        else conn.end()
      },
      reset: () => { backlog = []; conn.reset() }
    },
    onConsumed: () => {
      if (paused && !stream.readableFull) { paused = false; conn.resume() }
    }
  })
  conn.onData = data => {
    // A view into the packet the stack received: copy to keep, unless that packet is ours to keep (inputOwned).
    controller.deliver(inputOwned && data.byteLength * 2 >= data.buffer.byteLength ? data : data.slice())
    if (!paused && stream.readableFull) { paused = true; conn.pause() }
  }
  conn.onEnd = () => { controller.end() }
  conn.onDrain = () => {
    if (!pump()) return
    if (endPending) { endPending = false; conn.end() }
    controller.drain()
  }
  conn.onClose = err => {
    backlog = []
    if (err !== undefined) controller.reset(err.message)
    else if (stream.status === 'open') controller.end()
  }
  return stream
}
