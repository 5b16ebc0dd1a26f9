/**
 * What the parts of the network layer (tree.ts, routing.ts, pathfinder.ts, topology.ts) use of the node they
 * belong to: its identity, clock, timings and counters, the peer table, and the ways to send a frame. The
 * Router implements these interfaces; the parts never import it, so the layer has no import cycle.
 */
import type { Clock } from '../clock.js'
import type { KeyStr, Signer, VerifyFn } from '../crypto.js'
import type { RouterTimings } from './config.js'
import type { Link, PeerState } from './peers.js'
import type { RouterStats } from './stats.js'
import type { Path, Traffic } from './wire.js'

/** The node as the spanning tree sees it (tree.ts). */
export interface NetworkContext {
  /** Our public key, as a key string and as bytes. */
  readonly selfKey: KeyStr
  readonly selfBytes: Uint8Array
  /** Our transformed key (bloom/lookup space), as bytes and as a key string. */
  readonly selfX: Uint8Array
  readonly selfXStr: KeyStr
  readonly signer: Signer
  readonly verify: VerifyFn
  readonly clock: Clock
  readonly opts: RouterTimings
  readonly stats: RouterStats
  /** Peers by key (insertion order: the longest-known first). */
  readonly peers: ReadonlyMap<KeyStr, PeerState>
  /** Link cost for parent choice and next hops. */
  linkCost: (p: PeerState) => number
  /** Asks for an early maintenance pass. */
  soon: () => void
  /** Writes a frame that must not be dropped (tree, bloom). */
  sendDirect: (link: Link, frame: Uint8Array, type: number) => void
  /** Sends a SigReq and notes its send time for the RTT sample. */
  sendSigReq: (link: Link, frame: Uint8Array) => void
  /** Sends a droppable frame (lookup, notify, broken, traffic), queued per flow while the link is busy. */
  sendQueued: (link: Link, frame: Uint8Array, type: number, flow: string) => void
}

/** What routing and bloom maintenance read of the tree. */
export interface TreeView {
  /** Bumped on every change of the tree state. */
  readonly version: number
  /** Known node infos by key (only the parent is read here). */
  readonly infos: ReadonlyMap<KeyStr, { readonly parent: KeyStr }>
  /** Coordinates of a key ([] when unknown). */
  coordsOf: (key: KeyStr) => Path
}

/** The node as greedy routing and the bloom filters see it (routing.ts). */
export interface RoutingContext extends NetworkContext {
  readonly tree: TreeView
}

/** The node as the pathfinder sees it (pathfinder.ts). */
export interface PathfinderContext extends RoutingContext {
  /** Lookup multicast along on-tree links whose filter may hold the destination. */
  readonly blooms: { multicast: (frame: Uint8Array, from: KeyStr, destX: Uint8Array, flowKey: string) => number }
  /** Called when a PathNotify is accepted. */
  readonly onPathNotify: ((key: Uint8Array) => void) | undefined
  /** Unix time in seconds (PathNotify seq). */
  unixSeconds: () => number
  /** The transformed key (bloom/lookup space) and its key string. */
  xform: (key: Uint8Array) => Uint8Array
  xformStr: (key: Uint8Array) => KeyStr
  /** Forwards, delivers, or reports as broken one traffic packet (`from`: undefined for our own). */
  routeTraffic: (tr: Traffic, from: Link | undefined) => void
}
