/**
 * The overlay's datagram API: an ironwood network-layer node (a `net.PacketConn` addressed by ed25519 keys
 * in Go) over any number of authenticated PeerConns. Sending is non-blocking and unreliable; packets to a
 * destination whose coordinates are unknown wait (bounded) behind a lookup.
 */
import { InvalidKeyError, MessageTooLargeError } from '@axl/core'
import { Router, type RouterOptions } from './router.js'
import type { RouterStats } from './stats.js'
import { keyHex, keyStr } from '../crypto.js'
import { buildTopology, type OverlayTopology } from './topology.js'
import type { PeerConn } from './peer-conn.js'

/** Options of an Overlay node (see RouterOptions for every field). */
export type OverlayOptions = RouterOptions

/** Traffic frame overhead reserved by ironwood's MTU: header with empty paths and a 10-byte watermark, plus the type byte. */
const TRAFFIC_OVERHEAD = 77

/** One overlay node: tree, greedy routing, bloom-filtered lookups, datagrams. */
export class Overlay {
  /** Our 32-byte public key. */
  readonly publicKey: Uint8Array
  /** @internal The network layer (exposed for tests and simulations). */
  readonly router: Router

  constructor (opts: OverlayOptions) {
    this.router = new Router(opts)
    this.publicKey = this.router.selfBytes
  }

  /**
   * Called with each datagram addressed to us: the sender's key and the payload, a view into a received buffer
   * that is the callee's (it may decrypt it in place; keeping a view pins that buffer).
   */
  get onPacket (): ((sourceKey: Uint8Array, payload: Uint8Array) => void) | undefined { return this.router.onPacket }
  set onPacket (fn: ((sourceKey: Uint8Array, payload: Uint8Array) => void) | undefined) { this.router.onPacket = fn }

  /** Called when a lookup for a key completes (ironwood's pathNotify hook). */
  get onPathNotify (): ((key: Uint8Array) => void) | undefined { return this.router.onPathNotify }
  set onPathNotify (fn: ((key: Uint8Array) => void) | undefined) { this.router.onPathNotify = fn }

  /** Largest payload `sendTo` accepts (maxFrameSize minus ironwood's traffic overhead). */
  get mtu (): number { return this.router.maxFrameSize - TRAFFIC_OVERHEAD }

  /** Counters (live object; read, do not modify). */
  get stats (): Readonly<RouterStats> { return this.router.stats }

  /** True after close(). */
  get closed (): boolean { return this.router.closed }

  /** Hands over an authenticated link; returns false (and closes it) if refused (link to self, bad key, closed). */
  addPeer (conn: PeerConn): boolean {
    return this.router.addPeer(conn)
  }

  /**
   * Sends one datagram to `destKey` (non-blocking, unreliable). Returns false if the overlay is closed.
   * Throws InvalidKeyError for a key that is not 32 bytes and MessageTooLargeError above `mtu`. `headroom`:
   * bytes just before `payload` in its buffer that the caller gives up, so the frame header can be written
   * there instead of copying the payload (0: the payload is copied into a new frame).
   */
  sendTo (destKey: Uint8Array, payload: Uint8Array, headroom = 0): boolean {
    if (!(destKey instanceof Uint8Array) || destKey.length !== 32) throw new InvalidKeyError('destination key must be 32 bytes')
    if (!(payload instanceof Uint8Array)) throw new TypeError('payload must be a Uint8Array')
    if (payload.length > this.mtu) throw new MessageTooLargeError(payload.length, this.mtu)
    if (!Number.isInteger(headroom) || headroom < 0 || headroom > payload.byteOffset) throw new RangeError(`headroom must be an integer in [0, payload.byteOffset], got ${String(headroom)}`)
    if (this.router.closed) return false
    this.router.pf.sendTraffic(Uint8Array.from(destKey), payload, keyStr(destKey), headroom)
    return true
  }

  /** Starts a lookup for a full or partial (transformed) key without sending traffic (`SendLookup`). */
  sendLookup (partialKey: Uint8Array): void {
    if (!(partialKey instanceof Uint8Array) || partialKey.length !== 32) throw new InvalidKeyError('lookup key must be 32 bytes')
    if (this.router.closed) return
    this.router.pf.rumorSendLookup(Uint8Array.from(partialKey))
  }

  /** Snapshot of this node's view: self, root, parent, coords, peers, tree infos, paths. */
  topology (): OverlayTopology {
    return buildTopology(this.router)
  }

  /** The root of the tree as we see it, hex (cheap: a walk up our own ancestry). */
  root (): string {
    return keyHex(this.router.tree.root())
  }

  /** Closes every link and stops all timers. Idempotent. */
  close (): void {
    this.router.close()
  }
}
