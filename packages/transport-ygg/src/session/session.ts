/**
 * SessionManager: ironwood's `encrypted` PacketConn (`encrypted/session.go` @743fe2f) over the overlay's
 * datagrams. End-to-end NaCl boxes between ephemeral X25519 keys, set up by signed 193-byte init/ack messages
 * and ratcheted about once a minute; byte-compatible with Go on the wire.
 *
 * Port notes (behaviour identical to Go unless listed here; see also the report in the test file header):
 *  - receive replay protection is a sliding window (default 8128 nonces, ironwood PR #53) instead of Go's
 *    strict high-water mark, so reordered packets are accepted once; windows follow their shared key across
 *    re-keys, so a replay is also refused where Go would have reset its counter to 0;
 *  - while a handshake is pending, up to `maxPendingPerPeer` messages are queued (Go keeps only the last one);
 *    the pending init is re-sent on a write at most once per `initRetryMs` and by a backoff timer, instead of on
 *    every write;
 *  - inits triggered by undecryptable traffic or traffic without a session are throttled per peer
 *    (`initThrottleMs`); a receiver ignores a second init in the same second anyway (init.seq > info.seq);
 *    throw-away inits carry random bytes as keys (Go generates and forgets real key pairs: indistinguishable);
 *  - after a send-nonce wrap (2^64 messages) the rotated key starts at nonce 1, not 0 (Go's receiver would drop 0);
 *  - sessions are capped (`maxSessions`, least recently active evicted) and expire 1 minute after the last
 *    activity with one timer per session, checked lazily;
 *  - a received message is delivered after the session state has been updated (Go hands it to another actor).
 */
import { randomBytes, type KeyObject } from 'node:crypto'
import { InvalidKeyError, MessageTooLargeError, peerIdFromBytes } from '@axl/core'
import { systemClock, type Clock, type TimerHandle } from '../clock.js'
import { keyStr, type KeyStr } from '../crypto.js'
import {
  BoxKey, boxOpen, boxPrecompute, boxPrivateKey, dhPublic, edPrivateToX25519, edPublicToX25519, newBoxKeys,
  type BoxKeyPair, type BoxPrivate
} from './crypto.js'
import { SessionError } from './errors.js'
import {
  decryptInit, encodeTraffic, encryptInit, parseTrafficHeader, SESSION_TYPE_ACK, SESSION_TYPE_DUMMY,
  SESSION_TYPE_INIT, SESSION_TYPE_TRAFFIC, type SessionInit
} from './messages.js'
import { ReplayWindow } from './replay.js'
import { defaultLogger } from '@libp2p/logger'

const log = defaultLogger().forComponent('axl:session')

/** Idle time after which a session (or a pending buffer) is dropped, like ironwood's `sessionTimeout`. */
export const SESSION_TIMEOUT_MS = 60_000
/** Minimum time between two key rotations triggered by the peer (`time.Since(info.rotated) > time.Minute`). */
export const ROTATION_INTERVAL_MS = 60_000
/** Default receive replay window (nonces), as in ironwood PR #53. */
export const DEFAULT_REPLAY_WINDOW = 8128
/** Default bound of the per-peer queue while a handshake is pending. */
export const DEFAULT_MAX_PENDING = { packets: 32, bytes: 64 * 1024 } as const

/** Bytes reserved in front of each traffic packet for the overlay's frame header (written there, not copied). */
const FRAME_HEADROOM = 192
const MASK64 = (1n << 64n) - 1n
const BACKOFF_CAP_MS = 16_000

/** The signing identity a SessionManager needs (an `@axl/core` Identity fits). */
export interface SessionIdentity {
  /** The 32-byte ed25519 seed (converted once to the X25519 private key, like ironwood's e2c). */
  readonly seed: Uint8Array
  /** The 32-byte ed25519 public key. */
  readonly publicKey: Uint8Array
  /** Signs with the ed25519 key; returns 64 bytes. */
  sign: (data: Uint8Array) => Uint8Array
}

