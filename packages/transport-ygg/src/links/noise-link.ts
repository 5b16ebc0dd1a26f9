/**
 * Noise XX over a RawDuplex, with `@chainsafe/libp2p-noise` used standalone (no libp2p node): the raw duplex
 * is adapted to a libp2p `MessageStream`, secured, and the result exposed as a `PeerConn` whose `remoteKey`
 * is the Noise-authenticated ed25519 identity of the remote (the libp2p identity binding signs the Noise
 * static key with the ed25519 key). Both sides run under a handshake deadline and close the raw duplex on
 * any failure, so a silent or misbehaving peer never holds a socket.
 */
import '../polyfill.js'
import { noise } from '@chainsafe/libp2p-noise'
import { generateKeyPairFromSeed, publicKeyFromRaw } from '@libp2p/crypto/keys'
import type { AbortOptions, ConnectionEncrypter, MessageStream, PrivateKey, StreamCloseEvent, StreamMessageEvent, Upgrader } from '@libp2p/interface'
import { defaultLogger } from '@libp2p/logger'
import { peerIdFromPrivateKey, peerIdFromPublicKey } from '@libp2p/peer-id'
import { AbstractMultiaddrConnection, type SendResult } from '@libp2p/utils'
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import type { Uint8ArrayList } from 'uint8arraylist'
import { AbortError, ConfigError, TimeoutError } from '@axl/core'
import { systemClock, type Clock, type TimerHandle } from '../clock.js'
import type { PeerConn } from '../peer-conn.js'
import { HandshakeError, UnexpectedPeerKeyError } from './errors.js'
import type { RawDuplex } from './link-type.js'

/** Our ed25519 identity: the 32-byte private seed and the 32-byte public key. */
export interface LinkIdentity {
  /** 32-byte ed25519 private key seed. */
  seed: Uint8Array
  /** 32-byte ed25519 public key (must match the seed). */
  publicKey: Uint8Array
}

/** Byte counters shared by the links of one manager (plaintext bytes through PeerConns). */
export interface LinkByteCounters {
  bytesIn: number
  bytesOut: number
}

/** Options of `NoiseSecurer.create`. */
export interface NoiseSecurerOptions {
  /** Timer source (default `systemClock()`). */
  clock?: Clock
  /** Default handshake deadline in ms (default 10 000). */
  handshakeTimeoutMs?: number
  /** A graceful close that has not finished after this many ms drops the link (default 5 000). */
  closeTimeoutMs?: number
}

/** Options of one `NoiseSecurer.secure` call. */
export interface SecureOptions {
  /** True when the remote dialled us (we are the Noise responder). */
  inbound: boolean
  /** The link URI reported by the PeerConn. */
  uri: string
  /** Outbound only: the ed25519 key the remote must authenticate as (else UnexpectedPeerKeyError). */
  expectedKey?: Uint8Array
  /** PeerConn priority (default 0). */
  priority?: number
  /** Abort the handshake. */
  signal?: AbortSignal
  /** Handshake deadline for this call (default from the securer). */
  timeoutMs?: number
  /** Called once when the raw duplex reports closed (also after a failed handshake). */
  onRawClose?: (err?: Error) => void
  /** Counters to add this link's plaintext bytes to. */
  counters?: LinkByteCounters
}

const log = defaultLogger().forComponent('axl:links')
const PLACEHOLDER_ADDR: Multiaddr = multiaddr('/memory/axl-link')
const upgraderStub = { getStreamMuxers: () => new Map(), getConnectionEncrypters: () => new Map() } as unknown as Upgrader
/** Unread plaintext kept for a PeerConn whose consumer has not set `onData` yet. */
const MAX_PENDING_BYTES = 16 * 1024 * 1024

/** Lowercase hex of bytes. */
export function toHex (b: Uint8Array): string {
  let s = ''
  for (const x of b) s += x.toString(16).padStart(2, '0')
  return s
}

/** Constant-length byte equality. */
export function bytesEqual (a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false
  let d = 0
  for (let i = 0; i < a.byteLength; i++) d |= a[i] ^ b[i]
  return d === 0
}

