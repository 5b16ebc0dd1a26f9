/**
 * Gossip pub/sub as a node service: `createNode({ transport, services: { pubsub: gossip() } })`.
 *
 * A GossipSub-style mesh per topic (degree bounds D/Dlo/Dhi kept by a heartbeat, GRAFT/PRUNE with a backoff),
 * chosen by proximity: besides Drandom random peers, a node keeps the mesh peers nearest to it by measured round
 * trip, and finds nearer ones through its mesh peers (PEERS). On the mesh, an eager/lazy split: a message is
 * pushed along eager links and announced (IHAVE) on the others; one whose announced message never came fetches
 * it (IWANT). Eager links are a spanning tree of the mesh (TREE frames): rooted at the lowest peer id whose
 * counter still rises, each node's parent is the mesh peer with the shortest measured path to the root, so a
 * message crosses at most (its origin's + the receiver's distance to the root) and every node receives one copy.
 * Peers that send no TREE frames (AXL's Python script) keep Plumtree's rules: a duplicate by eager push turns the
 * link lazy (LAZY), a fetch turns it eager (EAGER). Frames are AXL's Python GossipSub JSON on the raw message
 * channel (see wire.ts), claimed with node.handleMessages().
 */
import { randomBytes } from 'node:crypto'
import {
  AxlError, ConfigError, MessageTooLargeError, NotStartedError, parsePeerId,
  type AxlNode, type MeshStream, type InboundMessage, type NodeComponents, type PeerId, type WaitOptions
} from '@axl/core'
import { writeFrame } from '@axl/core/wire'
import type { Logger } from '@libp2p/logger'
import { BoundedMap } from './bounded-map.js'
import { InvalidTopicError, MalformedGossipError, RateLimitedError } from './errors.js'
import { signMessage, verifyMessage } from './signing.js'
import { TopicSubscription, type PubSubMessage, type SubscribeOptions, type Subscription } from './subscription.js'
import { TokenBucket } from './token-bucket.js'
import { sharedVerifiedSignatures, type VerifiedSignatures } from './verified-signatures.js'
import {
  base64Length, decodeData, decodeFrame, encodeFrame, isGossipFrame, MAX_TOPIC_LENGTH,
  MAX_PEERS_EXCHANGED, MAX_TREE_PATH, type WireControl, type WireFrame, type WireMessage, type WireTree
} from './wire.js'

/** The custom protocol a gossip node answers so peers found in the topology can be probed without touching their inbox. */
export const GOSSIP_PROBE_PROTOCOL = '/axl/gossipsub/probe/1'

/** Limits of one topic. */
export interface TopicLimits {
  /** Largest payload (bytes) published or accepted on the topic. @default 1048576 (1 MiB) */
  maxMessageSize?: number
  /** New messages per second accepted on the topic (inbound, all origins together) and published by us. @default 1000 */
  rate?: number
  /** Messages the rate limit lets through at once. @default 2 × rate */
  burst?: number
}

/** Options of gossip(). */
export interface GossipOptions {
  /** Target mesh degree per topic. @default 6 */
  D?: number
  /** Below this many mesh peers the heartbeat grafts more. @default 4 */
  Dlo?: number
  /** Above this many mesh peers the heartbeat prunes back to D; GRAFTs beyond it are refused. @default 12 */
  Dhi?: number
  /** Peers outside the mesh sent an IHAVE of recent messages each heartbeat. @default 3 */
  Dgossip?: number
  /** Heartbeat period (mesh upkeep, gossip, discovery, expiry). @default 1000 */
  heartbeatMs?: number
  /** Peers known to speak gossip (e.g. Python GossipSub nodes), by peer id; never probed, never forgotten. @default [] */
  peers?: Array<PeerId | string>
  /** Find gossip peers in node.topology() (links, parent, tree) and among peers that sent us messages, by probing them. @default true */
  discover?: boolean
  /** Stop probing for more peers once this many gossip peers are known. @default 2 × Dhi */
  targetPeers?: number
  /** Gossip peers remembered at most (explicit peers are never evicted). @default 1000 */
  maxPeers?: number
  /** Messages without a signature (AXL's Python example sends none): 'reject' drops them, 'accept' delivers them with `signed: false`. @default 'reject' */
  unsignedMessages?: 'reject' | 'accept'
  /** Signed messages older (or further in the future) than this are dropped as stale or replayed. @default 60000 */
  maxAgeMs?: number
  /** How long message ids are remembered for deduplication; at least 2 × maxAgeMs. @default 120000 */
  seenTtlMs?: number
  /** Message ids remembered at most (evicting early raises the replay floor: older signed messages are then refused). @default 100000 */
  maxSeen?: number
  /** How long messages are kept to answer IWANT and announce in IHAVE. @default 60000 */
  cacheTtlMs?: number
  /** Messages kept at most. @default 10000 */
  maxCached?: number
  /** Bytes of messages kept at most. @default 67108864 (64 MiB) */
  maxCachedBytes?: number
  /** Age of the messages a heartbeat IHAVE announces. @default 3 × heartbeatMs */
  gossipWindowMs?: number
  /** How long an announced message may take to arrive by eager push before it is fetched with IWANT. @default 150 */
  ihaveTimeoutMs?: number
  /**
   * Upper bound of the adaptive IHAVE timeout: the wait before an IWANT follows the delay observed between an
   * announcement and the eager copy (smoothed as TCP's RTO: mean + 4 × deviation), between ihaveTimeoutMs and
   * this, so a slow (loaded) eager path is not pulled early, which would only add a duplicate. @default 2000
   */
  maxIhaveTimeoutMs?: number
  /**
   * Tree optimisation (Plumtree): when an eager copy arrives this much later than a lazy peer's IHAVE of it,
   * that lazy link becomes eager and the eager sender's link lazy, so the tree follows the faster path. @default 20
   */
  treeOptimizeMs?: number
  /** Signature verifications shared by the services of this process (see verified-signatures.ts); false verifies every time. @default the process-wide memo */
  verifiedSignatures?: VerifiedSignatures | false
  /** How long an IWANT may go unanswered before the next announcer is asked. @default 1000 */
  iwantTimeoutMs?: number
  /** Announcements to lazy mesh peers are collected for this long and sent as one IHAVE per peer and topic. @default 50 */
  lazyFlushMs?: number
  /** Ids in one IHAVE (sent and accepted). @default 5000 (the Python example's max_ihave_length) */
  maxIhaveLength?: number
  /** Announced messages waiting to arrive or be fetched, at most. @default 10000 */
  maxPendingIwants?: number
  /** A peer that PRUNEd us is not grafted on that topic again for this long. @default 30000 */
  pruneBackoffMs?: number
  /** Frames being sent at once, at most (more are dropped and counted). @default 4096 */
  maxPendingSends?: number
  /** Peers we keep an open AXL stream to (frames to one peer go one after another on it; least recently used closed first). @default 64 */
  maxConnections?: number
  /** A stream to a peer in none of our meshes is closed after this long unused (mesh peers' streams are kept). @default 3 × heartbeatMs */
  connIdleMs?: number
  /** Deadline of a publish() waiting for its first sends to be accepted. @default 10000 */
  publishTimeoutMs?: number
  /** Limits of every topic unless `topics` says otherwise. */
  topicDefaults?: TopicLimits
  /** Limits by topic. @default {} */
  topics?: Record<string, TopicLimits>
  /** Deliver our own publications to our own subscriptions. @default false */
  emitSelf?: boolean
  /**
   * Eager links follow a spanning tree of each topic's mesh (TREE frames, see the file comment); false: Plumtree's
   * duplicate-driven eager/lazy links only (as peers without TREE frames always are). @default true
   */
  tree?: boolean
  /** Mesh peers chosen at random, regardless of distance (they keep the mesh well connected); the others are the nearest known by round trip. @default 2 (at most D) */
  Drandom?: number
  /** A tree root whose counter has not risen for this long is taken for gone. @default 10 × heartbeatMs */
  rootTimeoutMs?: number
}

/** Options of publish(). */
export interface PublishOptions extends WaitOptions {}

/** What publish() did. */
export interface PublishResult {
  /** The message id. */
  id: string
  /** Peers that accepted the message itself (eager push; for an unsubscribed topic, the fanout peers). */
  peers: number
  /** Peers sent an IHAVE for it instead. */
  announced: number
}

