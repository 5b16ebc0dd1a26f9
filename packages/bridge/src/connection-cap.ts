/**
 * The cap on HTTP connections, enforced so that idle sockets cannot lock honest clients out (issue #14):
 * when a new connection would pass the cap, the connection idle the longest (no request in flight: an idle
 * keep-alive socket, or one that has not sent a complete request header yet) is closed to make room. Only
 * when every connection has a request in flight (a /send, a parked /recv long-poll…) is the new one refused.
 */
import type { Socket } from 'node:net'

/** Why a connection was closed by the cap. */
export type CapDrop = 'evicted' | 'refused'

/** Tracks open connections and whether each has requests in flight. */
export class ConnectionCap {
  /** Connections without a request in flight, oldest idle first (Set insertion order). */
  private readonly idle = new Set<Socket>()
  /** Connections with requests in flight → how many. */
  private readonly busy = new Map<Socket, number>()

  /**
   * @param max - most connections open at once
   * @param onDrop - told about each connection the cap closes (`evicted`: an idle one, to make room;
   *   `refused`: the new one, all others being busy), before it is closed; it answers or destroys it
   */
  constructor (readonly max: number, private readonly onDrop: (socket: Socket, why: CapDrop) => void) {}

  /** Connections open now. */
  get size (): number { return this.idle.size + this.busy.size }

  /** A new connection: make room for it if needed; false when it was refused. */
  admit (socket: Socket): boolean {
    socket.once('close', () => { this.idle.delete(socket); this.busy.delete(socket) })
    if (this.size >= this.max) {
      const oldest = this.idle.keys().next()
      if (oldest.done === true) { this.onDrop(socket, 'refused'); return false }
      this.idle.delete(oldest.value)
      this.onDrop(oldest.value, 'evicted')
    }
    this.idle.add(socket)
    return true
  }

  /** A request started on `socket`. */
  requestStarted (socket: Socket): void {
    if (socket.destroyed) return
    this.idle.delete(socket)
    this.busy.set(socket, (this.busy.get(socket) ?? 0) + 1)
  }

  /** A request on `socket` ended (its response closed). */
  requestEnded (socket: Socket): void {
    const n = this.busy.get(socket)
    if (n === undefined) return
    if (n > 1) { this.busy.set(socket, n - 1); return }
    this.busy.delete(socket)
    if (!socket.destroyed) this.idle.add(socket)
  }

  /** Whether `socket` has a request in flight. */
  isBusy (socket: Socket): boolean { return this.busy.has(socket) }
}
