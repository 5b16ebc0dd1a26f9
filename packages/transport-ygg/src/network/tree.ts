/**
 * The signed soft-state spanning tree (ironwood `router.go`, ygg-protocol.md §1.4): SigReq/SigRes/Announce,
 * the `_update` ordering rule, lowest-key root, loop check, parent choice, ancestry-only gossip, refresh and
 * timeout, and coordinates.
 *
 * Differences from ironwood, on purpose:
 * - Link cost is 1 (pure tree depth), as ygg-protocol.md §5.2 recommends; RTT is still sampled (for topology).
 * - Per-info expiry timers are replaced by expiry timestamps swept on the 1 s maintenance tick (an expired
 *   info lives at most 1 s longer); the own-info refresh flag is set by the same sweep.
 * - Go iterates maps in random order; we iterate peers in insertion order, so ties in parent choice go to
 *   the longest-known peer (deterministic simulations).
 * - `_fix`/`_sendAnnounces` are skipped on ticks where nothing they read has changed (same result, cheaper).
 * - Infos are capped in total (maxTreeInfos) and per sending peer (maxTreeInfosPerPeer), see `admit`: ironwood
 *   keeps every validly signed one, so one peer could grow the table without bound (issue #14).
 */
import { encodeAnnounce, encodeFrame, encodeSigReq, FrameType, sigResPreimage, type Announce, type Path, type SigReq, type SigRes } from './wire.js'
import { keyBytes, type KeyStr } from '../crypto.js'
import type { NetworkContext } from './context.js'
import type { Link, PeerState } from './peers.js'

/** What we store per known node (`routerInfo`), plus its encoded Announce frame for re-sending. */
export interface TreeInfo {
  parent: KeyStr
  seq: bigint
  nonce: bigint
  port: number
  /** The whole Announce link frame for this info (sent as is to peers). */
  frame: Uint8Array
  /** Virtual/real ms when this info expires (others) or must be refreshed (own info). */
  expiresAt: number
}

/** Result of walking parent pointers from a key: its root and its depth below that root. */
interface RootWalk { root: KeyStr, depth: number, hasSelf: boolean }

const U64 = 0x1_0000_0000n

/** Random 64-bit nonce (8 random bytes read big-endian, as ironwood does). */
function randomNonce (): bigint {
  const hi = (Math.random() * 0x1_0000_0000) >>> 0
  const lo = (Math.random() * 0x1_0000_0000) >>> 0
  return BigInt(hi) * U64 + BigInt(lo)
}

/** The spanning-tree state of one node. */
export class Tree {
  /** Known node infos by key (self, our ancestry, and our peers' ancestries). */
  readonly infos = new Map<KeyStr, TreeInfo>()
  /** Bumped on every change of infos, peers or responses: consumers cache against it. */
  version = 0
  /** Until then our parent was taken by an early pass and any cheaper one under the same root replaces it. */
  private provisionalUntil = -Infinity
  /** True when our own info must be re-signed on the next tick (refresh timer or a reset seq). */
  refresh = false
  /** Set when we have no usable parent: become root on the next tick. */
  doRoot1 = false
  /** Become root now (set at start and one tick after doRoot1). */
  doRoot2 = true
  private readonly coords = new Map<KeyStr, Path>()
  private coordsVersion = -1
  private handledVersion = -1
  private nextExpiry = Infinity
  private resSeqCtr = 0
  private readonly r: NetworkContext
  /** Which peer delivered the version we hold of each info (not our own), and the infos each peer delivered. */
  private readonly ownerOf = new Map<KeyStr, KeyStr>()
  private readonly owned = new Map<KeyStr, Set<KeyStr>>()
  /** Peers ('' for the whole table) whose share was found full of protected infos: refuse new ones until the next tick. */
  private readonly saturated = new Set<KeyStr>()
  /** Nonce source (injectable for deterministic simulations). */
  random: () => bigint = randomNonce

  constructor (r: NetworkContext) {
    this.r = r
  }

  /** Marks the tree state changed (invalidates coordinate caches, re-enables the next `_fix`, asks for an early pass). */
  touch (): void {
    this.version++
    this.r.soon()
  }

  /** Coordinates of `key`: ports from the root down to it, root's own port omitted; [] on a loop or dead end. */
  coordsOf (key: KeyStr): Path {
    if (this.coordsVersion !== this.version) {
      this.coords.clear()
      this.coordsVersion = this.version
    }
    let c = this.coords.get(key)
    if (c === undefined) {
      c = this.rootAndPath(key).path
      this.coords.set(key, c)
    }
    return c
  }

