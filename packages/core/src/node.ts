import './polyfill.js'
import { setMaxListeners } from 'node:events'
import { AxlError, FrameTooLargeError, MalformedEnvelopeError, MessageTooLargeError, NotStartedError, ProtocolError, RefusedError, StreamClosedError, TimeoutError, UnreachableError, UnsupportedProtocolError } from './errors.js'
import { abortReason, MAX_TIMER_MS, Sweeper, withDeadline, type SweepEntry, type WaitOptions } from './deadline.js'
import { classifyFrame, encodeEnvelopeError } from './envelope.js'
import { FrameReader, writeFrame } from './frame-io.js'
import { generateIdentity, type Identity } from './identity.js'
import { InboxJournal, type InboxJournalOptions, type JournalStats } from './journal.js'
import { Inbox, type InboundMessage, type InboxStats } from './inbox.js'
import { resolveLimits, type Limits } from './limits.js'
import type { Mesh, MeshEvent, Topology, TransportFactory } from './mesh.js'
import { defaultLogger, type ComponentLogger, type Logger } from '@libp2p/logger'
import { answerNegotiation, checkProtocolName, negotiateOutbound, ProtocolStatus, readProtocolName, type ProtocolHandler, type ProtocolOptions } from './protocols.js'
import { checkAccess, ProtocolRegistry, type A2aHandler, type ProtocolEntry, type EnvelopeOptions, type McpHandler, type MessageHandler, type MessageMatcher, type RequestContext } from './registry.js'
import { parsePeerId, type PeerId } from './peer-id.js'
import type { MeshStream } from './stream.js'

/** What a service factory receives: the node's parts, the js-libp2p "components" pattern. */
export interface NodeComponents {
  /** The node's identity. */
  identity: Identity
  /** The node's limits. */
  limits: Limits
  /** The node itself (started before services start). */
  node: AxlNode<Record<string, unknown>>
  /** The node's logger factory: `components.logger.forComponent('axl:my-service')`. */
  logger: ComponentLogger
}

/** A service plugged into createNode({ services: { name: factory } }); `start`/`stop` are called if present. */
export type ServiceFactory<T> = (components: NodeComponents) => T

/** Options of createNode(). */
export interface CreateNodeOptions<S extends Record<string, unknown>> {
  /** The node's keys; a fresh ephemeral identity when omitted (as AXL without a key file). */
  identity?: Identity
  /** The mesh transport, e.g. `memoryNetwork.transport()` or `ygg({ peers })`. */
  transport: TransportFactory
  /** Services by name; each factory's result appears as `node.services[name]`. */
  services?: { [K in keyof S]: ServiceFactory<S[K]> }
  /** Bounds; see Limits for defaults. */
  limits?: Partial<Limits>
  /** Loggers for the node, its transport and services (`@libp2p/logger`). Default `defaultLogger()`: silent unless `DEBUG=axl:*`. */
  logger?: ComponentLogger
  /** Start the node before createNode resolves (default true); with false, add event listeners, then `await node.start()`. */
  start?: boolean
  /**
   * A durable inbox: accepted raw messages are journaled in `inbox.dir` before the sender is acknowledged, and
   * messages not yet read when the node died are delivered again after a restart (see InboxJournalOptions). A
   * message read right before a crash may be delivered once more. Default: none (memory only, as Go AXL).
   */
  inbox?: InboxJournalOptions
}

/** Options of send(). */
export interface SendOptions extends WaitOptions {}

/** Node counters. */
export interface NodeStats {
  /** The inbound raw-message queue. */
  inbox: InboxStats
  /** Inbound streams reset because maxConcurrentStreams was reached. */
  streamsRejected: number
  /** Inbound frames refused for exceeding maxMessageSize. */
  framesTooLarge: number
  /** Inbound streams that failed (reset, truncated, timed out). */
  streamErrors: number
  /** Inbound requests answered with an error because maxConcurrentRequests was reached. */
  requestsRejected: number
  /** Raw inbound messages claimed by a `handleMessages` handler (they never reached the inbox). */
  messagesClaimed: number
  /** Inbound streams closed to make room for a peer below its fair share (maxStreamsPerPeer). */
  streamsEvicted: number
  /** Inbound streams refused because partial frames would pass inboundBufferBytes (or the peer's share). */
  budgetRefusals: number
  /** The durable inbox's journal (with `createNode({ inbox })`). */
  journal?: JournalStats
}

/** Events a node dispatches. */
export interface NodeEvents {
  /** A raw message was queued (`detail` is the message; it stays queued for messages()/recv()). */
  message: CustomEvent<InboundMessage>
  /** A message was dropped or refused by the inbox. */
  'message:dropped': CustomEvent<{ from: PeerId, bytes: number, reason: string }>
  /** An inbound stream failed. */
  'stream:error': CustomEvent<{ from: PeerId, error: Error }>
  /** A link to a directly connected peer came up (the transport's; a peer with two links reports both). */
  'peer:connect': CustomEvent<{ peer: PeerId, uri: string, inbound: boolean }>
  /** A link to a directly connected peer went down (`error` when it failed). */
  'peer:disconnect': CustomEvent<{ peer: PeerId, uri: string, inbound: boolean, error?: Error }>
  /** A link could not be opened or accepted (dial failure, handshake, refusal); a configured peer is redialled. */
  'link:error': CustomEvent<{ uri: string, inbound: boolean, error: Error }>
  /** The transport listens on these addresses (real ports once bound); see also `listenAddresses()`. */
  listening: CustomEvent<{ addresses: string[] }>
  /** The root of the overlay's spanning tree changed, as this node sees it. */
  'root:change': CustomEvent<{ root: PeerId, previous: PeerId }>
  /** The durable inbox was read back at start: messages replayed, and bytes cut off as torn or corrupt (with why). */
  'inbox:recovered': CustomEvent<{ messages: number, corruptBytes: number, corruptReason?: string }>
}

/** Options of addEventListener (as EventTarget's). */
type ListenerOptions = Parameters<EventTarget['addEventListener']>[2]

/** Reply frame that tells a sender its message was refused (ignored by Go AXL senders, which never read). */
interface RefusalBody { axl_refused: { code: string, message: string } }

