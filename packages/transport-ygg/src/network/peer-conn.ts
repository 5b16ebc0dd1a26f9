/**
 * PeerConn: the contract between the link layer (Noise-secured tcp/ws/memory byte streams) and the
 * ironwood network layer. It is ironwood's `HandleConn(peerKey, net.Conn, prio)`: an authenticated, reliable,
 * ordered byte stream to one peer. The network layer does its own uvarint framing on top.
 */

/** An authenticated, reliable, ordered byte stream to a directly connected peer. */
export interface PeerConn {
  /** The remote's 32-byte ed25519 public key, authenticated by the link handshake. */
  readonly remoteKey: Uint8Array
  /** The link URI, e.g. `tcp://127.0.0.1:9001`, `ws://host:port/path`, `memory://name`. */
  readonly uri: string
  /** True when the remote dialled us. */
  readonly inbound: boolean
  /** Link priority (lower is preferred), as in ironwood. */
  readonly priority: number
  /** Write bytes; returns false when the caller should wait for `onDrain` before writing more. */
  write (data: Uint8Array): boolean
  /** Close the link; `err` (if any) is reported to `onClose` on both sides where the link can carry it. */
  close (err?: Error): void
  /**
   * Set by the consumer: called with each chunk of received bytes (chunk boundaries are arbitrary). The chunk
   * belongs to the consumer from then on (the overlay may decrypt or rewrite it in place).
   */
  onData: (data: Uint8Array) => void
  /** Set by the consumer: called when a previous `write()` returned false and the link can take more. */
  onDrain: () => void
  /** Set by the consumer: called once when the link is closed, from either side. */
  onClose: (err?: Error) => void
}

/** Two connected in-process PeerConns (no encryption, no copying): for simulations and unit tests. */
export function peerConnPair (keyA: Uint8Array, keyB: Uint8Array, opts: { uri?: string, defer?: (fn: () => void) => void } = {}): [PeerConn, PeerConn] {
  const defer = opts.defer ?? queueMicrotask
  const uri = opts.uri ?? 'memory://pair'
  let closed = false
  const make = (remoteKey: Uint8Array, inbound: boolean): PeerConn & { peer?: PeerConn } => ({
    remoteKey,
    uri,
    inbound,
    priority: 0,
    write (data: Uint8Array): boolean {
      if (closed) return false
      const peer = this.peer!
      const copy = data.slice() // like a real link: the receiver gets bytes of its own
      defer(() => { if (!closed) peer.onData(copy) })
      return true
    },
    close (err?: Error): void {
      if (closed) return
      closed = true
      const me = this
      const peer = this.peer!
      defer(() => { me.onClose(err); peer.onClose(err) })
    },
    onData: () => {},
    onDrain: () => {},
    onClose: () => {}
  })
  const a = make(keyB, false)
  const b = make(keyA, true)
  a.peer = b
  b.peer = a
  return [a, b]
}
