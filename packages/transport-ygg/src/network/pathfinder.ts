/**
 * Key → coordinates discovery (ironwood `pathfinder.go`, ygg-protocol.md §1.7): PathLookup multicast along
 * on-tree links whose bloom matches, signed PathNotify replies accepted per ironwood's rules, PathBroken
 * errors that trigger a new lookup, 1 min path/rumor expiry and the 1 s lookup throttle.
 *
 * Differences from ironwood, on purpose:
 * - While a lookup is pending, up to `lookupBufferPackets` packets / `lookupBufferBytes` bytes per
 *   destination are buffered (ironwood keeps only the newest one); the oldest are dropped and counted.
 * - The lookup throttle for a known path counts from the last lookup sent (ironwood only from the moment
 *   the path was learnt, so each PathBroken after that first second triggers a lookup).
 * - Expiry timers are timestamps swept on the 1 s maintenance tick.
 */
import { encodePathBroken, encodePathLookup, encodePathNotify, FrameType, pathNotifyPreimage, WATERMARK_MAX, type Path, type PathBroken, type PathLookup, type PathNotify, type PathNotifyInfo, type Traffic } from './wire.js'
import { keyStr, type KeyStr } from '../crypto.js'
import { nextHop } from './routing.js'
import type { PathfinderContext } from './context.js'

interface Buffered { dest: KeyStr, destBytes: Uint8Array, payload: Uint8Array }

/** A known path to a destination (`pathInfo`). */
export interface PathEntry {
  path: Path
  seq: bigint
  reqTime: number
  expiresAt: number
  broken: boolean
  /** The last packet sent on this path, re-sent when a newer notify arrives (ironwood's traffic cache). */
  last: Buffered | undefined
}

/** A pending lookup for a (transformed) destination (`pathRumor`). */
interface Rumor {
  /** When the rumor was created (first lookup). */
  createdAt: number
  sendTime: number
  expiresAt: number
  packets: Buffered[]
  bytes: number
}

function samePath (a: Path, b: Path): boolean {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}

/** For this long after a lookup first went out, it is repeated every tick while packets wait for it. */
const RUMOR_RETRY_MS = 8_000

/** The pathfinder of one node. */
export class Pathfinder {
  /** Known paths by destination key. */
  readonly paths = new Map<KeyStr, PathEntry>()
  /** Pending lookups by transformed destination key. */
  readonly rumors = new Map<KeyStr, Rumor>()
  private info: PathNotifyInfo | undefined
  private readonly r: PathfinderContext

  constructor (r: PathfinderContext) {
    this.r = r
  }

  /** Drops expired paths and rumors (replaces ironwood's per-entry timers). */
  sweep (now: number): void {
    for (const [k, p] of this.paths) if (p.expiresAt <= now) this.paths.delete(k)
    for (const [k, ru] of this.rumors) {
      if (ru.expiresAt > now) continue
      this.r.stats.lookupBufferExpired += ru.packets.length
      this.rumors.delete(k)
    }
    // Packets still wait: look again now rather than when the sender's next retry comes (1 s, 2 s, 4 s…).
    // A lookup right after start is often lost while bloom filters spread; ironwood only retries on new traffic.
    this.retryWaiting(now, this.r.opts.pathThrottleMs * 0.9) // (ticks jitter)
  }

  /**
   * Repeats the lookups that still have packets waiting, within their first RUMOR_RETRY_MS, if the last one went
   * out at least `minGapMs` ago: on each tick, and between ticks after the tree or a filter changed
   * (Router.soon, with the early-pass delay as the gap).
   */
  retryWaiting (now: number, minGapMs: number): void {
    for (const ru of this.rumors.values()) {
      if (ru.packets.length === 0 || now - ru.createdAt >= RUMOR_RETRY_MS || now - ru.sendTime < minGapMs) continue
      ru.sendTime = now
      this.sendLookup(ru.packets[0].destBytes)
    }
  }