  /** Root key and coordinates of `key` (`_getRootAndPath`). */
  rootAndPath (key: KeyStr): { root: KeyStr, path: Path } {
    const ports: number[] = []
    const visited = new Set<KeyStr>()
    let next = key
    let root = key
    for (;;) {
      if (visited.has(next)) return { root: key, path: [] }
      const info = this.infos.get(next)
      if (info === undefined) return { root: key, path: [] }
      root = next
      visited.add(next)
      if (next === info.parent) break
      ports.push(info.port)
      next = info.parent
    }
    ports.reverse()
    return { root, path: ports }
  }

  /** Root of `key`, its depth below it, and whether our own key is on the way (`_getRootAndDists`). */
  private walk (key: KeyStr): RootWalk {
    const self = this.r.selfKey
    const seen = new Set<KeyStr>()
    let next = key
    let root = key
    let depth = 0
    let hasSelf = false
    for (;;) {
      if (seen.has(next)) break
      const info = this.infos.get(next)
      if (info === undefined) break
      if (next === self) hasSelf = true
      root = next
      depth = seen.size
      seen.add(next)
      next = info.parent
    }
    return { root, depth, hasSelf }
  }

  /** Ancestry of `key` from the root side down to `key` (`_getAncestry`). */
  ancestry (key: KeyStr): KeyStr[] {
    const anc = new Set<KeyStr>()
    let here = key
    for (;;) {
      if (anc.has(here)) break
      const info = this.infos.get(here)
      if (info === undefined) break
      anc.add(here)
      here = info.parent
    }
    return [...anc].reverse()
  }

  /** Our root key. */
  root (): KeyStr { return this.rootAndPath(this.r.selfKey).root }

  /** A fresh SigReq: own seq + 1 and a random nonce (`_newReq`). */
  newReq (): SigReq {
    const self = this.infos.get(this.r.selfKey)
    return { seq: (self?.seq ?? 0n) + 1n, nonce: this.random() }
  }

  /**
   * The ordering rule (`_update`), identical on every node: a higher seq wins; for an equal seq the lower
   * parent key; for an equal parent the lower nonce. Stores the info and returns true when accepted.
   */
  update (ann: Announce, key: KeyStr, parent: KeyStr, frame: Uint8Array | undefined, from?: KeyStr): boolean {
    const r = this.r
    const info = this.infos.get(key)
    if (info !== undefined) {
      if (info.seq > ann.res.seq) return false
      if (info.seq === ann.res.seq) {
        if (info.parent < parent) return false
        if (!(parent < info.parent) && !(ann.res.nonce < info.nonce)) return false
      }
    } else if (from !== undefined && !this.admit(from)) {
      r.stats.treeInfosDropped++
      return false
    }
    if (from !== undefined && key !== r.selfKey) this.setOwner(key, from)
    for (const p of r.peers.values()) p.sent.delete(key)
    const now = r.clock.now()
    const expiresAt = now + (key === r.selfKey ? r.opts.routerRefreshMs : r.opts.routerTimeoutMs)
    this.infos.set(key, {
      parent,
      seq: ann.res.seq,
      nonce: ann.res.nonce,
      port: ann.res.port,
      frame: frame ?? encodeAnnounce(ann),
      expiresAt
    })
    if (key !== r.selfKey && expiresAt < this.nextExpiry) this.nextExpiry = expiresAt
    this.touch()
    return true
  }

  /** Records that `from` delivered the version we now hold of `key` (least recently updated first in its set). */
  private setOwner (key: KeyStr, from: KeyStr): void {
    this.dropOwner(key)
    this.ownerOf.set(key, from)
    let set = this.owned.get(from)
    if (set === undefined) { set = new Set(); this.owned.set(from, set) }
    set.add(key)
  }

  /** Forgets who delivered `key`. */
  private dropOwner (key: KeyStr): void {
    const was = this.ownerOf.get(key)
    if (was === undefined) return
    this.ownerOf.delete(key)
    const set = this.owned.get(was)
    if (set === undefined) return
    set.delete(key)
    if (set.size === 0) this.owned.delete(was)
  }

