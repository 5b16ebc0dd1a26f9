/**
 * `ygg()`: the whole stack behind the core Mesh interface, as Go AXL builds it —
 * Yggdrasil links (tcp/tls/ws/wss/unix, the `meta` handshake; or Noise under `noise+<scheme>://`) → ironwood network layer → ironwood encrypted sessions → IPv6 packets
 * between 200::/7 addresses → userspace TCP → a stream per connection to the peer's port 7000.
 *
 * ```ts
 * const node = await createNode({ transport: ygg({ peers: ['tls://relay.example:9001'] }) })
 * ```
 */
import {
  MeshStream, NotStartedError, UnreachableError, UnsupportedProtocolError, TimeoutError, AbortError, ConfigError,
  formatIpv6, peerIdFromBytes, peerIdToBytes,
  type Mesh, type MeshChannel, type MeshComponents, type MeshDialOptions, type MeshEvent, type PeerId, type Topology, type TopologyPeer, type TransportFactory, type WaitOptions
} from '@axl/core'
import { defaultLogger, type Logger } from '@libp2p/logger'
import { Links, type LinkConn, type LinkType, type BackoffOptions, type LinksOptions } from '../links/index.js'
import { Overlay } from '../network/overlay.js'
import { yggdrasilTransform } from '../network/bloom.js'
import { ed25519Signer } from '../crypto.js'
import type { RouterOptions } from '../network/router.js'
import { systemClock, type Clock, type TimerHandle } from '../clock.js'
import { SessionManager } from '../session/session.js'
import { TcpStack } from '../tcp/stack.js'
import type { TcpConnection } from '../tcp/connection.js'
import { ConnectionRefusedError } from '../tcp/errors.js'
import { AddressBook } from '../ipv6/address-book.js'
import { tcpConnectionStream } from './tcp-stream.js'

/** How often the tree's root is checked for `root:change` events, ms. */
const ROOT_CHECK_MS = 1_000

/** Default IPv6 MTU (see `YggOptions.mtu`): 65519 bytes of Noise plaintext minus up to ~240 bytes of headers. */
export const DEFAULT_MTU = 65280

/**
 * Send and receive buffer of each overlay TCP connection (the TCP stack's default is gVisor's 1 MiB). A 1 MiB
 * window made a bulk sender and its receiver take turns; 4 MiB keeps both busy. The receive buffer is only
 * filled while the application does not read (a paused stream), and the send buffer only holds what was
 * written and not yet acknowledged, so idle connections cost nothing extra.
 */
export const TCP_BUFFER_BYTES = 4 * 1024 * 1024

/** Options of the Yggdrasil transport. */
export interface YggOptions {
  /**
   * Peers to dial and keep dialled: Yggdrasil link URIs as in a yggdrasil-go or Go AXL config, e.g.
   * `tls://relay.example:9001`, `tcp://…`, `ws://host:80/ygg`, `unix:///run/ygg.sock`, with the options `key=<hex>`
   * (pin the remote key), `priority=`, `password=`, `maxbackoff=`; or `noise+tcp://…` for Noise links between TS
   * nodes. Default: none.
   */
  peers?: string[]
  /** Listen URIs, e.g. `tls://0.0.0.0:9001`, `tcp://[::]:0` (port 0 picks one; the bound URIs are in `listening`). Default: none. */
  listen?: string[]
  /** Extra link types (tcp, tls, ws, wss, unix and memory are built in). */
  linkTypes?: LinkType[]
  /** Accept inbound links only from these keys (hex or bytes). Default: anyone. */
  allowedPublicKeys?: Array<string | Uint8Array>
  /** The overlay TCP port AXL streams use; all nodes must agree. Default 7000, as Go AXL. */
  tcpPort?: number
  /**
   * The overlay TCP port of custom protocols (`node.handle('/proto/1.0', …)`, `node.dialProtocol`). A separate
   * port, so a Go AXL node (which listens on tcpPort only) refuses such a stream instead of reading it as a
   * message. Default 7100 (7101 when tcpPort is 7100): far from the tcp_port values AXL users pick.
   */
  protocolPort?: number
  /**
   * IPv6 MTU of our TCP. Default 65280: a full-size packet, with its session and overlay headers, still fits in
   * one Noise message (65519 bytes), so links neither split nor reassemble it and relays forward it in place.
   * Go AXL uses 1280; TCP's MSS option settles the difference.
   */
  mtu?: number
  /** How long dial() waits for a never-contacted or offline key before UnreachableError. Default 15 s. */
  connectTimeoutMs?: number
  /** Link handshake deadline. Default 6 s for Yggdrasil links (as yggdrasil-go), 10 s for Noise links. */
  handshakeTimeoutMs?: number
  /** Redial backoff of configured peers. */
  backoff?: BackoffOptions
  /**
   * Bounds of the link layer against floods and misbehaving peers (see LinksOptions): handshakes in progress
   * (128, of which 16 per remote host), inbound links (1024), and the backoff of a peer whose link was closed
   * for invalid frames (5 s, doubling to 10 min).
   */
  linkBounds?: Pick<LinksOptions, 'maxPendingHandshakes' | 'maxPendingPerHost' | 'maxInboundLinks' | 'violationBackoff'>
  /** Time source (tests use a VirtualClock). */
  clock?: Clock
  /** Network-layer tuning (timers, frame size, bloom transform: default `yggdrasilTransform`, as every Yggdrasil node). */
  overlay?: Partial<Omit<RouterOptions, 'signer' | 'clock'>>
}

