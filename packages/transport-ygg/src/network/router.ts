/**
 * The ironwood network layer of one node (ironwood `router.go`): frame dispatch, the 1 s maintenance tick, and the
 * glue between the peer table (peers.ts), the tree (tree.ts), routing and blooms (routing.ts) and the pathfinder
 * (pathfinder.ts). Those parts see the Router only through the interfaces of context.ts.
 *
 * Single-threaded: everything runs on the caller's event loop, and all timers go through the injected Clock.
 * A malformed, oversized or unexpected frame (or a bad signature, as in ironwood) closes THAT link only and is
 * counted; nothing a peer sends can make the router throw.
 */
import { defaultLogger } from '@libp2p/logger'
import { ConfigError } from '@axl/core'
import type { Clock, TimerHandle } from '../clock.js'
import { systemClock } from '../clock.js'
import { defaultVerify, keyBytes, keyStr, type KeyStr, type Signer, type VerifyFn } from '../crypto.js'
import { decodeBloom, identityTransform, type KeyTransform } from './bloom.js'
import { DEFAULT_TIMINGS, type RouterTimings } from './config.js'
import type { PathfinderContext } from './context.js'
import type { PeerConn } from './peer-conn.js'
import { LinkError, Peers, type Link, type PeerState } from './peers.js'
import { Pathfinder } from './pathfinder.js'
import { Blooms, nextHop } from './routing.js'
import { newStats, type RouterStats } from './stats.js'
import { Tree } from './tree.js'
import { uvarintSize } from './uvarint.js'
import {
  decodeAnnounce, decodePathBroken, decodePathLookup, decodePathNotify, decodeSigReq, decodeSigRes, decodeTraffic,
  encodeSigRes, encodeTraffic, FrameType, sigResPreimage, YGGDRASIL_MAX_FRAME_SIZE, type Traffic
} from './wire.js'

const log = defaultLogger().forComponent('axl:network')

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

/** The network layer of one node. Internal: applications use `Overlay`. */
export class Router implements PathfinderContext {
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
  /** Peers by key, and by the port we gave them (the peer table's maps). */
  readonly peers: Map<KeyStr, PeerState>
  readonly ports: Map<number, PeerState>
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
  private readonly peerTable: Peers
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
    this.peerTable = new Peers({
      clock: this.clock,
      stats: this.stats,
      opts: this.opts,
      maxFrameSize: this.maxFrameSize,
      queueBytes: this.queueBytes,
      handleFrame: (link, type, body) => { this.handleFrame(link, type, body) },
      linkClosed: (link, peerGone) => { this.linkClosed(link, peerGone) }
    })
    this.peers = this.peerTable.byKey
    this.ports = this.peerTable.byPort
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
      try { conn.close(new Error(this.closed ? 'router closed' : 'bad remote key')) } catch (e) { log('closing a refused link threw: %s', (e as Error).message) }
      return false
    }
    const key = keyStr(rk)
    if (key === this.selfKey) {
      this.stats.linksRejected++
      try { conn.close(new Error('link to self')) } catch (e) { log('closing a link to self threw: %s', (e as Error).message) }
      return false
    }
    const { link, isNew } = this.peerTable.open(conn, key, rk)
    if (isNew) this.blooms.inputs++
    const p = link.peer
    if (!isNew) this.tree.resendTo(p, link)
    this.tree.touch()
    this.tree.requestOn(link)
    this.blooms.sendCurrent(link)
    return true
  }

  /** Closes a link (idempotent) and forgets the peer when it was its last link (`removePeer`). */
  closeLink (link: Link, err?: Error): void {
    this.peerTable.close(link, err)
  }

  /** After the peer table closed a link: filters and the tree take note. */
  private linkClosed (link: Link, peerGone: boolean): void {
    if (peerGone) {
      this.blooms.inputs++
    } else {
      for (const l of link.peer.links) this.blooms.sendCurrent(l)
    }
    this.tree.touch()
  }

  /** Writes a frame that must not be dropped (tree, bloom, keepalive). */
  sendDirect (link: Link, frame: Uint8Array, type: number): void {
    this.peerTable.sendDirect(link, frame, type)
  }

  /** Sends a SigReq and notes its send time for the RTT sample. */
  sendSigReq (link: Link, frame: Uint8Array): void {
    this.peerTable.sendDirect(link, frame, FrameType.SigReq)
    link.srst = this.clock.now()
  }

  /** Sends a droppable frame (lookup, notify, broken, traffic); queued while the link is not ready. */
  sendQueued (link: Link, frame: Uint8Array, type: number, flow: string): void {
    this.peerTable.sendQueued(link, frame, type, flow)
  }

  /* ---------------------------------------------------------------------------------------------- */
  /* Receive                                                                                         */
  /* ---------------------------------------------------------------------------------------------- */

  /** One frame from `link` (the peer table has counted it and done the keepalive bookkeeping). */
  private handleFrame (link: Link, type: number, body: Uint8Array): void {
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
        if (!this.takeLookupToken(p)) { this.stats.lookupsRateLimited++; return }
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

  /** Takes one token from `p`'s PathLookup bucket (refilled at lookupRate per second up to lookupBurst); false when empty. */
  private takeLookupToken (p: PeerState): boolean {
    const now = this.clock.now()
    const o = this.opts
    p.lookupTokens = Math.min(o.lookupBurst, p.lookupTokens + (now - p.lookupAt) * o.lookupRate / 1000)
    p.lookupAt = now
    if (p.lookupTokens < 1) return false
    p.lookupTokens--
    return true
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
