/**
 * Yggdrasil links: the `meta` handshake (`meta.ts`) on a RawDuplex, then the raw byte stream itself is the
 * PeerConn the network layer frames ironwood messages on — exactly what yggdrasil-go's `links.handler` does
 * before `HandleConn`. The link adds no cryptography of its own: ironwood sessions are end-to-end encrypted,
 * and a `tls://` link type adds TLS underneath. Hence a relay forwards traffic without any crypto work.
 *
 * Checks, in order: the 6 s deadline (yggdrasil-go's), preamble and length, TLVs, version 0.5, the signature
 * with the link password, and on an outbound link whose duplex ran TLS, that the certificate carries the same
 * ed25519 key as the handshake (yggdrasil-go does not check this; without it a man in the middle can relay
 * the handshake between two TLS sessions of its own, yggdrasil-go issue #1333). Key pinning, self-links and
 * `allowedPublicKeys` are checked by the link manager.
 */
import { AbortError, ConfigError, TimeoutError } from '@axl/core'
import { defaultLogger } from '@libp2p/logger'
import { systemClock, type Clock, type TimerHandle } from '../clock.js'
import { ed25519Signer, type Signer } from '../crypto.js'
import { bytesEqual, toHex } from './bytes.js'
import { HandshakeError, UnexpectedPeerKeyError } from './errors.js'
import { noop, type RawDuplex } from './link-type.js'
import { decodeMeta, encodeMeta, metaBodyLength, META_HEADER_SIZE, type LinkMeta } from './meta.js'
import { LinkConnBase, type LinkConnInit } from './link-conn-base.js'
import type { LinkIdentity, LinkSecurer, SecureOptions } from './secured-link.js'

/** yggdrasil-go's handshake deadline (`link.go`: 6 s). */
export const META_HANDSHAKE_TIMEOUT_MS = 6_000
const log = defaultLogger().forComponent('axl:links')

/** Options of `new MetaSecurer()`. */
export interface MetaSecurerOptions {
  /** Timer source (default `systemClock()`). */
  clock?: Clock
  /** Handshake deadline in ms (default 6 000, as yggdrasil-go). */
  handshakeTimeoutMs?: number
  /** A graceful close that has not finished after this many ms drops the link (default 5 000). */
  closeTimeoutMs?: number
}

/** Runs Yggdrasil `meta` handshakes for one identity. */
export class MetaSecurer implements LinkSecurer {
  /** Our ed25519 public key. */
  readonly publicKey: Uint8Array
  private readonly signer: Signer
  private readonly clock: Clock
  private readonly handshakeTimeoutMs: number
  private readonly closeTimeoutMs: number
  /** Our encoded handshake per (priority, password), signed once. */
  private readonly encoded = new Map<string, Uint8Array>()

  /** Build a securer for `identity`; throws ConfigError when the seed does not give the public key. */
  constructor (identity: LinkIdentity, opts: MetaSecurerOptions = {}) {
    this.signer = ed25519Signer(identity.seed)
    if (!bytesEqual(this.signer.publicKey, identity.publicKey)) throw new ConfigError('identity.publicKey does not match identity.seed')
    this.publicKey = this.signer.publicKey
    this.clock = opts.clock ?? systemClock()
    this.handshakeTimeoutMs = opts.handshakeTimeoutMs ?? META_HANDSHAKE_TIMEOUT_MS
    this.closeTimeoutMs = opts.closeTimeoutMs ?? 5_000
  }