/** A node on the mesh. Create with createNode(). */
export interface AxlNode<S extends Record<string, unknown> = Record<string, unknown>> extends EventTarget {
  /** Our peer id (lowercase hex of the ed25519 public key). */
  readonly peerId: PeerId
  /** Our Yggdrasil 200::/7 IPv6 address. */
  readonly address: string
  /** Our identity. */
  readonly identity: Identity
  /** The services passed to createNode, by name. */
  readonly services: S
  /** The effective limits. */
  readonly limits: Readonly<Limits>
  /** Counters. */
  readonly stats: NodeStats
  /** Send bytes to a peer; resolves once the remote node accepted them (see README for the exact contract). */
  send: (peer: PeerId | string, data: Uint8Array, opts?: SendOptions) => Promise<void>
  /** Iterate over inbound raw messages as they arrive (ends when the node stops or the signal fires). */
  messages: (opts?: { signal?: AbortSignal }) => AsyncIterableIterator<InboundMessage>
  /** Take the oldest queued message, or undefined if none (AXL's /recv). */
  recv: () => InboundMessage | undefined
  /** Wait for the next message, with a deadline (a long-poll /recv). */
  nextMessage: (opts?: WaitOptions) => Promise<InboundMessage>
  /**
   * Claim raw inbound messages before they reach the inbox: a raw message (not an MCP/A2A envelope) for which
   * `match(data)` returns true is acknowledged to its sender like any other and handed to `handler` instead of
   * being queued for messages()/recv()/nextMessage() (no `message` event either). Claims are tried in the order
   * they were registered; the first match wins. For services that speak their own format over the raw message
   * channel (e.g. pub/sub in AXL's JSON gossip format) without taking the user's other messages. A matcher or
   * handler that throws is logged (`axl:node`); the message is then dropped. Returns the unregister function.
   */
  handleMessages: (match: MessageMatcher, handler: MessageHandler) => () => void
  /**
   * One MCP or A2A request envelope (`@axl/core/wire`'s encoders), one reply envelope, over one stream, with a
   * deadline (default limits.requestTimeoutMs). Anything else is refused before it is sent, with
   * MalformedEnvelopeError: a raw frame gets no reply from an AXL node (it is queued as a message), so use send().
   */
  request: (peer: PeerId | string, frame: Uint8Array, opts?: WaitOptions) => Promise<Uint8Array>
  /**
   * Register a handler in the node's protocol registry, replacing any previous one for the same name; returns an
   * unregister function. `'mcp'` / `'a2a'`: inbound MCP or A2A request envelopes of AXL's default protocol (what
   * Go AXL peers send; the handler answers with the reply frame, built with the router package's codec).
   * `'/name/version'`: your own protocol; each inbound stream that negotiates it is handed to `handler` (see
   * `dialProtocol`). Either way `options.allow` admits or refuses each caller first.
   */
  handle: ((kind: 'mcp', handler: McpHandler, options?: EnvelopeOptions) => () => void) & ((kind: 'a2a', handler: A2aHandler, options?: EnvelopeOptions) => () => void) &
  ((protocol: `/${string}`, handler: ProtocolHandler, options?: ProtocolOptions) => () => void)
  /**
   * Open a stream of your own protocol to a peer: negotiated on the mesh's protocol channel, then yours to
   * read and write. Rejects with UnsupportedProtocolError (the peer does not handle it, or takes no custom
   * protocols: e.g. a Go AXL node), ProtocolRefusedError (its access check said no, or it is busy),
   * UnreachableError, TimeoutError or AbortError. Default deadline: limits.requestTimeoutMs.
   */
  dialProtocol: (peer: PeerId | string, protocol: string, opts?: WaitOptions) => Promise<MeshStream>
  /** The custom protocols registered on this node. */
  protocols: () => string[]
  /** The overlay as this node sees it. */
  topology: () => Topology
  /**
   * Open a raw stream on the AXL channel: the remote node reads it as AXL frames (4-byte length + body), as Go
   * AXL does. For a protocol of your own use `dialProtocol`.
   */
  dial: (peer: PeerId | string, opts?: WaitOptions) => Promise<MeshStream>
  /** The addresses the transport listens on, with the real ports (e.g. `tcp://127.0.0.1:41234` for port 0). */
  listenAddresses: () => string[]
  /** Listen for a node event, typed by its name (see NodeEvents). */
  addEventListener<K extends keyof NodeEvents> (type: K, listener: (evt: NodeEvents[K]) => void, options?: ListenerOptions): void
  /** Listen for any event (EventTarget's signature). */
  addEventListener (type: string, listener: Parameters<EventTarget['addEventListener']>[1], options?: ListenerOptions): void
  /** Stop listening for a node event. */
  removeEventListener<K extends keyof NodeEvents> (type: K, listener: (evt: NodeEvents[K]) => void, options?: ListenerOptions): void
  /** Stop listening for any event (EventTarget's signature). */
  removeEventListener (type: string, listener: Parameters<EventTarget['removeEventListener']>[1], options?: ListenerOptions): void
  /** Start the node: the transport, then the services (createNode does it unless `start: false`). Idempotent. */
  start: () => Promise<void>
  /** True once started, until stop() is called. */
  readonly running: boolean
  /** Stop the node: stop services, reset streams, release sockets and timers. Idempotent. */
  stop: () => Promise<void>
}

interface Service { start?: () => unknown, stop?: () => unknown }

/**
 * Streams send()/request() keep open to one peer at once; more wait for a slot. Half of AXL's default
 * accept limit (128), so a burst of concurrent sends to one node is queued here instead of being reset there.
 */
const OUTBOUND_STREAMS_PER_PEER = 64

/**
 * request() keeps a stream open after its reply and reuses it for the next request to the same peer: AXL
 * receivers (Go and ours) read frames in a loop and answer each on the same connection, so this saves a
 * connection setup (an overlay round trip) per call. Idle streams are closed well before a receiver's idle
 * timeout (AXL: 300 s).
 */
const POOL_IDLE_MS = 10_000
/** Idle request streams kept per peer. */
const POOL_MAX_PER_PEER = 4

/** An idle request stream kept for reuse. */
interface Pooled { stream: MeshStream, reader: FrameReader, entry: SweepEntry }

/** One deadline for a whole operation: the caller's signal, the node stopping, and timeoutMs. */
interface Scope { signal: AbortSignal, done: () => void }

/** AXL's default protocol recognises both of Go AXL's envelope kinds, served or not (an unserved one is answered at once). */
const ENVELOPE_KINDS = { mcp: true, a2a: true } as const

/** Create and start a node. */
export async function createNode<S extends Record<string, unknown> = Record<string, never>> (opts: CreateNodeOptions<S>): Promise<AxlNode<S>> {
  const node = new Node<S>(opts)
  if (opts.start !== false) await node.start()
  return node
}