  /**
   * Starts (throttled) a lookup for `dest`, full or partial key (`_rumorSendLookup`). A packet given here is
   * buffered in the rumor before the lookup goes out (a lookup for ourselves completes synchronously).
   */
  rumorSendLookup (dest: Uint8Array, packet?: Buffered): void {
    const r = this.r
    const now = r.clock.now()
    const x = r.xformStr(dest)
    let ru = this.rumors.get(x)
    let send = true
    if (ru !== undefined) {
      if (now - ru.sendTime < r.opts.pathThrottleMs) {
        send = false
      } else {
        ru.sendTime = now
        ru.expiresAt = now + r.opts.pathTimeoutMs
      }
    } else {
      ru = { createdAt: now, sendTime: now, expiresAt: now + r.opts.pathTimeoutMs, packets: [], bytes: 0 }
      this.rumors.set(x, ru)
    }
    if (packet !== undefined) {
      ru.packets.push(packet)
      ru.bytes += packet.payload.length
      while (ru.packets.length > r.opts.lookupBufferPackets || (ru.bytes > r.opts.lookupBufferBytes && ru.packets.length > 1)) {
        const old = ru.packets.shift()!
        ru.bytes -= old.payload.length
        r.stats.lookupBufferDrops++
      }
    }
    if (send) this.sendLookup(dest)
  }

  /** Sends a lookup for `dest` unless one went out for its known path within the throttle (`_sendLookup`). */
  private sendLookup (dest: Uint8Array): void {
    const r = this.r
    const now = r.clock.now()
    const known = this.paths.get(keyStr(dest))
    if (known !== undefined) {
      if (now - known.reqTime < r.opts.pathThrottleMs) return
      known.reqTime = now
    }
    r.stats.lookupsSent++
    this.handleLookup(r.selfKey, { source: r.selfBytes, dest, from: r.tree.coordsOf(r.selfKey) })
  }

  /** A lookup from `from` (a peer key, or our own key for local ones): continue the multicast, answer if it is us. */
  handleLookup (from: KeyStr, lookup: PathLookup): void {
    const r = this.r
    const destX = r.xform(lookup.dest)
    r.blooms.multicast(encodePathLookup(lookup), from, destX, keyStr(lookup.dest))
    if (keyStr(destX) !== r.selfXStr) return
    const path = r.tree.coordsOf(r.selfKey)
    const seq = BigInt(Math.floor(r.unixSeconds()))
    let info = this.info
    if (info === undefined || info.seq !== seq || !samePath(info.path, path)) {
      info = { seq, path, sig: r.signer.sign(pathNotifyPreimage(seq, path)) }
      this.info = info
    }
    this.handleNotify({ path: lookup.from, watermark: WATERMARK_MAX, source: r.selfBytes, dest: lookup.source, info })
  }

  /** Routes a notify greedily towards `notify.path`, or accepts it when it is for us (`_handleNotify`). */
  handleNotify (notify: PathNotify): void {
    const r = this.r
    const hop = nextHop(r, notify.path, notify.watermark)
    if (hop.link !== undefined) {
      notify.watermark = BigInt(hop.selfDist)
      r.sendQueued(hop.link, encodePathNotify(notify), FrameType.PathNotify, keyStr(notify.dest))
      return
    }
    if (hop.watermarkDrop) r.stats.watermarkDrops++
    const destStr = keyStr(notify.dest)
    if (destStr !== r.selfKey) return
    const source = keyStr(notify.source)
    const now = r.clock.now()
    let entry = this.paths.get(source)
    let flush: Buffered[] | undefined
    if (entry !== undefined) {
      if (notify.info.seq <= entry.seq) return
      if (samePath(entry.path, notify.info.path)) return
      if (!this.check(notify)) return
      entry.expiresAt = now + r.opts.pathTimeoutMs
      if (entry.last !== undefined) flush = [entry.last]
    } else {
      const x = r.xformStr(notify.source)
      const ru = this.rumors.get(x)
      if (ru === undefined) return
      if (!this.check(notify)) return
      entry = { path: [], seq: 0n, reqTime: now, expiresAt: now + r.opts.pathTimeoutMs, broken: false, last: undefined }
      const keep: Buffered[] = []
      for (const b of ru.packets) {
        if (b.dest === source) (flush ??= []).push(b)
        else keep.push(b)
      }
      if (flush !== undefined) {
        ru.packets = keep
        ru.bytes = keep.reduce((n, b) => n + b.payload.length, 0)
      }
    }
    entry.path = notify.info.path
    entry.seq = notify.info.seq
    entry.broken = false
    this.paths.set(source, entry)
    r.stats.notifiesAccepted++
    if (flush !== undefined) for (const b of flush) this.sendTraffic(b.destBytes, b.payload, b.dest)
    r.onPathNotify?.(notify.source)
  }