/** Options of a SessionManager. */
export interface SessionManagerOptions {
  /** Our long-term ed25519 identity. */
  identity: SessionIdentity
  /**
   * Sends a datagram to a node key through the overlay (`overlay.sendTo`). Must not throw. `headroom` bytes
   * before `payload` in its buffer are ours to overwrite (room for the overlay's frame header).
   */
  send: (destKey: Uint8Array, payload: Uint8Array, headroom: number) => void
  /** Source of time and timers (default: the system clock). */
  clock?: Clock
  /** Wall-clock milliseconds since the Unix epoch for the init/ack `seq` field (default Date.now). */
  unixTime?: () => number
  /** Bound of the per-peer queue while a handshake is pending (default 32 packets, 64 KiB). */
  maxPendingPerPeer?: { packets: number, bytes: number }
  /** Maximum number of sessions (and of pending peers); the least recently active is evicted (default 10000). */
  maxSessions?: number
  /** Receive replay window in nonces (default 8128; 1 = ironwood's strict high-water mark). */
  replayWindow?: number
  /** Largest plaintext accepted by sendTo (default 65535). */
  maxMessageSize?: number
  /** First retransmission delay of a pending init, doubled up to 16 s (default 1000 ms). */
  initRetryMs?: number
  /** Minimum time between two repair inits to one peer (default 250 ms). */
  initThrottleMs?: number
  /** Called with errors thrown by `onMessage` or internal failures (which are otherwise only counted). */
  onError?: (err: unknown) => void
}

/** Counters of a SessionManager. */
export interface SessionStats {
  /** Open sessions. */
  sessions: number
  /** Peers with a pending handshake (queued messages). */
  pending: number
  /** Sessions created from a verified init or ack. */
  handshakes: number
  /** Inits sent (including repair and throw-away inits). */
  initsSent: number
  /** Valid inits received. */
  initsReceived: number
  /** Acks sent. */
  acksSent: number
  /** Valid acks received. */
  acksReceived: number
  /** Valid inits/acks ignored because their seq was not newer (`init.seq <= info.seq`). */
  handshakesIgnored: number
  /** Inits/acks dropped: wrong size, box did not open, or bad signature. */
  badHandshakes: number
  /** Traffic packets sent / received (delivered). */
  packetsSent: number
  /** Traffic packets delivered. */
  packetsReceived: number
  /** Plaintext bytes sent. */
  bytesSent: number
  /** Plaintext bytes delivered. */
  bytesReceived: number
  /** Traffic whose box did not open (each triggers a repair init, as in Go). */
  decryptFailures: number
  /** Traffic refused by the replay window (duplicate or older than the window). */
  replaysRejected: number
  /** Traffic whose key sequences match no key slot (Go's default arm; triggers a repair init). */
  keySeqMismatches: number
  /** Traffic from a peer without a session (answered with a throw-away init). */
  unknownSessionTraffic: number
  /** Key rotations (peer-triggered ratchets and send-nonce wraps). */
  rotations: number
  /** Sessions removed after 1 minute idle. */
  expired: number
  /** Sessions or pending queues evicted by `maxSessions`. */
  evicted: number
  /** Packets dropped as malformed (empty, unknown type, short or bad header, short box). */
  malformed: number
  /** Messages dropped from pending queues (overflow, expiry, eviction, close). */
  pendingDropped: number
  /** Errors thrown by onMessage or caught internally. */
  errors: number
}

/** Debug view of one session. */
export interface SessionInfoView {
  /** The peer's ed25519 key, hex. */
  key: string
  /** Milliseconds since the session was created. */
  uptimeMs: number
  /** Milliseconds since the last traffic or handshake. */
  idleMs: number
  /** Plaintext bytes received / sent. */
  rx: number
  /** Plaintext bytes sent. */
  tx: number
  /** Our key sequence. */
  localKeySeq: bigint
  /** The peer's key sequence. */
  remoteKeySeq: bigint
  /** Last send nonce used. */
  sendNonce: bigint
}

interface Pending {
  readonly ed: Uint8Array
  readonly init: SessionInit
  readonly current: BoxKeyPair
  readonly next: BoxKeyPair
  queue: Uint8Array[]
  bytes: number
  lastWrite: number
  lastInit: number
  retryMs: number
  expiry: TimerHandle | undefined
  retry: TimerHandle | undefined
}