/** Counters of the service (frames are raw AXL messages). */
export interface GossipStats {
  /** Messages published here. */
  published: number
  /** Messages delivered to this node's subscribers (once per message). */
  delivered: number
  /** MESSAGE frames received (every copy). */
  messagesReceived: number
  /** MESSAGE copies already seen. */
  duplicates: number
  /** Messages dropped: bad signature (forged or altered). */
  invalidSignature: number
  /** Messages dropped: unsigned while `unsignedMessages` is 'reject'. */
  unsignedDropped: number
  /** Messages dropped: signed too long ago, in the future, or below the replay floor. */
  stale: number
  /** Messages dropped: larger than the topic's maxMessageSize. */
  tooLarge: number
  /** Messages dropped: over the topic's rate. */
  rateLimited: number
  /** Messages dropped: for a topic we do not subscribe to. */
  notSubscribed: number
  /** Frames dropped: malformed (typed MalformedGossipError, logged). */
  malformed: number
  /** Frames sent / bytes sent. */
  framesSent: number
  bytesSent: number
  /** Gossip frames received / bytes received. */
  framesReceived: number
  bytesReceived: number
  /** Frames not sent because maxPendingSends frames were in flight. */
  sendsDropped: number
  /** Sends that failed (unreachable, refused, timed out). */
  sendFailures: number
  /** IHAVE / IWANT frames sent; messages served to IWANTs. */
  ihaveSent: number
  iwantSent: number
  iwantServed: number
  /** Announced messages given up on (no announcer delivered them). */
  iwantGaveUp: number
  /** IHAVE ids ignored because maxPendingIwants were waiting. */
  pendingDropped: number
  /** Message ids forgotten before seenTtlMs because maxSeen was reached. */
  seenEvicted: number
  /** Messages evicted from the cache before cacheTtlMs (maxCached / maxCachedBytes). */
  cacheEvicted: number
  /** Peers forgotten because maxPeers was reached. */
  peersEvicted: number
  /** Messages dropped because a subscriber's queue was full. */
  subscriberDropped: number
  /** GRAFT / PRUNE frames sent. */
  graftSent: number
  pruneSent: number
  /** Signatures found already verified (by this process) in the shared memo. */
  signatureMemoHits: number
  /** Eager parent switched to a lazy peer whose IHAVE came treeOptimizeMs earlier than the eager copy (peers without TREE frames). */
  treeOptimized: number
  /** Tree parent changes (all topics). */
  parentChanges: number
  /** Nearer peers grafted while the mesh was within its bounds (proximity). */
  meshOptimized: number
  /** The IHAVE timeout in use now (adaptive, ms). */
  ihaveTimeoutMs: number
}

/** A node's place in a topic's spanning tree. */
export interface TreeInfo {
  /** The root (the lowest live peer id the node knows of in the topic's mesh; itself when it is the root). */
  root: PeerId
  /** The mesh peer toward the root; undefined at the root. */
  parent: PeerId | undefined
  /** Mesh peers whose parent we are. */
  children: PeerId[]
  /** Distance to the root: sum of the links' one-way delays (half the measured round trip), ms. */
  dist: number
  /** Links to the root. */
  depth: number
}

/** The service: `node.services.pubsub`. */
export interface GossipSub {
  /** Subscribe to a topic; the returned Subscription is an async iterator of its messages. */
  subscribe: (topic: string, opts?: SubscribeOptions) => Subscription
  /** Publish; resolves once the first sends settled (deadline `publishTimeoutMs` or opts), with the id and peer counts. */
  publish: (topic: string, data: Uint8Array, opts?: PublishOptions) => Promise<PublishResult>
  /** Topics subscribed to now. */
  topics: () => string[]
  /** Our mesh peers on a topic. */
  meshPeers: (topic: string) => PeerId[]
  /** Our place in a topic's spanning tree (undefined when not subscribed). */
  treeOf: (topic: string) => TreeInfo | undefined
  /** The measured round trip to a peer (ms), when known. */
  rttOf: (peer: PeerId | string) => number | undefined
  /** Peers known to speak gossip. */
  peers: () => PeerId[]
  /** Add a peer known to speak gossip (e.g. a Python GossipSub node); it is never probed or forgotten. */
  addPeer: (peer: PeerId | string) => void
  /** Forget a peer (and leave its mesh links without a PRUNE). */
  removePeer: (peer: PeerId | string) => void
  /** Counters. */
  readonly stats: GossipStats
  /** Run one heartbeat now (the timer runs them every heartbeatMs). */
  heartbeat: () => void
  /** @internal Started by the node. */
  start: () => Promise<void>
  /** @internal Stopped by the node. */
  stop: () => Promise<void>
}

/** The gossip pub/sub service factory for createNode({ services: { pubsub: gossip(opts) } }). */
export function gossip (opts: GossipOptions = {}): (components: NodeComponents) => GossipSub {
  return (components) => new GossipService(components, opts)
}

interface Resolved {
  D: number, Dlo: number, Dhi: number, Dgossip: number, heartbeatMs: number, discover: boolean, targetPeers: number
  maxPeers: number, unsigned: 'reject' | 'accept', maxAgeMs: number, seenTtlMs: number, maxSeen: number
  cacheTtlMs: number, maxCached: number, maxCachedBytes: number, gossipWindowMs: number, ihaveTimeoutMs: number
  iwantTimeoutMs: number, maxIhaveTimeoutMs: number, treeOptimizeMs: number, lazyFlushMs: number, maxIhaveLength: number, maxPendingIwants: number, pruneBackoffMs: number
  maxPendingSends: number, maxConnections: number, connIdleMs: number, publishTimeoutMs: number, emitSelf: boolean
  tree: boolean, Drandom: number, rootTimeoutMs: number
}

interface PeerInfo {
  /** 'explicit' peers are never probed or forgotten. */
  explicit: boolean
  /** Consecutive failed sends. */
  failures: number
  /** No sends and no grafting before this time (after failures). */
  downUntil: number
  /** Topic → time before which we do not graft this peer (it pruned us). */
  backoff: Map<string, number>
  /** Measured round trip (ms): the lowest sample at once, higher ones averaged in slowly. */
  rtt?: number
  /** The peer's last TREE timestamp and when it came, echoed in our next TREE to it. */
  echo?: { t: number, at: number }
}

/** A mesh peer's last TREE frame on a topic. */
interface Ad { root: PeerId, seq: number, dist: number, path: string[], at: number }

/** Our place in a topic's tree. */
interface TreeState { root: PeerId, seq: number, dist: number, parent: PeerId | undefined, path: string[] }

/** A mesh link on one topic: `eager` when we push messages to that peer, lazy when we only announce them. */
interface Link {
  eager: boolean
  /** Why we grafted it ('near': proximity, 'random': a random long link); undefined when the peer grafted us (or to fill up). */
  role?: 'near' | 'random'
}

interface Topic {
  name: string
  subs: Set<TopicSubscription>
  mesh: Map<PeerId, Link>
  /** Mesh peers' TREE frames. */
  ads: Map<PeerId, Ad>
  /** Roots heard of: the highest counter seen and when it rose (a root is live while it keeps rising). */
  roots: Map<PeerId, { seq: number, at: number }>
  tree: TreeState
  /** Triggered TREE frames: when the last went out, and the timer of the next. */
  adsAt: number
  adsTimer?: ReturnType<typeof setTimeout>
}

interface Cached { frame: WireMessage, topic: string, bytes: number }

interface Conn { stream?: MeshStream, chain: Promise<void>, usedAt: number }

interface Pending { topic: string, announcers: PeerId[], due: number, tries: number, announcedAt: number }

const MAX_ANNOUNCERS = 8
const MAX_IWANT_TRIES = 3
const IWANT_CHUNK = 500
/** Probes started per heartbeat at most. */
const PROBES_PER_HEARTBEAT = 4
/** A peer that failed a probe is probed again after 1 s, doubling at each failure up to this long. */
const PROBE_RETRY_MS = 60_000
/** First retry of a failed probe. */
const PROBE_FIRST_RETRY_MS = 1_000
/** Deadline of one probe (a first contact over the overlay may need a route lookup and a TCP handshake). */
const PROBE_TIMEOUT_MS = 5_000
/** Probe candidates remembered at most. */
const MAX_CANDIDATES = 1024
/** Consecutive failed sends after which a peer counts as down. */
const DOWN_AFTER_FAILURES = 2
/** How long a down peer is left alone. */
const DOWN_FOR_MS = 5_000
/** Roots remembered per topic at most. */
const MAX_ROOTS = 256
/** TREE frames go to every mesh peer every this many heartbeats (and at once on a change). */
const AD_EVERY = 2
/** A mesh peer's TREE frame counts for this many heartbeats. */
const AD_TTL_HEARTBEATS = 2 * AD_EVERY + 0.5
/** Another parent must be this much nearer the root (fraction, and ms) to replace the current one. */
const PARENT_HYSTERESIS = 0.1
const PARENT_HYSTERESIS_MS = 2
/** A nearer peer is grafted (mesh within bounds) when its round trip is below this share of the farthest near mesh peer's. */
const NEARER_BY = 0.8
/** Peers sent in one PEERS frame. */
const PEERS_SENT = 8

