/**
 * The ironwood network layer of one node (ironwood `router.go` + `peers.go`): links and per-key ports, frame
 * dispatch with strict handling, the keepalive rule, per-link queues, the 1 s maintenance tick, and the glue
 * between the tree (tree.ts), routing and blooms (routing.ts) and the pathfinder (pathfinder.ts).
 *
 * Single-threaded: everything runs on the caller's event loop, and all timers go through the injected Clock.
 * A malformed, oversized or unexpected frame (or a bad signature, as in ironwood) closes THAT link only and is
 * counted; nothing a peer sends can make the router throw.
 *
 * Differences from ironwood, on purpose:
 * - Keepalive and read-deadline timers are timestamps with one lazily re-armed Clock timer per link.
 * - Frames that ironwood would refuse to send because they exceed the frame limit are dropped and counted.
 * - When a PeerConn's `write()` returns false, later droppable frames wait in a byte-capped queue until
 *   `onDrain` (ironwood's writer blocks on the socket instead); tree and bloom frames are always written.
 */
import { ConfigError } from '@axl/core'
import type { Clock, TimerHandle } from '../clock.js'
import { systemClock } from '../clock.js'
import type { PeerConn } from './peer-conn.js'
import {
  decodeAnnounce, decodePathBroken, decodePathLookup, decodePathNotify, decodeSigReq, decodeSigRes, decodeTraffic,
  encodeKeepAlive, encodeSigRes, encodeTraffic, FrameReader, FrameType, sigResPreimage, YGGDRASIL_MAX_FRAME_SIZE,
  type SigReq, type SigRes, type Traffic
} from './wire.js'
import { decodeBloom, identityTransform, type KeyTransform } from './bloom.js'
import { defaultVerify, keyBytes, keyStr, type KeyStr, type Signer, type VerifyFn } from '../crypto.js'
import { PacketQueue } from './packet-queue.js'
import { uvarintSize } from './uvarint.js'
import { Tree } from './tree.js'
import { Blooms, newBloomState, nextHop, type BloomState } from './routing.js'
import { Pathfinder } from './pathfinder.js'

/** Timing and size knobs; defaults are ironwood's (`config.go`) with yggdrasil's frame limit. */
export interface RouterTimings {
  /** Re-sign our own tree info this often (ironwood routerRefresh, 4 min). */
  routerRefreshMs: number
  /** Forget other nodes' tree info after this long without a newer version (routerTimeout, 5 min). */
  routerTimeoutMs: number
  /** Send a keepalive this long after receiving a frame if we sent nothing meanwhile (peerKeepAliveDelay, 1 s). */
  keepAliveDelayMs: number
  /** Close a link this long after sending a frame if nothing came back (peerTimeout, 3 s). */
  peerTimeoutMs: number
  /** Forget a path this long after traffic last arrived from it; also the lookup-rumor lifetime (1 min). */
  pathTimeoutMs: number
  /** At most one lookup per destination this often (pathThrottle, 1 s). */
  pathThrottleMs: number
  /** Maintenance tick (hard-coded 1 s in ironwood). */
  tickMs: number
  /**
   * Delay of an early maintenance pass after a change that the next tick would act on (0: wait for the tick, as
   * ironwood does). It only does what that tick would do anyway, sooner: a node that has never been in a tree
   * takes the parent offering the best root, a peer whose link just came up gets the tree's announcements, filters that gained
   * 1-bits go out, and lookups with waiting packets are repeated.
   * A fresh overlay then carries its first packets after a few round trips instead of two or three ticks.
   */
  earlyPassMs: number
  /** Max packets buffered per destination while its lookup is pending. */
  lookupBufferPackets: number
  /** Max payload bytes buffered per destination while its lookup is pending. */
  lookupBufferBytes: number
}

/** Defaults of RouterTimings. */
export const DEFAULT_TIMINGS: RouterTimings = {
  routerRefreshMs: 4 * 60_000,
  routerTimeoutMs: 5 * 60_000,
  keepAliveDelayMs: 1_000,
  peerTimeoutMs: 3_000,
  pathTimeoutMs: 60_000,
  pathThrottleMs: 1_000,
  tickMs: 1_000,
  earlyPassMs: 50,
  lookupBufferPackets: 32,
  lookupBufferBytes: 64 * 1024
}