class Session {
  readonly ed: Uint8Array
  readonly id: KeyStr
  seq: bigint
  remoteKeySeq = 0n
  localKeySeq = 0n
  current: Uint8Array
  next: Uint8Array
  /** `current` / `next` in the form x25519 takes fastest (see dhPublic), cached. */
  currentKO: Uint8Array | KeyObject | undefined
  nextKO: Uint8Array | KeyObject | undefined
  // Our three key pairs. `undefined` = a fresh random pair not generated yet: generating it on first use is
  // indistinguishable from Go generating it eagerly, and saves the pairs a ratchet discards unused.
  recv: BoxKeyPair | undefined
  send: BoxKeyPair | undefined
  nxt: BoxKeyPair | undefined
  recvShared: BoxKey | undefined
  sendShared: BoxKey | undefined
  nextSendShared: BoxKey | undefined
  nextRecvShared: BoxKey | undefined
  recvWin: ReplayWindow | undefined
  nextSendWin: ReplayWindow | undefined
  nextRecvWin: ReplayWindow | undefined
  dirty = true
  sendNonce = 0n
  readonly since: number
  lastActive: number
  rotated: number | undefined
  lastRepairInit = -Infinity
  timer: TimerHandle | undefined
  rx = 0
  tx = 0

  constructor (ed: Uint8Array, id: KeyStr, current: Uint8Array, next: Uint8Array, seq: bigint, now: number) {
    this.ed = ed
    this.id = id
    this.current = current
    this.next = next
    this.seq = (seq - 1n) & MASK64 // so the first update works (uint64 wrap as in Go)
    this.since = now
    this.lastActive = now
  }
}

function recvKeys (s: Session): BoxKeyPair { return (s.recv ??= newBoxKeys()) }
function sendKeys (s: Session): BoxKeyPair { return (s.send ??= newBoxKeys()) }
function nextKeys (s: Session): BoxKeyPair { return (s.nxt ??= newBoxKeys()) }

function plainCopy (b: Uint8Array): Uint8Array {
  const out = new Uint8Array(b.length)
  out.set(b)
  return out
}

/** ironwood's encrypted PacketConn: end-to-end sessions keyed by ed25519 node keys. */
export class SessionManager {
  /** Called for every authenticated, decrypted message: (peer's ed25519 key, plaintext). */
  onMessage: (sourceKey: Uint8Array, plaintext: Uint8Array) => void = () => {}

  private readonly sign: (data: Uint8Array) => Uint8Array
  private readonly boxPriv: BoxPrivate
  private readonly out: (destKey: Uint8Array, payload: Uint8Array, headroom: number) => void
  private readonly clock: Clock
  private readonly unixTime: () => number
  private readonly maxPending: { packets: number, bytes: number }
  private readonly maxSessions: number
  private readonly window: number
  private readonly maxMessageSize: number
  private readonly initRetryMs: number
  private readonly initThrottleMs: number
  private readonly onError: ((err: unknown) => void) | undefined
  private readonly table = new Map<KeyStr, Session>()
  private readonly buffers = new Map<KeyStr, Pending>()
  private readonly peerBox = new Map<KeyStr, Uint8Array | KeyObject>()
  private readonly throwawayAt = new Map<KeyStr, number>()
  private readonly counters: Omit<SessionStats, 'sessions' | 'pending'> = {
    handshakes: 0,
    initsSent: 0,
    initsReceived: 0,
    acksSent: 0,
    acksReceived: 0,
    handshakesIgnored: 0,
    badHandshakes: 0,
    packetsSent: 0,
    packetsReceived: 0,
    bytesSent: 0,
    bytesReceived: 0,
    decryptFailures: 0,
    replaysRejected: 0,
    keySeqMismatches: 0,
    unknownSessionTraffic: 0,
    rotations: 0,
    expired: 0,
    evicted: 0,
    malformed: 0,
    pendingDropped: 0,
    errors: 0
  }

  private closed = false

