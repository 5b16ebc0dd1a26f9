/**
 * Gossip pub/sub as a node service: `createNode({ transport, services: { pubsub: gossip() } })`.
 *
 * A GossipSub-style mesh per topic (degree bounds D/Dlo/Dhi kept by a heartbeat, GRAFT/PRUNE with a backoff),
 * and on it Plumtree's eager/lazy split: a message is pushed eagerly along mesh links that have not yet carried
 * a duplicate, and announced (IHAVE) on the others; a receiver that got a duplicate asks the sender to turn lazy
 * (LAZY), one whose announced message never came fetches it (IWANT) and turns that link eager again (EAGER). The
 * eager links settle into a spanning tree, so each node receives about one copy, at tree-path latency. Frames
 * are AXL's Python GossipSub JSON on the raw message channel (see wire.ts), claimed with node.handleMessages().
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
  type WireControl, type WireFrame, type WireMessage
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
  /** Deadline of a publish() waiting for its first sends to be accepted. @default 10000 */
  publishTimeoutMs?: number
  /** Limits of every topic unless `topics` says otherwise. */
  topicDefaults?: TopicLimits
  /** Limits by topic. @default {} */
  topics?: Record<string, TopicLimits>
  /** Deliver our own publications to our own subscriptions. @default false */
  emitSelf?: boolean
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
  /** Eager parent switched to a lazy peer whose IHAVE came treeOptimizeMs earlier than the eager copy. */
  treeOptimized: number
  /** The IHAVE timeout in use now (adaptive, ms). */
  ihaveTimeoutMs: number
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
  maxPendingSends: number, maxConnections: number, publishTimeoutMs: number, emitSelf: boolean
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
}

/** A mesh link on one topic: `eager` when we push messages to that peer, lazy when we only announce them. */
interface Link { eager: boolean }

interface Topic {
  name: string
  subs: Set<TopicSubscription>
  mesh: Map<PeerId, Link>
}

interface Cached { frame: WireMessage, topic: string, bytes: number }

