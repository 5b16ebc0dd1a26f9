import { DuplicatePeerError, UnreachableError, NotStartedError } from '../errors.js'
import { withDeadline, type WaitOptions } from '../deadline.js'
import type { Mesh, MeshChannel, MeshComponents, MeshDialOptions, Topology, TopologyPeer, TransportFactory } from '../mesh.js'
import type { PeerId } from '../peer-id.js'
import { createMeshStream, type MeshStream, type StreamController } from '../stream.js'

/**
 * A one-way delay in ms: the same for every pair of nodes, or a function of the sender and the receiver (called
 * for every stream opening and chunk; e.g. hops between the two on a simulated overlay × a per-hop delay).
 */
export type MemoryLatency = number | ((from: PeerId, to: PeerId) => number)

/** Options of an in-memory network. */
export interface MemoryNetworkOptions {
  /** One-way delay of every chunk and of stream opening, in ms, or per pair (see MemoryLatency). Default 0 (next microtask). */
  latencyMs?: MemoryLatency
  /** Largest message the network carries; nodes on it refuse bigger ones. Default: no network limit. */
  maxMessageSize?: number
  /** Bytes a stream direction may have in flight before send() returns false. Default 1 MiB. */
  streamWindowBytes?: number
  /**
   * What `node.topology()` reports, given the node's peer id and the default view (every reachable node a direct
   * peer, the lowest id the root) — e.g. a simulated overlay's links and spanning tree. Default: the default view.
   */
  topology?: (self: PeerId, base: Topology) => Topology
}

/** Counters of a memory network. */
export interface MemoryNetworkStats {
  /** Streams opened. */
  streams: number
  /** Dials that failed (unknown, killed or partitioned peer). */
  failedDials: number
  /** Streams reset by kill() or partition(). */
  severed: number
}

/** Anything that names a node: its peer id, or an object with a peerId (an AxlNode). */
export type NodeRef = PeerId | string | { peerId: PeerId }

const END = Symbol('end')
type Item = Uint8Array | typeof END | { reset: string }

/**
 * An in-process mesh: many nodes, no sockets, streams between any two, deterministic delivery order.
 * Knobs: latency, partition/heal, kill/restart, a max message size. For application unit tests.
 *
 * ```ts
 * const net = new MemoryNetwork()
 * const a = await createNode({ transport: net.transport() })
 * const b = await createNode({ transport: net.transport() })
 * await a.send(b.peerId, bytes)
 * ```
 */
export class MemoryNetwork {
  /** Counters. */
  readonly stats: MemoryNetworkStats = { streams: 0, failedDials: 0, severed: 0 }
  private latency: MemoryLatency
  private readonly window: number
  private readonly maxMessageSize: number | undefined
  private readonly topologyView: ((self: PeerId, base: Topology) => Topology) | undefined
  private readonly meshes = new Map<PeerId, MemoryMesh>()
  private readonly killed = new Set<PeerId>()
  private partitions: Array<[Set<PeerId>, Set<PeerId> | undefined]> = []

  constructor (opts: MemoryNetworkOptions = {}) {
    this.latency = opts.latencyMs ?? 0
    this.window = opts.streamWindowBytes ?? 1024 * 1024
    this.maxMessageSize = opts.maxMessageSize
    this.topologyView = opts.topology
  }

  /** The transport to pass to createNode({ transport }). */
  transport (): TransportFactory {
    return (components: MeshComponents) => new MemoryMesh(this, components)
  }

  /** Peer ids of the nodes on this network (started and not stopped). */
  get peers (): PeerId[] { return [...this.meshes.keys()] }

  /** Change the one-way latency (ms, or per pair) for chunks sent from now on. */
  setLatency (ms: MemoryLatency): void { this.latency = ms }

  /** Cut `a` off from `b` (or from everyone else when `b` is omitted); open streams across the cut are reset. */
  partition (a: NodeRef[], b?: NodeRef[]): void {
    const sa = new Set(a.map(idOf))
    const sb = b === undefined ? undefined : new Set(b.map(idOf))
    this.partitions.push([sa, sb])
    for (const mesh of this.meshes.values()) mesh.sever(peer => !this.reachable(mesh.id, peer))
  }

  /** Remove every partition. */
  heal (): void { this.partitions = [] }

  /** Make a node unreachable, as if it crashed: its streams are reset, dials to and from it fail. */
  kill (node: NodeRef): void {
    const id = idOf(node)
    this.killed.add(id)
    this.meshes.get(id)?.sever(() => true)
    for (const mesh of this.meshes.values()) mesh.sever(peer => peer === id)
  }

  /** Make a killed node reachable again. */
  restart (node: NodeRef): void { this.killed.delete(idOf(node)) }