function resolve (o: GossipOptions): Resolved {
  const D = o.D ?? 6
  const Dlo = o.Dlo ?? Math.min(4, D)
  const Dhi = o.Dhi ?? Math.max(12, D)
  const heartbeatMs = o.heartbeatMs ?? 1000
  const maxAgeMs = o.maxAgeMs ?? 60_000
  const seenTtlMs = o.seenTtlMs ?? 2 * maxAgeMs
  const r: Resolved = {
    D, Dlo, Dhi, Dgossip: o.Dgossip ?? 3, heartbeatMs, discover: o.discover ?? true, targetPeers: o.targetPeers ?? 2 * Dhi,
    maxPeers: o.maxPeers ?? 1000, unsigned: o.unsignedMessages ?? 'reject', maxAgeMs, seenTtlMs, maxSeen: o.maxSeen ?? 100_000,
    cacheTtlMs: o.cacheTtlMs ?? 60_000, maxCached: o.maxCached ?? 10_000, maxCachedBytes: o.maxCachedBytes ?? 64 * 1024 * 1024,
    gossipWindowMs: o.gossipWindowMs ?? 3 * heartbeatMs, ihaveTimeoutMs: o.ihaveTimeoutMs ?? 150, iwantTimeoutMs: o.iwantTimeoutMs ?? 1000,
    maxIhaveTimeoutMs: o.maxIhaveTimeoutMs ?? Math.max(2000, o.ihaveTimeoutMs ?? 150), treeOptimizeMs: o.treeOptimizeMs ?? 20, lazyFlushMs: o.lazyFlushMs ?? 50,
    maxIhaveLength: o.maxIhaveLength ?? 5000, maxPendingIwants: o.maxPendingIwants ?? 10_000, pruneBackoffMs: o.pruneBackoffMs ?? 30_000,
    maxPendingSends: o.maxPendingSends ?? 4096, maxConnections: o.maxConnections ?? 64, connIdleMs: o.connIdleMs ?? 3 * heartbeatMs, publishTimeoutMs: o.publishTimeoutMs ?? 10_000, emitSelf: o.emitSelf ?? false,
    tree: o.tree ?? true, Drandom: Math.min(D, o.Drandom ?? 2), rootTimeoutMs: o.rootTimeoutMs ?? 10 * heartbeatMs
  }
  if (!(Dlo >= 1 && Dlo <= D && D <= Dhi)) throw new ConfigError(`gossip degrees must satisfy 1 ≤ Dlo ≤ D ≤ Dhi (got ${Dlo}, ${D}, ${Dhi})`)
  if (r.maxIhaveTimeoutMs < r.ihaveTimeoutMs) throw new ConfigError(`maxIhaveTimeoutMs (${r.maxIhaveTimeoutMs}) must be at least ihaveTimeoutMs (${r.ihaveTimeoutMs})`)
  if (seenTtlMs < 2 * maxAgeMs) throw new ConfigError(`seenTtlMs (${seenTtlMs}) must be at least 2 × maxAgeMs (${maxAgeMs}) so a replay is either remembered or stale`)
  for (const [k, v] of Object.entries(r)) if (typeof v === 'number' && !(v >= 0)) throw new ConfigError(`gossip option ${k} must be a non-negative number`)
  return r
}

class GossipService implements GossipSub {
  readonly stats: GossipStats = {
    published: 0, delivered: 0, messagesReceived: 0, duplicates: 0, invalidSignature: 0, unsignedDropped: 0, stale: 0,
    tooLarge: 0, rateLimited: 0, notSubscribed: 0, malformed: 0, framesSent: 0, bytesSent: 0, framesReceived: 0,
    bytesReceived: 0, sendsDropped: 0, sendFailures: 0, ihaveSent: 0, iwantSent: 0, iwantServed: 0, iwantGaveUp: 0,
    pendingDropped: 0, seenEvicted: 0, cacheEvicted: 0, peersEvicted: 0, subscriberDropped: 0, graftSent: 0, pruneSent: 0,
    signatureMemoHits: 0, treeOptimized: 0, parentChanges: 0, meshOptimized: 0, ihaveTimeoutMs: 0
  }

  private readonly o: Resolved
  private readonly node: AxlNode<Record<string, unknown>>
  private readonly self: PeerId
  private readonly log: Logger
  private readonly topicDefaults: Required<TopicLimits>
  private readonly topicLimits = new Map<string, Required<TopicLimits>>()
  private readonly maxDataChars: number
  private readonly topicsByName = new Map<string, Topic>()
  /** Rate buckets by topic, inbound and for our publications (bounded: one pair per topic with limits in use). */
  private readonly buckets = new BoundedMap<string, { in: TokenBucket, out: TokenBucket }>(4096, Infinity)
  private readonly known = new Map<PeerId, PeerInfo>()
  /** Failed probes in a row, by candidate (bounded with the candidates; cleared when a peer answers). */
  private readonly probeFailures = new Map<PeerId, number>()
  /** Peers to probe: peer → earliest next probe. */
  private readonly candidates = new Map<PeerId, number>()
  /** Candidates named in PEERS frames (probed even past targetPeers), with their estimated round trip. */
  private readonly pxCandidates = new Map<PeerId, number>()
  private probing = 0
  private readonly seen: BoundedMap<string, number>
  private readonly cache: BoundedMap<string, Cached>
  private readonly pending = new Map<string, Pending>()
  /** msg id → the peer we asked for it, so its late answer is not taken for an eager duplicate. */
  private readonly requested = new BoundedMap<string, PeerId>(10_000, 30_000)
  /** IWANT answers per (peer, id): at most 3 (GossipSub's retransmission limit). */
  private readonly served = new BoundedMap<string, number>(10_000, 60_000)
  /** Signed messages at or below this timestamp are refused: ids that recent may have been forgotten early. */
  private replayFloor = 0
  private readonly memo: VerifiedSignatures | undefined
  /** Smoothed delay from an IHAVE to the eager copy of the same message, and its mean deviation (ms). */
  private lagMean = -1
  private lagDev = 0
  private pendingSends = 0
  private pendingTimer: ReturnType<typeof setTimeout> | undefined
  private pendingTimerAt = Infinity
  private heartbeatTimer: ReturnType<typeof setInterval> | undefined
  /** Announcements waiting for the lazy flush: peer → topic → ids (bounded by maxIhaveLength per entry). */
  private readonly lazyQueue = new Map<PeerId, Map<string, string[]>>()
  private lazyTimer: ReturnType<typeof setTimeout> | undefined
  /** Open AXL streams by peer, in least-recently-used order; frames to a peer are written one after another. */
  private readonly conns = new Map<PeerId, Conn>()
  private readonly unregister: Array<() => void> = []
  private running = false
  /** Our counter as a tree root: it rises every heartbeat while we run. */
  private ownSeq = 0
  /** The first 16 hex characters of our peer id (how TREE paths name us). */
  private readonly prefix: string

  constructor (components: NodeComponents, opts: GossipOptions) {
    this.o = resolve(opts)
    this.memo = opts.verifiedSignatures === false ? undefined : (opts.verifiedSignatures ?? sharedVerifiedSignatures)
    this.stats.ihaveTimeoutMs = this.o.ihaveTimeoutMs
    this.node = components.node
    this.self = components.identity.peerId
    this.prefix = this.self.slice(0, 16)
    this.log = components.logger.forComponent('axl:pubsub')
    this.topicDefaults = limitsOf(opts.topicDefaults ?? {})
    let largest = this.topicDefaults.maxMessageSize
    for (const [t, l] of Object.entries(opts.topics ?? {})) {
      const r = limitsOf({ ...opts.topicDefaults, ...l })
      this.topicLimits.set(t, r)
      largest = Math.max(largest, r.maxMessageSize)
    }
    this.maxDataChars = Math.ceil(largest / 3) * 4
    this.seen = new BoundedMap(this.o.maxSeen, this.o.seenTtlMs, {
      onEvict: (_id, ts) => { this.stats.seenEvicted++; if (ts > this.replayFloor) this.replayFloor = ts }
    })
    this.cache = new BoundedMap(this.o.maxCached, this.o.cacheTtlMs, {
      weight: c => c.bytes, maxWeight: this.o.maxCachedBytes, onEvict: () => { this.stats.cacheEvicted++ }
    })
    for (const p of opts.peers ?? []) this.addPeer(p)
  }

  // ---- lifecycle ------------------------------------------------------------------------------------

  async start (): Promise<void> {
    if (this.running) return
    this.running = true
    this.unregister.push(this.node.handleMessages(isGossipFrame, m => { this.onFrame(m) }))
    this.unregister.push(this.node.handle(GOSSIP_PROBE_PROTOCOL, (stream, { from }) => {
      this.learn(from)
      stream.close()
    }))
    const onMessage = (e: CustomEvent<InboundMessage>): void => { this.consider(e.detail.from) }
    const onConnect = (e: CustomEvent<{ peer: PeerId }>): void => { this.consider(e.detail.peer); this.discover() }
    this.node.addEventListener('message', onMessage)
    this.node.addEventListener('peer:connect', onConnect)
    this.unregister.push(() => { this.node.removeEventListener('message', onMessage); this.node.removeEventListener('peer:connect', onConnect) })
    this.heartbeatTimer = setInterval(() => { this.heartbeat() }, this.o.heartbeatMs)
    this.heartbeatTimer.unref?.()
    this.discover()
  }

