/**
 * `directTcp()`: a small but complete custom Mesh. Each node listens on a TCP port; peers are found in a directory
 * (peer id → `host:port`) the application supplies; every stream is its own TCP connection, which starts with a
 * mutual authentication handshake (handshake.ts) and a channel byte, then carries the stream's bytes: half-close is
 * TCP's FIN, a reset is TCP's RST, and backpressure is socket.write's return value and its 'drain' event.
 *
 * ```ts
 * const directory = new Map<string, string>()
 * const a = await createNode({ transport: directTcp({ directory }) })
 * const b = await createNode({ transport: directTcp({ directory }) })
 * directory.set(b.peerId, b.listenAddresses()[0])       // direct-tcp://127.0.0.1:<port>
 * await a.send(b.peerId, bytes)
 * ```
 *
 * What it leaves out, compared with ygg(): no relays (every peer must be reachable at its directory address), no
 * encryption after the handshake, one connection per stream (no multiplexing). See docs/custom-transport.md.
 */
import net from 'node:net'
import { randomBytes } from 'node:crypto'
import {
  ConfigError, NotStartedError, ProtocolError, TimeoutError, UnreachableError, abortReason, createMeshStream,
  parsePeerId, peerIdFromBytes, peerIdToBytes, verify,
  type Identity, type Mesh, type MeshChannel, type MeshComponents, type MeshDialOptions, type MeshEvent, type MeshStream,
  type PeerId, type StreamController, type Topology, type TopologyPeer, type TransportFactory
} from '@axl/core'
import {
  FINISH_LENGTH, HELLO_LENGTH, KEY_LENGTH, REPLY_LENGTH, Status, decodeFinish, decodeGreeting, encodeFinish, encodeHello,
  encodeReply, sameBytes, signedBytes
} from './handshake.js'

/** URI scheme of this mesh's addresses (`direct-tcp://127.0.0.1:4001`). */
export const SCHEME = 'direct-tcp'

/** Options of directTcp(). */
export interface DirectTcpOptions {
  /** Where each peer listens: peer id → `host:port` (or `direct-tcp://host:port`); read at every dial, so it may change while running. */
  directory: ReadonlyMap<string, string> | ((peer: PeerId) => string | undefined)
  /** Where to listen, `host:port`. @default '127.0.0.1:0' (a free loopback port) */
  listen?: string
  /** Open TCP connections at most, inbound and outbound, handshakes included; more are refused. @default 256 */
  maxConnections?: number
  /** Deadline of the handshake on the listening side, ms. @default 5000 */
  handshakeTimeoutMs?: number
  /** Deadline of dial() (connect + handshake) when the caller gives no timeoutMs, ms. @default 10000 */
  dialTimeoutMs?: number
  /** Received bytes a stream buffers before its socket is paused (TCP's window then stops the sender). @default 1 MiB */
  streamBufferBytes?: number
  /** Bytes socket.write() queues before it returns false (the stream's send() then asks the writer to wait). @default 256 KiB */
  socketHighWaterMark?: number
}

/** The direct-TCP transport for createNode({ transport: directTcp(options) }). */
export function directTcp (opts: DirectTcpOptions): TransportFactory {
  return (components: MeshComponents) => new DirectTcpMesh(components, opts)
}

/** The logging this mesh needs: `@libp2p/logger`'s Logger (from components.logger) fits it. */
interface Log {
  (format: string, ...args: unknown[]): void
  error: (format: string, ...args: unknown[]) => void
}

/** Used when the factory is called without components.logger: errors to stderr, debug lines dropped. */
const fallbackLog: Log = Object.assign((_format: string, ..._args: unknown[]): void => {}, {
  error: (format: string, ...args: unknown[]): void => { console.error(`axl:direct-tcp ${format}`, ...args) }
})