  /**
   * Run the handshake on `raw`. Rejects with TimeoutError, AbortError, IncorrectPasswordError,
   * IncompatibleVersionError, UnexpectedPeerKeyError (TLS certificate key ≠ handshake key) or HandshakeError;
   * on failure `raw` is closed.
   */
  async secure (raw: RawDuplex, opts: SecureOptions): Promise<MetaPeerConn> {
    const timeoutMs = opts.timeoutMs ?? this.handshakeTimeoutMs
    const ours = this.ourMeta(opts.priority ?? 0, opts.password)
    let rawClosed = false
    let resolveRawClosed!: (err: Error | undefined) => void
    const rawClosedP = new Promise<Error | undefined>(resolve => { resolveRawClosed = resolve })
    let conn: MetaPeerConn | undefined
    const chunks: Uint8Array[] = []
    let have = 0
    let need = META_HEADER_SIZE
    let bodyLength = -1
    return await new Promise<MetaPeerConn>((resolve, reject) => {
      let timer: TimerHandle | undefined
      let settled = false
      const cleanup = (): void => {
        settled = true
        this.clock.clearTimeout(timer)
        opts.signal?.removeEventListener('abort', onAbort)
      }
      const fail = (err: Error): void => {
        if (settled) return
        cleanup()
        raw.onData = noop
        if (!rawClosed) raw.close(err)
        reject(err)
      }
      const onAbort = (): void => { fail(new AbortError('link handshake aborted', { cause: opts.signal?.reason })) }
      raw.onClose = (err) => {
        rawClosed = true
        resolveRawClosed(err)
        try { opts.onRawClose?.(err) } catch (e) { log.error('onRawClose of %s threw: %e', opts.uri, e) }
        if (conn !== undefined) conn.rawClose(err)
        else fail(new HandshakeError(`link ${opts.uri} closed during the handshake${err !== undefined ? `: ${err.message}` : ''}`, { cause: err }))
      }
      raw.onDrain = noop
      raw.onData = (chunk) => {
        if (settled) return
        chunks.push(chunk)
        have += chunk.byteLength
        if (have < need) return
        const all = concat(chunks, have)
        chunks.length = 0
        try {
          if (bodyLength < 0) {
            bodyLength = metaBodyLength(all.subarray(0, META_HEADER_SIZE))
            need = META_HEADER_SIZE + bodyLength
            if (have < need) { chunks.push(all); return }
          }
          const meta = decodeMeta(all.subarray(META_HEADER_SIZE, need), opts.password)
          this.checkCertificate(raw, meta, opts)
          const rest = have > need ? all.subarray(need) : undefined
          cleanup()
          conn = new MetaPeerConn({
            raw,
            remoteKey: meta.publicKey,
            remotePriority: meta.priority,
            uri: opts.uri,
            inbound: opts.inbound,
            priority: Math.max(opts.priority ?? 0, meta.priority),
            clock: this.clock,
            closeTimeoutMs: this.closeTimeoutMs,
            counters: opts.counters,
            rawClosed: rawClosedP,
            rest
          })
          resolve(conn)
        } catch (err) {
          fail(err as Error)
        }
      }
      if (opts.signal?.aborted === true) { onAbort(); return }
      opts.signal?.addEventListener('abort', onAbort, { once: true })
      timer = this.clock.setTimeout(() => {
        fail(new TimeoutError(`link handshake with ${opts.uri} timed out after ${timeoutMs} ms`))
      }, timeoutMs)
      raw.write(ours)
    })
  }

  private ourMeta (priority: number, password: Uint8Array | undefined): Uint8Array {
    const id = `${priority}:${password === undefined ? '' : toHex(password)}`
    let m = this.encoded.get(id)
    if (m === undefined) {
      m = encodeMeta({ publicKey: this.publicKey, sign: d => this.signer.sign(d), priority, password })
      if (this.encoded.size >= 64) this.encoded.clear()
      this.encoded.set(id, m)
    }
    return m
  }

  /** Outbound TLS links: the certificate's ed25519 key must be the handshake's key. */
  private checkCertificate (raw: RawDuplex, meta: LinkMeta, opts: SecureOptions): void {
    if (opts.inbound || raw.certificateKey === undefined) return
    const ck = raw.certificateKey
    if (ck === null) {
      throw new UnexpectedPeerKeyError(toHex(meta.publicKey), `TLS certificate of ${opts.uri} has no ed25519 key, so it cannot be bound to the handshake key ${toHex(meta.publicKey)}`)
    }
    if (!bytesEqual(ck, meta.publicKey)) {
      throw new UnexpectedPeerKeyError(toHex(meta.publicKey), `TLS certificate key ${toHex(ck)} of ${opts.uri} differs from its handshake key ${toHex(meta.publicKey)} (a relayed handshake?)`)
    }
  }
}

function concat (chunks: Uint8Array[], total: number): Uint8Array {
  if (chunks.length === 1) return chunks[0]
  const out = new Uint8Array(total)
  let o = 0
  for (const c of chunks) { out.set(c, o); o += c.byteLength }
  return out
}

/** A Yggdrasil link after its handshake: the raw byte stream as a PeerConn. */
export class MetaPeerConn extends LinkConnBase {
  /** The remote's own priority from its handshake. */
  readonly remotePriority: number

  /** @internal built by MetaSecurer.secure */
  constructor (init: LinkConnInit & { remotePriority: number, rest?: Uint8Array }) {
    super(init)
    this.remotePriority = init.remotePriority
    this.raw.onData = (d) => { this.deliver(d) }
    this.raw.onDrain = () => { if (!this.closing) this.onDrain() }
    if (init.rest !== undefined) this.deliver(init.rest)
  }

  /** Send bytes; false when the caller should wait for `onDrain`. */
  write (data: Uint8Array): boolean {
    if (this.closing || this.isClosed) return false
    if (this.counters !== undefined) this.counters.bytesOut += data.byteLength
    return this.raw.write(data)
  }

  /** Close the link: without `err`, queued bytes are flushed first; with `err`, dropped now. */
  close (err?: Error): void {
    if (this.isClosed) return
    if (err !== undefined) {
      this.closing = true
      this.closeError ??= err
      this.raw.close(err)
      return
    }
    if (this.closing) return
    this.closing = true
    this.startCloseTimer()
    this.raw.close()
  }

  /** @internal the raw duplex closed */
  rawClose (err?: Error): void { this.finish(err) }
}