interface Conn { stream?: MeshStream, chain: Promise<void> }

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
    maxPendingSends: o.maxPendingSends ?? 4096, maxConnections: o.maxConnections ?? 64, publishTimeoutMs: o.publishTimeoutMs ?? 10_000, emitSelf: o.emitSelf ?? false
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
    signatureMemoHits: 0, treeOptimized: 0, ihaveTimeoutMs: 0
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

  constructor (components: NodeComponents, opts: GossipOptions) {
    this.o = resolve(opts)
    this.memo = opts.verifiedSignatures === false ? undefined : (opts.verifiedSignatures ?? sharedVerifiedSignatures)
    this.stats.ihaveTimeoutMs = this.o.ihaveTimeoutMs
    this.node = components.node
    this.self = components.identity.peerId
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
    if (t === undefined) { t = { name: topic, subs: new Set(), mesh: new Map() }; this.topicsByName.set(topic, t) }
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
      eager = [...t.mesh].filter(([p, l]) => l.eager && this.usable(p)).map(([p]) => p)
      lazy = [...t.mesh].filter(([p, l]) => !l.eager && this.usable(p)).map(([p]) => p)
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

  peers (): PeerId[] { return [...this.known.keys()] }

  addPeer (peer: PeerId | string): void {
    const id = parsePeerId(peer)
    if (id === this.self) return
    const p = this.known.get(id)
    if (p !== undefined) { p.explicit = true; return }
    this.known.set(id, { explicit: true, failures: 0, downUntil: 0, backoff: new Map() })
    this.candidates.delete(id)
    this.probeFailures.delete(id)
    for (const t of this.topicsByName.values()) if (t.mesh.size < this.o.Dlo) this.maintain(t)
  }

  removePeer (peer: PeerId | string): void {
    const id = parsePeerId(peer)
    this.known.delete(id)
    for (const t of this.topicsByName.values()) t.mesh.delete(id)
  }

  heartbeat (): void {
    if (!this.running) return
    const now = Date.now()
    this.seen.prune(now)
    this.cache.prune(now)
    this.requested.prune(now)
    this.served.prune(now)
    for (const t of this.topicsByName.values()) {
      this.maintain(t)
      this.emitGossip(t, now)
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
      if (link !== undefined && link.eager && this.requested.get(m.msg_id, now) !== from) {
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
    for (const [p, link] of t.mesh) {
      if (p === from || p === m.origin || !this.usable(p)) continue
      if (link.eager) {
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
      return
    }
    if (!t.mesh.has(from)) {
      t.mesh.set(from, { eager: true })
      this.catchUp(t, from)
    }
  }

  private onPrune (from: PeerId, topic: string): void {
    const t = this.topicsByName.get(topic)
    if (t === undefined) return
    t.mesh.delete(from)
    this.known.get(from)?.backoff.set(topic, Date.now() + this.o.pruneBackoffMs)
  }

  private onIhave (from: PeerId, topic: string, ids: string[]): void {
    if (!this.topicsByName.has(topic)) return
    const now = Date.now()
    for (const id of ids) {
      if (this.seen.has(id, now)) continue
      const p = this.pending.get(id)
      if (p !== undefined) {
        if (p.announcers.length < MAX_ANNOUNCERS && !p.announcers.includes(from)) p.announcers.push(from)
        continue
      }
      if (this.pending.size >= this.o.maxPendingIwants) { this.stats.pendingDropped++; continue }
      this.pending.set(id, { topic, announcers: [from], due: now + this.stats.ihaveTimeoutMs, tries: 0, announcedAt: now })
    }
    this.schedulePending(now + this.stats.ihaveTimeoutMs)
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
      const link = this.topicsByName.get(p.topic)?.mesh.get(peer)
      if (link !== undefined && !link.eager) {
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

  private maintain (t: Topic): void {
    const now = Date.now()
    for (const p of t.mesh.keys()) if (!this.usable(p, now)) t.mesh.delete(p)
    if (t.mesh.size < this.o.Dlo) {
      const candidates = shuffle(this.gossipPeers(now).filter(p => !t.mesh.has(p) && (this.known.get(p)?.backoff.get(t.name) ?? 0) <= now))
      for (const p of candidates.slice(0, this.o.D - t.mesh.size)) {
        t.mesh.set(p, { eager: true })
        this.stats.graftSent++
        this.sendControl(p, { type: 'gossipsub', msg_type: 'GRAFT', topic: t.name })
        this.catchUp(t, p)
      }
    } else if (t.mesh.size > this.o.Dhi) {
      for (const p of shuffle([...t.mesh.keys()]).slice(0, t.mesh.size - this.o.D)) {
        t.mesh.delete(p)
        this.stats.pruneSent++
        this.sendControl(p, { type: 'gossipsub', msg_type: 'PRUNE', topic: t.name, peers: [] })
      }
    }
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
    this.probeFailures.delete(peer)
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

  /** A peer that might speak gossip (a link, a tree neighbour, someone who messaged us): probe it later. */
  private consider (peer: PeerId): void {
    if (!this.o.discover || peer === this.self || this.known.has(peer) || this.candidates.has(peer)) return
    if (this.candidates.size >= MAX_CANDIDATES) return
    this.candidates.set(peer, 0)
  }

  private discover (): void {
    if (!this.o.discover || !this.running) return
    const now = Date.now()
    if (this.gossipPeers(now).length >= this.o.targetPeers) return
    if (this.candidates.size < PROBES_PER_HEARTBEAT) {
      const topo = this.node.topology()
      const found = [topo.parent, ...topo.tree.filter(e => e.parent === this.self).map(e => e.publicKey),
        ...shuffle(topo.peers.filter(p => p.up && p.publicKey !== '').map(p => p.publicKey as PeerId))]
      for (const p of found) this.consider(p)
    }
    for (const [peer, at] of this.candidates) {
      if (this.probing >= PROBES_PER_HEARTBEAT) break
      if (at > now) continue
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
      c = { chain: Promise.resolve() }
    } else this.conns.delete(peer)
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
        for (const t of this.topicsByName.values()) t.mesh.delete(peer)
      }
      return false
    } finally { this.pendingSends-- }
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

function shuffle<T> (a: T[]): T[] {
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1))
    const x = a[i]; a[i] = a[j]; a[j] = x
  }
  return a
}
