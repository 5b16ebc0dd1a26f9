/**
 * Links manager: listens on link URIs, dials configured peers (and redials them with capped exponential
 * backoff with jitter), runs each link's handshake and hands each authenticated link to the network layer as a
 * PeerConn (`onConn`). Several links to one key are allowed; the router shares one port per key.
 *
 * URI schemes mean what they mean in Yggdrasil: `tcp://`, `tls://`, `ws://`, `wss://`, `unix://` (and
 * `memory://`, or a custom link type's scheme) run Yggdrasil's `meta` handshake and then carry ironwood frames
 * as they are — the links of the real network, interoperable with yggdrasil-go and Go AXL. The same carriers
 * prefixed `noise+` (`noise+tcp://`, `noise+ws://`, `noise+memory://`…) run Noise XX instead: mutually
 * authenticated, encrypted links that only TS nodes speak.
 *
 * Link options in the query, as yggdrasil-go reads them: `key=<hex>` (pinned remote key; repeatable),
 * `priority=0..255`, `password=` (at most 64 bytes; Yggdrasil links only), `maxbackoff=` (a duration such as
 * `30s`, `5m`: cap of the redial backoff of that peer). Other query parameters (e.g. `sni=`) go to the link type.
 */
import '../polyfill.js'
import { AbortError, ConfigError, TimeoutError } from '@axl/core'
import { systemClock, type Clock, type TimerHandle } from '../clock.js'
import { defaultLogger } from '@libp2p/logger'
import { bytesEqual, toHex } from './bytes.js'
import { LinkRefusedError, UnexpectedPeerKeyError } from './errors.js'
import type { LinkListener, LinkType, RawDuplex } from './link-type.js'
import { memoryLinkType } from './memory.js'
import { MAX_LINK_PASSWORD_BYTES } from './meta.js'
import { MetaSecurer } from './meta-link.js'
import { NoiseSecurer } from './noise-link.js'
import type { LinkByteCounters, LinkConn, LinkIdentity, LinkSecurer } from './secured-link.js'
import { tcpLinkType } from './tcp.js'
import { tlsLinkType } from './tls.js'
import { unixLinkType } from './unix.js'
import { wsLinkType } from './ws.js'

const log = defaultLogger().forComponent('axl:links')

/** Scheme prefix that selects Noise XX links over a carrier, e.g. `noise+tcp://`. */
export const NOISE_SCHEME_PREFIX = 'noise+'

/** Which handshake a link runs: Yggdrasil's `meta` (the real network) or Noise XX (TS nodes only). */
export type LinkKind = 'yggdrasil' | 'noise'

/** A link URI taken apart (see `parseLinkUri`). */
export interface ParsedLinkUri {
  /** The handshake the scheme selects. */
  kind: LinkKind
  /** The carrier URL given to the link type: `noise+` and the link options removed. */
  url: URL
  /** Pinned remote keys (`key=`, repeatable); empty when none. */
  keys: Uint8Array[]
  /** `priority=` (default 0). */
  priority: number
  /** `password=` as bytes, when set. */
  password?: Uint8Array
  /** `maxbackoff=` in ms, when set. */
  maxBackoffMs?: number
}

const LINK_OPTIONS = ['key', 'priority', 'password', 'maxbackoff']

/** Parses a Go duration such as `30s`, `1m30s`, `1.5h`, `250ms` into ms; undefined when it is not one. */
export function parseDuration (s: string): number | undefined {
  const units: Record<string, number> = { ns: 1e-6, us: 1e-3, µs: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 }
  const re = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/y
  let total = 0
  let i = 0
  if (s === '') return undefined
  while (i < s.length) {
    re.lastIndex = i
    const m = re.exec(s)
    if (m === null) return undefined
    total += Number(m[1]) * units[m[2]]
    i = re.lastIndex
  }
  return total
}

/**
 * Parse a link URI: the handshake its scheme selects, its link options, and the carrier URL for the link type.
 * Throws ConfigError on a malformed URI or option (messages name the URI).
 */