  /**
   * Room for one new info from peer `from` under maxTreeInfosPerPeer and maxTreeInfos: evicts (in batches of
   * 1/16 of the cap, so the scan below is amortized) infos that are on no ancestry we need, from `from`'s own
   * share first, then from the peers holding the most. False when no room can be made (the info is dropped).
   */
  private admit (from: KeyStr): boolean {
    const o = this.r.opts
    let keep: Set<KeyStr> | undefined
    const mine = this.owned.get(from)
    if (mine !== undefined && mine.size >= o.maxTreeInfosPerPeer) {
      if (this.saturated.has(from)) return false
      keep = this.protectedKeys()
      this.evict(mine, mine.size - o.maxTreeInfosPerPeer + 1 + Math.floor(o.maxTreeInfosPerPeer / 16), keep)
      if (mine.size >= o.maxTreeInfosPerPeer) { this.saturated.add(from); return false }
    }
    if (this.infos.size >= o.maxTreeInfos) {
      if (this.saturated.has('')) return false
      keep ??= this.protectedKeys()
      let want = this.infos.size - o.maxTreeInfos + 1 + Math.floor(o.maxTreeInfos / 16)
      for (const set of [...this.owned.values()].sort((a, b) => b.size - a.size)) {
        if (want <= 0) break
        want -= this.evict(set, want, keep)
      }
      if (this.infos.size >= o.maxTreeInfos) { this.saturated.add(''); return false }
    }
    return true
  }

  /** Evicts up to `n` infos of `set` that are not in `keep`, least recently updated first; returns how many. */
  private evict (set: Set<KeyStr>, n: number, keep: Set<KeyStr>): number {
    let done = 0
    for (const k of set) {
      if (done >= n) break
      if (keep.has(k)) continue
      this.infos.delete(k)
      this.dropOwner(k)
      for (const p of this.r.peers.values()) p.sent.delete(k)
      done++
    }
    if (done > 0) {
      this.r.stats.treeInfosEvicted += done
      this.touch()
    }
    return done
  }

  /** Our ancestry and every peer's ancestry (the infos routing and parent choice read): never evicted. */
  private protectedKeys (): Set<KeyStr> {
    const keep = new Set<KeyStr>()
    const from = (key: KeyStr): void => {
      let here = key
      while (!keep.has(here)) {
        const info = this.infos.get(here)
        if (info === undefined) return
        keep.add(here)
        here = info.parent
      }
    }
    from(this.r.selfKey)
    for (const k of this.r.peers.keys()) from(k)
    return keep
  }

  /** Drops expired infos and raises the refresh flag when our own info is due (replaces ironwood's timers). */
  sweep (now: number): void {
    this.saturated.clear()
    const self = this.infos.get(this.r.selfKey)
    if (self !== undefined && self.expiresAt <= now) {
      this.refresh = true
      self.expiresAt = Infinity
    }
    if (now < this.nextExpiry) return
    let next = Infinity
    for (const [k, info] of this.infos) {
      if (k === this.r.selfKey) continue
      if (info.expiresAt <= now) {
        this.infos.delete(k)
        this.dropOwner(k)
        for (const p of this.r.peers.values()) p.sent.delete(k)
        this.touch()
      } else if (info.expiresAt < next) {
        next = info.expiresAt
      }
    }
    this.nextExpiry = next
  }

  /** Handles a verified SigRes from `link` (`_handleResponse`): keeps it if it answers our current request. */
  handleResponse (link: Link, res: SigRes, rttMs: number): void {
    const p = link.peer
    const req = p.request
    const matches = req !== undefined && req.seq === res.seq && req.nonce === res.nonce
    if (!matches) return
    if (p.response === undefined) {
      p.resSeq = ++this.resSeqCtr
      p.response = res
      this.touch()
    }
    if (!link.responded) {
      link.responded = true
      link.rttMs = rttMs
      if (link.lagMs < 0) {
        link.lagMs = rttMs * 2
      } else {
        const prev = link.lagMs
        link.lagMs = prev * 7 / 8 + Math.min(rttMs, prev * 2) / 8
      }
    }
  }

  /** Handles a verified Announce from `link` (`_handleAnnounce`). `body` is its frame body. */
  handleAnnounce (link: Link, ann: Announce, key: KeyStr, parent: KeyStr, body: Uint8Array): void {
    const p = link.peer
    if (this.update(ann, key, parent, encodeFrame(FrameType.Announce, body), p.key)) {
      if (key === this.r.selfKey) this.refresh = true
      p.sent.add(key)
      return
    }
    const old = this.infos.get(key)
    if (old === undefined) return // dropped: no room under the caps
    p.sent.add(key)
    if (!sameBody(old.frame, body)) this.r.sendDirect(link, old.frame, FrameType.Announce)
  }