  async stop (): Promise<void> {
    if (!this.running) return
    this.running = false
    for (const u of this.unregister.splice(0)) u()
    if (this.heartbeatTimer !== undefined) clearInterval(this.heartbeatTimer)
    if (this.pendingTimer !== undefined) clearTimeout(this.pendingTimer)
    if (this.lazyTimer !== undefined) clearTimeout(this.lazyTimer)
    for (const t of this.topicsByName.values()) if (t.adsTimer !== undefined) clearTimeout(t.adsTimer)
    this.pendingTimer = undefined
    this.lazyTimer = undefined
    this.lazyQueue.clear()
    this.pending.clear()
    for (const c of this.conns.values()) c.stream?.close()
    this.conns.clear()
    for (const t of this.topicsByName.values()) for (const s of t.subs) s.close()
    this.topicsByName.clear()
  }

  // ---- public API -----------------------------------------------------------------------------------

  subscribe (topic: string, opts: SubscribeOptions = {}): Subscription {
    checkTopic(topic)
    if (!this.running) throw new NotStartedError('the pubsub service is not running')
    let t = this.topicsByName.get(topic)
    const fresh = t === undefined
    if (t === undefined) {
      t = {
        name: topic, subs: new Set(), mesh: new Map(), ads: new Map(), roots: new Map(), adsAt: -Infinity,
        tree: { root: this.self, seq: this.ownSeq, dist: 0, parent: undefined, path: [] }
      }
      this.topicsByName.set(topic, t)
    }
    const sub = new TopicSubscription(topic, opts.maxQueued ?? 1024, opts.signal, s => { this.onUnsubscribe(s) })
    t.subs.add(sub)
    if (opts.signal?.aborted === true) sub.unsubscribe()
    else if (fresh) this.maintain(t)
    return sub
  }

  async publish (topic: string, data: Uint8Array, opts: PublishOptions = {}): Promise<PublishResult> {
    checkTopic(topic)
    if (!this.running) throw new NotStartedError('the pubsub service is not running')
    const limits = this.limits(topic)
    if (data.byteLength > limits.maxMessageSize) throw new MessageTooLargeError(data.byteLength, limits.maxMessageSize)
    if (!this.bucket(topic).out.take()) throw new RateLimitedError(topic, limits.rate)
    const now = Date.now()
    const m: WireMessage = {
      type: 'gossipsub',
      msg_type: 'MESSAGE',
      topic,
      msg_id: `${this.self.slice(0, 8)}:${randomBytes(8).toString('hex')}`,
      origin: this.self,
      from: this.self,
      hop: 0,
      data: Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('base64')
    }
    signMessage(m, this.node.identity, now)
    this.seen.set(m.msg_id, now)
    this.remember(m)
    this.stats.published++
    const t = this.topicsByName.get(topic)
    if (t !== undefined && this.o.emitSelf) this.deliver(t, m, data, this.self, true)
    const bytes = encodeFrame(m)
    let eager: PeerId[]
    let lazy: PeerId[] = []
    if (t !== undefined && t.mesh.size > 0) {
      eager = [...t.mesh].filter(([p, l]) => this.usable(p) && this.eagerTo(t, p, l, now)).map(([p]) => p)
      lazy = [...t.mesh].filter(([p, l]) => this.usable(p) && !this.eagerTo(t, p, l, now)).map(([p]) => p)
      if (eager.length === 0) { eager = lazy; lazy = [] }
    } else {
      eager = shuffle(this.gossipPeers()).slice(0, this.o.D) // fanout
    }
    for (const p of lazy) this.announce(p, topic, m.msg_id)
    const deadline = { timeoutMs: opts.timeoutMs ?? this.o.publishTimeoutMs, signal: opts.signal }
    const results = await Promise.all(eager.map(async p => await this.send(p, bytes, deadline)))
    return { id: m.msg_id, peers: results.filter(Boolean).length, announced: lazy.length }
  }

  topics (): string[] { return [...this.topicsByName.keys()] }

  meshPeers (topic: string): PeerId[] { return [...(this.topicsByName.get(topic)?.mesh.keys() ?? [])] }

  treeOf (topic: string): TreeInfo | undefined {
    const t = this.topicsByName.get(topic)
    if (t === undefined) return undefined
    const now = Date.now()
    const children = [...t.ads].filter(([p, ad]) => this.isChild(t, p, ad, now)).map(([p]) => p)
    return { root: t.tree.root, parent: t.tree.parent, children, dist: t.tree.dist, depth: t.tree.parent === undefined ? 0 : t.tree.path.length }
  }

  rttOf (peer: PeerId | string): number | undefined { return this.known.get(parsePeerId(peer))?.rtt }

  peers (): PeerId[] { return [...this.known.keys()] }

  addPeer (peer: PeerId | string): void {
    const id = parsePeerId(peer)
    if (id === this.self) return
    const p = this.known.get(id)
    if (p !== undefined) { p.explicit = true; return }
    this.known.set(id, { explicit: true, failures: 0, downUntil: 0, backoff: new Map() })
    this.candidates.delete(id)
    this.pxCandidates.delete(id)
    this.probeFailures.delete(id)
    this.ping(id)
    for (const t of this.topicsByName.values()) if (t.mesh.size < this.o.Dlo) this.maintain(t)
  }

  removePeer (peer: PeerId | string): void {
    const id = parsePeerId(peer)
    this.known.delete(id)
    for (const t of this.topicsByName.values()) this.leaveMesh(t, id)
  }

  heartbeat (): void {
    if (!this.running) return
    const now = Date.now()
    this.seen.prune(now)
    this.cache.prune(now)
    this.requested.prune(now)
    this.served.prune(now)
    const periodic = ++this.ownSeq % AD_EVERY === 0
    for (const t of this.topicsByName.values()) {
      this.maintain(t)
      if (this.o.tree) {
        this.updateTree(t, now)
        if (periodic) {
          for (const p of t.mesh.keys()) this.sendTree(t, p, now)
          t.adsAt = now
        }
      }
      this.emitGossip(t, now)
    }
    this.closeIdle(now)
    // peer exchange (push-pull) with one mesh peer every AD_EVERY heartbeats — meshes find nearer peers through
    // each other — or, while we know too few peers or a mesh is below Dlo, with one known peer every heartbeat
    if (this.o.discover) {
      const short = this.gossipPeers(now).length < this.o.targetPeers || [...this.topicsByName.values()].some(t => t.mesh.size < this.o.Dlo)
      const pool = new Set<PeerId>()
      if (short) for (const p of this.gossipPeers(now)) pool.add(p)
      else if (periodic) for (const t of this.topicsByName.values()) for (const p of t.mesh.keys()) pool.add(p)
      const to = shuffle([...pool])[0]
      if (to !== undefined) this.sendPeers(to)
    }
    this.discover()
  }

  // ---- inbound ---------------------------------------------------------------------------------------

  private onFrame (msg: InboundMessage): void {
    if (!this.running) return
    this.stats.framesReceived++
    this.stats.bytesReceived += msg.data.byteLength
    let f: WireFrame
    try {
      f = decodeFrame(msg.data, { maxIds: this.o.maxIhaveLength, maxDataChars: this.maxDataChars })
    } catch (err) {
      if (!(err instanceof MalformedGossipError)) throw err
      this.stats.malformed++
      this.log('malformed gossip frame from %s: %s', msg.from, err.message)
      return
    }
    this.learn(msg.from)
    switch (f.msg_type) {
      case 'MESSAGE': this.onMessage(msg.from, f); break
      case 'GRAFT': this.onGraft(msg.from, f.topic); break
      case 'PRUNE': this.onPrune(msg.from, f.topic); break
      case 'IHAVE': this.onIhave(msg.from, f.topic, f.msg_ids); break
      case 'IWANT': this.onIwant(msg.from, f.msg_ids); break
      case 'LAZY': case 'EAGER': {
        const link = this.topicsByName.get(f.topic)?.mesh.get(msg.from)
        if (link !== undefined) link.eager = f.msg_type === 'EAGER'
        break
      }
      case 'TREE': this.onTree(msg.from, f); break
      case 'PING': this.sendControl(msg.from, { type: 'gossipsub', msg_type: 'PONG', echo: f.t, hold: 0 }); break
      case 'PONG': {
        const p = this.known.get(msg.from)
        if (p === undefined) break
        // the first sample may include opening the streams both ways: measure once more on the open ones
        if (p.rtt === undefined) this.ping(msg.from)
        sampleRtt(p, Date.now() - f.echo - f.hold)
        break
      }
      case 'PEERS':
        this.onPeers(msg.from, f.peers as PeerId[], f.rtts)
        if (f.reply !== true) this.sendPeers(msg.from, true)
        break
    }
  }

