/**
 * The peer table of one node (ironwood `peers.go`): links and per-key ports, frame reading with strict
 * handling, the keepalive rule (`peerMonitor`) and per-link queues. What a frame means is the router's
 * business (`PeersHost.handleFrame`); this module only moves frames on and off links.
 *
 * Differences from ironwood, on purpose:
 * - Keepalive and read-deadline timers are timestamps with one lazily re-armed Clock timer per link.
 * - Frames that ironwood would refuse to send because they exceed the frame limit are dropped and counted.
 * - When a PeerConn's `write()` returns false, later droppable frames wait in a byte-capped queue until
 *   `onDrain` (ironwood's writer blocks on the socket instead); tree and bloom frames are always written.
 */
import { WireError } from '../errors.js'
import { defaultLogger } from '@libp2p/logger'
import type { Clock, TimerHandle } from '../clock.js'
import type { KeyStr } from '../crypto.js'
import { Bloom, encodeBloom } from './bloom.js'
import type { RouterTimings } from './config.js'
import { PacketQueue } from './packet-queue.js'
import type { PeerConn } from './peer-conn.js'
import type { RouterStats } from './stats.js'
import { encodeKeepAlive, FrameReader, FrameType, type SigReq, type SigRes } from './wire.js'

const log = defaultLogger().forComponent('axl:network')

/** One link (a PeerConn) to a peer. */
export interface Link {
  readonly conn: PeerConn
  readonly peer: PeerState
  readonly order: number
  readonly prio: number
  readonly openedAt: number
  reader: FrameReader
  ready: boolean
  queue: PacketQueue | undefined
  closed: boolean
  deadlineAt: number
  keepAliveAt: number
  wakeAt: number
  wakeTimer: TimerHandle | undefined
  wake: () => void
  /** SigReq send time, for the RTT sample. */
  srst: number
  responded: boolean
  /** RTT EWMA as ironwood keeps it (ms; < 0 when unknown). Not used for routing (cost = 1). */
  lagMs: number
  rttMs: number | undefined
}

/** Everything we keep per peer key (shared by all links to that key). */
export interface PeerState {
  readonly key: KeyStr
  readonly keyBytes: Uint8Array
  readonly port: number
  links: Link[]
  /** Infos already sent to this peer. */
  sent: Set<KeyStr>
  /** True once we have sent this peer any Announce (an early pass gossips only to peers still without one). */
  gossiped: boolean
  request: SigReq | undefined
  response: SigRes | undefined
  resSeq: number
  bloom: BloomState
  /** PathLookup token bucket: tokens left and when they were last topped up. */
  lookupTokens: number
  lookupAt: number
}

/** Per-peer bloom state: what we last sent and received, the on-tree flag, and ironwood's counters. */
export interface BloomState {
  send: Bloom
  sendFrame: Uint8Array
  recv: Bloom
  /** Ticks since the filter was last (re)sent; forced resend at 3600 (about 1 h). */
  seq: number
  onTree: boolean
  zDirty: boolean
  /** `Blooms.inputs` value the last computation used. */
  computedAt: number
}

/** The shared, never-mutated empty filter (initial send/recv state of every peer). */
export const EMPTY_BLOOM = new Bloom()
/** The Bloom frame of EMPTY_BLOOM. */
export const EMPTY_BLOOM_FRAME = encodeBloom(EMPTY_BLOOM)

/** A fresh bloom state for a new peer key. */
export function newBloomState (): BloomState {
  return { send: EMPTY_BLOOM, sendFrame: EMPTY_BLOOM_FRAME, recv: EMPTY_BLOOM, seq: 0, onTree: false, zDirty: false, computedAt: -1 }
}

/** Thrown by a frame handler to close the link it came on; never escapes the peer table. */
export class LinkError extends Error {
  constructor (readonly reason: 'frame' | 'signature' | 'protocol', message: string, options?: { cause?: unknown }) {
    super(message, options)
  }
}

/**
 * The error a link is closed with when its peer sent something invalid: a LinkError as is, a decoder's WireError
 * as LinkError('frame') (the link layer backs such peers off); anything else (our own bug) unchanged.
 */
function asViolation (e: unknown): Error {
  if (e instanceof LinkError) return e
  if (e instanceof WireError) return new LinkError('frame', e.message, { cause: e })
  return e instanceof Error ? e : new Error(String(e))
}

