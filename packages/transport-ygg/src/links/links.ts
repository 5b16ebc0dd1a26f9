/**
 * Links manager: listens on link URIs, dials configured peers (and redials them with capped exponential
 * backoff with jitter), secures every link with Noise XX and hands each authenticated link to the network
 * layer as a PeerConn (`onConn`). Several links to one key are allowed; the router shares one port per key.
 */
import '../polyfill.js'
import { AbortError, ConfigError, TimeoutError } from '@axl/core'
import { systemClock, type Clock, type TimerHandle } from '../clock.js'
import type { PeerConn } from '../peer-conn.js'
import { LinkRefusedError } from './errors.js'
import type { LinkListener, LinkType, RawDuplex } from './link-type.js'
import { memoryLinkType } from './memory.js'
import { NoiseSecurer, bytesEqual, toHex, type LinkByteCounters, type LinkIdentity, type NoisePeerConn } from './noise-link.js'
import { tcpLinkType } from './tcp.js'
import { wsLinkType } from './ws.js'

/** Redial backoff of configured peers: wait `min(maxMs, initialMs·2^n)·(1 − jitter·random)` after the n-th failure. */
export interface BackoffOptions {
  /** First wait in ms (default 1000). */
  initialMs?: number
  /** Cap in ms (default 60 000). */
  maxMs?: number
  /** Fraction of the wait randomly taken off, 0..1 (default 0.25). */
  jitter?: number
}

/** Options of `new Links()`. */
export interface LinksOptions {
  /** Our ed25519 identity (32-byte seed + 32-byte public key). */
  identity: LinkIdentity
  /** Called with every authenticated link (inbound and outbound). */
  onConn: (conn: PeerConn) => void
  /** Timer source (default `systemClock()`). */
  clock?: Clock
  /** Extra link types; they are added to the defaults (tcp, ws, memory) and replace a default of the same scheme. */
  linkTypes?: LinkType[]
  /** When set, inbound links from other keys are closed right after the handshake (32-byte keys or 64-char hex). */
  allowedPublicKeys?: Array<Uint8Array | string>
  /** Noise handshake deadline in ms, both directions (default 10 000). */
  handshakeTimeoutMs?: number
  /** Deadline for opening the raw connection of an outbound link, in ms (default: handshakeTimeoutMs). */
  dialTimeoutMs?: number
  /** A graceful close that has not finished after this many ms drops the socket (default 5 000). */
  closeTimeoutMs?: number
  /** Redial backoff of configured peers. */
  backoff?: BackoffOptions
  /** Random source for the jitter (default Math.random). */
  random?: () => number
  /** Called when a link fails before it is up (dial, handshake, refusal) or an up link closes with an error. */
  onLinkError?: (err: Error, info: { uri: string, inbound: boolean }) => void
}

/** One row of `Links.peers()`: a configured peer (up or down) or a live unconfigured link. */
export interface LinkInfo {
  /** Configured URI, or the remote URI of an inbound link. */
  uri: string
  /** True when the link is established. */
  up: boolean
  /** True when the remote dialled us. */
  inbound: boolean
  /** True for peers added with addPeer (redialled). */
  configured: boolean
  /** Authenticated remote key, when up. */
  remoteKey?: Uint8Array
  /** Last dial or link error of a configured peer. */
  lastError?: string
  /** Clock time of the next dial attempt of a configured peer that is down. */
  nextDialAt?: number
}

/** Counters of a Links manager. */
export interface LinksStats extends LinkByteCounters {
  /** Outbound dial attempts. */
  dials: number
  /** Outbound attempts that failed before a link was up (connect, handshake or refusal). */
  dialFailures: number
  /** Inbound raw connections accepted by listeners. */
  inbound: number
  /** Noise handshakes that succeeded. */
  handshakesOk: number
  /** Noise handshakes that failed (including deadlines). */
  handshakesFailed: number
  /** Of which: handshake deadlines. */
  handshakeTimeouts: number
  /** Links closed after the handshake: key not allowed, or link to self. */
  refused: number
  /** Links currently up. */
  linksUp: number
}