export function parseLinkUri (uri: string): ParsedLinkUri {
  let url: URL
  try {
    url = new URL(uri)
  } catch {
    throw new ConfigError(`invalid link URI: ${uri}`)
  }
  let kind: LinkKind = 'yggdrasil'
  const scheme = url.protocol.slice(0, -1).toLowerCase()
  if (scheme.startsWith(NOISE_SCHEME_PREFIX)) {
    kind = 'noise'
    const rest = uri.slice(uri.indexOf(':'))
    url = new URL(scheme.slice(NOISE_SCHEME_PREFIX.length) + rest)
  }
  const q = url.searchParams
  const keys = q.getAll('key').map(k => parseKey(k, `key= in ${uri}`))
  const prioParam = q.get('priority')
  const priority = prioParam === null || prioParam === '' ? 0 : Number(prioParam)
  if (!/^\d*$/.test(prioParam ?? '') || !Number.isInteger(priority) || priority < 0 || priority > 255) throw new ConfigError(`priority must be 0..255 in ${uri}`)
  const pw = q.get('password')
  let password: Uint8Array | undefined
  if (pw !== null && pw !== '') {
    password = new TextEncoder().encode(pw)
    if (password.byteLength > MAX_LINK_PASSWORD_BYTES) throw new ConfigError(`password= in ${uri} is ${password.byteLength} bytes; at most ${MAX_LINK_PASSWORD_BYTES}`)
    if (kind === 'noise') throw new ConfigError(`password= applies to Yggdrasil links only, not ${uri}`)
  }
  const mb = q.get('maxbackoff')
  let maxBackoffMs: number | undefined
  if (mb !== null && mb !== '') {
    maxBackoffMs = parseDuration(mb)
    if (maxBackoffMs === undefined || maxBackoffMs < 1000) throw new ConfigError(`maxbackoff= in ${uri} must be a duration of at least 1s, e.g. 30s or 5m`)
  }
  for (const o of LINK_OPTIONS) q.delete(o)
  return { kind, url, keys, priority, ...(password !== undefined ? { password } : {}), ...(maxBackoffMs !== undefined ? { maxBackoffMs } : {}) }
}

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
  onConn: (conn: LinkConn) => void
  /** Timer source (default `systemClock()`). */
  clock?: Clock
  /** Extra link types; they are added to the defaults (tcp, tls, ws, wss, unix, memory) and replace a default of the same scheme. */
  linkTypes?: LinkType[]
  /** When set, inbound links from other keys are closed right after the handshake (32-byte keys or 64-char hex). */
  allowedPublicKeys?: Array<Uint8Array | string>
  /** Link handshake deadline in ms, both directions (default 6 000 for Yggdrasil links, as yggdrasil-go; 10 000 for Noise links). */
  handshakeTimeoutMs?: number
  /** Deadline for opening the raw connection of an outbound link, in ms (default: handshakeTimeoutMs). */
  dialTimeoutMs?: number
  /** A graceful close that has not finished after this many ms drops the socket (default 5 000). */
  closeTimeoutMs?: number
  /** Redial backoff of configured peers. */
  backoff?: BackoffOptions
  /** Inbound connections still in their handshake, at most; more are closed at once (counted). @default 128 */
  maxPendingHandshakes?: number
  /** Of which from one remote host (address without port). @default 16 */
  maxPendingPerHost?: number
  /** Inbound links up at once, at most; more are refused after their handshake (counted). @default 1024 */
  maxInboundLinks?: number
  /**
   * A peer whose link the overlay closed for invalid frames (malformed, bad signature, protocol violation) is
   * refused — inbound — and not redialled — configured — for `initialMs`, doubling at each repeat up to `maxMs`.
   * @default { initialMs: 5000, maxMs: 600000 }
   */
  violationBackoff?: { initialMs?: number, maxMs?: number }
  /**
   * While a configured peer waits out a redial delay longer than this, check every `probeIntervalMs` whether its
   * listener answers again (the link type's `probe`, e.g. a bare TCP connect) and redial at once when it does,
   * so a relay that restarts is rejoined within about this long whatever the backoff grew to. 0 disables.
   * Default 1 000.
   */
  probeIntervalMs?: number
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
  /** Outbound attempts that failed before a link was up (connect, handshake, pinned key or refusal). */
  dialFailures: number
  /** Inbound raw connections accepted by listeners. */
  inbound: number
  /** Link handshakes that succeeded. */
  handshakesOk: number
  /** Link handshakes that failed (including deadlines). */
  handshakesFailed: number
  /** Of which: handshake deadlines. */
  handshakeTimeouts: number
  /** Links closed after the handshake: key not allowed, or link to self. */
  refused: number
  /** Links currently up. */
  linksUp: number
  /** Listener probes of configured peers waiting out a backoff (see probeIntervalMs). */
  probes: number
  /** Of which: the listener answered, and the peer was redialled at once. */
  probeHits: number
  /** Inbound connections closed at once: maxPendingHandshakes or maxPendingPerHost reached. */
  refusedPending: number
  /** Inbound links refused after their handshake: maxInboundLinks reached. */
  refusedTooMany: number
  /** Links the overlay closed for invalid frames (their peer is then backed off). */
  violations: number
  /** Inbound links refused because their peer is backed off after invalid frames. */
  refusedBackedOff: number
}