class Node<S extends Record<string, unknown>> extends EventTarget implements AxlNode<S> {
  readonly identity: Identity
  readonly peerId: PeerId
  readonly address: string
  readonly limits: Limits
  readonly services: S
  readonly stats: NodeStats
  private readonly mesh: Mesh
  private readonly logger: ComponentLogger
  private readonly log: Logger
  private readonly inbox: Inbox
  private readonly journalOptions: InboxJournalOptions | undefined
  private journal: InboxJournal | undefined
  /** Journal sequence numbers of queued messages (durable inbox only). */
  private readonly journalSeq = new WeakMap<InboundMessage, number>()
  private readonly maxMessageSize: number
  private readonly stopController = new AbortController()
  private readonly activeStreams = new Set<MeshStream>()
  /** Inbound streams by peer (both channels), for the per-peer share (maxStreamsPerPeer). */
  private readonly streamsByPeer = new Map<PeerId, Set<MeshStream>>()
  /** Bytes of partial inbound frames held, in all and by peer (inboundBufferBytes). */
  private inboundHeld = 0
  private readonly inboundHeldByPeer = new Map<PeerId, number>()
  /** Refused streams still being told why (bounded: past it they are reset without a reason). */
  private refusing = 0
  /** Inbound streams waiting between frames (insertion order = longest idle first): evicted before refusing a new one. */
  private readonly idleInbound = new Set<MeshStream>()
  /** send()/request() operations on the fast path; stop() fails them. */
  private readonly fastOps = new Set<FastOp>()
  /** Handler signals of requests in progress; stop() aborts them. */
  private readonly requestControllers = new Set<AbortController>()
  /** Default deadlines (requests, idle and read timeouts) on one coarse timer. */
  private readonly sweeper: Sweeper
  /** Envelope handlers, negotiated protocols and raw-message claims. */
  private readonly registry = new ProtocolRegistry()
  private activeRequests = 0
  private readonly outbound = new Map<PeerId, { active: number, waiters: Array<() => void> }>()
  /** Idle request streams by peer (see POOL_IDLE_MS). */
  private readonly pool = new Map<PeerId, Pooled[]>()
  private state: 'new' | 'running' | 'stopped' = 'new'

  constructor (opts: CreateNodeOptions<S>) {
    super()
    this.identity = opts.identity ?? generateIdentity()
    this.peerId = this.identity.peerId
    this.address = this.identity.address
    this.limits = resolveLimits(opts.limits)
    this.logger = opts.logger ?? defaultLogger()
    this.log = this.logger.forComponent('axl:node')
    this.mesh = opts.transport({ identity: this.identity, logger: this.logger, events: (e) => { this.onMeshEvent(e) } })
    this.maxMessageSize = Math.min(this.limits.maxMessageSize, this.mesh.maxMessageSize ?? Infinity)
    const shortest = Math.min(this.limits.requestTimeoutMs, this.limits.readTimeoutMs, this.limits.idleTimeoutMs)
    this.sweeper = new Sweeper(Math.max(5, Math.min(1000, Math.floor(shortest / 8))))
    // Every pending wait listens on the stop signal; thousands may be pending at once.
    setMaxListeners(Infinity, this.stopController.signal)
    this.journalOptions = opts.inbox
    this.inbox = new Inbox(this.limits.inboxMaxMessages, this.limits.inboxMaxBytes, this.limits.inboxOverflow, msg => {
      const seq = this.journalSeq.get(msg)
      if (seq !== undefined) this.journal?.done(seq)
    })
    this.stats = { inbox: this.inbox.stats, streamsRejected: 0, framesTooLarge: 0, streamErrors: 0, requestsRejected: 0, messagesClaimed: 0, streamsEvicted: 0, budgetRefusals: 0 }
    const services: Record<string, unknown> = {}
    this.services = services as S
    const components = { identity: this.identity, limits: this.limits, node: this as unknown as AxlNode<Record<string, unknown>>, logger: this.logger }
    for (const [name, factory] of Object.entries(opts.services ?? {}) as Array<[string, ServiceFactory<unknown>]>) {
      services[name] = factory(components)
    }
  }

  get running (): boolean { return this.state === 'running' }

  listenAddresses (): string[] { return this.mesh.addresses?.() ?? [] }

  /** A mesh event, dispatched as the node event of the same name. */
  private onMeshEvent (e: MeshEvent): void {
    const { type, ...detail } = e
    this.log('%s %o', type, detail)
    this.emit(type, detail)
  }

  async start (): Promise<void> {
    if (this.state !== 'new') return
    if (this.journalOptions !== undefined) await this.openJournal(this.journalOptions)
    this.mesh.handle((stream, channel) => {
      if (channel === 'protocols') void this.onProtocolStream(stream)
      else void this.onStream(stream)
    })
    await this.mesh.start()
    this.state = 'running'
    try {
      for (const s of Object.values(this.services) as Service[]) await s?.start?.()
    } catch (err) {
      await this.stop()
      throw err
    }
  }

  async stop (): Promise<void> {
    if (this.state === 'stopped') return
    this.state = 'stopped'
    this.stopController.abort(new NotStartedError('the node is stopping'))
    for (const s of Object.values(this.services).reverse() as Service[]) {
      // A failing service must not keep the node alive.
      try { await s?.stop?.() } catch (err) { this.log.error('a service failed to stop: %s', err instanceof Error ? err.message : String(err)) }
    }
    for (const stream of this.activeStreams) stream.abort('node stopping')
    this.activeStreams.clear()
    this.streamsByPeer.clear()
    const stopping = new NotStartedError('the node is stopping')
    for (const op of this.fastOps) failOp(op, stopping)
    this.fastOps.clear()
    for (const list of this.pool.values()) for (const p of list) p.stream.abort('node stopping')
    this.pool.clear()
    for (const ac of this.requestControllers) ac.abort(stopping)
    this.requestControllers.clear()
    this.sweeper.stop()
    this.inbox.close()
    await this.mesh.stop()
    try { await this.journal?.close() } catch (err) { this.log.error('closing the inbox journal failed: %s', err instanceof Error ? err.message : String(err)) }
  }

  /** Opens the durable inbox and queues what it held (oldest first) before any stream is accepted. */
  private async openJournal (options: InboxJournalOptions): Promise<void> {
    const { journal, recovery } = await InboxJournal.open(options, 2 * this.limits.inboxMaxBytes + 16 * 1024 * 1024)
    this.journal = journal
    this.stats.journal = journal.stats
    for (const e of recovery.pending) {
      const msg: InboundMessage = { from: e.from, data: e.data, receivedAt: e.receivedAt }
      this.journalSeq.set(msg, e.seq)
      const r = this.inbox.push(msg)
      // Limits lowered since the crash: what no longer fits is dropped (counted), not kept forever.
      if (!r.ok) { journal.done(e.seq); this.dropped(e.from, e.data.byteLength, `not replayed from the inbox journal: ${r.reason}`) }
    }
    if (recovery.corruptBytes > 0) this.log.error('inbox journal: %d bytes cut off (%s)', recovery.corruptBytes, recovery.corruptReason)
    this.log('inbox journal: %d messages replayed', recovery.pending.length)
    this.emit('inbox:recovered', { messages: recovery.pending.length, corruptBytes: recovery.corruptBytes, ...(recovery.corruptReason !== undefined ? { corruptReason: recovery.corruptReason } : {}) })
  }

  handle (kind: string, handler: McpHandler | A2aHandler | ProtocolHandler, options: ProtocolOptions | EnvelopeOptions = {}): () => void {
    return this.registry.register(kind, handler, options)
  }

  protocols (): string[] { return this.registry.protocolNames() }

  handleMessages (match: MessageMatcher, handler: MessageHandler): () => void {
    return this.registry.addClaim(match, handler)
  }

  /** Hand a raw message to the first handleMessages() claim that matches it; false when none does. */
  private claim (from: PeerId, data: Uint8Array): boolean {
    const r = this.registry.claim(from, data, this.log)
    if (r === 'claimed') this.stats.messagesClaimed++
    return r !== 'none'
  }