interface ConfiguredPeer {
  uri: string
  url: URL
  expectedKey?: Uint8Array
  priority: number
  attempt: number
  conn?: NoisePeerConn
  timer?: TimerHandle
  dialing?: AbortController
  lastError?: string
  nextDialAt?: number
  removed: boolean
}

function parseKey (k: Uint8Array | string, what: string): Uint8Array {
  if (typeof k !== 'string') {
    if (k.byteLength !== 32) throw new ConfigError(`${what} must be 32 bytes`)
    return new Uint8Array(k)
  }
  if (!/^[0-9a-fA-F]{64}$/.test(k)) throw new ConfigError(`${what} must be 64 hex characters`)
  const out = new Uint8Array(32)
  for (let i = 0; i < 32; i++) out[i] = parseInt(k.slice(2 * i, 2 * i + 2), 16)
  return out
}

/** Manages the links of one node: listeners, configured peers with redial, and Noise-secured PeerConns. */
export class Links {
  /** Counters (live object). */
  readonly stats: LinksStats = { dials: 0, dialFailures: 0, inbound: 0, handshakesOk: 0, handshakesFailed: 0, handshakeTimeouts: 0, refused: 0, linksUp: 0, bytesIn: 0, bytesOut: 0 }
  private readonly opts: LinksOptions
  private readonly clock: Clock
  private readonly types = new Map<string, LinkType>()
  private readonly allowed: Uint8Array[] | undefined
  private readonly selfKey: Uint8Array
  private readonly ready: Promise<NoiseSecurer>
  private readonly listeners = new Set<LinkListener>()
  private readonly configured = new Map<string, ConfiguredPeer>()
  private readonly conns = new Set<NoisePeerConn>()
  private readonly adhocDials = new Set<AbortController>()
  /** Every raw duplex not yet closed, with a promise of its close. */
  private readonly raws = new Map<RawDuplex, Promise<void>>()
  private readonly backoff: Required<BackoffOptions>
  private readonly random: () => number
  private stopped = false

  constructor (opts: LinksOptions) {
    this.opts = opts
    this.clock = opts.clock ?? systemClock()
    this.random = opts.random ?? Math.random
    this.backoff = { initialMs: opts.backoff?.initialMs ?? 1000, maxMs: opts.backoff?.maxMs ?? 60_000, jitter: opts.backoff?.jitter ?? 0.25 }
    if (!(this.backoff.initialMs > 0) || !(this.backoff.maxMs >= this.backoff.initialMs) || !(this.backoff.jitter >= 0 && this.backoff.jitter <= 1)) {
      throw new ConfigError('backoff needs 0 < initialMs <= maxMs and 0 <= jitter <= 1')
    }
    for (const t of [tcpLinkType(), wsLinkType(), memoryLinkType(), ...(opts.linkTypes ?? [])]) {
      for (const s of t.schemes) this.types.set(s.toLowerCase().replace(/:$/, ''), t)
    }
    this.allowed = opts.allowedPublicKeys?.map((k, i) => parseKey(k, `allowedPublicKeys[${i}]`))
    this.selfKey = parseKey(opts.identity.publicKey, 'identity.publicKey')
    this.ready = NoiseSecurer.create(opts.identity, { clock: this.clock, handshakeTimeoutMs: opts.handshakeTimeoutMs, closeTimeoutMs: opts.closeTimeoutMs })
    this.ready.catch(() => {}) // reported by listen()/dial(); addPeer records it as lastError
  }