/** Counters of the glue between sessions and TCP. */
export interface YggStats {
  /** IPv6 packets dropped because their source address did not match the authenticated session key. */
  spoofedDropped: number
  /** Inbound packets dropped for another reason (not IPv6, not for us, malformed). */
  inboundDropped: number
  /** Outbound packets dropped because the destination address's full key is unknown. */
  noKeyDropped: number
}

/** The Yggdrasil transport for createNode({ transport: ygg(options) }). */
export function ygg (opts: YggOptions = {}): TransportFactory {
  return (components: MeshComponents) => new YggMesh(components, opts)
}

/** One node's whole overlay stack, as a Mesh. */
export class YggMesh implements Mesh {
  /** Glue counters. */
  readonly stats: YggStats = { spoofedDropped: 0, inboundDropped: 0, noKeyDropped: 0 }
  /** Bound listen URIs (after start). */
  listening: string[] = []
  readonly links: Links
  readonly overlay: Overlay
  readonly sessions: SessionManager
  readonly tcp: TcpStack
  private readonly book = new AddressBook()
  private readonly ourAddress: Uint8Array
  private readonly publicKey: Uint8Array
  private readonly tcpPort: number
  private readonly protocolPort: number
  /** This mesh carries AXL streams and custom-protocol streams. */
  readonly channels: readonly MeshChannel[] = ['axl', 'protocols']
  private readonly connectTimeoutMs: number
  private handler: ((s: MeshStream, channel: MeshChannel) => void) | undefined
  private listener: { close: () => void } | undefined
  private protocolListener: { close: () => void } | undefined
  private state: 'new' | 'running' | 'stopped' = 'new'
  private readonly clock: Clock
  private readonly log: Logger
  private readonly emit: (event: MeshEvent) => void
  private rootTimer: TimerHandle | undefined
  private lastRoot = ''

  constructor (components: MeshComponents, private readonly opts: YggOptions) {
    const { identity } = components
    this.log = (components.logger ?? defaultLogger()).forComponent('axl:ygg')
    this.emit = components.events ?? (() => {})
    this.tcpPort = opts.tcpPort ?? 7000
    if (!Number.isInteger(this.tcpPort) || this.tcpPort < 1 || this.tcpPort > 65535) throw new ConfigError(`tcpPort must be 1..65535, got ${String(opts.tcpPort)}`)
    this.protocolPort = opts.protocolPort ?? (this.tcpPort === 7100 ? 7101 : 7100)
    if (!Number.isInteger(this.protocolPort) || this.protocolPort < 1 || this.protocolPort > 65535 || this.protocolPort === this.tcpPort) {
      throw new ConfigError(`protocolPort must be 1..65535 and differ from tcpPort (${this.tcpPort}), got ${String(opts.protocolPort)}`)
    }
    this.connectTimeoutMs = opts.connectTimeoutMs ?? 15_000
    const clock = opts.clock ?? systemClock()
    this.clock = clock
    const mtu = opts.mtu ?? DEFAULT_MTU
    if (!Number.isInteger(mtu) || mtu < 1280 || mtu > 65535) throw new ConfigError(`mtu must be 1280..65535, got ${String(opts.mtu)}`)
    this.publicKey = identity.publicKey
    this.ourAddress = this.book.learn(identity.publicKey)
    const signer = ed25519Signer(identity.seed)
    this.overlay = new Overlay({ bloomTransform: yggdrasilTransform, ...opts.overlay, signer, clock })
    this.sessions = new SessionManager({
      identity: { seed: identity.seed, publicKey: identity.publicKey, sign: data => identity.sign(data) },
      send: (key, payload, headroom) => { this.overlay.sendTo(key, payload, headroom) },
      clock,
      maxMessageSize: 1 + mtu // Yggdrasil's 0x01 type byte + one IPv6 packet
    })
    this.overlay.onPacket = (source, payload) => { this.sessions.handlePacket(source, payload) }
    this.sessions.onMessage = (source, plaintext) => { this.fromSession(source, plaintext) }
    this.tcp = new TcpStack({
      address: this.ourAddress,
      output: packet => { this.toSession(packet) },
      clock,
      mtu,
      sendBuffer: TCP_BUFFER_BYTES,
      recvBuffer: TCP_BUFFER_BYTES,
      // Every packet reaches tcp.input() through fromSession: its session's Poly1305 tag authenticated it.
      skipInboundChecksum: true
    })
    this.links = new Links({
      identity: { seed: identity.seed, publicKey: identity.publicKey },
      clock,
      onConn: conn => { this.linkUp(conn) },
      onLinkError: (error, info) => { if (this.state === 'running') this.emit({ type: 'link:error', uri: info.uri, inbound: info.inbound, error }) },
      ...(opts.linkTypes !== undefined ? { linkTypes: opts.linkTypes } : {}),
      ...(opts.allowedPublicKeys !== undefined ? { allowedPublicKeys: opts.allowedPublicKeys } : {}),
      ...(opts.handshakeTimeoutMs !== undefined ? { handshakeTimeoutMs: opts.handshakeTimeoutMs } : {}),
      ...(opts.backoff !== undefined ? { backoff: opts.backoff } : {}),
      ...opts.linkBounds
    })
  }