  async dialProtocol (peer: PeerId | string, protocol: string, opts: WaitOptions = {}): Promise<MeshStream> {
    this.assertRunning()
    const to = parsePeerId(peer)
    checkProtocolName(protocol)
    if (!(this.mesh.channels ?? ['axl']).includes('protocols')) {
      throw new UnsupportedProtocolError(to, protocol, 'this node\'s transport has no protocol channel')
    }
    const scope = this.scope(opts, `opening ${protocol} to ${to}`)
    let stream: MeshStream | undefined
    try {
      stream = await this.mesh.dial(to, { signal: scope.signal, channel: 'protocols' })
      await negotiateOutbound(stream, to, protocol, { signal: scope.signal })
      return stream
    } catch (err) {
      stream?.abort(err instanceof Error ? err : String(err))
      if (scope.signal.aborted) throw abortReason(scope.signal)
      if (err instanceof UnsupportedProtocolError && err.protocol !== protocol) throw new UnsupportedProtocolError(to, protocol, err.reason, { cause: err })
      throw err
    } finally { scope.done() }
  }

  topology (): Topology { return this.mesh.topology() }

  async dial (peer: PeerId | string, opts: WaitOptions = {}): Promise<MeshStream> {
    this.assertRunning()
    const to = parsePeerId(peer)
    const scope = this.scope(opts, `dialling ${to}`, opts.timeoutMs)
    try {
      return await this.mesh.dial(to, { signal: scope.signal })
    } catch (err) {
      throw scope.signal.aborted && !(err instanceof UnreachableError) ? abortReason(scope.signal) : err
    } finally { scope.done() }
  }

  async send (peer: PeerId | string, data: Uint8Array, opts: SendOptions = {}): Promise<void> {
    this.assertRunning()
    const to = parsePeerId(peer)
    if (data.byteLength > this.maxMessageSize) throw new MessageTooLargeError(data.byteLength, this.maxMessageSize)
    const scope = this.fast(opts) ? undefined : this.scope(opts, `sending to ${to}`)
    try {
      // A reply is only ever a small refusal (or an envelope reply when the frame was an MCP/A2A envelope).
      const reply = scope === undefined
        ? await this.exchangeFast(to, data, 64 * 1024, `sending to ${to}`)
        : await this.exchange(to, data, scope.signal, 64 * 1024)
      if (reply === null) return
      const refusal = parseRefusal(reply)
      // 'unhandled': the frame looked like an MCP/A2A envelope, had no handler here, and was queued anyway.
      if (refusal === undefined || refusal.code === 'unhandled') return
      if (refusal.code === 'too_large') throw new MessageTooLargeError(data.byteLength, refusalLimit(refusal.message), 'remote')
      throw new RefusedError(to, refusal.message)
    } catch (err) {
      if (err instanceof StreamClosedError) throw new RefusedError(to, `the remote closed the stream before accepting the message (${err.message})`)
      if (err instanceof FrameTooLargeError) throw new ProtocolError(`the remote answered with an oversized frame (${err.length} bytes)`)
      throw err
    } finally { scope?.done() }
  }

  async request (peer: PeerId | string, frame: Uint8Array, opts: WaitOptions = {}): Promise<Uint8Array> {
    this.assertRunning()
    const to = parsePeerId(peer)
    if (frame.byteLength > this.maxMessageSize) throw new MessageTooLargeError(frame.byteLength, this.maxMessageSize)
    // Only envelopes get an answer (AXL queues anything else as a message and answers nothing): refuse the rest here.
    if (classifyFrame(frame, { mcp: true, a2a: true }).kind === 'raw') {
      throw new MalformedEnvelopeError('request() takes an MCP or A2A request envelope (see @axl/core/wire); for a raw message use send()')
    }
    const scope = this.fast(opts) ? undefined : this.scope(opts, `request to ${to}`)
    try {
      // Envelopes always get an answer, so their stream is kept for the next request (reuse).
      const reply = scope === undefined
        ? await this.exchangeFast(to, frame, this.maxMessageSize, `request to ${to}`, true)
        : await this.exchange(to, frame, scope.signal, this.maxMessageSize, true)
      if (reply === null) throw new ProtocolError(`peer ${to} closed the stream without answering`)
      const refusal = parseRefusal(reply)
      if (refusal !== undefined && !isEnvelopeReply(reply)) {
        if (refusal.code === 'too_large') throw new MessageTooLargeError(frame.byteLength, refusalLimit(refusal.message), 'remote')
        throw new RefusedError(to, refusal.message)
      }
      return reply
    } catch (err) {
      if (err instanceof FrameTooLargeError) throw new MessageTooLargeError(err.length, err.limit, 'local')
      if (err instanceof StreamClosedError) throw new ProtocolError(`peer ${to} reset the stream without answering (${err.message})`)
      throw err
    } finally { scope?.done() }
  }

  /** True when an operation uses only the defaults (no signal, no explicit timeout): the fast path applies. */
  private fast (opts: WaitOptions): boolean {
    return opts.signal === undefined && opts.timeoutMs === undefined
  }

  /**
   * exchange() for operations with default deadlines: no AbortController, listener or timer per call.
   * The deadline is a Sweeper entry that resets the stream with a TimeoutError; stop() resets it with
   * NotStartedError; the stream then throws that error to whichever step is waiting.
   */
  private async exchangeFast (to: PeerId, frame: Uint8Array, maxReply: number, what: string, reuse = false): Promise<Uint8Array | null> {
    const timeoutMs = this.limits.requestTimeoutMs
    const op: FastOp = {}
    const entry = this.sweeper.add(Date.now() + timeoutMs, () => { failOp(op, new TimeoutError(`${what} timed out after ${timeoutMs} ms`)) })
    this.fastOps.add(op)
    let release: (() => void) | undefined
    try {
      const slot = this.acquireOutbound(to)
      release = typeof slot === 'function' ? slot : await this.bounded(op, slot, r => { r() })
      const pooled = reuse ? this.takePooled(to) : undefined
      if (pooled !== undefined) {
        op.stream = pooled.stream
        const reply = await this.onPooled(to, pooled, frame)
        if (reply !== undefined) return reply
        op.stream = undefined // the pooled stream had been closed by the remote: a fresh one below
      }
      const stream = await this.bounded(op, this.mesh.dial(to, { signal: this.stopController.signal }), s => { s.abort(op.error ?? 'abandoned') })
      op.stream = stream
      const { reply, reader, early } = await this.writeThenRead(stream, frame, !reuse, maxReply, {})
      if (reuse && reply !== null && !early) this.putPooled(to, stream, reader)
      else if (early) stream.abort('refused before the message was written')
      else stream.close()
      return reply
    } catch (err) {
      op.stream?.abort(err instanceof Error ? err : String(err))
      if (op.error !== undefined) throw op.error
      if (this.state !== 'running') throw new NotStartedError('the node is stopped')
      throw err
    } finally {
      this.sweeper.remove(entry)
      this.fastOps.delete(op)
      release?.()
    }
  }