interface ConfiguredPeer {
  uri: string
  link: ParsedLinkUri
  attempt: number
  conn?: LinkConn
  timer?: TimerHandle
  /** The next listener probe while waiting out a backoff. */
  probeTimer?: TimerHandle
  probing?: AbortController
  dialing?: AbortController
  lastError?: string
  nextDialAt?: number
  /** Clock time until which the peer is backed off after invalid frames. */
  penaltyUntil?: number
  removed: boolean
}

/** Peers remembered as backed off after invalid frames, at most. */
const PENALTY_ENTRIES = 4096

/**
 * Whether a link closed because its peer broke the overlay protocol: the network layer closes such links with a
 * LinkError carrying `reason` 'frame' | 'signature' | 'protocol' (network/peers.ts; checked by shape, since the link
 * layer sits below the network layer and does not import it).
 */
function isViolation (err: Error | undefined): err is Error {
  const reason = (err as { reason?: unknown } | undefined)?.reason
  return reason === 'frame' || reason === 'signature' || reason === 'protocol'
}

/** The host part of a remote URI (`tcp://1.2.3.4:5678` → `1.2.3.4`), for per-host bounds; '' when unknown. */
function remoteHost (uri: string | undefined): string {
  if (uri === undefined) return ''
  try { return new URL(uri).hostname } catch { return uri }
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

/** Manages the links of one node: listeners, configured peers with redial, and authenticated PeerConns. */
export class Links {
  /** Counters (live object). */
  readonly stats: LinksStats = { dials: 0, dialFailures: 0, inbound: 0, handshakesOk: 0, handshakesFailed: 0, handshakeTimeouts: 0, refused: 0, linksUp: 0, probes: 0, probeHits: 0, refusedPending: 0, refusedTooMany: 0, violations: 0, refusedBackedOff: 0, bytesIn: 0, bytesOut: 0 }
  private readonly opts: LinksOptions
  private readonly clock: Clock
  private readonly types = new Map<string, LinkType>()
  private readonly allowed: Uint8Array[] | undefined
  private readonly selfKey: Uint8Array
  private noise: Promise<NoiseSecurer> | undefined
  private readonly meta: MetaSecurer
  private readonly listeners = new Set<LinkListener>()
  private readonly configured = new Map<string, ConfiguredPeer>()
  private readonly conns = new Set<LinkConn>()
  private readonly adhocDials = new Set<AbortController>()
  /** Every raw duplex not yet closed, with a promise of its close. */
  private readonly raws = new Map<RawDuplex, Promise<void>>()
  private readonly backoff: Required<BackoffOptions>
  private readonly random: () => number
  private stopped = false
  /** Inbound connections in their handshake, in all and by remote host. */
  private pending = 0
  private readonly pendingByHost = new Map<string, number>()
  /** Peers backed off after invalid frames, by key hex (bounded: the oldest is forgotten past PENALTY_ENTRIES). */
  private readonly penalties = new Map<string, { strikes: number, until: number }>()

  constructor (opts: LinksOptions) {
    this.opts = opts
    this.clock = opts.clock ?? systemClock()
    this.random = opts.random ?? Math.random
    this.backoff = { initialMs: opts.backoff?.initialMs ?? 1000, maxMs: opts.backoff?.maxMs ?? 60_000, jitter: opts.backoff?.jitter ?? 0.25 }
    if (!(this.backoff.initialMs > 0) || !(this.backoff.maxMs >= this.backoff.initialMs) || !(this.backoff.jitter >= 0 && this.backoff.jitter <= 1)) {
      throw new ConfigError('backoff needs 0 < initialMs <= maxMs and 0 <= jitter <= 1')
    }
    const identity = opts.identity
    for (const t of [tcpLinkType(), tlsLinkType({ identity }), unixLinkType(), wsLinkType({ identity }), memoryLinkType(), ...(opts.linkTypes ?? [])]) {
      for (const s of t.schemes) this.types.set(s.toLowerCase().replace(/:$/, ''), t)
    }
    this.allowed = opts.allowedPublicKeys?.map((k, i) => parseKey(k, `allowedPublicKeys[${i}]`))
    this.selfKey = parseKey(opts.identity.publicKey, 'identity.publicKey')
    if (opts.identity.seed?.byteLength !== 32) throw new ConfigError('identity.seed must be 32 bytes')
    this.meta = new MetaSecurer(opts.identity, { clock: this.clock, handshakeTimeoutMs: opts.handshakeTimeoutMs, closeTimeoutMs: opts.closeTimeoutMs })
  }

  /** The securer of a link kind (Noise is set up on first use: it loads libp2p's Noise). */
  private async securer (kind: LinkKind): Promise<LinkSecurer> {
    if (kind === 'yggdrasil') return this.meta
    this.noise ??= NoiseSecurer.create(this.opts.identity, { clock: this.clock, handshakeTimeoutMs: this.opts.handshakeTimeoutMs, closeTimeoutMs: this.opts.closeTimeoutMs })
    return await this.noise
  }

  /**
   * Listen on a link URI (e.g. `tcp://127.0.0.1:0`, `tls://[::]:9001?password=x`, `noise+tcp://127.0.0.1:0`);
   * resolves with the bound URI (real port). `priority=` and `password=` apply to the links it accepts.
   */
  async listen (uri: string): Promise<string> {
    this.assertRunning()
    const link = parseLinkUri(uri)
    if (link.keys.length > 0) throw new ConfigError(`key= pins the key of a peer we dial; it means nothing on a listen URI: ${uri}`)
    const type = this.typeFor(link.url)
    const securer = await this.securer(link.kind)
    this.assertRunning()
    let boundUri = uri
    const listener = await type.listen(link.url, (raw) => { this.accept(securer, raw, boundUri, link) })
    boundUri = (link.kind === 'noise' ? NOISE_SCHEME_PREFIX : '') + listener.uri
    if (this.stopped) { await listener.close(); throw new AbortError('links stopped') }
    this.listeners.add(listener)
    return boundUri
  }

  /**
   * Add a configured peer: dialled now, and redialled with backoff whenever the link drops or a dial fails.
   * The URI may carry the link options (`key=`, `priority=`, `password=`, `maxbackoff=`; see the module doc).
   * Adding a URI that is already configured and waiting for its next dial dials it now.
   */
  addPeer (uri: string): void {
    this.assertRunning()
    const existing = this.configured.get(uri)
    if (existing !== undefined) {
      if (existing.timer !== undefined) { this.clock.clearTimeout(existing.timer); existing.timer = undefined; this.stopProbing(existing); void this.dialConfigured(existing) }
      return
    }
    const link = parseLinkUri(uri)
    this.typeFor(link.url)
    const peer: ConfiguredPeer = { uri, link, attempt: 0, removed: false }
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
    this.stopProbing(peer)
    peer.dialing?.abort(new AbortError('peer removed'))
    peer.conn?.close()
    return true
  }

  /**
   * Open one ephemeral outbound link (not redialled). The PeerConn is also delivered to `onConn`.
   * Rejects with LinkDialError, TimeoutError, AbortError, HandshakeError (IncorrectPasswordError,
   * IncompatibleVersionError), UnexpectedPeerKeyError or LinkRefusedError.
   */
  async dial (uri: string, opts: { signal?: AbortSignal } = {}): Promise<LinkConn> {
    this.assertRunning()
    const link = parseLinkUri(uri)
    const ac = new AbortController()
    const onAbort = (): void => { ac.abort(new AbortError('dial aborted', { cause: opts.signal?.reason })) }
    if (opts.signal?.aborted === true) onAbort()
    else opts.signal?.addEventListener('abort', onAbort, { once: true })
    this.adhocDials.add(ac)
    try {
      return await this.connect(uri, link, ac)
    } finally {
      this.adhocDials.delete(ac)
      opts.signal?.removeEventListener('abort', onAbort)
    }
  }

  /** Configured peers (up or down) and every other live link. */
  peers (): LinkInfo[] {
    const out: LinkInfo[] = []
    const seen = new Set<LinkConn>()
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
      this.stopProbing(p)
      p.dialing?.abort(err)
    }
    this.configured.clear()
    for (const ac of this.adhocDials) ac.abort(err)
    const closing: Array<Promise<unknown>> = [...this.listeners].map(async l => { await l.close().catch((e: Error) => { log('closing a listener failed: %s', e.message) }) })
    this.listeners.clear()
    this.noise?.catch((e: Error) => { log('noise setup had failed: %s', e.message) })
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

  private accept (securer: LinkSecurer, raw: RawDuplex, listenUri: string, link: ParsedLinkUri): void {
    const onRawClose = this.track(raw)
    if (this.stopped) { raw.onClose = onRawClose; raw.close(new AbortError('links stopped')); return }
    this.stats.inbound++
    // Bounded handshakes: a flood of idle connections (from one host above all) cannot hold every slot.
    const host = remoteHost(raw.remoteUri)
    const fromHost = this.pendingByHost.get(host) ?? 0
    if (this.pending >= (this.opts.maxPendingHandshakes ?? 128) || fromHost >= (this.opts.maxPendingPerHost ?? 16)) {
      this.stats.refusedPending++
      raw.onClose = onRawClose
      raw.close(new LinkRefusedError(`too many handshakes in progress (${this.pending}, ${fromHost} from ${host})`))
      return
    }
    this.pending++
    this.pendingByHost.set(host, fromHost + 1)
    const settled = (): void => {
      this.pending--
      const n = (this.pendingByHost.get(host) ?? 1) - 1
      if (n <= 0) this.pendingByHost.delete(host)
      else this.pendingByHost.set(host, n)
    }
    const uri = (link.kind === 'noise' ? NOISE_SCHEME_PREFIX : '') + (raw.remoteUri ?? listenUri)
    securer.secure(raw, { inbound: true, uri, onRawClose, counters: this.stats, priority: link.priority, ...(link.password !== undefined ? { password: link.password } : {}) }).then(conn => {
      settled()
      this.stats.handshakesOk++
      const refusal = this.refusal(conn, true)
      if (refusal !== undefined) {
        if (refusal.startsWith('backed off')) this.stats.refusedBackedOff++
        else if (refusal.startsWith('too many inbound links')) this.stats.refusedTooMany++
        else this.stats.refused++
        conn.close()
        this.report(new LinkRefusedError(refusal), uri, true)
        return
      }
      this.up(conn)
    }, (err: Error) => {
      settled()
      this.stats.handshakesFailed++
      if (err instanceof TimeoutError) this.stats.handshakeTimeouts++
      this.report(err, uri, true)
    })
  }

  /** Why an authenticated link must be closed, or undefined. */
  private refusal (conn: LinkConn, inbound: boolean): string | undefined {
    if (bytesEqual(conn.remoteKey, this.selfKey)) return 'link to self refused'
    if (inbound && this.allowed !== undefined && !this.allowed.some(k => bytesEqual(k, conn.remoteKey))) {
      return `key ${toHex(conn.remoteKey)} is not in allowedPublicKeys`
    }
    if (inbound) {
      const p = this.penalties.get(toHex(conn.remoteKey))
      if (p !== undefined && p.until > this.clock.now()) {
        return `backed off after ${p.strikes} link(s) closed for invalid frames: refused for ${Math.ceil((p.until - this.clock.now()) / 1000)} s more`
      }
      let inboundUp = 0
      for (const c of this.conns) if (c.inbound) inboundUp++
      const max = this.opts.maxInboundLinks ?? 1024
      if (inboundUp >= max) return `too many inbound links (${inboundUp}, maxInboundLinks ${max})`
    }
    return undefined
  }

  /**
   * After the overlay closed a link for invalid frames (a LinkError: malformed frame, bad signature, protocol
   * violation): back its peer off, doubling at each repeat. Returns the penalty's end (clock time).
   */
  private penalize (key: Uint8Array, err: Error): number {
    const hex = toHex(key)
    const initialMs = this.opts.violationBackoff?.initialMs ?? 5_000
    const maxMs = this.opts.violationBackoff?.maxMs ?? 600_000
    const prev = this.penalties.get(hex)
    const strikes = (prev?.strikes ?? 0) + 1
    const until = this.clock.now() + Math.min(maxMs, initialMs * 2 ** Math.min(strikes - 1, 30))
    this.penalties.delete(hex) // re-insert: the map's order is least recently penalized first
    this.penalties.set(hex, { strikes, until })
    if (this.penalties.size > PENALTY_ENTRIES) this.penalties.delete(this.penalties.keys().next().value!)
    this.stats.violations++
    log('link to %s closed for invalid frames (%s): backed off %d ms (strike %d)', hex, err.message, until - this.clock.now(), strikes)
    return until
  }

  private up (conn: LinkConn): void {
    if (this.stopped) { conn.close(); return }
    this.conns.add(conn)
    this.stats.linksUp++
    log('link up: %s %s key %s', conn.inbound ? 'inbound' : 'outbound', conn.uri, toHex(conn.remoteKey))
    void conn.closed.then((err) => {
      this.conns.delete(conn)
      if (isViolation(err)) this.penalize(conn.remoteKey, err)
      this.stats.linksUp--
      log('link down: %s%s', conn.uri, err !== undefined ? `: ${err.message}` : '')
      if (err !== undefined && !this.stopped) this.report(err, conn.uri, conn.inbound)
    })
    this.opts.onConn(conn)
  }

  /** Open one outbound link: raw dial under a deadline, then the link handshake and the key checks. */
  private async connect (uri: string, link: ParsedLinkUri, ac: AbortController): Promise<LinkConn> {
    const type = this.typeFor(link.url)
    const securer = await this.securer(link.kind)
    this.stats.dials++
    const dialTimeoutMs = this.opts.dialTimeoutMs ?? this.opts.handshakeTimeoutMs ?? 10_000
    let dialTimedOut = false
    const timer = this.clock.setTimeout(() => {
      dialTimedOut = true
      ac.abort(new TimeoutError(`dial ${uri} timed out after ${dialTimeoutMs} ms`))
    }, dialTimeoutMs)
    let raw: RawDuplex
    try {
      raw = await type.dial(link.url, { signal: ac.signal })
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
    let conn: LinkConn
    try {
      conn = await securer.secure(raw, {
        inbound: false,
        uri,
        ...(link.keys.length === 1 ? { expectedKey: link.keys[0] } : {}),
        priority: link.priority,
        ...(link.password !== undefined ? { password: link.password } : {}),
        signal: ac.signal,
        onRawClose,
        counters: this.stats
      })
    } catch (err) {
      this.stats.handshakesFailed++
      this.stats.dialFailures++
      if (err instanceof TimeoutError) this.stats.handshakeTimeouts++
      throw err
    }
    this.stats.handshakesOk++
    if (link.keys.length > 0 && !link.keys.some(k => bytesEqual(k, conn.remoteKey))) {
      this.stats.dialFailures++
      const err = new UnexpectedPeerKeyError(link.keys.map(toHex).join(','), `node public key ${toHex(conn.remoteKey)} at ${uri} does not match the pinned key${link.keys.length > 1 ? 's' : ''} ${link.keys.map(toHex).join(', ')}`)
      conn.close(err)
      throw err
    }
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
    log('link %s %s failed: %s', inbound ? 'from' : 'to', uri, err.message)
    try { this.opts.onLinkError?.(err, { uri, inbound }) } catch (e) { log.error('onLinkError threw: %e', e) }
  }

  private async dialConfigured (peer: ConfiguredPeer): Promise<void> {
    if (peer.removed || this.stopped || peer.dialing !== undefined || peer.conn !== undefined) return
    peer.nextDialAt = undefined
    const ac = new AbortController()
    peer.dialing = ac
    let conn: LinkConn
    try {
      conn = await this.connect(peer.uri, peer.link, ac)
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
      if (isViolation(err)) {
        // up() has recorded the penalty; wait it out before redialling (no listener probes meanwhile).
        const p = this.penalties.get(toHex(conn.remoteKey))
        if (p !== undefined) peer.penaltyUntil = p.until
      }
      this.scheduleRedial(peer)
    })
  }

  private scheduleRedial (peer: ConfiguredPeer): void {
    if (peer.removed || this.stopped || peer.timer !== undefined) return
    const { initialMs, jitter } = this.backoff
    const maxMs = Math.max(initialMs, peer.link.maxBackoffMs ?? this.backoff.maxMs)
    const base = Math.min(maxMs, initialMs * 2 ** Math.min(peer.attempt, 40))
    const penalty = Math.max(0, (peer.penaltyUntil ?? 0) - this.clock.now())
    const delay = Math.max(penalty, Math.round(base * (1 - jitter * this.random())))
    peer.attempt++
    peer.nextDialAt = this.clock.now() + delay
    peer.timer = this.clock.setTimeout(() => {
      peer.timer = undefined
      this.stopProbing(peer)
      void this.dialConfigured(peer)
    }, delay)
    const interval = this.opts.probeIntervalMs ?? 1_000
    if (interval > 0 && delay > interval && penalty === 0 && this.typeFor(peer.link.url).probe !== undefined) this.scheduleProbe(peer, interval)
  }

  /** Probe the peer's listener after `interval`; redial at once if it answers, else probe again until the redial. */
  private scheduleProbe (peer: ConfiguredPeer, interval: number): void {
    peer.probeTimer = this.clock.setTimeout(() => {
      peer.probeTimer = undefined
      if (peer.removed || this.stopped || peer.timer === undefined) return
      const probe = this.typeFor(peer.link.url).probe
      if (probe === undefined) return
      const ac = new AbortController()
      peer.probing = ac
      const deadline = this.clock.setTimeout(() => { ac.abort() }, interval)
      this.stats.probes++
      void probe(peer.link.url, { signal: ac.signal }).catch((err: Error) => { log('probe of %s threw: %s', peer.uri, err.message); return false }).then(ok => {
        this.clock.clearTimeout(deadline)
        if (peer.probing === ac) peer.probing = undefined
        if (peer.removed || this.stopped || peer.timer === undefined || ac.signal.aborted) return
        if (ok) {
          this.stats.probeHits++
          log('%s answers again: redialling now', peer.uri)
          this.clock.clearTimeout(peer.timer)
          peer.timer = undefined
          void this.dialConfigured(peer)
        } else if ((peer.nextDialAt ?? 0) - this.clock.now() > interval) {
          this.scheduleProbe(peer, interval)
        }
      })
    }, interval)
  }

  private stopProbing (peer: ConfiguredPeer): void {
    this.clock.clearTimeout(peer.probeTimer)
    peer.probeTimer = undefined
    peer.probing?.abort()
    peer.probing = undefined
  }
}