/** One TCP connection of ours: a handshake in progress (`fail` set) or a stream (`controller` set). */
interface Conn {
  /** Abandon the handshake with this error (destroys the socket). */
  fail?: (err: Error) => void
  /** The stream's controller, once the handshake succeeded. */
  controller?: StreamController
  /** The authenticated remote, once known. */
  peer?: PeerId
  /** Link URI shown in the topology. */
  uri: string
  /** True when the remote dialled us. */
  inbound: boolean
  /** The channel an inbound stream asked for (set by its FINISH). */
  channel?: MeshChannel
}

/** A node's direct-TCP mesh. */
export class DirectTcpMesh implements Mesh {
  /** Carries AXL streams and custom-protocol streams. */
  readonly channels: readonly MeshChannel[] = ['axl', 'protocols']
  private readonly identity: Identity
  private readonly log: Log
  private readonly emit: (event: MeshEvent) => void
  private readonly maxConnections: number
  private readonly handshakeTimeoutMs: number
  private readonly dialTimeoutMs: number
  private readonly streamBufferBytes: number
  private readonly highWaterMark: number
  private readonly listenOn: { host: string, port: number }
  private readonly conns = new Map<net.Socket, Conn>()
  /** Inbound sockets being refused (busy), each closed within handshakeTimeoutMs; at most maxConnections. */
  private readonly refused = new Set<net.Socket>()
  /** Open streams per peer (for peer:connect / peer:disconnect and the topology); at most maxConnections entries. */
  private readonly peers = new Map<PeerId, { streams: number, uri: string, inbound: boolean }>()
  private handler: ((stream: MeshStream, channel: MeshChannel) => void) | undefined
  private server: net.Server | undefined
  private bound: string | undefined
  private state: 'new' | 'running' | 'stopped' = 'new'

  constructor (components: MeshComponents, private readonly opts: DirectTcpOptions) {
    this.identity = components.identity
    this.log = components.logger?.forComponent('axl:direct-tcp') ?? fallbackLog
    this.emit = components.events ?? (() => {})
    this.maxConnections = positive(opts.maxConnections, 256, 'maxConnections')
    this.handshakeTimeoutMs = positive(opts.handshakeTimeoutMs, 5_000, 'handshakeTimeoutMs')
    this.dialTimeoutMs = positive(opts.dialTimeoutMs, 10_000, 'dialTimeoutMs')
    this.streamBufferBytes = positive(opts.streamBufferBytes, 1024 * 1024, 'streamBufferBytes')
    this.highWaterMark = positive(opts.socketHighWaterMark, 256 * 1024, 'socketHighWaterMark')
    const listen = parseHostPort(opts.listen ?? '127.0.0.1:0')
    if (listen === undefined) throw new ConfigError(`directTcp listen must be host:port, got ${String(opts.listen)}`)
    this.listenOn = listen
  }