  /**
   * Writes one frame (then half-closes when `closeWrite`) while already reading the reply: a receiver that refuses
   * a stream (too many from us, its buffers full) answers a refusal frame at once, before our write completes —
   * that reply wins (`early`), so the sender learns the cause instead of only seeing the stream reset.
   */
  private async writeThenRead (stream: MeshStream, frame: Uint8Array, closeWrite: boolean, maxReply: number, opts: WaitOptions): Promise<{ reply: Uint8Array | null, reader: FrameReader, early: boolean }> {
    const reader = new FrameReader(stream, maxReply)
    const replyP = reader.next(opts)
    const writeP = writeFrame(stream, frame, opts).then(() => { if (closeWrite) stream.closeWrite() })
    const first = await Promise.race([writeP.then(() => 'written' as const, () => 'writeFailed' as const), replyP.then(() => 'reply' as const, () => 'failed' as const)])
    if (first === 'writeFailed') {
      // A refusal that arrived just before the reset may still be settling: it names the cause, so take it.
      const late = await Promise.race([replyP.then(r => r, () => null), new Promise<null>(resolve => { setImmediate(() => { resolve(null) }) })])
      if (late !== null) return { reply: late, reader, early: true }
      await writeP // rethrows the write's error
    }
    if (first === 'reply') {
      const reply = await replyP
      writeP.catch((err: unknown) => { this.log('write after an early reply from %s ended: %s', stream.remotePeer, err instanceof Error ? err.message : String(err)) })
      return { reply, reader, early: true }
    }
    if (first === 'failed') {
      // The read failed first (reset, deadline): report the write's own outcome if it fails too, else the read's.
      writeP.catch((err: unknown) => { this.log('write to %s after the read failed: %s', stream.remotePeer, err instanceof Error ? err.message : String(err)) })
      return { reply: await replyP, reader, early: false }
    }
    return { reply: await replyP, reader, early: false }
  }

  /** Await `p` unless op's deadline fires first; what `p` yields after that is handed to `discard`. */
  private async bounded<T> (op: { error?: Error, reject?: (e: Error) => void }, p: Promise<T>, discard: (v: T) => void): Promise<T> {
    if (op.error !== undefined) { void p.then(discard, () => {}); throw op.error }
    return await new Promise<T>((resolve, reject) => {
      op.reject = reject
      p.then(v => {
        op.reject = undefined
        if (op.error !== undefined) { discard(v); reject(op.error) } else resolve(v)
      }, e => { op.reject = undefined; reject(e) })
    })
  }

  /**
   * One frame out, at most one frame back, on a fresh stream: dial, write, half-close (so the remote's read
   * loop ends after it answered, or at once if it has nothing to answer), read one reply frame or EOF.
   * Once `signal` fired, whatever failed is reported as the signal's reason (TimeoutError, AbortError, NotStartedError).
   */
  private async exchange (to: PeerId, frame: Uint8Array, signal: AbortSignal, maxReply: number, reuse = false): Promise<Uint8Array | null> {
    const release = await this.acquireOutbound(to, signal)
    let stream: MeshStream | undefined
    const onAbort = (): void => { stream?.abort(abortReason(signal)) }
    signal.addEventListener('abort', onAbort, { once: true })
    try {
      const pooled = reuse ? this.takePooled(to) : undefined
      if (pooled !== undefined) {
        stream = pooled.stream
        const reply = await this.onPooled(to, pooled, frame)
        if (reply !== undefined) return reply
      }
      stream = await this.mesh.dial(to, { signal })
      const { reply, reader, early } = await this.writeThenRead(stream, frame, !reuse, maxReply, { signal })
      if (reuse && reply !== null && !early) this.putPooled(to, stream, reader)
      else if (early) stream.abort('refused before the message was written')
      else stream.close()
      return reply
    } catch (err) {
      stream?.abort(err instanceof Error ? err : String(err))
      // The transport's UnreachableError says more than the deadline that cut it short (e.g. no link is up).
      if (signal.aborted && !(err instanceof UnreachableError)) throw abortReason(signal)
      throw err
    } finally {
      signal.removeEventListener('abort', onAbort)
      release()
    }
  }

  /**
   * One request on a pooled stream. Resolves with the reply, or undefined when the stream turned out to be
   * closed by the remote before any reply byte (then the request was not processed: the caller dials anew).
   * Deadlines reach it through the stream (the caller's op resets it).
   */
  private async onPooled (to: PeerId, p: Pooled, frame: Uint8Array): Promise<Uint8Array | undefined> {
    try {
      await writeFrame(p.stream, frame)
      const reply = await p.reader.next()
      if (reply === null) { p.stream.close(); return undefined }
      this.putPooled(to, p.stream, p.reader)
      return reply
    } catch (err) {
      if (err instanceof StreamClosedError && !p.reader.midFrame) { p.stream.abort('stale pooled stream'); return undefined }
      throw err
    }
  }

  /** An idle, healthy pooled stream to `to`, if any (stale ones are discarded). */
  private takePooled (to: PeerId): Pooled | undefined {
    const list = this.pool.get(to)
    while (list !== undefined && list.length > 0) {
      const p = list.pop()!
      this.sweeper.remove(p.entry)
      let stale: boolean
      try { stale = p.stream.status !== 'open' || p.stream.writableEnded || p.stream.readSync() !== undefined } catch { stale = true }
      if (!stale) return p
      p.stream.abort('stale pooled stream')
    }
    if (list !== undefined) this.pool.delete(to)
    return undefined
  }

  /** Keep a stream whose request completed for the next request to `to` (bounded; closed when idle). */
  private putPooled (to: PeerId, stream: MeshStream, reader: FrameReader): void {
    let list = this.pool.get(to)
    if (list === undefined) { list = []; this.pool.set(to, list) }
    if (this.state !== 'running' || list.length >= POOL_MAX_PER_PEER) { stream.close(); return }
    const l = list
    const p: Pooled = {
      stream,
      reader,
      entry: this.sweeper.add(Date.now() + POOL_IDLE_MS, () => {
        const i = l.indexOf(p)
        if (i >= 0) l.splice(i, 1)
        if (l.length === 0 && this.pool.get(to) === l) this.pool.delete(to)
        stream.close()
      })
    }
    list.push(p)
  }