  /** True when `a` can open a stream to `b` now. */
  reachable (a: PeerId, b: PeerId): boolean {
    if (this.killed.has(a) || this.killed.has(b) || !this.meshes.has(b) || !this.meshes.has(a)) return false
    for (const [sa, sb] of this.partitions) {
      const cut = (x: PeerId, y: PeerId): boolean => sa.has(x) && (sb === undefined ? !sa.has(y) : sb.has(y))
      if (cut(a, b) || cut(b, a)) return false
    }
    return true
  }

  /** @internal */
  register (mesh: MemoryMesh): void {
    if (this.meshes.has(mesh.id)) throw new DuplicatePeerError(mesh.id)
    this.meshes.set(mesh.id, mesh)
  }

  /** @internal */
  unregister (mesh: MemoryMesh): void {
    if (this.meshes.get(mesh.id) === mesh) this.meshes.delete(mesh.id)
    for (const m of this.meshes.values()) m.sever(peer => peer === mesh.id)
  }

  /** @internal */
  async open (from: MemoryMesh, to: PeerId, opts: MeshDialOptions): Promise<MeshStream> {
    const latency = this.delay(from.id, to)
    if (latency > 0) {
      let timer: ReturnType<typeof setTimeout> | undefined
      const delay = new Promise(resolve => { timer = setTimeout(resolve, latency) })
      await withDeadline(delay, opts, `dialling ${to}`, () => { clearTimeout(timer) })
    } else if (opts.signal?.aborted === true) {
      await withDeadline(Promise.resolve(), opts, `dialling ${to}`)
    }
    const target = this.meshes.get(to)
    if (target === undefined || !this.reachable(from.id, to) || target.handler === undefined) {
      this.stats.failedDials++
      const why = target === undefined ? 'no such node on the memory network' : this.killed.has(to) ? 'node is down' : target.handler === undefined ? 'node is not accepting streams' : 'network partition'
      throw new UnreachableError(to, why)
    }
    this.stats.streams++
    const ab = new Pipe(this, from.id, to)
    const ba = new Pipe(this, to, from.id)
    const l = createMeshStream({ remotePeer: to, direction: 'outbound', sink: ab, readableHighWaterMark: this.window, onConsumed: n => { ba.consumed(n) } })
    const r = createMeshStream({ remotePeer: from.id, direction: 'inbound', sink: ba, readableHighWaterMark: this.window, onConsumed: n => { ab.consumed(n) } })
    const local = l.stream
    const remote = r.stream
    ab.connect(l.controller, r.controller)
    ba.connect(r.controller, l.controller)
    const pair = { local, remote, a: from.id, b: to, pipes: [ab, ba] as const }
    from.track(pair)
    target.track(pair)
    target.handler(remote, opts.channel ?? 'axl')
    return local
  }

  /** @internal The one-way delay from `from` to `to` now (ms, ≥ 0). */
  delay (from: PeerId, to: PeerId): number {
    const ms = typeof this.latency === 'number' ? this.latency : this.latency(from, to)
    return ms > 0 ? ms : 0
  }
  /** @internal */
  get windowBytes (): number { return this.window }
  /** @internal */
  get messageLimit (): number | undefined { return this.maxMessageSize }
  /** @internal */
  isKilled (id: PeerId): boolean { return this.killed.has(id) }
  /** @internal What topology() reports for `self`. */
  view (self: PeerId, base: Topology): Topology { return this.topologyView === undefined ? base : this.topologyView(self, base) }
}

interface Pair { local: MeshStream, remote: MeshStream, a: PeerId, b: PeerId, pipes: readonly [Pipe, Pipe] }

/** One direction of a stream: a sink on the writer's side that delivers to the reader's side. */
class Pipe {
  private writer!: StreamController
  private reader!: StreamController
  private inflight = 0
  private blocked = false
  private queue: Item[] = []
  /** When each queued item is due (virtual or real ms), parallel to `queue`; never decreasing. */
  private due: number[] = []
  private timer: ReturnType<typeof setTimeout> | undefined
  private scheduled = false
  private dead = false

  constructor (private readonly net: MemoryNetwork, private readonly from: PeerId, private readonly to: PeerId) {}

  connect (writer: StreamController, reader: StreamController): void { this.writer = writer; this.reader = reader }

  write = (data: Uint8Array, owned = false): boolean => {
    if (this.dead) return true
    this.inflight += data.byteLength
    // Copy, as a socket would: the writer may reuse its buffer as soon as send() returns (unless handed over).
    this.enqueue(owned ? data : data.slice())
    if (this.inflight >= this.net.windowBytes) { this.blocked = true; return false }
    return true
  }

  end = (): void => { if (!this.dead) this.enqueue(END) }

  reset = (reason: string): void => {
    if (this.dead) return
    this.dead = true
    this.enqueue({ reset: reason })
  }

  /** Reset both ends now (kill/partition). */
  sever (reason: string): void {
    if (this.dead) return
    this.dead = true
    this.queue = []
    this.due = []
    if (this.timer !== undefined) { clearTimeout(this.timer); this.timer = undefined }
    this.writer.reset(reason)
    this.reader.reset(reason)
  }