  constructor (options: SessionManagerOptions) {
    const id = options.identity
    if (!(id?.seed instanceof Uint8Array) || id.seed.length !== 32) throw new InvalidKeyError('identity.seed must be a 32-byte ed25519 seed')
    if (!(id.publicKey instanceof Uint8Array) || id.publicKey.length !== 32) throw new InvalidKeyError('identity.publicKey must be 32 bytes')
    if (typeof id.sign !== 'function') throw new SessionError('identity.sign must be a function')
    if (typeof options.send !== 'function') throw new SessionError('send must be a function')
    const positive = (name: string, v: number | undefined, def: number): number => {
      const x = v ?? def
      if (typeof x !== 'number' || !(x > 0) || Number.isNaN(x)) throw new SessionError(`${name} must be a positive number, got ${String(v)}`)
      return x
    }
    this.sign = (data) => id.sign(data)
    const raw = edPrivateToX25519(id.seed)
    this.boxPriv = boxPrivateKey(raw)
    raw.fill(0)
    this.out = options.send
    this.clock = options.clock ?? systemClock()
    this.unixTime = options.unixTime ?? (() => Date.now())
    const mp = options.maxPendingPerPeer ?? DEFAULT_MAX_PENDING
    this.maxPending = { packets: positive('maxPendingPerPeer.packets', mp.packets, DEFAULT_MAX_PENDING.packets), bytes: positive('maxPendingPerPeer.bytes', mp.bytes, DEFAULT_MAX_PENDING.bytes) }
    this.maxSessions = positive('maxSessions', options.maxSessions, 10_000)
    this.window = Math.floor(positive('replayWindow', options.replayWindow, DEFAULT_REPLAY_WINDOW))
    this.maxMessageSize = positive('maxMessageSize', options.maxMessageSize, 65_535)
    this.initRetryMs = positive('initRetryMs', options.initRetryMs, 1000)
    this.initThrottleMs = options.initThrottleMs ?? 250
    this.onError = options.onError
  }

  /** A snapshot of the counters. */
  get stats (): SessionStats {
    return { sessions: this.table.size, pending: this.buffers.size, ...this.counters }
  }

  /** Debug listing of the open sessions. */
  sessions (): SessionInfoView[] {
    const now = this.clock.now()
    return [...this.table.values()].map(s => ({
      key: peerIdFromBytes(s.ed),
      uptimeMs: now - s.since,
      idleMs: now - s.lastActive,
      rx: s.rx,
      tx: s.tx,
      localKeySeq: s.localKeySeq,
      remoteKeySeq: s.remoteKeySeq,
      sendNonce: s.sendNonce
    }))
  }

  /**
   * Sends `plaintext` to the node `destKey` (non-blocking): sealed at once if a session exists, else queued
   * (bounded; overflow drops the oldest and is counted) behind an init. Throws only on misuse.
   */
  sendTo (destKey: Uint8Array, plaintext: Uint8Array): void {
    if (this.closed) throw new SessionError('the session manager is closed')
    if (!(destKey instanceof Uint8Array) || destKey.length !== 32) throw new InvalidKeyError('destination key must be a 32-byte ed25519 public key')
    if (!(plaintext instanceof Uint8Array)) throw new SessionError('plaintext must be a Uint8Array')
    if (plaintext.length > this.maxMessageSize) throw new MessageTooLargeError(plaintext.length, this.maxMessageSize)
    const id = keyStr(destKey)
    const s = this.table.get(id)
    if (s !== undefined) {
      this.doSend(s, plaintext)
      return
    }
    this.bufferAndInit(id, destKey, plaintext)
  }

  /**
   * `sendTo` of the concatenation of `parts` (e.g. a type byte and a packet) without joining them on the hot
   * path: with an open session the parts go straight into the seal, which copies each once into the sealed
   * buffer. Only a message that must wait for a handshake is joined (and copied, as sendTo does).
   */
  sendParts (destKey: Uint8Array, parts: readonly Uint8Array[]): void {
    if (this.closed) throw new SessionError('the session manager is closed')
    if (!(destKey instanceof Uint8Array) || destKey.length !== 32) throw new InvalidKeyError('destination key must be a 32-byte ed25519 public key')
    let len = 0
    for (const p of parts) {
      if (!(p instanceof Uint8Array)) throw new SessionError('plaintext parts must be Uint8Arrays')
      len += p.length
    }
    if (len > this.maxMessageSize) throw new MessageTooLargeError(len, this.maxMessageSize)
    const id = keyStr(destKey)
    const s = this.table.get(id)
    if (s !== undefined) {
      this.doSend(s, parts, len)
      return
    }
    const joined = new Uint8Array(len)
    let o = 0
    for (const p of parts) { joined.set(p, o); o += p.length }
    this.bufferAndInit(id, destKey, joined)
  }