  /**
   * Take one of the OUTBOUND_STREAMS_PER_PEER slots to `to`: its release function at once when one is free,
   * else a promise of it. With `signal` the wait is abandoned when it fires; without, the caller bounds the
   * wait itself (exchangeFast) and releases a slot granted too late.
   */
  private acquireOutbound (to: PeerId, signal?: AbortSignal): (() => void) | Promise<() => void> {
    let entry = this.outbound.get(to)
    if (entry === undefined) { entry = { active: 0, waiters: [] }; this.outbound.set(to, entry) }
    const e = entry
    let released = false
    const release = (): void => {
      if (released) return
      released = true
      const next = e.waiters.shift()
      if (next !== undefined) { next(); return } // hand the slot over
      e.active--
      if (e.active === 0 && this.outbound.get(to) === e) this.outbound.delete(to)
    }
    if (e.active < OUTBOUND_STREAMS_PER_PEER) { e.active++; return release }
    let granted = false
    let wake!: () => void
    const p = new Promise<void>(resolve => { wake = () => { granted = true; resolve() } })
    e.waiters.push(wake)
    if (signal === undefined) return p.then(() => release)
    return withDeadline(p, { signal }, `waiting for a stream slot to ${to}`, () => { e.waiters = e.waiters.filter(w => w !== wake) })
      .then(() => release, err => {
        if (granted) release()
        throw err
      })
  }

  recv (): InboundMessage | undefined { return this.inbox.shift() }

  async nextMessage (opts: WaitOptions = {}): Promise<InboundMessage> {
    const scope = this.scope(opts, 'waiting for a message', opts.timeoutMs)
    try {
      return await this.inbox.next({ signal: scope.signal })
    } catch (err) {
      throw scope.signal.aborted ? abortReason(scope.signal) : err
    } finally { scope.done() }
  }

  messages (opts: { signal?: AbortSignal } = {}): AsyncIterableIterator<InboundMessage> {
    const next = async (): Promise<IteratorResult<InboundMessage>> => {
      const queued = this.inbox.shift()
      if (queued !== undefined) return { done: false, value: queued }
      if (this.state === 'stopped') return { done: true, value: undefined }
      const scope = this.scope({ signal: opts.signal }, 'waiting for a message', Infinity)
      try {
        return { done: false, value: await this.inbox.next({ signal: scope.signal }) }
      } catch (err) {
        if (!this.running || opts.signal?.aborted === true) return { done: true, value: undefined }
        throw err
      } finally { scope.done() }
    }
    const it: AsyncIterableIterator<InboundMessage> = {
      next,
      return: async () => ({ done: true, value: undefined }),
      [Symbol.asyncIterator]: () => it
    }
    return it
  }

  // ---- inbound ----------------------------------------------------------------------------------------

  /** An inbound stream on the protocol channel: negotiate, check access, hand it to the protocol's handler. */
  private async onProtocolStream (stream: MeshStream): Promise<void> {
    const refused = this.admit(stream)
    if (refused !== undefined) {
      this.stats.streamsRejected++
      if (this.state === 'running') answerNegotiation(stream, ProtocolStatus.busy, refused)
      else stream.abort(refused)
      return
    }
    const from = stream.remotePeer
    let entry: ProtocolEntry | undefined
    let protocol: string | null = null
    try {
      protocol = await readProtocolName(stream, { timeoutMs: this.limits.readTimeoutMs, signal: this.stopController.signal })
      if (protocol === null) { stream.abort('malformed protocol negotiation'); return }
      entry = this.registry.protocol(protocol)
      if (entry === undefined) { answerNegotiation(stream, ProtocolStatus.unknown, `no handler for ${protocol}`); return }
      const denied = await checkAccess(entry.options.allow, from, protocol)
      if (denied !== undefined) { answerNegotiation(stream, ProtocolStatus.refused, denied); return }
      if (entry.active >= entry.options.maxStreams) { answerNegotiation(stream, ProtocolStatus.busy, `too many ${protocol} streams`); return }
      answerNegotiation(stream, ProtocolStatus.accepted)
    } catch (err) {
      stream.abort(err instanceof Error ? err : String(err))
      this.forget(stream)
      if (this.state !== 'running') return
      this.stats.streamErrors++
      this.emit('stream:error', { from, error: err instanceof Error ? err : new Error(String(err)) })
      return
    }
    entry.active++
    try {
      await entry.handler(stream, { from, protocol, signal: this.stopController.signal })
    } catch (err) {
      stream.abort(err instanceof Error ? err : String(err))
      if (this.state === 'running') {
        this.stats.streamErrors++
        this.emit('stream:error', { from, error: err instanceof Error ? err : new Error(String(err)) })
      }
    } finally {
      entry.active--
      // the handler owns the stream; once it settled the node only stops tracking it when it ends
      void stream.closed().finally(() => { this.forget(stream) })
    }
  }

  /**
   * Admits an inbound stream, or says why not. A peer past its share (maxStreamsPerPeer) is refused. When the node
   * is full (maxConcurrentStreams), room is made by closing the longest-idle kept-open stream, else by taking the
   * newest stream of the peer holding the most — if it holds at least two more than this one's peer (fair share).
   */
  private admit (stream: MeshStream): string | undefined {
    if (this.state !== 'running') return 'the node is stopping'
    const peer = stream.remotePeer
    const mine = this.streamsByPeer.get(peer)?.size ?? 0
    if (mine >= this.limits.maxStreamsPerPeer) return `too many streams from you: ${mine} open at once (maxStreamsPerPeer ${this.limits.maxStreamsPerPeer})`
    if (this.activeStreams.size >= this.limits.maxConcurrentStreams) {
      const idle = this.idleInbound.values().next().value
      if (idle !== undefined) {
        // Its client reconnects when it needs it.
        this.idleInbound.delete(idle); this.forget(idle); idle.close()
      } else {
        let top: Set<MeshStream> | undefined
        for (const set of this.streamsByPeer.values()) if (top === undefined || set.size > top.size) top = set
        if (top === undefined || top.size < mine + 2) return `too many concurrent streams (${this.activeStreams.size}, maxConcurrentStreams ${this.limits.maxConcurrentStreams})`
        const victim = [...top].pop()!
        this.forget(victim)
        this.stats.streamsEvicted++
        victim.abort(`evicted for fair share: ${victim.remotePeer} held ${top.size + 1} of ${this.limits.maxConcurrentStreams} streams`)
      }
    }
    this.activeStreams.add(stream)
    let set = this.streamsByPeer.get(peer)
    if (set === undefined) this.streamsByPeer.set(peer, set = new Set())
    set.add(stream)
    return undefined
  }

  /** Stops tracking an inbound stream (idempotent). */
  private forget (stream: MeshStream): void {
    this.activeStreams.delete(stream)
    const set = this.streamsByPeer.get(stream.remotePeer)
    if (set?.delete(stream) === true && set.size === 0) this.streamsByPeer.delete(stream.remotePeer)
  }

  /**
   * Tells the sender of a refused AXL stream why, in the refusal frame its send() reads (AXL senders never read it),
   * then ends the stream. Bounded: while 64 refusals are in flight, further ones are reset without a reason.
   */
  private refuseStream (stream: MeshStream, code: string, reason: string): void {
    if (this.refusing >= 64) { stream.abort(reason); return }
    this.refusing++
    void (async () => {
      try {
        await writeFrame(stream, refusal(code, reason), { timeoutMs: 2000 })
        stream.closeWrite()
        // Let the sender read it: wait (briefly) for its end of the stream, discarding what it still sends.
        for (let deadline = Date.now() + 2000; Date.now() < deadline;) {
          if (await stream.read({ timeoutMs: Math.max(1, deadline - Date.now()) }) === null) break
        }
      } catch (err) {
        this.log('refusing a stream from %s: %s', stream.remotePeer, err instanceof Error ? err.message : String(err))
      } finally {
        this.refusing--
        stream.abort(reason)
      }
    })()
  }

