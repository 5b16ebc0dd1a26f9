/**
 * Noise XX over a RawDuplex, with `@chainsafe/libp2p-noise` used standalone (no libp2p node): the raw duplex
 * is adapted to a libp2p `MessageStream`, secured, and the result exposed as a `PeerConn` whose `remoteKey`
 * is the Noise-authenticated ed25519 identity of the remote (the libp2p identity binding signs the Noise
 * static key with the ed25519 key). Both sides run under a handshake deadline and close the raw duplex on
 * any failure, so a silent or misbehaving peer never holds a socket.
 *
 * After the handshake, the transport phase runs directly on the raw duplex with the handshake's own cipher
 * states (libp2p-noise's `encrypt`/`decrypt`): the same bytes on the wire (2-byte big-endian length, then
 * ChaCha20-Poly1305 of at most 65519 plaintext bytes), without libp2p's message-stream layer, which costs an
 * event, a list and a thrown RangeError per received chunk. If a future libp2p-noise stops exposing the cipher
 * states, links fall back to its message stream.
 */
import '../polyfill.js'
import { Buffer } from 'node:buffer'
import { createCipheriv } from 'node:crypto'
import { noise, type ICryptoInterface } from '@chainsafe/libp2p-noise'
import { defaultCrypto } from '@chainsafe/libp2p-noise/crypto'
import { generateKeyPairFromSeed, publicKeyFromRaw } from '@libp2p/crypto/keys'
import type { AbortOptions, ConnectionEncrypter, MessageStream, PrivateKey, StreamCloseEvent, StreamMessageEvent, Upgrader } from '@libp2p/interface'
import { defaultLogger } from '@libp2p/logger'
import { peerIdFromPrivateKey, peerIdFromPublicKey } from '@libp2p/peer-id'
import { AbstractMultiaddrConnection, type SendResult } from '@libp2p/utils'
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import { Uint8ArrayList } from 'uint8arraylist'
import { AbortError, ConfigError, TimeoutError } from '@axl/core'
import { systemClock, type Clock } from '../clock.js'
import { HandshakeError, UnexpectedPeerKeyError } from './errors.js'
import { importSodiumNative } from '../session/native.js'
import type { RawDuplex } from './link-type.js'
import type { LinkByteCounters, LinkIdentity, LinkSecurer, SecureOptions } from './secured-link.js'
import { LinkConnBase } from './link-conn-base.js'
import { bytesEqual, toHex } from './bytes.js'

/** Options of `NoiseSecurer.create`. */
export interface NoiseSecurerOptions {
  /** Timer source (default `systemClock()`). */
  clock?: Clock
  /**
   * Run the transport phase directly on the socket with the handshake's cipher states (default true). False
   * keeps libp2p-noise's own message stream (same bytes on the wire; slower, kept for comparison and tests).
   * With true, a libp2p-noise that stops exposing its cipher states fails every link with HandshakeError.
   */
  directTransport?: boolean
  /** Default handshake deadline in ms (default 10 000). */
  handshakeTimeoutMs?: number
  /** A graceful close that has not finished after this many ms drops the link (default 5 000). */
  closeTimeoutMs?: number
}

const log = defaultLogger().forComponent('axl:links')
const PLACEHOLDER_ADDR: Multiaddr = multiaddr('/memory/axl-link')
const upgraderStub = { getStreamMuxers: () => new Map(), getConnectionEncrypters: () => new Map() } as unknown as Upgrader
/** Largest Noise transport message (ciphertext with its tag), as the 2-byte length allows. */
const NOISE_MAX_MESSAGE = 65535
/** ChaCha20-Poly1305 tag bytes. */
const NOISE_TAG = 16
/** Largest plaintext per Noise message. */
const NOISE_MAX_PLAINTEXT = NOISE_MAX_MESSAGE - NOISE_TAG
/** Plaintexts up to this size go out as one buffer (length prefix copied in front). */
const SMALL_MESSAGE = 4096

/** The transport-phase ciphers of a finished libp2p-noise handshake (empty associated data, counter nonces). */
interface NoiseCipher {
  encrypt: (plaintext: Uint8Array) => Uint8Array | Uint8ArrayList
  decrypt: (ciphertext: Uint8Array, dst?: Uint8Array) => Uint8Array | Uint8ArrayList
}

/** The libsodium calls the link crypto uses when `sodium-native` loads. */
interface SodiumAead {
  crypto_aead_chacha20poly1305_ietf_encrypt: (c: Uint8Array, m: Uint8Array, ad: Uint8Array | null, nsec: null, npub: Uint8Array, k: Uint8Array) => number
  crypto_aead_chacha20poly1305_ietf_decrypt: (m: Uint8Array, nsec: null, c: Uint8Array, ad: Uint8Array | null, npub: Uint8Array, k: Uint8Array) => number
}