  private onMessage (from: PeerId, m: WireMessage): void {
    this.stats.messagesReceived++
    const now = Date.now()
    const t = this.topicsByName.get(m.topic)
    if (this.seen.has(m.msg_id, now)) {
      this.stats.duplicates++
      // a copy we did not ask for came by eager push: that link is redundant, make it lazy (both ways)
      const link = t?.mesh.get(from)
      if (link !== undefined && link.eager && !this.inTree(t!, from, now) && this.requested.get(m.msg_id, now) !== from) {
        link.eager = false
        this.sendControl(from, { type: 'gossipsub', msg_type: 'LAZY', topic: m.topic })
      }
      return
    }
    if (t === undefined) { this.stats.notSubscribed++; return }
    const limits = this.limits(m.topic)
    if (base64Length(m.data) > limits.maxMessageSize) { this.stats.tooLarge++; return }
    const signed = m.signature !== undefined
    if (signed) {
      const ts = m.timestamp_ms!
      if (Math.abs(now - ts) > this.o.maxAgeMs || ts <= this.replayFloor) { this.stats.stale++; return }
      const hits = this.memo?.stats.hits ?? 0
      const valid = verifyMessage(m, this.memo)
      if ((this.memo?.stats.hits ?? 0) > hits) this.stats.signatureMemoHits++
      if (!valid) { this.stats.invalidSignature++; this.log('bad signature on %s from %s', m.msg_id, from); return }
    } else if (this.o.unsigned === 'reject') { this.stats.unsignedDropped++; return }
    if (!this.bucket(m.topic).in.take(now)) { this.stats.rateLimited++; return }
    let data: Uint8Array
    try { data = decodeData(m.data) } catch (err) {
      this.stats.malformed++
      this.log('message %s from %s: %s', m.msg_id, from, (err as Error).message)
      return
    }
    this.seen.set(m.msg_id, signed ? m.timestamp_ms! : 0, now)
    this.remember(m)
    const p = this.pending.get(m.msg_id)
    if (p !== undefined) {
      this.pending.delete(m.msg_id)
      if (this.pending.size === 0) this.clearPendingTimer()
      if (this.requested.get(m.msg_id, now) !== from) this.eagerAfterIhave(t, p, from, now - p.announcedAt)
    }
    this.deliver(t, m, data, from, signed)
    this.forward(t, m, from)
  }

  private deliver (t: Topic, m: WireMessage, data: Uint8Array, from: PeerId, signed: boolean): void {
    this.stats.delivered++
    const msg: PubSubMessage = {
      topic: m.topic, data, from: m.origin as PeerId, id: m.msg_id, receivedFrom: from, hops: m.hop + 1, signed,
      ...(signed ? { timestamp: m.timestamp_ms } : {})
    }
    for (const s of t.subs) {
      const before = s.dropped
      s.push(msg)
      this.stats.subscriberDropped += s.dropped - before
    }
  }

  /** Push to eager mesh links, announce on lazy ones; never back to the sender or the origin. */
  private forward (t: Topic, m: WireMessage, from: PeerId): void {
    let bytes: Uint8Array | undefined
    const now = Date.now()
    for (const [p, link] of t.mesh) {
      if (p === from || p === m.origin || !this.usable(p, now)) continue
      if (this.eagerTo(t, p, link, now)) {
        bytes ??= encodeFrame({ ...m, from: this.self, hop: m.hop + 1 })
        void this.send(p, bytes)
      } else {
        this.announce(p, t.name, m.msg_id)
      }
    }
  }

  /** Queue an IHAVE of `id` to a lazy peer; the queue is flushed every lazyFlushMs. */
  private announce (peer: PeerId, topic: string, id: string): void {
    let byTopic = this.lazyQueue.get(peer)
    if (byTopic === undefined) { byTopic = new Map(); this.lazyQueue.set(peer, byTopic) }
    const ids = byTopic.get(topic) ?? []
    if (ids.length >= this.o.maxIhaveLength) { this.stats.pendingDropped++; return }
    ids.push(id)
    byTopic.set(topic, ids)
    if (this.lazyTimer === undefined) {
      this.lazyTimer = setTimeout(() => { this.lazyTimer = undefined; this.flushLazy() }, this.o.lazyFlushMs)
      this.lazyTimer.unref?.()
    }
  }

  private flushLazy (): void {
    if (!this.running) return
    for (const [peer, byTopic] of this.lazyQueue) {
      for (const [topic, ids] of byTopic) this.sendControl(peer, { type: 'gossipsub', msg_type: 'IHAVE', topic, msg_ids: ids })
    }
    this.lazyQueue.clear()
  }

  private onGraft (from: PeerId, topic: string): void {
    const t = this.topicsByName.get(topic)
    if (t === undefined || (!t.mesh.has(from) && t.mesh.size >= this.o.Dhi)) {
      this.sendControl(from, { type: 'gossipsub', msg_type: 'PRUNE', topic, peers: [] })
      this.stats.pruneSent++
      // a full mesh refuses, but names other peers (as GossipSub's peer exchange on PRUNE)
      if (t !== undefined) this.sendPeers(from)
      return
    }
    if (!t.mesh.has(from)) {
      t.mesh.set(from, { eager: true })
      this.joinedMesh(t, from)
    }
  }

  private onPrune (from: PeerId, topic: string): void {
    const t = this.topicsByName.get(topic)
    if (t === undefined) return
    this.leaveMesh(t, from)
    this.known.get(from)?.backoff.set(topic, Date.now() + this.o.pruneBackoffMs)
  }

  private onIhave (from: PeerId, topic: string, ids: string[]): void {
    const t = this.topicsByName.get(topic)
    if (t === undefined) return
    const now = Date.now()
    const wait = this.ihaveWait(t, from, now)
    for (const id of ids) {
      if (this.seen.has(id, now)) continue
      const p = this.pending.get(id)
      if (p !== undefined) {
        if (p.announcers.length < MAX_ANNOUNCERS && !p.announcers.includes(from)) p.announcers.push(from)
        continue
      }
      if (this.pending.size >= this.o.maxPendingIwants) { this.stats.pendingDropped++; continue }
      this.pending.set(id, { topic, announcers: [from], due: now + wait, tries: 0, announcedAt: now })
    }
    this.schedulePending(now + wait)
  }

  private onIwant (from: PeerId, ids: string[]): void {
    const now = Date.now()
    for (const id of ids) {
      const c = this.cache.get(id, now)
      if (c === undefined) continue
      const key = `${from}/${id}`
      const n = this.served.get(key, now) ?? 0
      if (n >= 3) continue
      this.served.set(key, n + 1, now)
      this.stats.iwantServed++
      void this.send(from, encodeFrame({ ...c.frame, from: this.self }))
    }
  }

  // ---- announced messages: wait for the eager copy, then fetch -----------------------------------------

  /**
   * A message announced by IHAVE arrived `lag` ms later from `from`, unasked (an eager push): learn the delay
   * (the IHAVE timeout follows it), and when the lazy path was treeOptimizeMs faster, make its link eager and
   * the slower sender's lazy (Plumtree's optimisation: the tree moves toward the fastest paths).
   */
  private eagerAfterIhave (t: Topic, p: Pending, from: PeerId, lag: number): void {
    if (this.lagMean < 0) { this.lagMean = lag; this.lagDev = lag / 2 } else {
      this.lagDev += (Math.abs(lag - this.lagMean) - this.lagDev) / 4
      this.lagMean += (lag - this.lagMean) / 8
    }
    this.stats.ihaveTimeoutMs = Math.round(Math.min(this.o.maxIhaveTimeoutMs, Math.max(this.o.ihaveTimeoutMs, this.lagMean + 4 * this.lagDev)))
    if (lag < this.o.treeOptimizeMs || p.tries > 0) return
    const fast = p.announcers[0]
    const lazy = t.mesh.get(fast)
    const slow = t.mesh.get(from)
    if (lazy === undefined || lazy.eager || slow === undefined || !slow.eager || fast === from) return
    if (this.inTree(t, fast) || this.inTree(t, from)) return // the tree chooses these links
    lazy.eager = true
    slow.eager = false
    this.stats.treeOptimized++
    this.sendControl(fast, { type: 'gossipsub', msg_type: 'EAGER', topic: t.name })
    this.sendControl(from, { type: 'gossipsub', msg_type: 'LAZY', topic: t.name })
  }

  private schedulePending (at: number): void {
    if (!this.running || this.pending.size === 0 || at >= this.pendingTimerAt) return
    this.clearPendingTimer()
    this.pendingTimerAt = at
    // setImmediate after the timer: copies already due on a loaded event loop are read before we decide to pull
    this.pendingTimer = setTimeout(() => {
      this.pendingTimer = undefined
      setImmediate(() => { if (this.pendingTimer === undefined) this.pendingTimerAt = Infinity; this.firePending() })
    }, Math.max(0, at - Date.now()))
    this.pendingTimer.unref?.()
  }

  private clearPendingTimer (): void {
    if (this.pendingTimer !== undefined) clearTimeout(this.pendingTimer)
    this.pendingTimer = undefined
    this.pendingTimerAt = Infinity
  }