/** What the peer table needs from the router that owns it. */
export interface PeersHost {
  readonly clock: Clock
  readonly stats: RouterStats
  readonly opts: RouterTimings
  readonly maxFrameSize: number
  readonly queueBytes: number
  /** One received frame (after the keepalive bookkeeping); a throw closes the link (LinkError 'signature' counts as a bad signature). */
  handleFrame: (link: Link, type: number, body: Uint8Array) => void
  /** A link was closed and removed; `peerGone` when it was the peer's last one (the peer is forgotten). */
  linkClosed: (link: Link, peerGone: boolean) => void
}

const KEEPALIVE = encodeKeepAlive()

/** Links to peers, by key and by port, with their reading, writing and keepalive. */
export class Peers {
  readonly byKey = new Map<KeyStr, PeerState>()
  readonly byPort = new Map<number, PeerState>()
  private linkOrder = 0
  private readonly host: PeersHost

  constructor (host: PeersHost) {
    this.host = host
  }

  /** Adds a link for the (already validated) key `key` of `conn`, creating the peer if needed (`addPeer`). */
  open (conn: PeerConn, key: KeyStr, keyBytes: Uint8Array): { link: Link, isNew: boolean } {
    const h = this.host
    let p = this.byKey.get(key)
    const isNew = p === undefined
    if (p === undefined) {
      let port = 1
      while (this.byPort.has(port)) port++
      p = {
        key,
        keyBytes: Uint8Array.from(keyBytes),
        port,
        links: [],
        sent: new Set(),
        gossiped: false,
        request: undefined,
        response: undefined,
        resSeq: 0,
        bloom: newBloomState(),
        lookupTokens: h.opts.lookupBurst,
        lookupAt: h.clock.now()
      }
      this.byKey.set(key, p)
      this.byPort.set(port, p)
    }
    const now = h.clock.now()
    const link: Link = {
      conn,
      peer: p,
      order: this.linkOrder++,
      prio: typeof conn.priority === 'number' ? conn.priority : 0,
      openedAt: now,
      reader: new FrameReader(h.maxFrameSize),
      ready: true,
      queue: undefined,
      closed: false,
      deadlineAt: Infinity,
      keepAliveAt: Infinity,
      wakeAt: Infinity,
      wakeTimer: undefined,
      wake: () => {},
      srst: now,
      responded: false,
      lagMs: -1,
      rttMs: undefined
    }
    link.wake = () => { link.wakeTimer = undefined; link.wakeAt = Infinity; this.wake(link) }
    p.links.push(link)
    h.stats.linksOpened++
    conn.onData = (chunk) => { this.handleData(link, chunk) }
    conn.onDrain = () => { this.handleDrain(link) }
    conn.onClose = (err) => { this.close(link, err) }
    return { link, isNew }
  }

  /** Closes a link (idempotent) and forgets the peer when it was its last link (`removePeer`). */
  close (link: Link, err?: Error): void {
    if (link.closed) return
    const h = this.host
    link.closed = true
    h.stats.linksClosed++
    if (link.wakeTimer !== undefined) h.clock.clearTimeout(link.wakeTimer)
    link.wakeTimer = undefined
    link.queue?.clear()
    try { link.conn.close(err) } catch (e) { log('closing the link to %s threw: %s', link.conn.uri, (e as Error).message) }
    const p = link.peer
    const i = p.links.indexOf(link)
    if (i >= 0) p.links.splice(i, 1)
    const gone = p.links.length === 0
    if (gone) {
      if (this.byKey.get(p.key) === p) this.byKey.delete(p.key)
      if (this.byPort.get(p.port) === p) this.byPort.delete(p.port)
    }
    h.linkClosed(link, gone)
  }

  /** Writes a frame that must not be dropped (tree, bloom, keepalive). */
  sendDirect (link: Link, frame: Uint8Array, type: number): void {
    if (link.closed) return
    this.write(link, frame, type)
  }

  /** Sends a droppable frame (lookup, notify, broken, traffic); queued while the link is not ready. */
  sendQueued (link: Link, frame: Uint8Array, type: number, flow: string): void {
    if (link.closed) return
    if (link.ready && (link.queue === undefined || link.queue.length === 0)) {
      this.write(link, frame, type)
      return
    }
    link.queue ??= new PacketQueue(this.host.queueBytes)
    this.host.stats.queueDrops += link.queue.push(flow, frame)
  }