/** Options of a Router (and of Overlay, which adds nothing protocol-wise). */
export interface RouterOptions extends Partial<RouterTimings> {
  /** Our ed25519 identity (public key + sign). */
  signer: Signer
  /** Signature check; defaults to real ed25519 on node:crypto. */
  verify?: VerifyFn
  /** Time source; defaults to the system clock. */
  clock?: Clock
  /** Largest frame N (type byte + body) sent or accepted; default 131 070 (yggdrasil's peerMaxMessageSize). */
  maxFrameSize?: number
  /** Byte cap of each link's droppable-frame queue; default maxFrameSize. */
  queueBytes?: number
  /** Key transform for bloom filters and lookups; default identity, as ironwood (`ygg()` sets `yggdrasilTransform`, as yggdrasil-go does). */
  bloomTransform?: KeyTransform
  /** Unix time in seconds (PathNotify seq); default derived from the clock and Date.now() at construction. */
  unixSeconds?: () => number
  /** 64-bit nonce source for SigReqs; default Math.random-based. */
  random?: () => bigint
  /** Test/simulation hook: called for every traffic event at this node. */
  onTrafficEvent?: (kind: TrafficEventKind, tr: Traffic) => void
}

/** Kinds of traffic events reported to `onTrafficEvent`. */
export type TrafficEventKind = 'originate' | 'forward' | 'deliver' | 'broken'

/** Counters of one node. */
export interface RouterStats {
  framesIn: number
  framesOut: number
  bytesIn: number
  bytesOut: number
  linksOpened: number
  linksClosed: number
  /** Links refused at addPeer (bad key, link to self, router closed). */
  linksRejected: number
  /** Links closed because the peer sent a malformed, oversized or unknown frame. */
  badFrames: number
  /** Links closed (or notifies ignored) because of a bad signature. */
  badSignatures: number
  /** Links closed because nothing arrived within peerTimeout of sending. */
  timeouts: number
  /** Droppable frames dropped from a full link queue. */
  queueDrops: number
  /** Frames not sent because they exceed maxFrameSize. */
  oversizeDrops: number
  /** Packets dropped from a full per-destination buffer while a lookup was pending. */
  lookupBufferDrops: number
  /** Packets dropped because their lookup never completed (rumor expired). */
  lookupBufferExpired: number
  /** Packets (traffic, notify, broken) refused by the watermark rule. */
  watermarkDrops: number
  brokenSent: number
  brokenReceived: number
  lookupsSent: number
  notifiesAccepted: number
  /** Paths taken provisionally from the source coordinates of traffic delivered to us (see Pathfinder.learnFromTraffic). */
  provisionalPaths: number
  /** Datagrams originated by sendTo. */
  sent: number
  forwarded: number
  /** Traffic frames (sent or forwarded) whose header was written in front of the payload instead of copying it. */
  framedInPlace: number
  delivered: number
  /** Exceptions thrown by user callbacks (onPacket, onPathNotify); swallowed. */
  callbackErrors: number
}

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
}

/** Raised internally to close a link; never escapes the router. */
class LinkError extends Error {
  constructor (readonly reason: 'frame' | 'signature' | 'protocol', message: string, options?: { cause?: unknown }) {
    super(message, options)
  }
}

function newStats (): RouterStats {
  return {
    framesIn: 0, framesOut: 0, bytesIn: 0, bytesOut: 0, linksOpened: 0, linksClosed: 0, linksRejected: 0,
    badFrames: 0, badSignatures: 0, timeouts: 0, queueDrops: 0, oversizeDrops: 0, lookupBufferDrops: 0,
    lookupBufferExpired: 0, watermarkDrops: 0, brokenSent: 0, brokenReceived: 0, lookupsSent: 0,
    notifiesAccepted: 0, provisionalPaths: 0, sent: 0, forwarded: 0, framedInPlace: 0, delivered: 0, callbackErrors: 0
  }
}

const KEEPALIVE = encodeKeepAlive()