/** A RawDuplex as a libp2p MultiaddrConnection (the input Noise expects). */
class RawConn extends AbstractMultiaddrConnection {
  readonly raw: RawDuplex
  readonly rawClosed: Promise<Error | undefined>
  private rawIsClosed = false

  constructor (raw: RawDuplex, inbound: boolean, onRawClose?: (err?: Error) => void) {
    super({ remoteAddr: PLACEHOLDER_ADDR, direction: inbound ? 'inbound' : 'outbound', log, inactivityTimeout: 0 })
    this.raw = raw
    let resolveClosed!: (err: Error | undefined) => void
    this.rawClosed = new Promise(resolve => { resolveClosed = resolve })
    raw.onData = (data) => { this.onData(data) }
    raw.onDrain = () => { this.safeDispatchEvent('drain') }
    raw.onClose = (err) => {
      this.rawIsClosed = true
      resolveClosed(err)
      try { onRawClose?.(err) } catch {}
      this.onTransportClosed(err)
    }
  }

  sendData (data: Uint8ArrayList): SendResult {
    const chunks = [...data]
    const canSendMore = this.raw.writev !== undefined ? this.raw.writev(chunks) : chunks.reduce((_, c) => this.raw.write(c), true)
    return { sentBytes: data.byteLength, canSendMore }
  }

  async sendClose (_options?: AbortOptions): Promise<void> {
    if (this.rawIsClosed) return
    this.raw.close()
    await this.rawClosed
  }

  sendReset (err?: Error): void { this.raw.close(err ?? new Error('link reset')) }
  sendPause (): void { this.raw.pause?.() }
  sendResume (): void { this.raw.resume?.() }
}

/** A Noise-secured link: the PeerConn given to the network layer, plus lifecycle hooks for the manager. */
export class NoisePeerConn implements PeerConn {
  readonly remoteKey: Uint8Array
  readonly uri: string
  readonly inbound: boolean
  readonly priority: number
  /** Resolves once the link is closed (with the error, if it failed). */
  readonly closed: Promise<Error | undefined>
  /** Resolves once the underlying raw duplex (socket) has closed. */
  readonly rawClosed: Promise<Error | undefined>
  onDrain: () => void = () => {}
  private readonly stream: MessageStream
  private readonly raw: RawDuplex
  private readonly clock: Clock
  private readonly closeTimeoutMs: number
  private readonly counters: LinkByteCounters | undefined
  private dataHandler: ((data: Uint8Array) => void) | undefined
  private closeHandler: ((err?: Error) => void) | undefined
  private pending: Uint8Array[] = []
  private pendingBytes = 0
  private needDrain = false
  private closing = false
  private isClosed = false
  private closeError: Error | undefined
  private closeReported = false
  private closeTimer: TimerHandle | undefined
  private resolveClosed!: (err: Error | undefined) => void

  /** @internal built by NoiseSecurer.secure */
  constructor (init: { stream: MessageStream, raw: RawConn, remoteKey: Uint8Array, uri: string, inbound: boolean, priority: number, clock: Clock, closeTimeoutMs: number, counters?: LinkByteCounters }) {
    this.stream = init.stream
    this.raw = init.raw.raw
    this.rawClosed = init.raw.rawClosed
    this.remoteKey = init.remoteKey
    this.uri = init.uri
    this.inbound = init.inbound
    this.priority = init.priority
    this.clock = init.clock
    this.closeTimeoutMs = init.closeTimeoutMs
    this.counters = init.counters
    this.closed = new Promise(resolve => { this.resolveClosed = resolve })
    const s = this.stream
    s.addEventListener('message', (evt: StreamMessageEvent) => {
      const d = evt.data
      if (d instanceof Uint8Array) this.deliver(d)
      else for (const c of d) this.deliver(c)
    })
    s.addEventListener('drain', () => {
      if (this.needDrain && !this.closing) { this.needDrain = false; this.onDrain() }
    })
    s.addEventListener('close', (evt: StreamCloseEvent) => { this.finish(evt.error) })
    if (s.status !== 'open') this.finish(new HandshakeError('link closed during the handshake'))
  }