  private async onStream (stream: MeshStream): Promise<void> {
    const refused = this.admit(stream)
    if (refused !== undefined) {
      this.stats.streamsRejected++
      if (this.state === 'running') this.refuseStream(stream, 'busy', refused)
      else stream.abort(refused)
      return
    }
    // Partial frames count against the node's inbound buffer budget and this peer's share of it.
    const peer = stream.remotePeer
    const peerShare = Math.max(this.maxMessageSize + 4, Math.floor(this.limits.inboundBufferBytes / 4))
    let held = 0
    const onBuffered = (bytes: number): void => {
      const delta = bytes - held
      if (delta > 0) {
        const peerHeld = this.inboundHeldByPeer.get(peer) ?? 0
        if (this.inboundHeld + delta > this.limits.inboundBufferBytes) throw new InboundBudgetError(`node busy: ${this.inboundHeld} bytes of partial messages held (inboundBufferBytes ${this.limits.inboundBufferBytes})`)
        if (peerHeld + delta > peerShare) throw new InboundBudgetError(`too many bytes of partial messages from you: ${peerHeld} held (your share of inboundBufferBytes: ${peerShare})`)
      }
      this.inboundHeld += delta
      const next = (this.inboundHeldByPeer.get(peer) ?? 0) + delta
      if (next === 0) this.inboundHeldByPeer.delete(peer)
      else this.inboundHeldByPeer.set(peer, next)
      held = bytes
    }
    // Deadlines on the sweeper: idleTimeoutMs between frames, readTimeoutMs once a frame has started
    // (AXL's conn_idle_timeout and conn_read_timeout), readTimeoutMs for writing a reply.
    const { idleTimeoutMs, readTimeoutMs } = this.limits
    const entry: SweepEntry = this.sweeper.add(Date.now() + idleTimeoutMs, () => {
      stream.abort(new TimeoutError(reader.midFrame ? `reading a frame timed out after ${readTimeoutMs} ms` : `stream idle for ${idleTimeoutMs} ms`))
    })
    const reader = new FrameReader(stream, this.maxMessageSize, () => { entry.at = Math.min(entry.at, Date.now() + readTimeoutMs) }, onBuffered)
    try {
      for (let first = true; ; first = false) {
        entry.at = Date.now() + idleTimeoutMs
        if (!first) this.idleInbound.add(stream)
        const frame = await reader.next()
        this.idleInbound.delete(stream)
        if (frame === null) { stream.closeWrite(); return }
        const reply = await this.dispatch(stream.remotePeer, frame)
        if (reply !== undefined) {
          entry.at = Date.now() + readTimeoutMs
          await writeFrame(stream, reply)
        }
      }
    } catch (err) {
      if (err instanceof FrameTooLargeError) {
        this.stats.framesTooLarge++
        this.dropped(stream.remotePeer, err.length, err.message)
        try {
          entry.at = Date.now() + readTimeoutMs
          await writeFrame(stream, refusal('too_large', `message of ${err.length} bytes exceeds the limit of ${err.limit} bytes`))
          stream.close()
        } catch { stream.abort('frame too large') }
        return
      }
      if (err instanceof InboundBudgetError) {
        this.stats.budgetRefusals++
        this.dropped(stream.remotePeer, held, err.message)
        this.forget(stream)
        this.refuseStream(stream, 'busy', err.message)
        return
      }
      stream.abort(err instanceof Error ? err : String(err))
      if (this.state !== 'running') return // stopping is not a stream failure
      this.stats.streamErrors++
      this.emit('stream:error', { from: stream.remotePeer, error: err instanceof Error ? err : new Error(String(err)) })
    } finally {
      onBuffered(0) // give back what this stream's partial frame held
      this.sweeper.remove(entry)
      this.idleInbound.delete(stream)
      this.forget(stream)
    }
  }

  /**
   * Route one inbound frame of AXL's default protocol by Go AXL's dispatch rule: an MCP / A2A request envelope to
   * the handler registered for its kind, anything else to a handleMessages() claim or the inbox. Returns the reply.
   */
  private async dispatch (from: PeerId, frame: Uint8Array): Promise<Uint8Array | undefined> {
    const req = classifyFrame(frame, ENVELOPE_KINDS)
    if (req.kind === 'raw') return this.registry.hasClaims && this.claim(from, frame) ? undefined : await this.queue(from, frame)
    const entry = this.registry.envelope(req.kind)
    const what = req.kind === 'mcp' ? 'MCP' : 'A2A'
    if (entry === undefined) {
      // AXL queues envelopes of a disabled stream for /recv and sends nothing back, so a caller waits 30 s.
      // We queue it too (so /send of such JSON still arrives) and answer at once with an error envelope.
      const queued = await this.queue(from, frame)
      const error = `no ${what} service on this node (the frame was delivered to its inbox as a raw message)`
      return withExtra(encodeEnvelopeError(req, error), queued === undefined ? { axl_refused: { code: 'unhandled', message: error } } : { axl_refused: { code: 'inbox_full', message: 'inbox full' } })
    }
    if (this.activeRequests >= this.limits.maxConcurrentRequests) {
      this.stats.requestsRejected++
      return encodeEnvelopeError(req, `node busy: ${this.activeRequests} requests in progress`)
    }
    this.activeRequests++
    // The handler's signal is made only if the handler reads it (most never do); stop() and the deadline abort it.
    let ac: AbortController | undefined
    const controllers = this.requestControllers
    const op: FastOp = {}
    const timeoutMs = this.limits.requestTimeoutMs
    const sweep = this.sweeper.add(Date.now() + timeoutMs, () => {
      op.error = new TimeoutError(`the request handler timed out after ${timeoutMs} ms`)
      ac?.abort(op.error)
      op.reject?.(op.error)
    })
    try {
      const ctx: RequestContext = {
        from,
        get signal (): AbortSignal {
          if (ac === undefined) {
            ac = new AbortController()
            if (op.error !== undefined) ac.abort(op.error)
            controllers.add(ac)
          }
          return ac.signal
        }
      }
      // Through a promise (bounded by the deadline, access check included): a handler that throws synchronously
      // or returns a plain value still gets an answer.
      const p = Promise.resolve().then(async () => {
        const denied = entry.options.allow === undefined ? undefined : await checkAccess(entry.options.allow, from, req.kind)
        if (denied !== undefined) return encodeEnvelopeError(req, `${what} requests refused: ${denied}`)
        return req.kind === 'mcp'
          ? await (entry.handler as McpHandler)({ service: req.service, request: req.request }, ctx)
          : await (entry.handler as A2aHandler)({ agentCard: req.agentCard, request: req.request }, ctx)
      })
      const reply = await this.bounded(op, p, () => {})
      if (!(reply instanceof Uint8Array)) throw new ProtocolError(`the ${what} handler must resolve with the reply frame (a Uint8Array), got ${reply === null ? 'null' : typeof reply}`)
      return reply
    } catch (err) {
      return encodeEnvelopeError(req, `handler failed: ${err instanceof Error ? err.message : String(err)}`)
    } finally {
      this.activeRequests--
      if (ac !== undefined) this.requestControllers.delete(ac)
      this.sweeper.remove(sweep)
    }
  }