  /** Handles a datagram from the overlay (`sourceKey` = authenticated source). Never throws. */
  handlePacket (sourceKey: Uint8Array, payload: Uint8Array): void {
    if (this.closed) return
    try {
      if (!(sourceKey instanceof Uint8Array) || sourceKey.length !== 32 || !(payload instanceof Uint8Array) || payload.length === 0) {
        this.counters.malformed++
        return
      }
      switch (payload[0]) {
        case SESSION_TYPE_DUMMY:
          return
        case SESSION_TYPE_INIT: {
          const init = decryptInit(payload, this.boxPriv, sourceKey)
          if (init === undefined) { this.counters.badHandshakes++; return }
          this.counters.initsReceived++
          this.handleInit(sourceKey, init)
          return
        }
        case SESSION_TYPE_ACK: {
          const ack = decryptInit(payload, this.boxPriv, sourceKey)
          if (ack === undefined) { this.counters.badHandshakes++; return }
          this.counters.acksReceived++
          this.handleAck(sourceKey, ack)
          return
        }
        case SESSION_TYPE_TRAFFIC:
          this.handleTraffic(sourceKey, payload)
          return
        default:
          this.counters.malformed++
      }
    } catch (err) {
      this.counters.errors++
      this.report(err)
    }
  }

  /** Drops every session and pending queue and cancels all timers; later sendTo calls throw. */
  close (): void {
    if (this.closed) return
    this.closed = true
    for (const s of this.table.values()) this.clock.clearTimeout(s.timer)
    for (const b of this.buffers.values()) this.dropBuffer(b)
    this.table.clear()
    this.buffers.clear()
    this.peerBox.clear()
    this.throwawayAt.clear()
  }

  // ---- handshake ----

  private newInit (current: Uint8Array, next: Uint8Array, keySeq: bigint): SessionInit {
    return { current, next, keySeq, seq: BigInt(Math.max(0, Math.floor(this.unixTime() / 1000))) & MASK64 }
  }

  /** The cached X25519 key of a peer's ed25519 key (e2c), for sealing inits to it. */
  private peerBoxKey (id: KeyStr, ed: Uint8Array): Uint8Array | KeyObject {
    let k = this.peerBox.get(id)
    if (k === undefined) {
      k = dhPublic(edPublicToX25519(ed))
      if (this.peerBox.size >= 4096) {
        const oldest = this.peerBox.keys().next().value
        if (oldest !== undefined) this.peerBox.delete(oldest)
      }
      this.peerBox.set(id, k)
    }
    return k
  }

  private sendHandshake (type: number, dest: Uint8Array, id: KeyStr, init: SessionInit): void {
    const pkt = encryptInit(type, init, this.sign, this.peerBoxKey(id, dest))
    if (type === SESSION_TYPE_ACK) this.counters.acksSent++
    else this.counters.initsSent++
    this.out(dest, pkt, 0)
  }

  /** Go `_sendInit`: an init with our current keys (repair), throttled per peer. */
  private sendRepairInit (s: Session): void {
    const now = this.clock.now()
    if (now - s.lastRepairInit < this.initThrottleMs) return
    s.lastRepairInit = now
    this.sendHandshake(SESSION_TYPE_INIT, s.ed, s.id, this.newInit(sendKeys(s).pub, nextKeys(s).pub, s.localKeySeq))
  }

  private sendAck (s: Session): void {
    this.sendHandshake(SESSION_TYPE_ACK, s.ed, s.id, this.newInit(sendKeys(s).pub, nextKeys(s).pub, s.localKeySeq))
  }

  /** Go `_sessionForInit`: the existing session, or a new one adopting a pending buffer's keys. */
  private sessionForInit (ed: Uint8Array, init: SessionInit): { s: Session, buf: Pending | undefined } {
    const id = keyStr(ed)
    const existing = this.table.get(id)
    if (existing !== undefined) return { s: existing, buf: undefined }
    if (this.table.size >= this.maxSessions) this.evictOne()
    const now = this.clock.now()
    const s = new Session(plainCopy(ed), id, init.current, init.next, init.seq, now)
    this.table.set(id, s)
    this.counters.handshakes++
    this.armTimer(s)
    const buf = this.buffers.get(id)
    if (buf !== undefined) {
      this.buffers.delete(id)
      this.clock.clearTimeout(buf.expiry)
      this.clock.clearTimeout(buf.retry)
      s.send = buf.current
      s.nxt = buf.next
      this.fixShared(s, 0n)
    }
    return { s, buf }
  }