function sodiumAead (): SodiumAead | undefined {
  const s = importSodiumNative() as Partial<SodiumAead> | undefined
  return typeof s?.crypto_aead_chacha20poly1305_ietf_encrypt === 'function' && typeof s.crypto_aead_chacha20poly1305_ietf_decrypt === 'function'
    ? s as SodiumAead
    : undefined
}

/**
 * libp2p-noise's default crypto for the handshake, with a transport phase that allocates less (same bytes on
 * the wire): with libsodium (`sodium-native`), sealing writes ciphertext and tag into one buffer and opening
 * decrypts in place into the `dst` libp2p-noise offers (the received bytes are ours), so a relayed packet costs
 * no receive-side allocation and far less garbage collection. Without it, large messages are sealed by
 * node:crypto without concatenating body and tag into a third buffer.
 */
function makeLinkCrypto (S: SodiumAead | undefined): ICryptoInterface {
  return {
    ...defaultCrypto,
    chaCha20Poly1305Encrypt (plaintext, nonce, ad, k) {
      if (!(plaintext instanceof Uint8Array)) return defaultCrypto.chaCha20Poly1305Encrypt(plaintext, nonce, ad, k)
      if (S !== undefined) {
        const b = Buffer.allocUnsafeSlow(plaintext.byteLength + NOISE_TAG)
        const out = new Uint8Array(b.buffer, b.byteOffset, b.byteLength)
        S.crypto_aead_chacha20poly1305_ietf_encrypt(out, plaintext, ad, null, nonce, k)
        return out
      }
      if (plaintext.byteLength < 1200) return defaultCrypto.chaCha20Poly1305Encrypt(plaintext, nonce, ad, k)
      const c = createCipheriv('chacha20-poly1305', k, nonce, { authTagLength: NOISE_TAG })
      c.setAAD(ad, { plaintextLength: plaintext.byteLength })
      const body = c.update(plaintext)
      c.final()
      // A uint8arraylist v3 list (libp2p-noise itself uses v2): only our direct transport reads it, so this
      // crypto is used only with directTransport, which refuses to fall back to libp2p's stream (NoisePeerConn).
      return new Uint8ArrayList(body, c.getAuthTag()) as unknown as Uint8Array
    },
    chaCha20Poly1305Decrypt (ciphertext, nonce, ad, k, dst) {
      if (S === undefined || !(ciphertext instanceof Uint8Array) || ciphertext.byteLength < NOISE_TAG ||
        dst?.byteLength !== ciphertext.byteLength - NOISE_TAG) {
        return defaultCrypto.chaCha20Poly1305Decrypt(ciphertext, nonce, ad, k, dst)
      }
      try {
        S.crypto_aead_chacha20poly1305_ietf_decrypt(dst, null, ciphertext, ad, nonce, k) // in place: dst overlays ciphertext
      } catch {
        throw new Error('Invalid chacha20poly1305 decryption')
      }
      return dst
    }
  }
}

const linkCrypto = makeLinkCrypto(sodiumAead())

/** libp2p-noise's secured stream keeps the handshake result (with `encrypt`/`decrypt`) in `handshake`. */
function cipherOf (secured: unknown): NoiseCipher | undefined {
  const h = (secured as { handshake?: Partial<NoiseCipher> } | undefined)?.handshake
  if (typeof h?.encrypt !== 'function' || typeof h.decrypt !== 'function') return undefined
  return { encrypt: h.encrypt, decrypt: h.decrypt }
}

/** Raw-duplex events routed straight to a direct-transport PeerConn. */
interface DirectHandlers {
  data: (data: Uint8Array) => void
  drain: () => void
  close: (err?: Error) => void
}

/** A RawDuplex as a libp2p MultiaddrConnection (the input Noise expects). */
class RawConn extends AbstractMultiaddrConnection {
  readonly raw: RawDuplex
  readonly rawClosed: Promise<Error | undefined>
  private rawIsClosed = false
  private direct: DirectHandlers | undefined
  /** Bytes the handshake reader read past its last message, handed back through `unshift`. */
  private held: Uint8Array[] = []

  constructor (raw: RawDuplex, inbound: boolean, onRawClose?: (err?: Error) => void) {
    super({ remoteAddr: PLACEHOLDER_ADDR, direction: inbound ? 'inbound' : 'outbound', log, inactivityTimeout: 0 })
    this.raw = raw
    let resolveClosed!: (err: Error | undefined) => void
    this.rawClosed = new Promise(resolve => { resolveClosed = resolve })
    raw.onData = (data) => {
      const d = this.direct
      if (d !== undefined) d.data(data)
      else this.onData(data)
    }
    raw.onDrain = () => {
      const d = this.direct
      if (d !== undefined) d.drain()
      else this.safeDispatchEvent('drain')
    }
    raw.onClose = (err) => {
      this.rawIsClosed = true
      resolveClosed(err)
      try { onRawClose?.(err) } catch (e) { log('onRawClose threw: %s', (e as Error).message) }
      this.direct?.close(err)
      this.onTransportClosed(err)
    }
  }