  /** The Announce frame body we hold for `key`, if it is byte-identical to `body` (already verified). */
  isKnownAnnounce (key: KeyStr, body: Uint8Array): boolean {
    const info = this.infos.get(key)
    return info !== undefined && sameBody(info.frame, body)
  }

  /** One maintenance step of the tree (`_fix` + `_sendAnnounces`), skipped when nothing changed. */
  maintain (): void {
    if (this.doRoot1) this.doRoot2 = true
    const provisional = this.r.clock.now() < this.provisionalUntil
    if (this.handledVersion === this.version && !this.refresh && !this.doRoot1 && !this.doRoot2 && !provisional) return
    this.fix()
    this.sendAnnounces()
    this.handledVersion = this.version
  }

  /**
   * Between ticks (Router.soon): a lone node (its own root, nobody below it) takes at once the parent the next
   * `_fix` would take, the cheapest peer offering a root lower than ours, and announces it: a node joining an
   * existing network is reachable a few round trips after its links come up instead of a tick or two later.
   * The choice is provisional for two ticks (a cheaper parent under the same root replaces it, see fix), so
   * it ends where the tick would have put it. Attached nodes and roots with a subtree wait for the tick.
   */
  maintainEarly (): void {
    const r = this.r
    const selfKey = r.selfKey
    const self = this.infos.get(selfKey)
    if (self !== undefined && self.parent !== selfKey) return // attached: every further choice waits for the tick
    for (const p of r.peers.values()) if (this.infos.get(p.key)?.parent === selfKey) return // a root with a subtree
    let bestRoot = selfKey
    let bestParent = selfKey
    let bestCost = Infinity
    for (const p of r.peers.values()) {
      if (p.response === undefined || !this.infos.has(p.key)) continue
      const w = this.walk(p.key)
      if (w.hasSelf || w.root > bestRoot) continue
      const cost = w.depth * r.linkCost(p)
      if (w.root < bestRoot || cost < bestCost) {
        bestRoot = w.root
        bestParent = p.key
        bestCost = cost
      }
    }
    if (bestParent === selfKey) return
    const res = r.peers.get(bestParent)?.response
    if (res !== undefined && this.useResponse(bestParent, res)) {
      this.refresh = this.doRoot1 = this.doRoot2 = false
      // Taken on what had arrived by now: the next two ticks may still move to a cheaper parent under the same
      // root (see fix), so a node that joined during a root change still ends at its shortest depth.
      this.provisionalUntil = r.clock.now() + 2 * r.opts.tickMs
      this.sendReqs()
      this.sendAnnounces()
    }
  }

  /** Parent selection (`_fix`), with cost = 1 per link (so a candidate's cost is its depth). */
  private fix (): void {
    const r = this.r
    const selfKey = r.selfKey
    let bestRoot = selfKey
    let bestParent = selfKey
    let bestCost = Infinity
    const self = this.infos.get(selfKey)
    const selfParent = self?.parent ?? selfKey
    const parentPeer = r.peers.get(selfParent)
    const provisional = r.clock.now() < this.provisionalUntil
    let currentRoot = selfKey
    let parentCost = Infinity // what our current parent costs, compared like a candidate (its depth × link cost)
    if (parentPeer !== undefined) {
      const w = this.walk(selfKey)
      if (w.root < bestRoot) {
        bestRoot = currentRoot = w.root
        bestParent = selfParent
        bestCost = w.depth * r.linkCost(parentPeer)
        parentCost = (w.depth - 1) * r.linkCost(parentPeer)
      }
    }
    for (const p of r.peers.values()) {
      if (p.response === undefined) continue
      if (!this.infos.has(p.key)) continue
      const w = this.walk(p.key)
      if (w.hasSelf) continue
      const cost = w.depth * r.linkCost(p)
      if (w.root < bestRoot) {
        bestRoot = w.root
        bestParent = p.key
        bestCost = cost
      } else if (w.root !== bestRoot) {
        continue
      }
      if ((this.refresh && cost * 2 < bestCost) || (bestParent !== selfParent && cost < bestCost) ||
        (provisional && bestParent === selfParent && cost < parentCost)) {
        bestRoot = w.root
        bestParent = p.key
        bestCost = cost
      }
    }
    if (!(this.refresh || this.doRoot1 || this.doRoot2 || selfParent !== bestParent)) return
    const res = r.peers.get(bestParent)?.response
    if (res !== undefined && bestRoot !== selfKey && this.useResponse(bestParent, res)) {
      this.refresh = this.doRoot1 = this.doRoot2 = false
      // A new root arrives as a wave: for two ticks a cheaper parent under it may still replace this one.
      if (bestRoot !== currentRoot) this.provisionalUntil = r.clock.now() + 2 * r.opts.tickMs
      this.sendReqs()
    } else if (this.doRoot2) {
      this.becomeRoot()
      this.refresh = this.doRoot1 = this.doRoot2 = false
      this.sendReqs()
    } else if (!this.doRoot1) {
      this.doRoot1 = true
    }
  }