  private firePending (): void {
    const now = Date.now()
    const asks = new Map<PeerId, string[]>()
    let next = Infinity
    for (const [id, p] of this.pending) {
      if (p.due > now) { next = Math.min(next, p.due); continue }
      if (this.seen.has(id, now) || p.tries >= Math.min(p.announcers.length, MAX_IWANT_TRIES)) {
        if (!this.seen.has(id, now)) this.stats.iwantGaveUp++
        this.pending.delete(id)
        continue
      }
      const peer = p.announcers[p.tries++]
      p.due = now + this.o.iwantTimeoutMs
      next = Math.min(next, p.due)
      this.requested.set(id, peer, now)
      const list = asks.get(peer) ?? []
      list.push(id)
      asks.set(peer, list)
      // the eager path failed us here: make this link eager (both ways)
      const pt = this.topicsByName.get(p.topic)
      const link = pt?.mesh.get(peer)
      if (link !== undefined && !link.eager && !this.inTree(pt!, peer, now)) {
        link.eager = true
        this.sendControl(peer, { type: 'gossipsub', msg_type: 'EAGER', topic: p.topic })
      }
    }
    for (const [peer, ids] of asks) {
      for (let i = 0; i < ids.length; i += IWANT_CHUNK) {
        this.sendControl(peer, { type: 'gossipsub', msg_type: 'IWANT', msg_ids: ids.slice(i, i + IWANT_CHUNK) })
      }
    }
    if (next < Infinity) this.schedulePending(next)
  }

  // ---- mesh upkeep -------------------------------------------------------------------------------------

  /**
   * Keep the mesh within Dlo..Dhi, near and well connected. Our own links: the D − Drandom nearest known peers
   * by round trip ('near'; one is swapped each heartbeat for a known peer clearly nearer than the farthest of
   * them, so meshes drift toward near peers and paths through them approach the network's own) and Drandom
   * random ones (long links that keep the mesh an expander). Peers that grafted us are kept up to Dhi; above it
   * we prune to D, the farthest of them first (never our own links or our tree parent). Below Dlo (nothing
   * measured yet) we graft at random up to D.
   */
  private maintain (t: Topic): void {
    const now = Date.now()
    for (const p of t.mesh.keys()) if (!this.usable(p, now)) this.leaveMesh(t, p)
    if (t.mesh.size > this.o.Dhi) {
      const others = [...t.mesh].filter(([p, l]) => l.role === undefined && p !== t.tree.parent).map(([p]) => p)
        .sort((a, b) => (this.known.get(b)?.rtt ?? Infinity) - (this.known.get(a)?.rtt ?? Infinity))
      for (const p of others.slice(0, t.mesh.size - this.o.D)) this.prune(t, p, now)
    }
    const Dnear = this.o.D - this.o.Drandom
    const mesh = [...t.mesh.keys()]
    const nearMesh = this.nearest(mesh, Dnear)
    if (nearMesh.length < Dnear) {
      for (const p of this.nearest(this.graftable(t, now), Dnear - nearMesh.length)) this.graft(t, p, 'near')
    } else if (Dnear > 0) {
      // our own near links no longer among the Dnear nearest (a nearer peer came in) go, one a heartbeat (not our parent)
      const keep = new Set(nearMesh)
      const drop = [...t.mesh].filter(([p, l]) => l.role === 'near' && !keep.has(p) && p !== t.tree.parent).map(([p]) => p)
        .sort((a, b) => this.known.get(b)!.rtt! - this.known.get(a)!.rtt!)[0]
      if (drop !== undefined) this.prune(t, drop, now)
      // a known peer clearly nearer than our farthest near one is grafted; it replaces that one once it accepted.
      // Peers that pruned us are left alone four times as long as their backoff here (a full peer keeps refusing).
      const farRtt = this.known.get(nearMesh[nearMesh.length - 1])!.rtt!
      const best = this.nearest(this.graftable(t, now, 3 * this.o.pruneBackoffMs), 1)[0]
      const rtt = best === undefined ? Infinity : this.known.get(best)!.rtt!
      if (rtt < NEARER_BY * farRtt && rtt + 1 < farRtt) {
        this.stats.meshOptimized++
        this.graft(t, best, 'near')
      }
    }
    const random = [...t.mesh.values()].filter(l => l.role === 'random').length
    if (random < this.o.Drandom) for (const p of shuffle(this.graftable(t, now)).slice(0, this.o.Drandom - random)) this.graft(t, p, 'random')
    if (t.mesh.size < this.o.Dlo) for (const p of shuffle(this.graftable(t, now)).slice(0, this.o.D - t.mesh.size)) this.graft(t, p)
  }

  private prune (t: Topic, p: PeerId, now: number): void {
    this.leaveMesh(t, p)
    this.known.get(p)?.backoff.set(t.name, now + this.o.pruneBackoffMs)
    this.stats.pruneSent++
    this.sendControl(p, { type: 'gossipsub', msg_type: 'PRUNE', topic: t.name, peers: [] })
  }

  /** Known usable peers we may graft on `t` (not in its mesh, not backing off — for `extraMs` more). */
  private graftable (t: Topic, now: number, extraMs = 0): PeerId[] {
    return this.gossipPeers(now).filter(p => {
      if (t.mesh.has(p)) return false
      const until = this.known.get(p)?.backoff.get(t.name)
      return until === undefined || until + extraMs <= now
    })
  }

  /** Up to `n` of `peers` with a measured round trip, nearest first. */
  private nearest (peers: PeerId[], n: number): PeerId[] {
    return peers.filter(p => this.known.get(p)?.rtt !== undefined).sort((a, b) => this.known.get(a)!.rtt! - this.known.get(b)!.rtt!).slice(0, n)
  }

  private graft (t: Topic, p: PeerId, role?: 'near' | 'random'): void {
    t.mesh.set(p, { eager: true, role })
    this.stats.graftSent++
    this.sendControl(p, { type: 'gossipsub', msg_type: 'GRAFT', topic: t.name })
    this.joinedMesh(t, p)
  }

  /** A peer joined our mesh on `t` (we grafted it, or accepted its GRAFT). */
  private joinedMesh (t: Topic, p: PeerId): void {
    this.catchUp(t, p)
    if (this.o.tree) this.sendTree(t, p, Date.now())
    this.sendPeers(p)
  }

  /** Peer exchange: the peers we know nearest to us (likely near `to` too when it is near us), with our round trips. */
  private sendPeers (to: PeerId, reply = false): void {
    const near = this.nearest(this.gossipPeers().filter(x => x !== to), Math.min(PEERS_SENT, MAX_PEERS_EXCHANGED))
    if (near.length === 0 && reply) return
    this.sendControl(to, { type: 'gossipsub', msg_type: 'PEERS', peers: near, rtts: near.map(x => Math.round(this.known.get(x)!.rtt! * 1000) / 1000), ...(reply ? { reply } : {}) })
  }

  /** Candidates from a PEERS frame, each with an estimate of its round trip to us (through the sender: triangle bound). */
  private onPeers (from: PeerId, peers: PeerId[], rtts: number[] | undefined): void {
    if (!this.o.discover) return
    const base = this.known.get(from)?.rtt
    peers.forEach((p, i) => {
      const est = base !== undefined && rtts !== undefined ? base + rtts[i] : Infinity
      this.consider(p, est)
    })
  }

  /** A peer left our mesh on `t`: forget its TREE frame, and our place in the tree may change. */
  private leaveMesh (t: Topic, p: PeerId): void {
    if (!t.mesh.delete(p)) return
    if (t.ads.delete(p) && this.running) this.updateTree(t, Date.now())
  }

  // ---- the spanning tree of a topic's mesh -----------------------------------------------------------

  /** A mesh peer's TREE frame that still counts. */
  private freshAd (t: Topic, p: PeerId, now = Date.now()): Ad | undefined {
    const ad = t.ads.get(p)
    return ad !== undefined && now - ad.at <= AD_TTL_HEARTBEATS * this.o.heartbeatMs ? ad : undefined
  }

  /** True when `p` takes part in `t`'s tree (sends TREE frames): the tree, not Plumtree's rules, decides its link. */
  private inTree (t: Topic, p: PeerId, now = Date.now()): boolean {
    return this.o.tree && this.freshAd(t, p, now) !== undefined
  }

  private isChild (t: Topic, p: PeerId, ad: Ad, now: number): boolean {
    return ad.path[0] === this.prefix && now - ad.at <= AD_TTL_HEARTBEATS * this.o.heartbeatMs && t.mesh.has(p)
  }

  /** Do we push messages to mesh peer `p`? Tree peers: when it is our parent or child; others: Plumtree's link state. */
  private eagerTo (t: Topic, p: PeerId, link: Link, now: number): boolean {
    if (!this.o.tree) return link.eager
    const ad = this.freshAd(t, p, now)
    if (ad === undefined) return link.eager
    return p === t.tree.parent || ad.path[0] === this.prefix
  }

  /** One-way delay to a mesh peer as the tree counts it: half the round trip; unmeasured links as our slowest measured one. */
  private linkCost (t: Topic, p: PeerId): number {
    const rtt = this.known.get(p)?.rtt
    if (rtt !== undefined) return rtt / 2
    let worst = 0
    for (const q of t.mesh.keys()) worst = Math.max(worst, this.known.get(q)?.rtt ?? 0)
    return Math.max(1, worst / 2)
  }