  /** Received plaintext goes here (data that arrived before this was set is delivered right after). */
  get onData (): (data: Uint8Array) => void { return this.dataHandler ?? (() => {}) }
  set onData (fn: (data: Uint8Array) => void) {
    this.dataHandler = fn
    if (this.pending.length > 0) {
      const p = this.pending
      this.pending = []
      this.pendingBytes = 0
      queueMicrotask(() => { for (const c of p) this.deliver(c) })
    }
  }

  /** The raw duplex under this link (for the manager's bookkeeping). */
  get duplex (): RawDuplex { return this.raw }

  /** Called once when the link closes (set late, it still fires once). */
  get onClose (): (err?: Error) => void { return this.closeHandler ?? (() => {}) }
  set onClose (fn: (err?: Error) => void) {
    this.closeHandler = fn
    if (this.isClosed && !this.closeReported) queueMicrotask(() => { this.reportClose() })
  }

  /** Encrypt and send; false when the caller should wait for `onDrain`. */
  write (data: Uint8Array): boolean {
    if (this.closing || this.isClosed) return false
    if (data.byteLength === 0) return true
    try {
      const ok = this.stream.send(data)
      if (this.counters !== undefined) this.counters.bytesOut += data.byteLength
      if (!ok) this.needDrain = true
      return ok
    } catch (err) {
      this.close(err as Error)
      return false
    }
  }

  /** Close the link: without `err`, queued bytes are flushed first; with `err`, dropped now. */
  close (err?: Error): void {
    if (this.isClosed) return
    if (err !== undefined) {
      this.closing = true
      this.closeError ??= err
      this.stream.abort(err)
      return
    }
    if (this.closing) return
    this.closing = true
    this.closeTimer = this.clock.setTimeout(() => {
      this.raw.close(new TimeoutError(`closing link ${this.uri} timed out after ${this.closeTimeoutMs} ms`))
    }, this.closeTimeoutMs)
    void this.gracefulClose()
  }

  private async gracefulClose (): Promise<void> {
    const s = this.stream
    try {
      if (s.writeBufferLength > 0) {
        await new Promise<void>(resolve => {
          const done = (): void => { s.removeEventListener('idle', done); s.removeEventListener('close', done); resolve() }
          s.addEventListener('idle', done)
          s.addEventListener('close', done)
        })
      }
      await s.close()
    } catch (err) {
      s.abort(err as Error)
    }
  }

  private deliver (c: Uint8Array): void {
    if (c.byteLength === 0) return
    if (this.counters !== undefined) this.counters.bytesIn += c.byteLength
    const h = this.dataHandler
    if (h !== undefined) { h(c); return }
    this.pending.push(c)
    this.pendingBytes += c.byteLength
    if (this.pendingBytes > MAX_PENDING_BYTES) this.close(new HandshakeError('PeerConn.onData was never set and too much data arrived'))
  }

  private finish (err?: Error): void {
    if (this.isClosed) return
    this.isClosed = true
    this.closing = true
    this.closeError ??= err
    this.clock.clearTimeout(this.closeTimer)
    this.resolveClosed(this.closeError)
    if (this.closeHandler !== undefined) this.reportClose()
  }

  private reportClose (): void {
    if (this.closeReported) return
    this.closeReported = true
    this.closeHandler?.(this.closeError)
  }
}

/** Runs Noise XX handshakes for one ed25519 identity (one Noise static key reused across handshakes). */
export class NoiseSecurer {
  /** Our ed25519 public key. */
  readonly publicKey: Uint8Array
  private readonly encrypter: ConnectionEncrypter
  private readonly clock: Clock
  private readonly handshakeTimeoutMs: number
  private readonly closeTimeoutMs: number

  private constructor (publicKey: Uint8Array, encrypter: ConnectionEncrypter, opts: NoiseSecurerOptions) {
    this.publicKey = publicKey
    this.encrypter = encrypter
    this.clock = opts.clock ?? systemClock()
    this.handshakeTimeoutMs = opts.handshakeTimeoutMs ?? 10_000
    this.closeTimeoutMs = opts.closeTimeoutMs ?? 5_000
  }