  /** Listen on a link URI (e.g. `tcp://127.0.0.1:0`); resolves with the bound URI (real port). */
  async listen (uri: string): Promise<string> {
    this.assertRunning()
    const url = this.parse(uri)
    const type = this.typeFor(url)
    const securer = await this.ready
    this.assertRunning()
    let boundUri = uri
    const listener = await type.listen(url, (raw) => { this.accept(securer, raw, boundUri) })
    boundUri = listener.uri
    if (this.stopped) { await listener.close(); throw new AbortError('links stopped') }
    this.listeners.add(listener)
    return listener.uri
  }

  /**
   * Add a configured peer: dialled now, and redialled with backoff whenever the link drops or a dial fails.
   * The URI may carry `?key=<64 hex>` (the remote must authenticate as that key) and `?priority=N`.
   * Adding a URI that is already configured and waiting for its next dial dials it now.
   */
  addPeer (uri: string): void {
    this.assertRunning()
    const existing = this.configured.get(uri)
    if (existing !== undefined) {
      if (existing.timer !== undefined) { this.clock.clearTimeout(existing.timer); existing.timer = undefined; void this.dialConfigured(existing) }
      return
    }
    const url = this.parse(uri)
    this.typeFor(url)
    const keyParam = url.searchParams.get('key')
    const prioParam = url.searchParams.get('priority')
    const priority = prioParam === null ? 0 : Number(prioParam)
    if (!Number.isInteger(priority) || priority < 0 || priority > 255) throw new ConfigError(`priority must be 0..255 in ${uri}`)
    const peer: ConfiguredPeer = {
      uri,
      url,
      expectedKey: keyParam === null ? undefined : parseKey(keyParam, `key= in ${uri}`),
      priority,
      attempt: 0,
      removed: false
    }
    this.configured.set(uri, peer)
    void this.dialConfigured(peer)
  }

  /** Forget a configured peer: cancel its redial and dial, and close its link. Returns false if unknown. */
  removePeer (uri: string): boolean {
    const peer = this.configured.get(uri)
    if (peer === undefined) return false
    this.configured.delete(uri)
    peer.removed = true
    this.clock.clearTimeout(peer.timer)
    peer.dialing?.abort(new AbortError('peer removed'))
    peer.conn?.close()
    return true
  }

  /**
   * Open one ephemeral outbound link (not redialled). The PeerConn is also delivered to `onConn`.
   * Rejects with LinkDialError, TimeoutError, AbortError, HandshakeError, UnexpectedPeerKeyError or LinkRefusedError.
   */
  async dial (uri: string, opts: { signal?: AbortSignal } = {}): Promise<PeerConn> {
    this.assertRunning()
    const url = this.parse(uri)
    const keyParam = url.searchParams.get('key')
    const expectedKey = keyParam === null ? undefined : parseKey(keyParam, `key= in ${uri}`)
    const ac = new AbortController()
    const onAbort = (): void => { ac.abort(new AbortError('dial aborted', { cause: opts.signal?.reason })) }
    if (opts.signal?.aborted === true) onAbort()
    else opts.signal?.addEventListener('abort', onAbort, { once: true })
    this.adhocDials.add(ac)
    try {
      return await this.connect(uri, url, expectedKey, 0, ac)
    } finally {
      this.adhocDials.delete(ac)
      opts.signal?.removeEventListener('abort', onAbort)
    }
  }

  /** Configured peers (up or down) and every other live link. */
  peers (): LinkInfo[] {
    const out: LinkInfo[] = []
    const seen = new Set<NoisePeerConn>()
    for (const p of this.configured.values()) {
      const up = p.conn !== undefined
      if (up) seen.add(p.conn!)
      out.push({
        uri: p.uri,
        up,
        inbound: false,
        configured: true,
        ...(up ? { remoteKey: p.conn!.remoteKey } : {}),
        ...(p.lastError !== undefined ? { lastError: p.lastError } : {}),
        ...(!up && p.nextDialAt !== undefined ? { nextDialAt: p.nextDialAt } : {})
      })
    }
    for (const c of this.conns) {
      if (seen.has(c)) continue
      out.push({ uri: c.uri, up: true, inbound: c.inbound, configured: false, remoteKey: c.remoteKey })
    }
    return out
  }