  async start (): Promise<void> {
    if (this.state !== 'new') return
    this.state = 'running'
    this.listener = this.tcp.listen(this.tcpPort, conn => { this.accept(conn, 'axl') })
    this.protocolListener = this.tcp.listen(this.protocolPort, conn => { this.accept(conn, 'protocols') })
    try {
      this.listening = await Promise.all((this.opts.listen ?? []).map(async uri => await this.links.listen(uri)))
    } catch (err) {
      await this.stop()
      throw err
    }
    for (const uri of this.opts.peers ?? []) this.links.addPeer(uri)
    if (this.listening.length > 0) {
      this.log('listening on %s', this.listening.join(', '))
      this.emit({ type: 'listening', addresses: [...this.listening] })
    }
    this.lastRoot = this.overlay.root()
    this.watchRoot()
  }

  /** The link URIs we listen on, with the real ports. */
  addresses (): string[] { return [...this.listening] }

  /** A link is up: hand it to the network layer, report it, and report when it goes down. */
  private linkUp (conn: LinkConn): void {
    this.overlay.addPeer(conn)
    const peer = peerIdFromBytes(conn.remoteKey)
    this.log('link up: %s %s %s', peer, conn.inbound ? 'from' : 'to', conn.uri)
    this.emit({ type: 'peer:connect', peer, uri: conn.uri, inbound: conn.inbound })
    void conn.closed.then(err => {
      if (this.state === 'stopped') return
      this.log('link down: %s %s%s', peer, conn.uri, err !== undefined ? `: ${err.message}` : '')
      this.emit({ type: 'peer:disconnect', peer, uri: conn.uri, inbound: conn.inbound, ...(err !== undefined ? { error: err } : {}) })
    })
  }

  /** Checks the tree's root once a second (cheap: a walk up our ancestry) and reports changes. */
  private watchRoot (): void {
    this.rootTimer = this.clock.setTimeout(() => {
      if (this.state !== 'running') return
      const root = this.overlay.root()
      if (root !== this.lastRoot) {
        const previous = this.lastRoot
        this.lastRoot = root
        this.log('tree root is now %s (was %s)', root, previous)
        this.emit({ type: 'root:change', root: root as PeerId, previous: previous as PeerId })
      }
      this.watchRoot()
    }, ROOT_CHECK_MS)
  }

  async stop (): Promise<void> {
    if (this.state === 'stopped') return
    this.state = 'stopped'
    this.clock.clearTimeout(this.rootTimer)
    this.handler = undefined
    this.listener?.close()
    this.protocolListener?.close()
    this.tcp.close()
    this.sessions.close()
    this.overlay.close()
    await this.links.stop()
  }

  handle (handler: (stream: MeshStream, channel?: MeshChannel) => void): void { this.handler = handler }