  /** Build a securer from our identity; ConfigError if the seed and public key do not match. */
  static async create (identity: LinkIdentity, opts: NoiseSecurerOptions = {}): Promise<NoiseSecurer> {
    if (identity.seed?.byteLength !== 32) throw new ConfigError('identity.seed must be 32 bytes')
    if (identity.publicKey?.byteLength !== 32) throw new ConfigError('identity.publicKey must be 32 bytes')
    const privateKey: PrivateKey = await generateKeyPairFromSeed('Ed25519', identity.seed)
    if (!bytesEqual(privateKey.publicKey.raw, identity.publicKey)) throw new ConfigError('identity.publicKey does not match identity.seed')
    const encrypter = noise()({ privateKey, peerId: peerIdFromPrivateKey(privateKey), logger: defaultLogger(), upgrader: upgraderStub })
    return new NoiseSecurer(new Uint8Array(identity.publicKey), encrypter, opts)
  }

  /**
   * Run the handshake on `raw` and return the secured PeerConn. On failure the raw duplex is closed and the
   * promise rejects with TimeoutError (deadline), AbortError (signal), UnexpectedPeerKeyError or HandshakeError.
   */
  async secure (raw: RawDuplex, opts: SecureOptions): Promise<NoisePeerConn> {
    const conn = new RawConn(raw, opts.inbound, opts.onRawClose)
    const timeoutMs = opts.timeoutMs ?? this.handshakeTimeoutMs
    const ac = new AbortController()
    let timedOut = false
    const timer = this.clock.setTimeout(() => {
      timedOut = true
      ac.abort(new TimeoutError(`noise handshake with ${opts.uri} timed out after ${timeoutMs} ms`))
    }, timeoutMs)
    const onAbort = (): void => { ac.abort(new AbortError('noise handshake aborted', { cause: opts.signal?.reason })) }
    if (opts.signal?.aborted === true) onAbort()
    else opts.signal?.addEventListener('abort', onAbort, { once: true })
    const expectedKey = opts.expectedKey
    try {
      if (ac.signal.aborted) throw ac.signal.reason
      const secured = opts.inbound
        ? await this.encrypter.secureInbound(conn, { skipStreamMuxerNegotiation: true, signal: ac.signal })
        : await this.encrypter.secureOutbound(conn, {
          skipStreamMuxerNegotiation: true,
          signal: ac.signal,
          remotePeer: expectedKey !== undefined ? peerIdFromPublicKey(publicKeyFromRaw(expectedKey)) : undefined
        })
      const pk = secured.remotePeer.publicKey
      if (pk?.type !== 'Ed25519' || pk.raw.byteLength !== 32) throw new HandshakeError(`remote identity key is ${pk?.type ?? 'missing'}, not Ed25519`)
      return new NoisePeerConn({
        stream: secured.connection,
        raw: conn,
        remoteKey: new Uint8Array(pk.raw),
        uri: opts.uri,
        inbound: opts.inbound,
        priority: opts.priority ?? 0,
        clock: this.clock,
        closeTimeoutMs: this.closeTimeoutMs,
        counters: opts.counters
      })
    } catch (e) {
      const err = this.mapError(e, opts.uri, timedOut, timeoutMs, expectedKey)
      conn.abort(err)
      raw.close(err)
      throw err
    } finally {
      this.clock.clearTimeout(timer)
      opts.signal?.removeEventListener('abort', onAbort)
    }
  }

  private mapError (e: unknown, uri: string, timedOut: boolean, timeoutMs: number, expectedKey: Uint8Array | undefined): Error {
    if (timedOut) return new TimeoutError(`noise handshake with ${uri} timed out after ${timeoutMs} ms`)
    if (e instanceof AbortError || e instanceof HandshakeError) return e
    const err = e instanceof Error ? e : new Error(String(e))
    if (expectedKey !== undefined && err.name === 'UnexpectedPeerError' && /does not match expected/.test(err.message)) {
      return new UnexpectedPeerKeyError(toHex(expectedKey), `remote at ${uri} did not authenticate as ${toHex(expectedKey)}`, { cause: err })
    }
    if (err.name === 'AbortError') return new AbortError('noise handshake aborted', { cause: err })
    return new HandshakeError(`noise handshake with ${uri} failed: ${err.message}`, { cause: err })
  }
}