/** The network layer of one node. Internal: applications use `Overlay`. */
export class Router {
  readonly signer: Signer
  readonly verify: VerifyFn
  readonly clock: Clock
  readonly opts: RouterTimings
  readonly maxFrameSize: number
  readonly queueBytes: number
  readonly selfBytes: Uint8Array
  readonly selfKey: KeyStr
  readonly selfX: Uint8Array
  readonly selfXStr: KeyStr
  readonly peers = new Map<KeyStr, PeerState>()
  readonly ports = new Map<number, PeerState>()
  readonly tree: Tree
  readonly blooms: Blooms
  readonly pf: Pathfinder
  readonly stats: RouterStats = newStats()
  readonly unixSeconds: () => number
  /** Delivery of datagrams addressed to us. */
  onPacket: ((source: Uint8Array, payload: Uint8Array) => void) | undefined
  /** Called when a PathNotify is accepted (ironwood's pathNotify hook). */
  onPathNotify: ((key: Uint8Array) => void) | undefined
  onTrafficEvent: ((kind: TrafficEventKind, tr: Traffic) => void) | undefined
  private readonly transform: KeyTransform
  private readonly tickFn: () => void
  private tickTimer: TimerHandle | undefined
  private earlyTimer: TimerHandle | undefined
  private linkOrder = 0
  closed = false

  constructor (o: RouterOptions) {
    this.signer = o.signer
    if (!(o.signer?.publicKey instanceof Uint8Array) || o.signer.publicKey.length !== 32) throw new ConfigError('signer.publicKey must be 32 bytes')
    this.verify = o.verify ?? defaultVerify()
    this.clock = o.clock ?? systemClock()
    const t: RouterTimings = { ...DEFAULT_TIMINGS }
    for (const k of Object.keys(DEFAULT_TIMINGS) as Array<keyof RouterTimings>) {
      const v = o[k]
      if (v !== undefined) {
        if (k === 'earlyPassMs' ? typeof v !== 'number' || !(v >= 0) : typeof v !== 'number' || !(v > 0)) {
          throw new ConfigError(`${k} must be a ${k === 'earlyPassMs' ? 'non-negative' : 'positive'} number`)
        }
        t[k] = v
      }
    }
    this.opts = t
    this.maxFrameSize = o.maxFrameSize ?? YGGDRASIL_MAX_FRAME_SIZE
    if (!Number.isSafeInteger(this.maxFrameSize) || this.maxFrameSize < 1024) throw new ConfigError('maxFrameSize must be an integer >= 1024')
    this.queueBytes = o.queueBytes ?? this.maxFrameSize
    this.selfBytes = Uint8Array.from(o.signer.publicKey)
    this.selfKey = keyStr(this.selfBytes)
    this.transform = o.bloomTransform ?? identityTransform
    this.selfX = Uint8Array.from(this.xform(this.selfBytes))
    this.selfXStr = keyStr(this.selfX)
    const base = Date.now() - this.clock.now()
    this.unixSeconds = o.unixSeconds ?? (() => (base + this.clock.now()) / 1000)
    this.onTrafficEvent = o.onTrafficEvent
    this.tree = new Tree(this)
    if (o.random !== undefined) this.tree.random = o.random
    this.blooms = new Blooms(this)
    this.pf = new Pathfinder(this)
    this.tickFn = () => { this.tickTimer = undefined; this.tick() }
    this.tick()
  }

  /** The transformed key (bloom/lookup space); always 32 bytes. */
  xform (key: Uint8Array): Uint8Array {
    const x = this.transform === identityTransform ? key : this.transform(key)
    if (x.length !== 32) throw new ConfigError('bloomTransform must return 32 bytes')
    return x
  }

  /** Key string of the transformed key. */
  xformStr (key: Uint8Array): KeyStr {
    return keyStr(this.xform(key))
  }

  /** Link cost used for parent choice and next hops: 1 (pure tree distance; ygg-protocol.md §5.2). */
  linkCost (_p: PeerState): number { return 1 }

  /* ---------------------------------------------------------------------------------------------- */
  /* Links                                                                                           */
  /* ---------------------------------------------------------------------------------------------- */

