/**
 * Greedy tree-space routing with the watermark (ironwood `router.go` `_getDist`/`_lookup`, ygg-protocol.md
 * §1.5) and the per-peer bloom filters that steer lookups (`bloomfilter.go`, §1.6).
 *
 * Differences from ironwood, on purpose:
 * - `_getBloomFor` in ironwood loses the `zDirty` flag when the merged filter equals the last one sent (the
 *   flag is set on a copy that is only stored when the filter changed), so stale 1-bits can linger until
 *   some other bit changes. We store the flag, so 1-bits propagate at once and 0-bits one tick later, as the
 *   code comments intend. Only which filter bits are set differs; the wire format and rules are the same.
 * - Filters are only recomputed on ticks where an input changed (on-tree set, a received filter, zDirty);
 *   the result is the same, at a fraction of the cost on high-degree nodes.
 */
import { Bloom, bloomLocations, encodeBloom } from './bloom.js'
import type { Path } from './wire.js'
import type { KeyStr } from '../crypto.js'
import type { RoutingContext } from './context.js'
import { EMPTY_BLOOM, EMPTY_BLOOM_FRAME, type Link, type PeerState } from './peers.js'

/** Tree distance between two coordinate lists: hops through their deepest common ancestor (`_getDist`). */
export function treeDist (a: Path, b: Path): number {
  const end = a.length < b.length ? a.length : b.length
  let dist = a.length + b.length
  for (let i = 0; i < end; i++) {
    if (a[i] !== b[i]) break
    dist -= 2
  }
  return dist
}

/** Outcome of a next-hop decision. */
export interface HopResult {
  /** The link to forward on, if any peer is strictly closer to the destination than we are. */
  link: Link | undefined
  /** Our own distance to the destination (the packet's new watermark when forwarded). */
  selfDist: number
  /** True when the packet was refused because `selfDist >= watermark` (it cannot have made progress). */
  watermarkDrop: boolean
}

/**
 * Next hop towards coordinates `path` (`_lookup`): refuse when we are not strictly below the watermark,
 * otherwise pick among links to peers strictly closer than us the one with the lowest cost per unit of
 * progress (@743fe2f formula, integer division), then lower priority on the same key, lower distance, and
 * the older link. Strict progress on every hop makes forwarding loop-free even with inconsistent views.
 */
export function nextHop (r: RoutingContext, path: Path, watermark: bigint): HopResult {
  const tree = r.tree
  const selfDist = treeDist(path, tree.coordsOf(r.selfKey))
  if (BigInt(selfDist) >= watermark) return { link: undefined, selfDist, watermarkDrop: true }
  let best: Link | undefined
  let bestCpd = Infinity
  let bestDist = Infinity
  for (const p of r.peers.values()) {
    if (p.links.length === 0) continue
    const dist = treeDist(path, tree.coordsOf(p.key))
    if (dist >= selfDist) continue
    for (const l of p.links) {
      const cpd = Math.floor(r.linkCost(p) / (selfDist - dist))
      if (best === undefined) {
        best = l; bestCpd = cpd; bestDist = dist
      } else if (l.peer === best.peer && l.prio < best.prio) {
        best = l; bestCpd = cpd; bestDist = dist
      } else if (l.peer === best.peer && l.prio > best.prio) {
        continue
      } else if (cpd < bestCpd) {
        best = l; bestCpd = cpd; bestDist = dist
      } else if (cpd > bestCpd) {
        continue
      } else if (dist < bestDist) {
        best = l; bestCpd = cpd; bestDist = dist
      } else if (dist > bestDist) {
        continue
      } else if (l.order < best.order) {
        best = l; bestCpd = cpd; bestDist = dist
      }
    }
  }
  return { link: best, selfDist, watermarkDrop: false }
}

/** Bloom-filter maintenance and lookup multicast for one node. */
export class Blooms {
  /** Bumped whenever an input of any outgoing filter changes (received filters, on-tree set, peer set). */
  inputs = 0
  private fixedAt = -1
  /** `inputs` when the last early pass computed filters (it skips work when nothing it reads changed). */
  private earlyAt = -1
  private readonly r: RoutingContext
  private selfLocs: Uint16Array | undefined

  constructor (r: RoutingContext) {
    this.r = r
  }

  /** Bloom locations of our own transformed key. */
  private ownLocs (): Uint16Array {
    this.selfLocs ??= bloomLocations(this.r.selfX)
    return this.selfLocs
  }

  /** True if `p` is a tree neighbour (our parent, or its info names us as parent). */
  isOnTree (p: PeerState): boolean { return p.bloom.onTree }