  /**
   * Close listeners, links, dials and timers; resolves when every socket is closed (links get a graceful
   * close; a socket that has not closed closeTimeoutMs + 1 s later is given up on).
   */
  async stop (): Promise<void> {
    if (this.stopped) return
    this.stopped = true
    const err = new AbortError('links stopped')
    for (const p of this.configured.values()) {
      p.removed = true
      this.clock.clearTimeout(p.timer)
      p.dialing?.abort(err)
    }
    this.configured.clear()
    for (const ac of this.adhocDials) ac.abort(err)
    const closing: Array<Promise<unknown>> = [...this.listeners].map(async l => { await l.close().catch(() => {}) })
    this.listeners.clear()
    const established = new Set<RawDuplex>()
    for (const c of this.conns) {
      established.add(c.duplex)
      c.close()
    }
    for (const [raw] of this.raws) if (!established.has(raw)) raw.close(err)
    closing.push(...this.raws.values())
    // a link type whose close never completes must not hang stop() forever
    const graceMs = (this.opts.closeTimeoutMs ?? 5_000) + 1_000
    let timer: TimerHandle | undefined
    await Promise.race([
      Promise.all(closing),
      new Promise<void>(resolve => { timer = this.clock.setTimeout(resolve, graceMs) })
    ])
    this.clock.clearTimeout(timer)
  }

  private assertRunning (): void {
    if (this.stopped) throw new AbortError('links stopped')
  }

  private parse (uri: string): URL {
    try {
      return new URL(uri)
    } catch {
      throw new ConfigError(`invalid link URI: ${uri}`)
    }
  }

  private typeFor (url: URL): LinkType {
    const t = this.types.get(url.protocol.slice(0, -1).toLowerCase())
    if (t === undefined) throw new ConfigError(`no link type for scheme ${url.protocol} (known: ${[...this.types.keys()].join(', ')})`)
    return t
  }

  private track (raw: RawDuplex): (err?: Error) => void {
    let done!: () => void
    this.raws.set(raw, new Promise<void>(resolve => { done = resolve }))
    return () => { this.raws.delete(raw); done() }
  }

  private accept (securer: NoiseSecurer, raw: RawDuplex, listenUri: string): void {
    const onRawClose = this.track(raw)
    if (this.stopped) { raw.onClose = onRawClose; raw.close(new AbortError('links stopped')); return }
    this.stats.inbound++
    const uri = raw.remoteUri ?? listenUri
    securer.secure(raw, { inbound: true, uri, onRawClose, counters: this.stats }).then(conn => {
      this.stats.handshakesOk++
      const refusal = this.refusal(conn, true)
      if (refusal !== undefined) {
        this.stats.refused++
        conn.close()
        this.report(new LinkRefusedError(refusal), uri, true)
        return
      }
      this.up(conn)
    }, (err: Error) => {
      this.stats.handshakesFailed++
      if (err instanceof TimeoutError) this.stats.handshakeTimeouts++
      this.report(err, uri, true)
    })
  }

  /** Why an authenticated link must be closed, or undefined. */
  private refusal (conn: NoisePeerConn, inbound: boolean): string | undefined {
    if (bytesEqual(conn.remoteKey, this.selfKey)) return 'link to self refused'
    if (inbound && this.allowed !== undefined && !this.allowed.some(k => bytesEqual(k, conn.remoteKey))) {
      return `key ${toHex(conn.remoteKey)} is not in allowedPublicKeys`
    }
    return undefined
  }

  private up (conn: NoisePeerConn): void {
    if (this.stopped) { conn.close(); return }
    this.conns.add(conn)
    this.stats.linksUp++
    void conn.closed.then((err) => {
      this.conns.delete(conn)
      this.stats.linksUp--
      if (err !== undefined && !this.stopped) this.report(err, conn.uri, conn.inbound)
    })
    this.opts.onConn(conn)
  }