  /**
   * How long to wait for the eager copy of a message `from` announced: on an intact tree it comes at most
   * (its distance to the root + ours) after the announcer had it, so waiting 1.5 × that (at least
   * ihaveTimeoutMs, at most maxIhaveTimeoutMs) pulls only what the tree lost. Others: the adaptive timeout.
   */
  private ihaveWait (t: Topic, from: PeerId, now: number): number {
    const ad = this.o.tree ? this.freshAd(t, from, now) : undefined
    if (ad === undefined || ad.root !== t.tree.root) return this.stats.ihaveTimeoutMs
    return Math.min(this.o.maxIhaveTimeoutMs, Math.max(this.o.ihaveTimeoutMs, Math.ceil(1.5 * (ad.dist + t.tree.dist))))
  }

  private onTree (from: PeerId, f: WireTree): void {
    const now = Date.now()
    const info = this.known.get(from)
    if (info !== undefined) {
      info.echo = { t: f.t, at: now }
      if (f.echo !== undefined) sampleRtt(info, now - f.echo - (f.hold ?? 0))
    }
    const t = this.topicsByName.get(f.topic)
    if (!this.o.tree || t === undefined || !t.mesh.has(from)) return
    const root = f.root as PeerId
    t.ads.set(from, { root, seq: f.seq, dist: f.dist, path: f.path, at: now })
    const r = t.roots.get(root)
    if (r === undefined || f.seq > r.seq) {
      if (r === undefined && t.roots.size >= MAX_ROOTS) {
        let oldest: PeerId | undefined
        for (const [k, v] of t.roots) if (oldest === undefined || v.at < t.roots.get(oldest)!.at) oldest = k
        if (oldest !== undefined) t.roots.delete(oldest)
      }
      t.roots.set(root, { seq: f.seq, at: now })
    }
    this.updateTree(t, now)
  }

  /**
   * Choose root and parent: the lowest live root any fresh mesh TREE frame offers (a root is live while its
   * counter rose within rootTimeoutMs), else ourselves; among the peers offering it, the one with the shortest
   * distance through it (its dist + the link's one-way delay; the current parent is kept unless another is
   * nearer by PARENT_HYSTERESIS), never one whose path contains us (no loops). A change goes out at once.
   */
  private updateTree (t: Topic, now: number): void {
    const cur = t.tree
    let root = this.self
    let parent: PeerId | undefined
    let dist = 0; let seq = this.ownSeq; let path: string[] = []
    let parentScore = Infinity
    for (const [p, ad] of t.ads) {
      if (now - ad.at > AD_TTL_HEARTBEATS * this.o.heartbeatMs || !t.mesh.has(p) || !this.usable(p, now)) continue
      if (ad.root >= root && !(ad.root === root && root !== this.self)) continue
      if (ad.root === this.self || ad.path.includes(this.prefix) || ad.path.length >= MAX_TREE_PATH) continue
      const live = t.roots.get(ad.root)
      if (live === undefined || now - live.at > this.o.rootTimeoutMs) continue
      const d = ad.dist + this.linkCost(t, p)
      const score = p === cur.parent ? d * (1 - PARENT_HYSTERESIS) - PARENT_HYSTERESIS_MS : d
      if (ad.root < root || score < parentScore || (score === parentScore && parent !== undefined && p < parent)) {
        root = ad.root; parent = p; dist = d; seq = ad.seq; path = [p.slice(0, 16), ...ad.path]; parentScore = score
      }
    }
    const changed = root !== cur.root || parent !== cur.parent
    const moved = Math.abs(dist - cur.dist) > Math.max(1, 0.1 * cur.dist)
    if (parent !== cur.parent) this.stats.parentChanges++
    t.tree = { root, seq, dist, parent, path }
    if (changed || moved) this.triggerTree(t, now)
  }

  /** Send our TREE frame to every mesh peer soon (at most every heartbeatMs / 20). */
  private triggerTree (t: Topic, now: number): void {
    if (t.adsTimer !== undefined || !this.running) return
    const at = Math.max(now, t.adsAt + this.o.heartbeatMs / 20)
    t.adsTimer = setTimeout(() => {
      t.adsTimer = undefined
      if (!this.running || this.topicsByName.get(t.name) !== t) return
      const n = Date.now()
      t.adsAt = n
      for (const p of t.mesh.keys()) this.sendTree(t, p, n)
    }, at - now)
    t.adsTimer.unref?.()
  }

  private sendTree (t: Topic, p: PeerId, now: number): void {
    const f: WireTree = {
      type: 'gossipsub', msg_type: 'TREE', topic: t.name, root: t.tree.root, seq: t.tree.seq,
      dist: Math.round(t.tree.dist * 1000) / 1000, path: t.tree.path, t: now
    }
    const e = this.known.get(p)?.echo
    if (e !== undefined) { f.echo = e.t; f.hold = now - e.at }
    this.sendControl(p, f)
  }

  /** A new mesh peer may have missed what we have (a healed partition): announce the topic's cached messages. */
  private catchUp (t: Topic, peer: PeerId): void {
    const ids: string[] = []
    for (const c of this.cache.values()) if (c.topic === t.name) ids.push(c.frame.msg_id)
    if (ids.length === 0) return
    this.sendControl(peer, { type: 'gossipsub', msg_type: 'IHAVE', topic: t.name, msg_ids: ids.slice(-this.o.maxIhaveLength) })
  }

  private emitGossip (t: Topic, now: number): void {
    const ids = this.cache.newest(this.o.gossipWindowMs, this.o.maxIhaveLength * 4, now)
      .filter(c => c.topic === t.name).slice(0, this.o.maxIhaveLength).map(c => c.frame.msg_id)
    if (ids.length === 0) return
    const others = shuffle(this.gossipPeers(now).filter(p => !t.mesh.has(p))).slice(0, this.o.Dgossip)
    for (const p of others) {
      this.sendControl(p, { type: 'gossipsub', msg_type: 'IHAVE', topic: t.name, msg_ids: ids })
    }
  }

  private onUnsubscribe (s: TopicSubscription): void {
    const t = this.topicsByName.get(s.topic)
    if (t === undefined) return
    t.subs.delete(s)
    if (t.subs.size > 0) return
    this.topicsByName.delete(s.topic)
    if (t.adsTimer !== undefined) clearTimeout(t.adsTimer)
    if (!this.running) return
    for (const p of t.mesh.keys()) {
      this.stats.pruneSent++
      this.sendControl(p, { type: 'gossipsub', msg_type: 'PRUNE', topic: t.name, peers: [] })
    }
  }

  // ---- peers -----------------------------------------------------------------------------------------

  /** A peer sent us a gossip frame or answered a probe: it speaks gossip. */
  private learn (peer: PeerId): void {
    if (peer === this.self) return
    const p = this.known.get(peer)
    if (p !== undefined) { p.failures = 0; p.downUntil = 0; return }
    if (this.known.size >= this.o.maxPeers && !this.evictPeer()) return
    this.known.set(peer, { explicit: false, failures: 0, downUntil: 0, backoff: new Map() })
    this.candidates.delete(peer)
    this.pxCandidates.delete(peer)
    this.probeFailures.delete(peer)
    this.ping(peer)
  }

  /** Measure the round trip to a new peer (PING/PONG; a Python peer does not answer, and stays unmeasured). */
  private ping (peer: PeerId): void {
    if (this.running) this.sendControl(peer, { type: 'gossipsub', msg_type: 'PING', t: Date.now() })
  }

  /** Forget one discovered peer that is in no mesh; false when every peer is explicit or in a mesh. */
  private evictPeer (): boolean {
    const inMesh = new Set<PeerId>()
    for (const t of this.topicsByName.values()) for (const p of t.mesh.keys()) inMesh.add(p)
    for (const [id, p] of this.known) {
      if (p.explicit || inMesh.has(id)) continue
      this.known.delete(id)
      this.stats.peersEvicted++
      return true
    }
    return false
  }

  /**
   * A peer that might speak gossip (a link, a tree neighbour, someone who messaged us; with `px`, its estimated
   * round trip: named by a gossip peer in PEERS): probe it later. Peer-exchange candidates are probed even past
   * targetPeers (they are how a node finds nearer peers), up to maxPeers, the nearest estimates first.
   */
  private consider (peer: PeerId, px?: number): void {
    if (!this.o.discover || peer === this.self || this.known.has(peer)) return
    if (px !== undefined && this.candidates.has(peer) && this.pxCandidates.has(peer)) {
      this.pxCandidates.set(peer, Math.min(px, this.pxCandidates.get(peer)!))
      return
    }
    if (this.candidates.has(peer) || this.candidates.size >= MAX_CANDIDATES) return
    this.candidates.set(peer, 0)
    if (px !== undefined) this.pxCandidates.set(peer, px)
  }