  private handleInit (ed: Uint8Array, init: SessionInit): void {
    const { s, buf } = this.sessionForInit(ed, init)
    if (init.seq > s.seq) {
      this.handleUpdate(s, init)
      this.sendAck(s)
    } else {
      this.counters.handshakesIgnored++
    }
    this.flush(s, buf)
  }

  private handleAck (ed: Uint8Array, ack: SessionInit): void {
    const isOld = this.table.has(keyStr(ed))
    const { s, buf } = this.sessionForInit(ed, ack)
    if (ack.seq > s.seq) {
      this.handleUpdate(s, ack)
      if (!isOld) this.sendAck(s) // an ack without a session is handled as an init
    } else {
      this.counters.handshakesIgnored++
    }
    this.flush(s, buf)
  }

  private flush (s: Session, buf: Pending | undefined): void {
    if (buf === undefined) return
    const q = buf.queue
    buf.queue = []
    buf.bytes = 0
    for (const m of q) {
      if (this.closed || this.table.get(s.id) !== s) { this.counters.pendingDropped++; continue }
      this.doSend(s, m)
    }
  }

  /** Go `_handleUpdate`: adopt the peer's keys and ratchet ours one step. */
  private handleUpdate (s: Session, init: SessionInit): void {
    s.current = init.current
    s.next = init.next
    s.currentKO = undefined
    s.nextKO = undefined
    s.seq = init.seq
    s.remoteKeySeq = init.keySeq
    s.recv = s.send
    s.send = s.nxt
    s.nxt = undefined // a new pair, generated on first use
    s.localKeySeq = (s.localKeySeq + 1n) & MASK64
    this.fixShared(s, s.sendNonce) // don't roll back sendNonce
    this.touch(s)
  }

  /** Go `_fixShared(_, sendNonce)`: the four shared secrets are recomputed lazily (see ensureShared). */
  private fixShared (s: Session, sendNonce: bigint): void {
    s.sendNonce = sendNonce
    s.dirty = true
  }

  /** Computes the four shared secrets; each receive slot keeps the replay window of an identical old secret. */
  private ensureShared (s: Session): void {
    if (!s.dirty) return
    s.currentKO ??= dhPublic(s.current)
    s.nextKO ??= dhPublic(s.next)
    const recvPriv = recvKeys(s).priv
    const sendPriv = sendKeys(s).priv
    const recv = boxPrecompute(s.currentKO, recvPriv)
    const send = boxPrecompute(s.currentKO, sendPriv)
    const nextSend = boxPrecompute(s.nextKO, sendPriv)
    const nextRecv = boxPrecompute(s.nextKO, recvPriv)
    const old: Array<[BoxKey | undefined, ReplayWindow | undefined]> = [
      [s.recvShared, s.recvWin], [s.nextSendShared, s.nextSendWin], [s.nextRecvShared, s.nextRecvWin]
    ]
    const windowFor = (k: BoxKey): ReplayWindow => {
      for (const [ok, w] of old) if (ok !== undefined && w !== undefined && ok.equals(k)) return w
      return new ReplayWindow(this.window)
    }
    s.recvWin = windowFor(recv)
    s.nextSendWin = windowFor(nextSend)
    s.nextRecvWin = windowFor(nextRecv)
    s.recvShared = recv
    s.sendShared = send
    s.nextSendShared = nextSend
    s.nextRecvShared = nextRecv
    s.dirty = false
  }

  // ---- pending buffers ----