  /** Open one outbound link: raw dial under a deadline, then the Noise handshake. */
  private async connect (uri: string, url: URL, expectedKey: Uint8Array | undefined, priority: number, ac: AbortController): Promise<NoisePeerConn> {
    const type = this.typeFor(url)
    const securer = await this.ready
    this.stats.dials++
    const dialTimeoutMs = this.opts.dialTimeoutMs ?? this.opts.handshakeTimeoutMs ?? 10_000
    let dialTimedOut = false
    const timer = this.clock.setTimeout(() => {
      dialTimedOut = true
      ac.abort(new TimeoutError(`dial ${uri} timed out after ${dialTimeoutMs} ms`))
    }, dialTimeoutMs)
    let raw: RawDuplex
    try {
      raw = await type.dial(url, { signal: ac.signal })
    } catch (err) {
      this.stats.dialFailures++
      if (dialTimedOut) throw new TimeoutError(`dial ${uri} timed out after ${dialTimeoutMs} ms`)
      throw err
    } finally {
      this.clock.clearTimeout(timer)
    }
    const onRawClose = this.track(raw)
    if (this.stopped || ac.signal.aborted) {
      raw.onClose = onRawClose
      raw.close(new AbortError('dial aborted'))
      this.stats.dialFailures++
      throw new AbortError('dial aborted')
    }
    let conn: NoisePeerConn
    try {
      conn = await securer.secure(raw, { inbound: false, uri, expectedKey, priority, signal: ac.signal, onRawClose, counters: this.stats })
    } catch (err) {
      this.stats.handshakesFailed++
      this.stats.dialFailures++
      if (err instanceof TimeoutError) this.stats.handshakeTimeouts++
      throw err
    }
    this.stats.handshakesOk++
    const refusal = this.refusal(conn, false)
    if (refusal !== undefined) {
      this.stats.refused++
      this.stats.dialFailures++
      conn.close()
      throw new LinkRefusedError(refusal)
    }
    if (this.stopped || ac.signal.aborted) {
      conn.close()
      throw new AbortError('dial aborted')
    }
    this.up(conn)
    return conn
  }

  private report (err: Error, uri: string, inbound: boolean): void {
    try { this.opts.onLinkError?.(err, { uri, inbound }) } catch {}
  }

  private async dialConfigured (peer: ConfiguredPeer): Promise<void> {
    if (peer.removed || this.stopped || peer.dialing !== undefined || peer.conn !== undefined) return
    peer.nextDialAt = undefined
    const ac = new AbortController()
    peer.dialing = ac
    let conn: NoisePeerConn
    try {
      conn = await this.connect(peer.uri, peer.url, peer.expectedKey, peer.priority, ac)
    } catch (err) {
      peer.dialing = undefined
      peer.lastError = (err as Error).message
      if (!peer.removed && !this.stopped) this.report(err as Error, peer.uri, false)
      if (err instanceof ConfigError) return // e.g. a bad identity: redialling cannot help
      this.scheduleRedial(peer)
      return
    }
    peer.dialing = undefined
    peer.attempt = 0
    peer.conn = conn
    void conn.closed.then((err) => {
      peer.conn = undefined
      peer.lastError = err?.message ?? 'link closed'
      this.scheduleRedial(peer)
    })
  }

  private scheduleRedial (peer: ConfiguredPeer): void {
    if (peer.removed || this.stopped || peer.timer !== undefined) return
    const { initialMs, maxMs, jitter } = this.backoff
    const base = Math.min(maxMs, initialMs * 2 ** Math.min(peer.attempt, 40))
    const delay = Math.max(0, Math.round(base * (1 - jitter * this.random())))
    peer.attempt++
    peer.nextDialAt = this.clock.now() + delay
    peer.timer = this.clock.setTimeout(() => {
      peer.timer = undefined
      void this.dialConfigured(peer)
    }, delay)
  }
}