  async start (): Promise<void> {
    if (this.state !== 'new') return
    const server = net.createServer({ allowHalfOpen: true, noDelay: true, highWaterMark: this.highWaterMark }, socket => { this.accept(socket) })
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen({ host: this.listenOn.host, port: this.listenOn.port }, () => { server.removeListener('error', reject); resolve() })
    })
    server.on('error', (err: Error) => { this.log.error('listener error: %s', err.message) })
    const addr = server.address() as net.AddressInfo
    this.server = server
    this.bound = `${SCHEME}://${formatHostPort(this.listenOn.host, addr.port)}`
    this.state = 'running'
    this.log('listening on %s', this.bound)
    this.emit({ type: 'listening', addresses: [this.bound] })
  }

  async stop (): Promise<void> {
    if (this.state !== 'running') { this.state = 'stopped'; return }
    this.state = 'stopped'
    this.handler = undefined
    const stopping = new NotStartedError('the direct-tcp mesh is stopping')
    for (const [socket, conn] of this.conns) {
      conn.fail?.(stopping)
      conn.controller?.reset('node stopped')
      socket.destroy()
    }
    for (const socket of this.refused) socket.destroy()
    const server = this.server
    this.server = undefined
    if (server !== undefined) await new Promise<void>(resolve => { server.close(() => { resolve() }) })
  }

  handle (handler: (stream: MeshStream, channel?: MeshChannel) => void): void { this.handler = handler }

  addresses (): string[] { return this.bound === undefined ? [] : [this.bound] }

  /**
   * Open a stream to `peer`: resolves once the remote proved its key and accepted the stream. Rejects with
   * UnreachableError (not in the directory, nothing listening, wrong key, refused), TimeoutError (`timeoutMs`,
   * default dialTimeoutMs), AbortError (`signal`) or NotStartedError (stopped meanwhile).
   */
  async dial (peer: PeerId, opts: MeshDialOptions = {}): Promise<MeshStream> {
    if (this.state !== 'running') throw new NotStartedError('the direct-tcp mesh is not running')
    const to = parsePeerId(peer)
    const { signal } = opts
    if (signal?.aborted === true) throw abortReason(signal)
    const entry = typeof this.opts.directory === 'function' ? this.opts.directory(to) : this.opts.directory.get(to)
    if (entry === undefined) throw new UnreachableError(to, 'not in the directory')
    const target = parseHostPort(entry)
    if (target === undefined) throw new UnreachableError(to, `its directory entry ${JSON.stringify(entry)} is not host:port`)
    if (this.conns.size >= this.maxConnections) throw new UnreachableError(to, `this node has ${this.maxConnections} connections open (maxConnections)`)
    const where = formatHostPort(target.host, target.port)
    const timeoutMs = opts.timeoutMs ?? this.dialTimeoutMs

    // highWaterMark is honoured by net.Socket but missing from @types/node's NetConnectOpts.
    const socket = net.connect({ host: target.host, port: target.port, allowHalfOpen: true, noDelay: true, highWaterMark: this.highWaterMark } as net.NetConnectOpts)
    const reader = new HandshakeReader(socket)
    const conn: Conn = { uri: `${SCHEME}://${where}`, inbound: false }
    this.conns.set(socket, conn)
    let failure: Error | undefined
    conn.fail = (err: Error) => { failure ??= err; reader.fail(err); socket.destroy() }
    const timer = setTimeout(() => { conn.fail?.(new TimeoutError(`dialling ${to} at ${where} timed out after ${timeoutMs} ms`)) }, timeoutMs)
    const onAbort = (): void => { conn.fail?.(abortReason(signal!)) }
    signal?.addEventListener('abort', onAbort, { once: true })
    try {
      const ourKey = this.identity.publicKey
      const ourNonce = randomBytes(KEY_LENGTH)
      socket.write(encodeHello(ourKey, ourNonce)) // queued by Node until the connection is up
      const reply = decodeGreeting(await reader.read(REPLY_LENGTH))
      if (!sameBytes(reply.publicKey, peerIdToBytes(to))) {
        throw new UnreachableError(to, `the node at ${where} has key ${peerIdFromBytes(reply.publicKey)}, not the directory's (an impostor or a stale entry)`)
      }
      const transcript = { dialerKey: ourKey, dialerNonce: ourNonce, listenerKey: reply.publicKey, listenerNonce: reply.nonce }
      if (reply.signature === undefined || !verify(reply.publicKey, signedBytes('listener', transcript), reply.signature)) {
        throw new UnreachableError(to, `the node at ${where} did not prove it holds ${to}'s key (bad signature)`)
      }
      socket.write(encodeFinish(this.identity.sign(signedBytes('dialer', transcript)), opts.channel ?? 'axl'))
      const status = (await reader.read(1))[0]
      if (status === Status.busy) throw new UnreachableError(to, `${where} is busy (its maxConnections reached)`)
      if (status !== Status.accepted) throw new UnreachableError(to, `${where} is not accepting streams (status ${status})`)
      if (this.state !== 'running') throw new NotStartedError('the direct-tcp mesh stopped during the dial')
      conn.fail = undefined
      return this.open(socket, conn, to, 'outbound', reader.detach())
    } catch (err) {
      conn.fail = undefined
      socket.destroy()
      this.conns.delete(socket)
      if (failure !== undefined) throw failure
      if (err instanceof UnreachableError || err instanceof NotStartedError) throw err
      if (reader.refusedBusy) throw new UnreachableError(to, `${where} is busy (its maxConnections reached)`)
      const cause = reader.socketError ?? err
      const code = (cause as NodeJS.ErrnoException).code
      const why = code === 'ECONNREFUSED' ? `nothing accepts connections at ${where} (${code})` : `handshake with ${where} failed: ${cause instanceof Error ? cause.message : String(cause)}`
      throw new UnreachableError(to, why, { cause })
    } finally {
      clearTimeout(timer)
      signal?.removeEventListener('abort', onAbort)
    }
  }

  topology (): Topology {
    const me = this.identity.peerId
    const peers: TopologyPeer[] = [...this.peers].map(([key, p]) => ({ uri: p.uri, up: true, inbound: p.inbound, publicKey: key, root: '', port: 0 }))
    // No tree: every node is its own root.
    return { ourPublicKey: me, ourIpv6: this.identity.address, root: me, parent: me, coords: [], peers, tree: [{ publicKey: me, parent: me, sequence: 0 }] }
  }

  /** An inbound TCP connection: bounded, then the listener's side of the handshake under its deadline. */
  private accept (socket: net.Socket): void {
    const uri = `${SCHEME}://${formatHostPort(socket.remoteAddress ?? '?', socket.remotePort ?? 0)}`
    if (this.state !== 'running' || this.conns.size >= this.maxConnections) {
      this.refuse(socket, uri, Status.busy)
      return
    }
    void this.serve(socket, uri)
  }

  /**
   * Refuse a connection with a one-byte verdict (busy: read by the dialer where it expects a REPLY, so it fails fast
   * instead of waiting for its deadline; not accepting: after the handshake). Such sockets are bounded too: at most
   * maxConnections, each closed within handshakeTimeoutMs.
   */
  private refuse (socket: net.Socket, uri: string, status: number): void {
    this.log('refusing %s: %s', uri, status === Status.notAccepting ? 'no stream handler' : this.state !== 'running' ? 'stopped' : `${this.maxConnections} connections open`)
    socket.on('error', (err: Error) => { this.log('refused connection %s: %s', uri, err.message) })
    if (this.refused.size >= this.maxConnections) { socket.destroy(); return }
    this.refused.add(socket)
    const timer = setTimeout(() => { socket.destroy() }, this.handshakeTimeoutMs)
    socket.once('close', () => { clearTimeout(timer); this.refused.delete(socket) })
    socket.resume() // read and drop what it sends, so its FIN is seen and the socket closes
    socket.end(Uint8Array.of(status))
  }

  /** Run the listener's handshake under its deadline and hand the stream to the node; failures are logged and reported as link:error. */
  private async serve (socket: net.Socket, uri: string): Promise<void> {
    const reader = new HandshakeReader(socket)
    const conn: Conn = { uri, inbound: true }
    this.conns.set(socket, conn)
    conn.fail = (err: Error) => { reader.fail(err); socket.destroy() }
    const timer = setTimeout(() => { conn.fail?.(new TimeoutError(`handshake from ${uri} timed out after ${this.handshakeTimeoutMs} ms`)) }, this.handshakeTimeoutMs)
    try {
      const stream = await this.answerHandshake(socket, reader, conn)
      if (stream === undefined) return
      const handler = this.handler
      if (handler === undefined) { stream.abort('node stopped'); return }
      handler(stream, conn.channel ?? 'axl')
    } catch (err) {
      const error = err instanceof Error ? err : new ProtocolError(String(err))
      socket.destroy()
      this.conns.delete(socket)
      if (this.state !== 'running') return
      this.log('inbound handshake from %s failed: %s', uri, error.message)
      this.emit({ type: 'link:error', uri, inbound: true, error })
    } finally {
      clearTimeout(timer)
    }
  }

  /** The listener's side: HELLO → REPLY → FINISH (verify) → STATUS. Resolves with the stream, or undefined when refused. */
  private async answerHandshake (socket: net.Socket, reader: HandshakeReader, conn: Conn): Promise<MeshStream | undefined> {
    const hello = decodeGreeting(await reader.read(HELLO_LENGTH))
    const ourNonce = randomBytes(KEY_LENGTH)
    const transcript = { dialerKey: hello.publicKey, dialerNonce: hello.nonce, listenerKey: this.identity.publicKey, listenerNonce: ourNonce }
    socket.write(encodeReply(this.identity.publicKey, ourNonce, this.identity.sign(signedBytes('listener', transcript))))
    const finish = decodeFinish(await reader.read(FINISH_LENGTH))
    if (!verify(hello.publicKey, signedBytes('dialer', transcript), finish.signature)) {
      throw new ProtocolError(`the dialer did not prove it holds the key it claimed (${peerIdFromBytes(hello.publicKey)})`)
    }
    conn.fail = undefined
    if (this.state !== 'running' || this.handler === undefined) {
      reader.detach()
      this.conns.delete(socket)
      this.refuse(socket, conn.uri, Status.notAccepting)
      return undefined
    }
    socket.write(Uint8Array.of(Status.accepted))
    conn.channel = finish.channel
    return this.open(socket, conn, peerIdFromBytes(hello.publicKey), 'inbound', reader.detach())
  }

  /** The handshake is done: the socket becomes a MeshStream (bytes, FIN, RST, backpressure both ways). */
  private open (socket: net.Socket, conn: Conn, peer: PeerId, direction: 'inbound' | 'outbound', early: Buffer): MeshStream {
    let socketError: Error | undefined
    let remoteEnded = false
    const { stream, controller } = createMeshStream({
      remotePeer: peer, // the key the handshake authenticated
      direction,
      readableHighWaterMark: this.streamBufferBytes,
      sink: {
        write: (data, owned) => {
          if (socket.destroyed || socket.writableEnded) return true // the close handler resets the stream
          // socket.write keeps a reference until the bytes are out: copy unless the caller handed the buffer over.
          return socket.write(owned === true ? data : data.slice())
        },
        end: () => { if (!socket.destroyed) socket.end() },
        reset: (reason) => {
          this.log('resetting stream %s with %s: %s', direction, peer, reason)
          if (!socket.destroyed) socket.resetAndDestroy() // RST: the remote's reads fail
        }
      },
      onConsumed: () => { if (socket.isPaused() && !stream.readableFull && !socket.destroyed) socket.resume() }
    })
    conn.controller = controller
    conn.peer = peer
    this.peerUp(peer, conn)
    socket.on('data', (chunk: Buffer) => {
      controller.deliver(chunk)
      if (stream.readableFull) socket.pause() // stop reading: the kernel's buffer fills, TCP's window closes, the writer's socket.write returns false
    })
    socket.on('end', () => { remoteEnded = true; controller.end() })
    socket.on('drain', () => { controller.drain() })
    socket.on('error', (err: Error) => { socketError ??= err })
    socket.once('close', () => {
      this.conns.delete(socket)
      this.peerDown(peer, socketError)
      if (stream.status === 'open' && (socketError !== undefined || !remoteEnded)) controller.reset(socketError?.message ?? 'connection closed')
    })
    if (early.length > 0) controller.deliver(early)
    if (socket.isPaused() && !stream.readableFull) socket.resume()
    return stream
  }

  private peerUp (peer: PeerId, conn: Conn): void {
    const p = this.peers.get(peer)
    if (p !== undefined) { p.streams++; return }
    this.peers.set(peer, { streams: 1, uri: conn.uri, inbound: conn.inbound })
    this.emit({ type: 'peer:connect', peer, uri: conn.uri, inbound: conn.inbound })
  }

  private peerDown (peer: PeerId, error: Error | undefined): void {
    const p = this.peers.get(peer)
    if (p === undefined) return
    if (--p.streams > 0) return
    this.peers.delete(peer)
    this.emit({ type: 'peer:disconnect', peer, uri: p.uri, inbound: p.inbound, ...(error !== undefined ? { error } : {}) })
  }
}