  private bufferAndInit (id: KeyStr, dest: Uint8Array, msg: Uint8Array): void {
    const now = this.clock.now()
    let buf = this.buffers.get(id)
    let fresh = false
    if (buf === undefined) {
      if (this.buffers.size >= this.maxSessions) {
        const oldest = this.buffers.values().next().value
        if (oldest !== undefined) { this.buffers.delete(keyStr(oldest.ed)); this.dropBuffer(oldest); this.counters.evicted++ }
      }
      const current = newBoxKeys()
      const next = newBoxKeys()
      buf = {
        ed: plainCopy(dest),
        init: this.newInit(current.pub, next.pub, 0n),
        current,
        next,
        queue: [],
        bytes: 0,
        lastWrite: now,
        lastInit: -Infinity,
        retryMs: this.initRetryMs,
        expiry: undefined,
        retry: undefined
      }
      this.buffers.set(id, buf)
      fresh = true
    }
    // Bounded FIFO; the newest message wins, like Go's one-slot buffer.
    if (msg.length > this.maxPending.bytes) {
      this.counters.pendingDropped++
    } else {
      buf.queue.push(plainCopy(msg))
      buf.bytes += msg.length
      while (buf.queue.length > this.maxPending.packets || buf.bytes > this.maxPending.bytes) {
        const dropped = buf.queue.shift()
        if (dropped === undefined) break
        buf.bytes -= dropped.length
        this.counters.pendingDropped++
      }
    }
    buf.lastWrite = now
    if (fresh || now - buf.lastInit >= this.initRetryMs) this.sendPendingInit(id, buf)
    const b = buf
    this.clock.clearTimeout(b.expiry)
    b.expiry = this.clock.setTimeout(() => {
      if (this.buffers.get(id) === b) {
        this.buffers.delete(id)
        this.dropBuffer(b)
      }
    }, SESSION_TIMEOUT_MS)
  }

  private sendPendingInit (id: KeyStr, buf: Pending): void {
    buf.lastInit = this.clock.now()
    this.sendHandshake(SESSION_TYPE_INIT, buf.ed, id, buf.init)
    this.clock.clearTimeout(buf.retry)
    const delay = buf.retryMs
    buf.retryMs = Math.min(buf.retryMs * 2, BACKOFF_CAP_MS)
    buf.retry = this.clock.setTimeout(() => {
      if (this.buffers.get(id) === buf && !this.closed) this.sendPendingInit(id, buf)
    }, delay)
  }

  private dropBuffer (b: Pending): void {
    this.clock.clearTimeout(b.expiry)
    this.clock.clearTimeout(b.retry)
    this.counters.pendingDropped += b.queue.length
    b.queue = []
    b.bytes = 0
  }

  // ---- traffic ----

  /** Seals and sends one message (`msg`, or the concatenation of `msg` parts of `len` bytes in total). */
  private doSend (s: Session, msg: Uint8Array | readonly Uint8Array[], len = (msg as Uint8Array).length): void {
    s.sendNonce = (s.sendNonce + 1n) & MASK64
    if (s.sendNonce === 0n) {
      // Nonce wrapped: rotate our keys (Go `doSend`); the fresh key starts at nonce 1.
      s.recv = s.send
      s.send = s.nxt
      s.nxt = undefined
      s.localKeySeq = (s.localKeySeq + 1n) & MASK64
      this.fixShared(s, 1n)
      this.counters.rotations++
    }
    this.ensureShared(s)
    const pkt = encodeTraffic(s.localKeySeq, s.remoteKeySeq, s.sendNonce, s.sendShared as BoxKey, nextKeys(s).pub, msg, FRAME_HEADROOM)
    s.tx += len
    this.counters.packetsSent++
    this.counters.bytesSent += len
    this.touch(s)
    this.out(s.ed, pkt, FRAME_HEADROOM)
  }