  /** Signs our own Announce from a parent's SigRes (`_useResponse`). */
  private useResponse (parent: KeyStr, res: SigRes): boolean {
    const r = this.r
    const parentBytes = r.peers.get(parent)?.keyBytes ?? keyBytes(parent)
    const sig = r.signer.sign(sigResPreimage(r.selfBytes, parentBytes, res.seq, res.nonce, res.port))
    return this.update({ key: r.selfBytes, parent: parentBytes, res, sig }, r.selfKey, parent, undefined)
  }

  /** Announces ourselves as root (`_becomeRoot`): parent = self, port 0, sig = psig. */
  private becomeRoot (): void {
    const r = this.r
    const req = this.newReq()
    const psig = r.signer.sign(sigResPreimage(r.selfBytes, r.selfBytes, req.seq, req.nonce, 0))
    const res: SigRes = { seq: req.seq, nonce: req.nonce, port: 0, psig }
    this.update({ key: r.selfBytes, parent: r.selfBytes, res, sig: psig }, r.selfKey, r.selfKey, undefined)
  }

  /** Fresh SigReqs to every peer, forgetting old requests and responses (`_sendReqs`). */
  sendReqs (): void {
    this.resSeqCtr = 0
    for (const p of this.r.peers.values()) {
      p.response = undefined
      p.resSeq = 0
      const req = this.newReq()
      p.request = req
      const frame = encodeSigReq(req)
      for (const l of p.links) {
        l.responded = false
        this.r.sendSigReq(l, frame)
      }
    }
    this.touch()
  }

  /** Sends the request for `p` on a new link (creating it if needed), as `addPeer` does. */
  requestOn (link: Link): void {
    const p = link.peer
    p.request ??= this.newReq()
    link.responded = false
    this.r.sendSigReq(link, encodeSigReq(p.request))
  }

  /** Re-sends everything already sent to `p` over its new `link` (`addPeer` for an extra link). */
  resendTo (p: PeerState, link: Link): void {
    for (const k of p.sent) {
      const info = this.infos.get(k)
      if (info !== undefined) this.r.sendDirect(link, info.frame, FrameType.Announce)
    }
  }

  /**
   * Ancestry-only gossip (`_sendAnnounces`): each peer gets our ancestry and its own, minus what it has. With
   * `newPeersOnly` (an early pass), only peers we have sent nothing yet: a link that just came up learns the
   * tree at once, while gossip between established peers keeps the tick's pace (a network forming from
   * scratch then grows its shortest-depth tree one hop per tick, as in ironwood).
   */
  sendAnnounces (newPeersOnly = false): void {
    const r = this.r
    const selfAnc = this.ancestry(r.selfKey)
    for (const p of r.peers.values()) {
      if (newPeersOnly && p.gossiped) continue
      const toSend: TreeInfo[] = []
      for (const k of selfAnc) {
        if (!p.sent.has(k)) { p.sent.add(k); toSend.push(this.infos.get(k)!) }
      }
      for (const k of this.ancestry(p.key)) {
        if (!p.sent.has(k)) { p.sent.add(k); toSend.push(this.infos.get(k)!) }
      }
      if (toSend.length === 0) continue
      p.gossiped = true
      for (const l of p.links) {
        for (const info of toSend) r.sendDirect(l, info.frame, FrameType.Announce)
      }
    }
  }
}

/** True if the Announce `frame` carries exactly `body` after its header. */
function sameBody (frame: Uint8Array, body: Uint8Array): boolean {
  const off = frame.length - body.length
  if (off < 2) return false
  for (let i = 0; i < body.length; i++) if (frame[off + i] !== body[i]) return false
  return frame[off - 1] === FrameType.Announce
}