/**
 * Reads exact byte counts from a socket during the handshake. The socket is paused whenever no read is waiting,
 * so it holds at most one socket chunk beyond what was asked for; what follows the handshake is handed to the stream.
 */
class HandshakeReader {
  /** The socket's own error (e.g. ECONNREFUSED), if it failed. */
  socketError: Error | undefined
  private buf: Buffer = Buffer.alloc(0)
  private waiter: { n: number, resolve: (b: Buffer) => void, reject: (e: Error) => void } | undefined
  private failure: Error | undefined

  constructor (private readonly socket: net.Socket) {
    socket.pause()
    socket.on('data', this.onData)
    socket.on('error', this.onError)
    socket.on('close', this.onClose)
    socket.on('end', this.onEnd)
  }

  /** Resolves with the next `n` bytes; rejects when the socket ends, fails, or fail() is called. */
  async read (n: number): Promise<Buffer> {
    if (this.failure !== undefined) throw this.failure
    if (this.buf.length >= n) return this.take(n)
    return await new Promise<Buffer>((resolve, reject) => {
      this.waiter = { n, resolve, reject }
      this.socket.resume()
    })
  }

  /** Fail the pending and later reads with `err`. */
  fail (err: Error): void {
    this.failure ??= err
    const w = this.waiter
    this.waiter = undefined
    w?.reject(this.failure)
  }