  /** Takes over an authenticated PeerConn (`HandleConn`); returns false (and closes it) when refused. */
  addPeer (conn: PeerConn): boolean {
    const rk = conn.remoteKey
    if (this.closed || !(rk instanceof Uint8Array) || rk.length !== 32) {
      this.stats.linksRejected++
      try { conn.close(new Error(this.closed ? 'router closed' : 'bad remote key')) } catch {}
      return false
    }
    const key = keyStr(rk)
    if (key === this.selfKey) {
      this.stats.linksRejected++
      try { conn.close(new Error('link to self')) } catch {}
      return false
    }
    let p = this.peers.get(key)
    const isNew = p === undefined
    if (p === undefined) {
      let port = 1
      while (this.ports.has(port)) port++
      p = {
        key,
        keyBytes: Uint8Array.from(rk),
        port,
        links: [],
        sent: new Set(),
        gossiped: false,
        request: undefined,
        response: undefined,
        resSeq: 0,
        bloom: newBloomState()
      }
      this.peers.set(key, p)
      this.ports.set(port, p)
      this.blooms.inputs++
    }
    const now = this.clock.now()
    const link: Link = {
      conn,
      peer: p,
      order: this.linkOrder++,
      prio: typeof conn.priority === 'number' ? conn.priority : 0,
      openedAt: now,
      reader: new FrameReader(this.maxFrameSize),
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
    this.stats.linksOpened++
    conn.onData = (chunk) => { this.handleData(link, chunk) }
    conn.onDrain = () => { this.handleDrain(link) }
    conn.onClose = (err) => { this.closeLink(link, err) }
    if (!isNew) this.tree.resendTo(p, link)
    this.tree.touch()
    this.tree.requestOn(link)
    this.blooms.sendCurrent(link)
    return true
  }

  /** Closes a link (idempotent) and forgets the peer when it was its last link (`removePeer`). */
  closeLink (link: Link, err?: Error): void {
    if (link.closed) return
    link.closed = true
    this.stats.linksClosed++
    if (link.wakeTimer !== undefined) this.clock.clearTimeout(link.wakeTimer)
    link.wakeTimer = undefined
    link.queue?.clear()
    try { link.conn.close(err) } catch {}
    const p = link.peer
    const i = p.links.indexOf(link)
    if (i >= 0) p.links.splice(i, 1)
    if (p.links.length === 0) {
      if (this.peers.get(p.key) === p) this.peers.delete(p.key)
      if (this.ports.get(p.port) === p) this.ports.delete(p.port)
      this.blooms.inputs++
    } else {
      for (const l of p.links) this.blooms.sendCurrent(l)
    }
    this.tree.touch()
  }

  /** Writes a frame that must not be dropped (tree, bloom, keepalive). */
  sendDirect (link: Link, frame: Uint8Array, type: number): void {
    if (link.closed) return
    this.write(link, frame, type)
  }

  /** Sends a SigReq and notes its send time for the RTT sample. */
  sendSigReq (link: Link, frame: Uint8Array): void {
    this.sendDirect(link, frame, FrameType.SigReq)
    link.srst = this.clock.now()
  }

  /** Sends a droppable frame (lookup, notify, broken, traffic); queued while the link is not ready. */
  sendQueued (link: Link, frame: Uint8Array, type: number, flow: string): void {
    if (link.closed) return
    if (link.ready && (link.queue === undefined || link.queue.length === 0)) {
      this.write(link, frame, type)
      return
    }
    link.queue ??= new PacketQueue(this.queueBytes)
    this.stats.queueDrops += link.queue.push(flow, frame)
  }

  private write (link: Link, frame: Uint8Array, type: number): void {
    // N (type byte + body) = frame length minus its uvarint prefix; ironwood refuses to send N > the limit.
    if (frame.length > this.maxFrameSize && frame.length - uvarintPrefixLength(frame) > this.maxFrameSize) {
      this.stats.oversizeDrops++
      return
    }
    this.monitorSent(link, type)
    this.stats.framesOut++
    this.stats.bytesOut += frame.length
    let ok: boolean
    try {
      ok = link.conn.write(frame)
    } catch (e) {
      this.closeLink(link, e instanceof Error ? e : new Error(String(e)))
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
    link.deadlineAt = this.clock.now() + this.opts.peerTimeoutMs
    this.arm(link, link.deadlineAt)
  }

  private monitorRecv (link: Link, type: number): void {
    link.deadlineAt = Infinity
    if (link.keepAliveAt !== Infinity) return
    if (type === FrameType.Dummy || type === FrameType.KeepAlive) return
    link.keepAliveAt = this.clock.now() + this.opts.keepAliveDelayMs
    this.arm(link, link.keepAliveAt)
  }

  private arm (link: Link, at: number): void {
    if (at >= link.wakeAt || link.closed) return
    if (link.wakeTimer !== undefined) this.clock.clearTimeout(link.wakeTimer)
    link.wakeAt = at
    link.wakeTimer = this.clock.setTimeout(link.wake, at - this.clock.now())
  }

  private wake (link: Link): void {
    if (link.closed) return
    const now = this.clock.now()
    if (link.deadlineAt <= now) {
      this.stats.timeouts++
      this.closeLink(link, new Error('peer timeout: nothing received within peerTimeout of sending'))
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
    this.stats.bytesIn += chunk.length
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
        this.handleFrame(link, f.type, f.body)
      } catch (e) {
        if (e instanceof LinkError && e.reason === 'signature') this.stats.badSignatures++
        else this.stats.badFrames++
        this.closeLink(link, e instanceof Error ? e : new Error(String(e)))
        return
      }
    }
    if (streamError !== undefined && !link.closed) {
      this.stats.badFrames++
      this.closeLink(link, streamError instanceof Error ? streamError : new Error(String(streamError)))
    }
  }

  private handleFrame (link: Link, type: number, body: Uint8Array): void {
    this.stats.framesIn++
    this.monitorRecv(link, type)
    const p = link.peer
    switch (type) {
      case FrameType.Dummy:
      case FrameType.KeepAlive:
        return
      case FrameType.SigReq: {
        const req = decodeSigReq(body)
        const psig = this.signer.sign(sigResPreimage(p.keyBytes, this.selfBytes, req.seq, req.nonce, p.port))
        this.sendDirect(link, encodeSigRes({ seq: req.seq, nonce: req.nonce, port: p.port, psig }), FrameType.SigRes)
        return
      }
      case FrameType.SigRes: {
        const res = decodeSigRes(body)
        if (!this.verify(p.keyBytes, sigResPreimage(this.selfBytes, p.keyBytes, res.seq, res.nonce, res.port), res.psig)) {
          throw new LinkError('signature', 'bad SigRes signature')
        }
        this.tree.handleResponse(link, res, this.clock.now() - link.srst)
        return
      }
      case FrameType.Announce: {
        if (body.length >= 32) {
          const k = keyStr(body.subarray(0, 32))
          if (this.tree.isKnownAnnounce(k, body)) { p.sent.add(k); return }
        }
        const ann = decodeAnnounce(body)
        const key = keyStr(ann.key)
        const parent = keyStr(ann.parent)
        if (ann.res.port === 0 && key !== parent) throw new LinkError('protocol', 'Announce with port 0 from a non-root')
        const bs = sigResPreimage(ann.key, ann.parent, ann.res.seq, ann.res.nonce, ann.res.port)
        if (!this.verify(ann.key, bs, ann.sig) || !this.verify(ann.parent, bs, ann.res.psig)) {
          throw new LinkError('signature', 'bad Announce signature')
        }
        this.tree.handleAnnounce(link, ann, key, parent, body)
        return
      }
      case FrameType.Bloom:
        if (this.blooms.handleBloom(p, decodeBloom(body))) this.soon()
        return
      case FrameType.PathLookup: {
        const lookup = decodePathLookup(body)
        if (!this.blooms.isOnTree(p)) return
        this.pf.handleLookup(p.key, lookup)
        return
      }
      case FrameType.PathNotify:
        this.pf.handleNotify(decodePathNotify(body))
        return
      case FrameType.PathBroken:
        this.pf.handleBroken(decodePathBroken(body))
        return
      case FrameType.Traffic: {
        const tr = decodeTraffic(body)
        // This frame's length, type and header bytes sit just before its payload, in a buffer the link handed
        // over to us. When the frame is most of that buffer (so a queued frame pins little else), forwarding
        // rewrites them in place instead of copying the payload into a new frame.
        const frameStart = body.byteOffset - 1 - uvarintSize(body.length + 1)
        if (frameStart >= 0 && body.length * 2 >= body.buffer.byteLength) tr.headroom = tr.payload.byteOffset - frameStart
        this.routeTraffic(tr, link)
        return
      }
      default:
        throw new LinkError('frame', `unrecognized frame type ${type}`)
    }
  }

  /** Forwards, delivers, or reports as broken one traffic packet (`handleTraffic`). */
  routeTraffic (tr: Traffic, from: Link | undefined): void {
    if (from === undefined) {
      this.stats.sent++
      this.onTrafficEvent?.('originate', tr)
    }
    const hop = nextHop(this, tr.path, tr.watermark)
    if (hop.link !== undefined) {
      tr.watermark = BigInt(hop.selfDist)
      if (from !== undefined) this.stats.forwarded++
      this.onTrafficEvent?.('forward', tr)
      const room = tr.headroom ?? 0
      const frame = encodeTraffic(tr)
      if (room > 0 && tr.headroom === 0) this.stats.framedInPlace++
      this.sendQueued(hop.link, frame, FrameType.Traffic, keyStr(tr.dest))
      return
    }
    if (hop.watermarkDrop) this.stats.watermarkDrops++
    const dest = keyStr(tr.dest)
    if (dest === this.selfKey) {
      const source = keyStr(tr.source)
      this.pf.resetTimeout(source)
      this.pf.learnFromTraffic(source, tr)
      this.stats.delivered++
      this.onTrafficEvent?.('deliver', tr)
      const cb = this.onPacket
      if (cb !== undefined) {
        try { cb(tr.source, tr.payload) } catch { this.stats.callbackErrors++ }
      }
      return
    }
    this.onTrafficEvent?.('broken', tr)
    this.pf.doBroken(tr)
  }

  /* ---------------------------------------------------------------------------------------------- */
  /* Maintenance                                                                                     */
  /* ---------------------------------------------------------------------------------------------- */

  /** The 1 s maintenance tick (`_doMaintenance`). */
  private tick (): void {
    if (this.closed) return
    const now = this.clock.now()
    this.tree.sweep(now)
    this.pf.sweep(now)
    this.tree.maintain()
    this.blooms.maintain()
    this.tickTimer = this.clock.setTimeout(this.tickFn, this.opts.tickMs)
  }

  /** Asks for an early maintenance pass (see `RouterTimings.earlyPassMs`); calls within its delay coalesce. */
  soon (): void {
    if (this.closed || this.earlyTimer !== undefined || this.opts.earlyPassMs <= 0) return
    this.earlyTimer = this.clock.setTimeout(() => {
      this.earlyTimer = undefined
      if (this.closed) return
      this.tree.maintainEarly()
      this.tree.sendAnnounces(true)
      this.blooms.maintainEarly()
      this.pf.retryWaiting(this.clock.now(), this.opts.earlyPassMs)
    }, this.opts.earlyPassMs)
  }

  /** Stops the tick and closes every link. */
  close (): void {
    if (this.closed) return
    this.closed = true
    if (this.earlyTimer !== undefined) this.clock.clearTimeout(this.earlyTimer)
    this.earlyTimer = undefined
    if (this.tickTimer !== undefined) this.clock.clearTimeout(this.tickTimer)
    this.tickTimer = undefined
    for (const p of [...this.peers.values()]) {
      for (const l of [...p.links]) this.closeLink(l, new Error('router closed'))
    }
  }

  /** Our current parent key (self when root). */
  parentKey (): KeyStr {
    return this.tree.infos.get(this.selfKey)?.parent ?? this.selfKey
  }

  /** Bytes of a key string (helper for the facade). */
  bytesOf (k: KeyStr): Uint8Array {
    return this.peers.get(k)?.keyBytes ?? keyBytes(k)
  }
}

/** Length of the uvarint length prefix at the start of an encoded frame. */
function uvarintPrefixLength (frame: Uint8Array): number {
  let i = 0
  while (i < frame.length && (frame[i] & 0x80) !== 0) i++
  return i + 1
}