  /** Queue a raw message; returns a refusal frame when the inbox refused it. */
  private queue (from: PeerId, data: Uint8Array): Uint8Array | undefined | Promise<Uint8Array | undefined> {
    // Own the bytes: transports may hand us views of buffers they reuse.
    // A frame that is a view into a larger chunk would pin (and alias) the whole chunk: copy it.
    // (A view that wastes at most 64 bytes of its buffer, e.g. a frame behind its 4-byte header, is kept.)
    const owned = data.buffer.byteLength - data.byteLength <= 64 ? data : data.slice()
    const msg: InboundMessage = { from, data: owned, receivedAt: Date.now() }
    // Durable inbox: journal first (the sequence number is known at once, the write completes later).
    const put = this.journal?.put(from, msg.receivedAt, owned)
    if (put !== undefined && put.seq < 0) {
      return put.written.then(() => undefined, (err: unknown) => {
        const reason = err instanceof Error ? err.message : String(err)
        this.dropped(from, data.byteLength, reason)
        return refusal('inbox_full', reason)
      })
    }
    if (put !== undefined) this.journalSeq.set(msg, put.seq)
    const r = this.inbox.push(msg)
    if (!r.ok) {
      if (put !== undefined) this.journal?.done(put.seq)
      this.dropped(from, data.byteLength, r.reason)
      return refusal('inbox_full', r.reason)
    }
    for (const d of r.evicted ?? (r.dropped === undefined ? [] : [r.dropped])) this.dropped(d.from, d.data.byteLength, 'inbox overflow')
    if (r.dropped !== msg) this.emit('message', msg)
    if (put === undefined) return undefined
    // The acknowledgement (our FIN after this returns) waits until the message is on disk.
    return put.written.then(() => undefined, (err: unknown) => {
      const reason = `the inbox journal failed: ${err instanceof Error ? err.message : String(err)}`
      this.log.error('%s (the message stays queued in memory; its sender is told it failed)', reason)
      return refusal('journal_failed', reason)
    })
  }

  private dropped (from: PeerId, bytes: number, reason: string): void {
    this.emit('message:dropped', { from, bytes, reason })
  }

  private emit<T> (type: string, detail: T): void {
    this.dispatchEvent(new CustomEvent(type, { detail }))
  }

  private assertRunning (): void {
    if (this.state !== 'running') throw new NotStartedError(this.state === 'new' ? 'the node is not started' : 'the node is stopped')
  }

  /**
   * A single deadline for a whole operation (not one per step): aborts when the caller's signal fires, the
   * node stops, or `timeoutMs` passes (default limits.requestTimeoutMs; Infinity for none). Call done().
   */
  private scope (opts: WaitOptions, what: string, timeoutMs: number | undefined = opts.timeoutMs ?? this.limits.requestTimeoutMs): Scope {
    const ac = new AbortController()
    const sources = opts.signal === undefined ? [this.stopController.signal] : [opts.signal, this.stopController.signal]
    const onAbort = (e: Event): void => { ac.abort((e.target as AbortSignal).reason) }
    let timer: ReturnType<typeof setTimeout> | undefined
    const done = (): void => {
      if (timer !== undefined) clearTimeout(timer)
      for (const s of sources) s.removeEventListener('abort', onAbort)
    }
    for (const s of sources) {
      if (s.aborted) { ac.abort(s.reason); return { signal: ac.signal, done } }
    }
    for (const s of sources) s.addEventListener('abort', onAbort, { once: true })
    if (timeoutMs !== undefined && Number.isFinite(timeoutMs)) {
      timer = setTimeout(() => { ac.abort(new TimeoutError(`${what} timed out after ${timeoutMs} ms`)) }, Math.min(MAX_TIMER_MS, Math.max(0, timeoutMs)))
    }
    return { signal: ac.signal, done }
  }
}

/** Partial inbound frames would pass the node's buffer budget or the peer's share of it. */
class InboundBudgetError extends Error {}

/** An operation on the fast path: what its deadline (or stop) must fail. */
interface FastOp { stream?: MeshStream, error?: Error, reject?: (e: Error) => void }

/** Fail a fast-path operation: remember the error, reset its stream, reject what it awaits. */
function failOp (op: FastOp, err: Error): void {
  if (op.error !== undefined) return
  op.error = err
  op.stream?.abort(err)
  op.reject?.(err)
}

function refusal (code: string, message: string): Uint8Array {
  return new TextEncoder().encode(JSON.stringify({ axl_refused: { code, message } } satisfies RefusalBody))
}

function withExtra (envelope: Uint8Array, extra: RefusalBody | undefined): Uint8Array {
  if (extra === undefined) return envelope
  const tail = new TextEncoder().encode(`,"axl_refused":${JSON.stringify(extra.axl_refused)}}`)
  const out = new Uint8Array(envelope.byteLength - 1 + tail.byteLength)
  out.set(envelope.subarray(0, envelope.byteLength - 1))
  out.set(tail, envelope.byteLength - 1)
  return out
}

/** The limit a 'too_large' refusal names ("… exceeds the limit of N bytes"), or 0. */
function refusalLimit (message: string): number {
  return Number(/limit of (\d+)/.exec(message)?.[1] ?? 0)
}

/** True when a reply frame is an MCP/A2A response envelope (it has a "response" member). */
function isEnvelopeReply (frame: Uint8Array): boolean {
  try {
    const v = JSON.parse(new TextDecoder().decode(frame)) as Record<string, unknown> | null
    return v !== null && typeof v === 'object' && 'response' in v
  } catch { return false }
}

/** Reads the `axl_refused` member of a reply frame, if it is a JSON object with one. */
function parseRefusal (frame: Uint8Array): { code: string, message: string } | undefined {
  if (frame.byteLength === 0 || frame.byteLength > 64 * 1024 || frame[0] !== 0x7b) return undefined
  // Replies are mostly MCP/A2A envelopes: parse only those that mention the member at all.
  if (!Buffer.from(frame.buffer, frame.byteOffset, frame.byteLength).includes('"axl_refused"')) return undefined
  try {
    const v = JSON.parse(new TextDecoder().decode(frame)) as Partial<RefusalBody> | null
    const r = v?.axl_refused
    if (r !== undefined && typeof r.code === 'string' && typeof r.message === 'string') return r
  } catch {
    return undefined // JSON that merely mentions axl_refused: not a refusal frame
  }
  return undefined
}