  /** True when the listener answered with the one-byte busy verdict instead of a REPLY. */
  get refusedBusy (): boolean { return this.buf.length === 1 && this.buf[0] === Status.busy }

  /** Stop reading for the handshake; returns the bytes that arrived after it (the socket stays paused). */
  detach (): Buffer {
    this.socket.pause()
    this.socket.removeListener('data', this.onData)
    this.socket.removeListener('error', this.onError)
    this.socket.removeListener('close', this.onClose)
    this.socket.removeListener('end', this.onEnd)
    const rest = this.buf
    this.buf = Buffer.alloc(0)
    return rest
  }

  private take (n: number): Buffer {
    const out = this.buf.subarray(0, n)
    this.buf = this.buf.subarray(n)
    return out
  }

  private readonly onData = (chunk: Buffer): void => {
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk])
    const w = this.waiter
    if (w === undefined || this.buf.length < w.n) return
    this.waiter = undefined
    this.socket.pause()
    w.resolve(this.take(w.n))
  }

  private readonly onError = (err: Error): void => { this.socketError ??= err }
  private readonly onEnd = (): void => { this.fail(new ProtocolError('the remote closed the connection during the handshake')) }
  private readonly onClose = (): void => { this.fail(this.socketError ?? new ProtocolError('the connection closed during the handshake')) }
}

/** `host:port`, `[v6]:port` or `direct-tcp://…` → host and port; undefined when malformed. */
export function parseHostPort (s: string): { host: string, port: number } | undefined {
  const m = /^(?:direct-tcp:\/\/)?(?:\[([^\]]+)\]|([^:[\]/]+)):(\d{1,5})$/.exec(s)
  if (m === null) return undefined
  const port = Number(m[3])
  return port <= 65535 ? { host: m[1] ?? m[2], port } : undefined
}

function formatHostPort (host: string, port: number): string {
  return `${host.includes(':') ? `[${host}]` : host}:${port}`
}

function positive (v: number | undefined, dflt: number, name: string): number {
  if (v === undefined) return dflt
  if (!Number.isInteger(v) || v < 1) throw new ConfigError(`directTcp ${name} must be a positive integer, got ${String(v)}`)
  return v
}