  /** Keeps what the handshake reader hands back, until `takeOver` or `release` decides where it goes. */
  override unshift (data: Uint8Array | Uint8ArrayList): void {
    if (data.byteLength > 0) this.held.push(data.subarray())
  }

  /** From now on raw events go to `h`, not to libp2p's stream; returns the bytes read past the handshake. */
  takeOver (h: DirectHandlers): Uint8Array[] {
    this.direct = h
    const held = this.held
    this.held = []
    return held
  }

  /** Gives bytes read past the handshake to libp2p's stream (the non-direct path). */
  release (): void {
    const held = this.held
    this.held = []
    for (let i = held.length - 1; i >= 0; i--) super.unshift(held[i]) // unshift prepends
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
export class NoisePeerConn extends LinkConnBase {
  /** libp2p-noise's message stream (the non-direct path), else undefined. */
  private readonly stream: MessageStream | undefined
  /** The handshake's cipher states (the direct path), else undefined. */
  private readonly cipher: NoiseCipher | undefined
  private needDrain = false
  // Direct-path receive state: the first length byte when a chunk split the prefix, and a message in parts.
  private rxLenHi = -1
  private rxNeed = 0
  private rxHave = 0
  private rxParts: Uint8Array[] = []

  /** @internal built by NoiseSecurer.secure */
  constructor (init: { stream: MessageStream, raw: RawConn, remoteKey: Uint8Array, uri: string, inbound: boolean, priority: number, clock: Clock, closeTimeoutMs: number, counters?: LinkByteCounters, direct: boolean }) {
    super({ ...init, raw: init.raw.raw, rawClosed: init.raw.rawClosed })
    const s = init.stream
    this.cipher = init.direct ? cipherOf(s) : undefined
    if (this.cipher !== undefined && s.status === 'open') {
      const held = init.raw.takeOver({
        data: (d) => { this.receive(d) },
        drain: () => { if (this.needDrain && !this.closing) { this.needDrain = false; this.onDrain() } },
        close: (err) => { this.finish(err) }
      })
      for (const b of held) this.receive(b)
      return
    }
    this.cipher = undefined
    this.stream = s
    init.raw.release()
    if (init.direct && s.status === 'open') {
      // This libp2p-noise no longer exposes its cipher states: refuse rather than run its stream with our crypto.
      queueMicrotask(() => { this.close(new HandshakeError('@chainsafe/libp2p-noise does not expose its cipher states; set directTransport: false')) })
    }
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

  /** True when the transport phase runs directly on the raw duplex (see the module comment). */
  get direct (): boolean { return this.cipher !== undefined }

  /** Encrypt and send; false when the caller should wait for `onDrain`. */
  write (data: Uint8Array): boolean {
    if (this.closing || this.isClosed) return false
    if (data.byteLength === 0) return true
    try {
      const ok = this.cipher !== undefined ? this.writeDirect(this.cipher, data) : this.stream!.send(data)
      if (this.counters !== undefined) this.counters.bytesOut += data.byteLength
      if (!ok) this.needDrain = true
      return ok
    } catch (err) {
      this.close(err as Error)
      return false
    }
  }

  /** One Noise message per ≤ 65519 plaintext bytes, each behind its 2-byte length, in one raw write. */
  private writeDirect (cipher: NoiseCipher, data: Uint8Array): boolean {
    if (data.byteLength <= SMALL_MESSAGE) {
      // One small message: copying it behind its length costs less than a two-chunk writev.
      const ct = cipher.encrypt(data)
      const n = ct.byteLength
      const out = Buffer.allocUnsafe(2 + n)
      out[0] = n >>> 8
      out[1] = n & 0xff
      out.set(ct instanceof Uint8Array ? ct : ct.subarray(), 2)
      return this.raw.write(out)
    }
    const parts: Uint8Array[] = []
    for (let i = 0; i < data.byteLength; i += NOISE_MAX_PLAINTEXT) {
      const ct = cipher.encrypt(data.subarray(i, Math.min(data.byteLength, i + NOISE_MAX_PLAINTEXT)))
      const n = ct.byteLength
      parts.push(Uint8Array.of(n >>> 8, n & 0xff))
      if (ct instanceof Uint8Array) parts.push(ct)
      else for (const c of ct) parts.push(c)
    }
    const raw = this.raw
    if (raw.writev !== undefined) return raw.writev(parts)
    let ok = true
    for (const p of parts) ok = raw.write(p) && ok
    return ok
  }

  /** Direct path: split the raw byte stream into Noise messages and decrypt each (any failure closes the link). */
  private receive (chunk: Uint8Array): void {
    const n = chunk.byteLength
    let p = 0
    while (p < n && !this.isClosed && !(this.closing && this.closeError !== undefined)) {
      if (this.rxNeed === 0) {
        let len: number
        if (this.rxLenHi >= 0) {
          len = (this.rxLenHi << 8) | chunk[p++]
          this.rxLenHi = -1
        } else if (p + 1 < n) {
          len = (chunk[p] << 8) | chunk[p + 1]
          p += 2
        } else {
          this.rxLenHi = chunk[p++]
          continue
        }
        if (len < NOISE_TAG) { this.close(new HandshakeError(`noise message of ${len} bytes on ${this.uri} is shorter than its tag`)); return }
        if (n - p >= len) {
          this.open(chunk.subarray(p, p + len))
          p += len
        } else {
          this.rxNeed = len
          this.rxParts = [chunk.subarray(p)]
          this.rxHave = n - p
          p = n
        }
      } else {
        const take = Math.min(this.rxNeed - this.rxHave, n - p)
        this.rxParts.push(chunk.subarray(p, p + take))
        this.rxHave += take
        p += take
        if (this.rxHave === this.rxNeed) {
          const msg = new Uint8Array(this.rxNeed)
          let o = 0
          for (const part of this.rxParts) { msg.set(part, o); o += part.byteLength }
          this.rxParts = []
          this.rxNeed = 0
          this.rxHave = 0
          this.open(msg)
        }
      }
    }
  }

  /** Decrypts one Noise message (in place where the cipher supports it: the bytes are ours) and delivers it. */
  private open (ct: Uint8Array): void {
    let pt: Uint8Array | Uint8ArrayList
    try {
      pt = this.cipher!.decrypt(ct, ct.subarray(0, ct.byteLength - NOISE_TAG))
    } catch (err) {
      this.close(new HandshakeError(`noise decryption failed on ${this.uri}`, { cause: err }))
      return
    }
    this.deliver(pt instanceof Uint8Array ? pt : pt.subarray())
  }

  /** Close the link: without `err`, queued bytes are flushed first; with `err`, dropped now. */
  close (err?: Error): void {
    if (this.isClosed) return
    if (err !== undefined) {
      this.closing = true
      this.closeError ??= err
      if (this.stream !== undefined) this.stream.abort(err)
      else this.raw.close(err)
      return
    }
    if (this.closing) return
    this.closing = true
    this.startCloseTimer()
    if (this.stream !== undefined) void this.gracefulClose(this.stream)
    else this.raw.close() // the raw duplex flushes what it holds, then closes
  }

  private async gracefulClose (s: MessageStream): Promise<void> {
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
}

/** Runs Noise XX handshakes for one ed25519 identity (one Noise static key reused across handshakes). */
export class NoiseSecurer implements LinkSecurer {
  /** Our ed25519 public key. */
  readonly publicKey: Uint8Array
  private readonly encrypter: ConnectionEncrypter
  private readonly clock: Clock
  private readonly handshakeTimeoutMs: number
  private readonly closeTimeoutMs: number
  private readonly directTransport: boolean

  private constructor (publicKey: Uint8Array, encrypter: ConnectionEncrypter, opts: NoiseSecurerOptions) {
    this.publicKey = publicKey
    this.encrypter = encrypter
    this.clock = opts.clock ?? systemClock()
    this.handshakeTimeoutMs = opts.handshakeTimeoutMs ?? 10_000
    this.closeTimeoutMs = opts.closeTimeoutMs ?? 5_000
    this.directTransport = opts.directTransport ?? true
  }

  /** Build a securer from our identity; ConfigError if the seed and public key do not match. */
  static async create (identity: LinkIdentity, opts: NoiseSecurerOptions = {}): Promise<NoiseSecurer> {
    if (identity.seed?.byteLength !== 32) throw new ConfigError('identity.seed must be 32 bytes')
    if (identity.publicKey?.byteLength !== 32) throw new ConfigError('identity.publicKey must be 32 bytes')
    const privateKey: PrivateKey = await generateKeyPairFromSeed('Ed25519', identity.seed)
    if (!bytesEqual(privateKey.publicKey.raw, identity.publicKey)) throw new ConfigError('identity.publicKey does not match identity.seed')
    const encrypter = noise({ crypto: opts.directTransport === false ? defaultCrypto : linkCrypto })({ privateKey, peerId: peerIdFromPrivateKey(privateKey), logger: defaultLogger(), upgrader: upgraderStub })
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
        counters: opts.counters,
        direct: this.directTransport
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