  consumed (n: number): void {
    this.inflight -= n
    if (this.blocked && this.inflight < this.net.windowBytes / 2) {
      this.blocked = false
      this.writer.drain()
    }
  }

  /**
   * Queue an item for delivery `latency` ms from now. Each item keeps its own due time (so a chunk sent
   * later arrives later), and due times never decrease (so lowering the latency cannot reorder a stream).
   */
  private enqueue (item: Item): void {
    const delay = this.net.delay(this.from, this.to)
    const now = delay > 0 ? Date.now() : 0
    const last = this.due.length > 0 ? this.due[this.due.length - 1] : 0
    this.queue.push(item)
    this.due.push(delay > 0 ? Math.max(now + delay, last) : last)
    this.schedule()
  }

  private schedule (): void {
    if (this.scheduled || this.queue.length === 0) return
    this.scheduled = true
    const wait = this.due[0] - Date.now()
    if (this.due[0] === 0 || wait <= 0) queueMicrotask(this.flush)
    else this.timer = setTimeout(this.flush, wait)
  }

  private readonly flush = (): void => {
    this.scheduled = false
    this.timer = undefined
    const now = Date.now()
    let n = 0
    while (n < this.queue.length && (this.due[n] === 0 || this.due[n] <= now)) n++
    const items = this.queue.splice(0, n)
    this.due.splice(0, n)
    for (const item of items) {
      if (item === END) this.reader.end()
      else if (item instanceof Uint8Array) this.reader.deliver(item)
      else { this.reader.reset(item.reset); this.queue = []; this.due = []; return }
    }
    this.schedule()
  }
}

/** A node's view of a MemoryNetwork. */
class MemoryMesh implements Mesh {
  readonly id: PeerId
  readonly channels: readonly MeshChannel[] = ['axl', 'protocols']
  handler: ((s: MeshStream, channel: MeshChannel) => void) | undefined
  private readonly pairs = new Set<Pair>()
  private started = false
  private readonly address: string

  constructor (private readonly net: MemoryNetwork, components: MeshComponents) {
    this.id = components.identity.peerId
    this.address = components.identity.address
  }

  get maxMessageSize (): number | undefined { return this.net.messageLimit }

  async start (): Promise<void> {
    if (this.started) return
    this.net.register(this)
    this.started = true
  }

  async stop (): Promise<void> {
    if (!this.started) return
    this.started = false
    this.handler = undefined
    this.sever(() => true, 'node stopped')
    this.net.unregister(this)
  }

  async dial (peer: PeerId, opts: MeshDialOptions = {}): Promise<MeshStream> {
    if (!this.started) throw new NotStartedError('the memory mesh is stopped')
    return await this.net.open(this, peer, opts)
  }

  handle (handler: (stream: MeshStream, channel?: MeshChannel) => void): void { this.handler = handler }

  private purgeAt = 256

  track (pair: Pair): void {
    this.pairs.add(pair)
    if (this.pairs.size < this.purgeAt) return
    // Forget finished streams lazily (amortised O(1) per stream, no per-stream promises).
    for (const p of this.pairs) if (p.local.status !== 'open' && p.remote.status !== 'open') this.pairs.delete(p)
    this.purgeAt = Math.max(256, this.pairs.size * 2)
  }

  /** Reset every open stream whose other end matches `predicate`. */
  sever (predicate: (peer: PeerId) => boolean, reason = 'connection lost'): void {
    for (const pair of this.pairs) {
      const other = pair.a === this.id ? pair.b : pair.a
      if (!predicate(other)) continue
      this.pairs.delete(pair)
      if (pair.local.status === 'open' || pair.remote.status === 'open') this.net.stats.severed++
      // Reset both ends now and drop what is still in flight (and its delivery timers).
      for (const pipe of pair.pipes) pipe.sever(reason)
    }
  }

  topology (): Topology {
    const others = this.net.peers.filter(p => p !== this.id).sort()
    const reachable = others.filter(p => this.net.reachable(this.id, p))
    const root = [this.id, ...reachable].sort()[0] as PeerId
    const peers: TopologyPeer[] = others.map((p, i) => {
      const up = this.net.reachable(this.id, p)
      return { uri: `memory://${p}`, up, inbound: false, publicKey: up ? p : '', root: up ? root : '', port: up ? i + 1 : 0 }
    })
    const parent = root
    const rootPort = peers.find(p => p.publicKey === root)?.port
    return this.net.view(this.id, {
      ourPublicKey: this.id,
      ourIpv6: this.address,
      root,
      parent,
      coords: root === this.id || rootPort === undefined ? [] : [rootPort],
      peers,
      tree: root === this.id
        ? [{ publicKey: this.id, parent: this.id, sequence: 0 }]
        : [{ publicKey: root, parent: root, sequence: 0 }, { publicKey: this.id, parent: root, sequence: 0 }]
    })
  }
}

function idOf (ref: NodeRef): PeerId {
  return (typeof ref === 'string' ? ref.toLowerCase() : ref.peerId) as PeerId
}