  private handleTraffic (ed: Uint8Array, msg: Uint8Array): void {
    const id = keyStr(ed)
    const s = this.table.get(id)
    if (s === undefined) {
      this.counters.unknownSessionTraffic++
      if (parseTrafficHeader(msg) === undefined) { this.counters.malformed++; return }
      this.sendThrowawayInit(id, ed)
      return
    }
    const h = parseTrafficHeader(msg)
    if (h === undefined) { this.counters.malformed++; return }
    this.ensureShared(s)
    const fromCurrent = h.senderLocalKeySeq === s.remoteKeySeq
    const fromNext = h.senderLocalKeySeq === ((s.remoteKeySeq + 1n) & MASK64)
    const toRecv = ((h.senderRemoteKeySeq + 1n) & MASK64) === s.localKeySeq
    const toSend = h.senderRemoteKeySeq === s.localKeySeq
    let key: BoxKey
    let win: ReplayWindow
    let ratchet: boolean
    if (fromCurrent && toRecv) {
      key = s.recvShared as BoxKey; win = s.recvWin as ReplayWindow; ratchet = false
    } else if (fromNext && toSend) {
      key = s.nextSendShared as BoxKey; win = s.nextSendWin as ReplayWindow; ratchet = true
    } else if (fromNext && toRecv) {
      key = s.nextRecvShared as BoxKey; win = s.nextRecvWin as ReplayWindow; ratchet = true
    } else {
      // We can't make sense of their message: send an init and hope they ack.
      this.counters.keySeqMismatches++
      this.sendRepairInit(s)
      return
    }
    if (win.check(h.nonce) !== 'ok') { this.counters.replaysRejected++; return }
    // The packet's buffer came from the link and is ours: open large packets in place (small ones are copied
    // out, so a message kept in an inbox never pins a larger receive buffer).
    const plain = boxOpen(key, h.nonce, msg, h.boxOffset, msg.length * 2 >= msg.buffer.byteLength)
    if (plain === undefined) {
      // Keys out of sync (e.g. the peer restarted): repair with a fresh init.
      this.counters.decryptFailures++
      this.sendRepairInit(s)
      return
    }
    if (plain.length < 32) { this.counters.malformed++; return }
    win.accept(h.nonce)
    const message = plain.subarray(32)
    if (ratchet) {
      const now = this.clock.now()
      if (s.rotated === undefined || now - s.rotated > ROTATION_INTERVAL_MS) {
        s.current = s.next
        s.currentKO = s.nextKO
        s.next = plain.slice(0, 32)
        s.nextKO = undefined
        s.remoteKeySeq = (s.remoteKeySeq + 1n) & MASK64
        s.recv = s.send
        s.send = s.nxt
        s.localKeySeq = (s.localKeySeq + 1n) & MASK64
        s.nxt = undefined
        this.fixShared(s, 0n)
        s.rotated = now
        this.counters.rotations++
      }
    }
    s.rx += message.length
    this.counters.packetsReceived++
    this.counters.bytesReceived += message.length
    this.touch(s)
    try {
      this.onMessage(s.ed, message)
    } catch (err) {
      this.counters.errors++
      this.report(err)
    }
  }

  /** Go `_handleTraffic` without a session: an init with keys we forget, so a restarted peer self-heals. */
  private sendThrowawayInit (id: KeyStr, ed: Uint8Array): void {
    const now = this.clock.now()
    const last = this.throwawayAt.get(id)
    if (last !== undefined && now - last < this.initThrottleMs) return
    if (this.throwawayAt.size >= 4096) this.throwawayAt.clear()
    this.throwawayAt.set(id, now)
    const init = this.newInit(new Uint8Array(randomBytes(32)), new Uint8Array(randomBytes(32)), 0n)
    this.sendHandshake(SESSION_TYPE_INIT, ed, id, init)
  }

  // ---- timers ----

  private touch (s: Session): void {
    s.lastActive = this.clock.now()
  }

  /** One timer per session: fires at lastActive + 1 min and re-arms itself while the session is active. */
  private armTimer (s: Session): void {
    this.clock.clearTimeout(s.timer)
    const due = s.lastActive + SESSION_TIMEOUT_MS - this.clock.now()
    s.timer = this.clock.setTimeout(() => {
      if (this.table.get(s.id) !== s) return
      if (this.clock.now() - s.lastActive >= SESSION_TIMEOUT_MS) {
        this.table.delete(s.id)
        this.counters.expired++
      } else {
        this.armTimer(s)
      }
    }, Math.max(0, due))
  }

  private evictOne (): void {
    let victim: Session | undefined
    for (const s of this.table.values()) if (victim === undefined || s.lastActive < victim.lastActive) victim = s
    if (victim === undefined) return
    this.clock.clearTimeout(victim.timer)
    this.table.delete(victim.id)
    this.counters.evicted++
  }

  private report (err: unknown): void {
    if (this.onError === undefined) return
    // The error sink must not break packet handling.
    try { this.onError(err) } catch (e) { log('the session error sink threw: %s', e instanceof Error ? e.message : String(e)) }
  }
}