  async dial (peer: PeerId, opts: MeshDialOptions = {}): Promise<MeshStream> {
    if (this.state !== 'running') throw new NotStartedError('the ygg mesh is not running')
    const key = peerIdToBytes(peer)
    const address = this.book.learn(key)
    const timeoutMs = Math.min(opts.timeoutMs ?? Infinity, this.connectTimeoutMs)
    const port = opts.channel === 'protocols' ? this.protocolPort : this.tcpPort
    let conn: TcpConnection
    try {
      conn = await this.tcp.connect(address, port, { ...(opts.signal !== undefined ? { signal: opts.signal } : {}), timeoutMs })
    } catch (err) {
      // With no link up, no deadline could have helped: say so (UnreachableError), not just that time ran out —
      // whether our connect timeout or the caller's deadline (a signal aborted with a TimeoutError) ran out.
      const timedOut = err instanceof TimeoutError || (opts.signal?.aborted === true && opts.signal.reason instanceof TimeoutError)
      if (timedOut && !this.links.peers().some(l => l.up)) {
        const why = this.links.peers().some(l => l.configured) ? 'its configured peers are down' : 'no peers configured and none connected'
        throw new UnreachableError(peer, `this node has no link up (${why})`, { cause: err })
      }
      if (err instanceof AbortError || opts.signal?.aborted === true) throw err
      if (opts.channel === 'protocols' && err instanceof ConnectionRefusedError) {
        throw new UnsupportedProtocolError(peer, 'custom protocols', `its overlay port ${port} refused the connection: it takes no custom protocols (a Go AXL node, or protocolPort differs)`, { cause: err })
      }
      if (err instanceof TimeoutError && opts.timeoutMs !== undefined && opts.timeoutMs <= this.connectTimeoutMs) throw err
      const why = err instanceof TimeoutError
        ? `no answer within ${timeoutMs} ms (no route to the key, or the node is offline)`
        : (err instanceof Error ? err.message : String(err))
      throw new UnreachableError(peer, why, { cause: err })
    }
    return tcpConnectionStream(conn, peer, 'outbound', STREAM_OPTIONS)
  }

  topology (): Topology {
    const t = this.overlay.topology()
    const peers: TopologyPeer[] = t.peers.map(p => ({
      uri: p.uri, up: p.up, inbound: p.inbound, publicKey: p.key as PeerId, root: (p.root ?? '') as PeerId | '', port: p.port,
      ...(p.rttMs !== undefined ? { rttMs: p.rttMs } : {})
    }))
    // Configured peers that are down still show (AXL lists them with up:false and an empty key).
    for (const l of this.links.peers()) {
      if (l.up || !l.configured) continue
      peers.push({ uri: l.uri, up: false, inbound: false, publicKey: '', root: '', port: 0 })
    }
    return {
      ourPublicKey: peerIdFromBytes(this.publicKey),
      ourIpv6: formatIpv6(this.ourAddress),
      root: t.root as PeerId,
      parent: t.parent as PeerId,
      coords: t.coords,
      peers,
      tree: t.tree.map(e => ({ publicKey: e.key as PeerId, parent: e.parent as PeerId, sequence: e.seq }))
    }
  }

  /** An inbound TCP connection to one of our ports: the remote's full key is the session key that carried its SYN. */
  private accept (conn: TcpConnection, channel: MeshChannel): void {
    const key = this.book.keyAt(conn.remoteAddress, 0)
    if (key === undefined || this.handler === undefined) { conn.reset(); return }
    this.handler(tcpConnectionStream(conn, peerIdFromBytes(key), 'inbound', STREAM_OPTIONS), channel)
  }

  /** Session plaintext → IPv6 → TCP, dropping packets whose source does not match the authenticated key. */
  private fromSession (source: Uint8Array, plaintext: Uint8Array): void {
    if (plaintext.length < 41 || plaintext[0] !== 0x01 || (plaintext[1] >> 4) !== 6) { this.stats.inboundDropped++; return }
    const packet = plaintext.subarray(1)
    const expected = this.book.addressOfKey(source)
    if (!equal16(packet, 8, expected)) { this.stats.spoofedDropped++; return }
    if (!equal16(packet, 24, this.ourAddress)) { this.stats.inboundDropped++; return }
    this.book.learn(source)
    this.tcp.input(packet)
  }

  /**
   * TCP → IPv6 → Yggdrasil payload (0x01 ‖ packet) → session to the key that owns the destination. The type
   * byte and the packet are sealed as two parts, so the packet is not copied just to prefix it.
   */
  private toSession (packet: Uint8Array): void {
    const key = this.book.keyAt(packet, 24)
    if (key === undefined) { this.stats.noKeyDropped++; return }
    this.sessions.sendParts(key, [TYPE_IPV6, packet])
  }
}

/**
 * Received TCP data is kept as views: tcp.input() only ever gets session plaintexts, each decrypted into a
 * buffer of its own (fromSession passes a subarray of it, which is never reused or modified).
 */
const STREAM_OPTIONS = { inputOwned: true } as const

/** Yggdrasil's payload type byte for an IPv6 packet (shared, never modified). */
const TYPE_IPV6 = Uint8Array.of(0x01)

function equal16 (packet: Uint8Array, offset: number, addr: Uint8Array): boolean {
  for (let i = 0; i < 16; i++) if (packet[offset + i] !== addr[i]) return false
  return true
}