  private write (link: Link, frame: Uint8Array, type: number): void {
    const h = this.host
    // N (type byte + body) = frame length minus its uvarint prefix; ironwood refuses to send N > the limit.
    if (frame.length > h.maxFrameSize && frame.length - uvarintPrefixLength(frame) > h.maxFrameSize) {
      h.stats.oversizeDrops++
      return
    }
    this.monitorSent(link, type)
    h.stats.framesOut++
    h.stats.bytesOut += frame.length
    let ok: boolean
    try {
      ok = link.conn.write(frame)
    } catch (e) {
      this.close(link, e instanceof Error ? e : new Error(String(e)))
      return
    }
    if (!ok) link.ready = false
  }

  private handleDrain (link: Link): void {
    if (link.closed) return
    link.ready = true
    const q = link.queue
    while (q !== undefined && link.ready && !link.closed) {
      const f = q.pop()
      if (f === undefined) break
      this.write(link, f, f[uvarintPrefixLength(f)])
    }
  }

  /* ---------------------------------------------------------------------------------------------- */
  /* Keepalive (peers.go peerMonitor)                                                                */
  /* ---------------------------------------------------------------------------------------------- */

  private monitorSent (link: Link, type: number): void {
    link.keepAliveAt = Infinity
    if (link.deadlineAt !== Infinity) return
    if (type === FrameType.Dummy || type === FrameType.KeepAlive) return
    link.deadlineAt = this.host.clock.now() + this.host.opts.peerTimeoutMs
    this.arm(link, link.deadlineAt)
  }

  private monitorRecv (link: Link, type: number): void {
    link.deadlineAt = Infinity
    if (link.keepAliveAt !== Infinity) return
    if (type === FrameType.Dummy || type === FrameType.KeepAlive) return
    link.keepAliveAt = this.host.clock.now() + this.host.opts.keepAliveDelayMs
    this.arm(link, link.keepAliveAt)
  }

  private arm (link: Link, at: number): void {
    if (at >= link.wakeAt || link.closed) return
    const clock = this.host.clock
    if (link.wakeTimer !== undefined) clock.clearTimeout(link.wakeTimer)
    link.wakeAt = at
    link.wakeTimer = clock.setTimeout(link.wake, at - clock.now())
  }

  private wake (link: Link): void {
    if (link.closed) return
    const now = this.host.clock.now()
    if (link.deadlineAt <= now) {
      this.host.stats.timeouts++
      this.close(link, new Error('peer timeout: nothing received within peerTimeout of sending'))
      return
    }
    if (link.keepAliveAt <= now) {
      link.keepAliveAt = Infinity
      this.sendDirect(link, KEEPALIVE, FrameType.KeepAlive)
    }
    const next = Math.min(link.deadlineAt, link.keepAliveAt)
    if (next !== Infinity) this.arm(link, next)
  }

  /* ---------------------------------------------------------------------------------------------- */
  /* Receive                                                                                         */
  /* ---------------------------------------------------------------------------------------------- */

  private handleData (link: Link, chunk: Uint8Array): void {
    if (link.closed) return
    const h = this.host
    h.stats.bytesIn += chunk.length
    let frames: ReadonlyArray<{ type: number, body: Uint8Array }>
    let streamError: unknown
    try {
      frames = link.reader.push(chunk)
    } catch (e) {
      frames = (e as { frames?: ReadonlyArray<{ type: number, body: Uint8Array }> }).frames ?? []
      streamError = e
    }
    for (const f of frames) {
      if (link.closed) return
      try {
        h.stats.framesIn++
        this.monitorRecv(link, f.type)
        h.handleFrame(link, f.type, f.body)
      } catch (e) {
        if (e instanceof LinkError && e.reason === 'signature') h.stats.badSignatures++
        else h.stats.badFrames++
        this.close(link, asViolation(e))
        return
      }
    }
    if (streamError !== undefined && !link.closed) {
      h.stats.badFrames++
      this.close(link, asViolation(streamError))
    }
  }
}

/** Length of the uvarint length prefix at the start of an encoded frame. */
function uvarintPrefixLength (frame: Uint8Array): number {
  let i = 0
  while (i < frame.length && (frame[i] & 0x80) !== 0) i++
  return i + 1
}