  private check (notify: PathNotify): boolean {
    const ok = this.r.verify(notify.source, pathNotifyPreimage(notify.info.seq, notify.info.path), notify.info.sig)
    if (!ok) this.r.stats.badSignatures++
    return ok
  }

  /** Sends a datagram (`_handleTraffic` for local traffic): on a known path, or buffered behind a lookup. */
  sendTraffic (destBytes: Uint8Array, payload: Uint8Array, dest: KeyStr = keyStr(destBytes), headroom = 0): void {
    const r = this.r
    const entry = this.paths.get(dest)
    if (entry !== undefined) {
      entry.last = { dest, destBytes, payload }
      r.routeTraffic({
        path: entry.path,
        from: r.tree.coordsOf(r.selfKey),
        source: r.selfBytes,
        dest: destBytes,
        watermark: WATERMARK_MAX,
        payload,
        headroom // for this first encoding only: a resend of `last` copies
      }, undefined)
      return
    }
    this.rumorSendLookup(destBytes, { dest, destBytes, payload })
  }

  /** Traffic we cannot forward and is not ours: tell its source the path is broken (`_doBroken`). */
  doBroken (tr: Traffic): void {
    this.r.stats.brokenSent++
    this.handleBroken({ path: tr.from, watermark: WATERMARK_MAX, source: tr.source, dest: tr.dest })
  }

  /** Routes a PathBroken back to its source, or (at the source) marks the path broken and re-looks-up. */
  handleBroken (broken: PathBroken): void {
    const r = this.r
    const hop = nextHop(r, broken.path, broken.watermark)
    if (hop.link !== undefined) {
      broken.watermark = BigInt(hop.selfDist)
      r.sendQueued(hop.link, encodePathBroken(broken), FrameType.PathBroken, keyStr(broken.source))
      return
    }
    if (hop.watermarkDrop) r.stats.watermarkDrops++
    if (keyStr(broken.source) !== r.selfKey) return
    const entry = this.paths.get(keyStr(broken.dest))
    if (entry === undefined) return
    entry.broken = true
    r.stats.brokenReceived++
    this.sendLookup(broken.dest)
  }

  /**
   * Traffic arrived for us from a source we have no path to: use the source coordinates it carries (`from`)
   * as a provisional path at once, flush what waits for that key, and look the key up for a signed path.
   * Ironwood would look the source up before it can answer, one more round trip on every first contact
   * (the reply to a session init, a SYN-ACK). Wire behaviour is unchanged; the provisional path is only
   * used until a PathNotify replaces it (seq 0 loses to any signed one) and expires like any other path.
   */
  learnFromTraffic (source: KeyStr, tr: Traffic): void {
    if (this.paths.has(source)) return
    const r = this.r
    const now = r.clock.now()
    const entry: PathEntry = { path: tr.from.slice(), seq: 0n, reqTime: -Infinity, expiresAt: now + r.opts.pathTimeoutMs, broken: false, last: undefined }
    this.paths.set(source, entry)
    r.stats.provisionalPaths++
    const x = r.xformStr(tr.source)
    const ru = this.rumors.get(x)
    if (ru !== undefined) {
      const flush = ru.packets.filter(b => b.dest === source)
      if (flush.length > 0) {
        ru.packets = ru.packets.filter(b => b.dest !== source)
        ru.bytes = ru.packets.reduce((n, b) => n + b.payload.length, 0)
        for (const b of flush) this.sendTraffic(b.destBytes, b.payload, b.dest)
      }
    }
    this.sendLookup(Uint8Array.from(tr.source))
  }

  /** Traffic arrived from `source`: keep its path alive unless it is marked broken (`_resetTimeout`). */
  resetTimeout (source: KeyStr): void {
    const entry = this.paths.get(source)
    if (entry !== undefined && !entry.broken) entry.expiresAt = this.r.clock.now() + this.r.opts.pathTimeoutMs
  }
}