  private discover (): void {
    if (!this.o.discover || !this.running) return
    const now = Date.now()
    const enough = this.gossipPeers(now).length >= this.o.targetPeers
    if (enough && (this.pxCandidates.size === 0 || this.known.size >= this.o.maxPeers)) return
    if (enough) {
      // past targetPeers only peer-exchange candidates that may be nearer than a near mesh peer of ours are worth a probe
      const worth = this.nearWorth()
      for (const [p, est] of this.pxCandidates) {
        if (est < worth || this.candidates.get(p) === Infinity) continue // in flight: left alone
        this.pxCandidates.delete(p)
        this.candidates.delete(p)
      }
    }
    if (!enough && this.candidates.size < PROBES_PER_HEARTBEAT) {
      const topo = this.node.topology()
      const found = [topo.parent, ...topo.tree.filter(e => e.parent === this.self).map(e => e.publicKey),
        ...shuffle(topo.peers.filter(p => p.up && p.publicKey !== '').map(p => p.publicKey as PeerId))]
      for (const p of found) this.consider(p)
    }
    // peer-exchange candidates nearest first, then the others in the order found
    const due = [...this.candidates].filter(([peer, at]) => at <= now && (!enough || this.pxCandidates.has(peer)))
      .map(([peer]) => peer).sort((a, b) => (this.pxCandidates.get(a) ?? Infinity) - (this.pxCandidates.get(b) ?? Infinity))
    for (const peer of due) {
      if (this.probing >= PROBES_PER_HEARTBEAT) break
      this.candidates.set(peer, Infinity) // in flight
      this.probing++
      this.node.dialProtocol(peer, GOSSIP_PROBE_PROTOCOL, { timeoutMs: Math.max(PROBE_TIMEOUT_MS, this.o.heartbeatMs * 5) }).then(stream => {
        stream.close()
        this.probeFailures.delete(peer)
        this.learn(peer)
        for (const t of this.topicsByName.values()) if (t.mesh.size < this.o.Dlo) this.maintain(t)
      }, (err: unknown) => {
        // Retried with backoff (1 s, 2 s, … 60 s): a first contact can fail while the overlay is still forming.
        const failures = (this.probeFailures.get(peer) ?? 0) + 1
        if (this.candidates.has(peer)) {
          this.probeFailures.set(peer, failures)
          this.candidates.set(peer, Date.now() + Math.min(PROBE_RETRY_MS, PROBE_FIRST_RETRY_MS * 2 ** (failures - 1)))
        }
        this.log('probe %d of %s: %s', failures, peer, err instanceof Error ? err.message : String(err))
      }).finally(() => { this.probing-- })
    }
  }

  /** The round trip a peer must beat to be worth probing for proximity: our farthest near mesh peer's (the largest over topics). */
  private nearWorth (): number {
    const Dnear = this.o.D - this.o.Drandom
    if (Dnear <= 0) return 0
    let worth = 0
    for (const t of this.topicsByName.values()) {
      const near = this.nearest([...t.mesh.keys()], Dnear)
      worth = Math.max(worth, near.length < Dnear ? Infinity : this.known.get(near[near.length - 1])!.rtt!)
    }
    return worth
  }

  /** Known gossip peers that are not down. */
  private gossipPeers (now = Date.now()): PeerId[] {
    const out: PeerId[] = []
    for (const [id, p] of this.known) if (p.downUntil <= now) out.push(id)
    return out
  }

  private usable (peer: PeerId, now = Date.now()): boolean {
    const p = this.known.get(peer)
    return p !== undefined && p.downUntil <= now
  }

  // ---- outbound --------------------------------------------------------------------------------------

  private sendControl (peer: PeerId, f: WireControl): void {
    if (f.msg_type === 'IHAVE') this.stats.ihaveSent++
    else if (f.msg_type === 'IWANT') this.stats.iwantSent++
    void this.send(peer, encodeFrame(f))
  }

  /**
   * Send one frame on our open AXL stream to `peer` (dialled when there is none): AXL receivers, Go's and ours,
   * read frames in a loop, so a stream carries many. True once written (no per-frame acknowledgement: a frame
   * lost with a broken stream is recovered by IHAVE/IWANT).
   */
  private async send (peer: PeerId, bytes: Uint8Array, opts?: WaitOptions): Promise<boolean> {
    if (!this.running) return false
    if (this.pendingSends >= this.o.maxPendingSends) { this.stats.sendsDropped++; return false }
    let c = this.conns.get(peer)
    if (c === undefined) {
      if (this.conns.size >= this.o.maxConnections) {
        const [oldest, lru] = this.conns.entries().next().value as [PeerId, Conn]
        this.conns.delete(oldest)
        void lru.chain.then(() => { lru.stream?.close() })
      }
      c = { chain: Promise.resolve(), usedAt: 0 }
    } else this.conns.delete(peer)
    c.usedAt = Date.now()
    this.conns.set(peer, c) // most recently used last
    const conn = c
    this.pendingSends++
    this.stats.framesSent++
    this.stats.bytesSent += bytes.byteLength
    const write = conn.chain.then(async () => {
      if (conn.stream === undefined || conn.stream.status !== 'open' || conn.stream.writableEnded) {
        conn.stream = await this.node.dial(peer, { timeoutMs: opts?.timeoutMs ?? 10_000, signal: opts?.signal })
        this.drain(peer, conn, conn.stream)
      }
      await writeFrame(conn.stream, bytes, opts)
    })
    // The next write waits for this one; its failure is handled below, where it is awaited.
    conn.chain = write.catch((err: unknown) => { this.log.trace('gossip write to %s failed: %s', peer, String(err)) })
    try {
      await write
      const p = this.known.get(peer)
      if (p !== undefined) p.failures = 0
      return true
    } catch (err) {
      conn.stream?.abort(err instanceof Error ? err : String(err))
      conn.stream = undefined
      if (!this.running) return false
      this.stats.sendFailures++
      this.log('send to %s failed: %s', peer, err instanceof AxlError ? err.message : String(err))
      const p = this.known.get(peer)
      if (p !== undefined && ++p.failures >= DOWN_AFTER_FAILURES) {
        p.downUntil = Date.now() + DOWN_FOR_MS
        for (const t of this.topicsByName.values()) this.leaveMesh(t, peer)
      }
      return false
    } finally { this.pendingSends-- }
  }

  /** Close streams to peers in none of our meshes that went unused for connIdleMs. */
  private closeIdle (now: number): void {
    let inMesh: Set<PeerId> | undefined
    for (const [peer, c] of this.conns) {
      if (now - c.usedAt <= this.o.connIdleMs) break // least recently used first: the rest are newer
      if (inMesh === undefined) {
        inMesh = new Set()
        for (const t of this.topicsByName.values()) for (const p of t.mesh.keys()) inMesh.add(p)
      }
      if (inMesh.has(peer)) continue
      this.conns.delete(peer)
      void c.chain.then(() => { c.stream?.close() })
    }
  }

  /** Read (and discard) what the remote writes on our stream (only refusals), and forget the stream when it ends. */
  private drain (peer: PeerId, conn: Conn, stream: MeshStream): void {
    void (async () => {
      try {
        for await (const chunk of stream) this.log('%d bytes from %s on a gossip stream (a refusal?)', chunk.byteLength, peer)
      } catch (err) {
        this.log('gossip stream to %s ended: %s', peer, err instanceof Error ? err.message : String(err))
      }
      if (conn.stream === stream) conn.stream = undefined
      stream.close()
    })()
  }

  // ---- messages and limits ---------------------------------------------------------------------------

  private remember (m: WireMessage): void {
    this.cache.set(m.msg_id, { frame: m, topic: m.topic, bytes: m.data.length + 256 })
  }

  private limits (topic: string): Required<TopicLimits> { return this.topicLimits.get(topic) ?? this.topicDefaults }

  private bucket (topic: string): { in: TokenBucket, out: TokenBucket } {
    let b = this.buckets.get(topic)
    if (b === undefined) {
      const l = this.limits(topic)
      b = { in: new TokenBucket(l.rate, l.burst), out: new TokenBucket(l.rate, l.burst) }
      this.buckets.set(topic, b)
    }
    return b
  }
}

function limitsOf (l: TopicLimits): Required<TopicLimits> {
  const rate = l.rate ?? 1000
  const r = { maxMessageSize: l.maxMessageSize ?? 1024 * 1024, rate, burst: l.burst ?? Math.max(1, 2 * rate) }
  if (!(r.maxMessageSize >= 0) || !(r.rate > 0) || !(r.burst >= 1)) throw new ConfigError('topic limits: maxMessageSize ≥ 0, rate > 0, burst ≥ 1')
  return r
}

function checkTopic (topic: string): void {
  if (typeof topic !== 'string' || topic.length === 0 || topic.length > MAX_TOPIC_LENGTH) {
    throw new InvalidTopicError(`a topic is a string of 1..${MAX_TOPIC_LENGTH} characters`)
  }
}

/** A round-trip sample: a lower one is taken at once (queueing only adds), a higher one averaged in slowly. */
function sampleRtt (p: PeerInfo, ms: number): void {
  if (!(ms >= 0)) return
  p.rtt = p.rtt === undefined || ms < p.rtt ? ms : p.rtt + (ms - p.rtt) / 8
}

function shuffle<T> (a: T[]): T[] {
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1))
    const x = a[i]; a[i] = a[j]; a[j] = x
  }
  return a
}