  /** Stores a filter received from `p` (`_handleBloom`); true if it changed. */
  handleBloom (p: PeerState, b: Bloom): boolean {
    if (p.bloom.recv.equals(b)) return false
    p.bloom.recv = b.isEmpty() ? EMPTY_BLOOM : b
    this.inputs++
    return true
  }

  /**
   * Between ticks (Router.soon): a filter that gained 1-bits (a node joined below or beside us) goes out at
   * once, merged with what we sent before; removals (0-bits) still wait for the tick, as the damping intends.
   */
  maintainEarly (): void {
    const r = this.r
    this.fixOnTreeIfChanged()
    if (this.earlyAt === this.inputs) return // no filter or on-tree flag changed since the last early pass
    this.earlyAt = this.inputs
    for (const p of r.peers.values()) {
      const bi = p.bloom
      if (!bi.onTree) continue
      const b = this.filterFor(p)
      b.merge(bi.send)
      if (b.equals(bi.send)) continue
      bi.send = b
      bi.sendFrame = encodeBloom(b)
      for (const l of p.links) r.sendDirect(l, bi.sendFrame, 5)
    }
  }

  /** Our key plus every other on-tree peer's received filter (`_getBloomFor`). */
  private filterFor (p: PeerState): Bloom {
    const b = new Bloom().addLocations(this.ownLocs())
    for (const q of this.r.peers.values()) {
      if (q === p || !q.bloom.onTree || q.bloom.recv === EMPTY_BLOOM) continue
      b.merge(q.bloom.recv)
    }
    return b
  }

  /** Sends the last filter we sent to `p` on `link` (new link, or after losing a sibling link). */
  sendCurrent (link: Link): void {
    this.r.sendDirect(link, link.peer.bloom.sendFrame, 5)
  }

  /** Per-tick work (`blooms._doMaintenance`): fix the on-tree flags, then recompute and send changed filters. */
  maintain (): void {
    const r = this.r
    this.fixOnTreeIfChanged()
    for (const p of r.peers.values()) {
      const bi = p.bloom
      if (!bi.onTree) continue
      let isNew = false
      if (bi.computedAt !== this.inputs || bi.zDirty) isNew = this.compute(p)
      bi.seq++
      if (isNew || bi.seq >= 3600) {
        for (const l of p.links) r.sendDirect(l, bi.sendFrame, 5)
        bi.seq = 0
      }
    }
  }

  /** fixOnTree once per tree version. */
  private fixOnTreeIfChanged (): void {
    if (this.fixedAt === this.r.tree.version) return
    this.fixOnTree()
    this.fixedAt = this.r.tree.version
  }

  /** `_fixOnTree`: recompute on-tree flags; a peer leaving the tree is sent an empty filter. */
  private fixOnTree (): void {
    const r = this.r
    const self = r.tree.infos.get(r.selfKey)
    if (self === undefined) return
    for (const p of r.peers.values()) {
      const bi = p.bloom
      const was = bi.onTree
      let on = false
      if (self.parent === p.key) on = true
      else if (r.tree.infos.get(p.key)?.parent === r.selfKey) on = true
      bi.onTree = on
      if (on !== was) this.inputs++
      if (was && !on) {
        bi.send = EMPTY_BLOOM
        bi.sendFrame = EMPTY_BLOOM_FRAME
        for (const l of p.links) r.sendDirect(l, EMPTY_BLOOM_FRAME, 5)
      }
    }
  }

  /** `_getBloomFor` + store: the filter for `p` is our key plus every other on-tree peer's received filter. */
  private compute (p: PeerState): boolean {
    const bi = p.bloom
    const b = this.filterFor(p)
    if (!bi.zDirty) {
      // Keep 1-bits we sent before for one more tick, so ones travel faster than zeros (damps flapping).
      const before = b.clone()
      b.merge(bi.send)
      if (!b.equals(before)) bi.zDirty = true
    } else {
      bi.zDirty = false
    }
    bi.computedAt = this.inputs
    if (b.equals(bi.send)) return false
    bi.send = b
    bi.sendFrame = encodeBloom(b)
    return true
  }

  /**
   * Forwards a lookup frame to every on-tree peer but `from` whose received filter may contain the
   * transformed destination (`_sendMulticast`), on the lowest-priority link of each.
   */
  multicast (frame: Uint8Array, from: KeyStr, destX: Uint8Array, flowKey: string): number {
    const locs = bloomLocations(destX)
    let n = 0
    for (const p of this.r.peers.values()) {
      const bi = p.bloom
      if (!bi.onTree || p.key === from || p.links.length === 0) continue
      if (!bi.recv.testLocations(locs)) continue
      let best = p.links[0]
      for (const l of p.links) if (l.prio < best.prio) best = l
      this.r.sendQueued(best, frame, 6, flowKey)
      n++
    }
    return n
  }
}
