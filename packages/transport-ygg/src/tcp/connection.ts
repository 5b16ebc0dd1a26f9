/**
 * One TCP connection (RFC 9293 state machine): handshake with MSS and window-scale options, sliding-window
 * flow control, out-of-order reassembly, RTO (RFC 6298, Karn), NewReno fast retransmit/recovery
 * (RFC 5681/6582) with byte-counted cwnd, zero-window probing, keepalive, FIN/RST in every state and
 * TIME_WAIT. Created by TcpStack; the application sees it through listen() and connect().
 */
import { StreamClosedError, formatIpv6 } from '@axl/core'
import type { Clock } from '../clock.js'
import { IPPROTO_TCP, encodeIpv6Header, foldChecksum, onesSum } from '../ipv6/ipv6.js'
import { LazyTimer, Reassembly, SendQueue } from './buffers.js'
import { ConnectionRefusedError, ConnectionResetError, ConnectionTimeoutError, HostUnreachableError, TcpLimitError } from './errors.js'
import type { ResolvedTcpOptions } from './options.js'
import {
  ACK, DEFAULT_IPV6_MSS, FIN, PSH, RST, SYN, type TcpSegment,
  seqGeq, seqGt, seqLeq, seqLt, writeU32
} from './segment.js'
import { defaultLogger } from '@libp2p/logger'

const log = defaultLogger().forComponent('axl:tcp')

/** TCP connection states (RFC 9293 §3.3.2; LISTEN belongs to listeners). */
export type TcpState =
  | 'SYN_SENT' | 'SYN_RECEIVED' | 'ESTABLISHED' | 'FIN_WAIT_1' | 'FIN_WAIT_2'
  | 'CLOSE_WAIT' | 'CLOSING' | 'LAST_ACK' | 'TIME_WAIT' | 'CLOSED'

/** Counters and congestion state of one connection. */
export interface TcpConnectionStats {
  /** Application bytes acknowledged by the peer. */
  bytesAcked: number
  /** Application bytes received in order. */
  bytesReceived: number
  segmentsSent: number
  segmentsReceived: number
  /** Segments sent again (timeouts, fast retransmits, go-back-N). */
  retransmits: number
  fastRetransmits: number
  /** Retransmission timer expirations. */
  timeouts: number
  dupAcksReceived: number
  /** Smoothed RTT, its variation and the current RTO, in ms (srtt is -1 before the first sample). */
  srttMs: number
  rttvarMs: number
  rtoMs: number
  cwnd: number
  ssthresh: number
  /** The peer's current window and ours, in bytes. */
  sndWnd: number
  rcvWnd: number
  /** Segment size we send. */
  mss: number
  /** Bytes queued to send (unacknowledged + unsent) and received but not yet delivered. */
  sendQueued: number
  recvQueued: number
  outOfOrderBytes: number
  outOfOrderDropped: number
}

/** What a connection needs from its stack (internal). */
export interface StackContext {
  readonly clock: Clock
  readonly local: Uint8Array
  readonly opts: ResolvedTcpOptions
  output: (pkt: Uint8Array) => void
  alloc: (n: number) => Uint8Array
  random32: () => number
  /** The connection reached CLOSED: forget it. */
  released: (c: TcpConnection) => void
  /** A passive connection completed its handshake. */
  established: (c: TcpConnection) => void
  /** The connection entered TIME_WAIT. */
  enteredTimeWait: (c: TcpConnection) => void
}

const HARD_SEND_LIMIT_FACTOR = 4

/** A TCP connection: a reliable, ordered, flow-controlled byte stream to `remoteAddress`:`remotePort`. */
export class TcpConnection {
  /** The peer's IPv6 address (16 bytes). */
  readonly remoteAddress: Uint8Array
  /** The peer's port. */
  readonly remotePort: number
  /** Our port. */
  readonly localPort: number
  /** Called when the peer closed its direction (FIN), after all its data was delivered. */
  onEnd: (() => void) | undefined
  /** Called when the send queue fell to half of sendBuffer after write() returned false. */
  onDrain: (() => void) | undefined
  /** Called once when the connection is finished: no error after an orderly close, else the reason. */
  onClose: ((err?: Error) => void) | undefined

  /** @internal */ _state: TcpState
  /** @internal true for connections created by a listener. */ _passive = false
  /** @internal */ _connectWaiter: { resolve: (c: TcpConnection) => void, reject: (e: Error) => void } | undefined
  /** @internal Next sequence number expected from the peer. */ rcvNxt = 0

  private readonly ctx: StackContext
  private readonly opts: ResolvedTcpOptions
  private readonly hdr = new Uint8Array(40)
  private readonly pseudo: number
  private _onData: ((data: Uint8Array) => void) | undefined

  // Send sequence space.
  private iss = 0
  private sndUna = 0
  private sndNxt = 0
  private sndMax = 0
  private sndWnd = 0
  private maxSndWnd = 0
  private sndWl1 = 0
  private sndWl2 = 0
  private sndWscale = 0
  private sndMss: number
  private readonly sendQ = new SendQueue()
  private finQueued = false
  private finSeq = 0
  private needDrain = false
  private corked = false

  // Receive sequence space.
  private irs = 0
  private rcvAdv = 0
  private rcvWscale = 0
  private wsOk = false
  private readonly reasm: Reassembly
  private rcvFinSeq = -1
  private finReceived = false
  private endDelivered = false
  private rcvQueue: Uint8Array[] = []
  private rcvQueueHead = 0
  private rcvQueued = 0
  private paused = false
  private ackPending = false
  private segsSinceAck = 0
  private readonly updateThreshold: number

  // Congestion control and RTT.
  private cwnd: number
  private ssthresh = 0x7fffffff
  private caAcc = 0
  private dupAcks = 0
  private inRecovery = false
  private recover = 0
  private srtt = -1
  private rttvar = 0
  private rtoBase: number
  private backoff = 0
  private timing = false
  private rttSeq = 0
  private rttStart = 0
  private rtxCount = 0
  private synRetx = 0
  private persistMode = false
  private persistBackoff = 0
  private lastProgressAt = 0
  private lastRecvAt = 0
  private keepAliveSent = 0

  private readonly rtxTimer: LazyTimer
  private readonly delackTimer: LazyTimer
  private readonly slowTimer: LazyTimer
  private closeNotified = false
  private handedOut = false
  private aborted = false
  private closeError: Error | undefined
  private inCallback = 0

  private readonly st = {
    bytesAcked: 0, bytesReceived: 0, segmentsSent: 0, segmentsReceived: 0, retransmits: 0, fastRetransmits: 0,
    timeouts: 0, dupAcksReceived: 0, outOfOrderDropped: 0
  }

  /** @internal Created by TcpStack only. */
  constructor (ctx: StackContext, remoteAddress: Uint8Array, remotePort: number, localPort: number) {
    this.ctx = ctx
    this.opts = ctx.opts
    this.remoteAddress = remoteAddress
    this.remotePort = remotePort
    this.localPort = localPort
    this._state = 'CLOSED'
    encodeIpv6Header(this.hdr, 0, ctx.local, remoteAddress, IPPROTO_TCP, 0)
    this.pseudo = onesSum(this.hdr, 8, 40, IPPROTO_TCP)
    this.sndMss = Math.min(DEFAULT_IPV6_MSS, this.opts.mss)
    this.cwnd = this.opts.initialCwndSegments * this.sndMss
    this.rtoBase = this.opts.initialRtoMs
    this.reasm = new Reassembly(this.opts.maxOutOfOrderSegments)
    this.updateThreshold = Math.min(this.opts.recvBuffer >> 1, this.opts.mss)
    this.rtxTimer = new LazyTimer(ctx.clock, () => { this.guard(() => { this.onRtxTimer() }) })
    this.delackTimer = new LazyTimer(ctx.clock, () => { this.guard(() => { if (this.ackPending) this.sendAck() }) })
    this.slowTimer = new LazyTimer(ctx.clock, () => { this.guard(() => { this.onSlowTimer() }) })
  }

  /** The RFC 9293 state. */
  get state (): TcpState { return this._state }

  /** Called with each chunk of received data, in order (a view: copy it to keep it past the call). Setting it delivers data buffered meanwhile. */
  get onData (): ((data: Uint8Array) => void) | undefined { return this._onData }
  set onData (fn: ((data: Uint8Array) => void) | undefined) {
    this._onData = fn
    if (fn !== undefined && this.inCallback === 0) this.drainReceived()
  }

  /** Bytes written but not yet acknowledged by the peer. */
  get writableLength (): number { return this.sendQ.length }
  /** Bytes received but not yet delivered (while paused or without onData). */
  get readableLength (): number { return this.rcvQueued }
  /** True while the connection can take write() calls. */
  get writable (): boolean { return (this._state === 'ESTABLISHED' || this._state === 'CLOSE_WAIT') && !this.finQueued }

  /** A snapshot of the connection's counters. */
  get stats (): TcpConnectionStats {
    return {
      ...this.st,
      srttMs: this.srtt,
      rttvarMs: this.rttvar,
      rtoMs: this.rto(),
      cwnd: this.cwnd,
      ssthresh: this.ssthresh,
      sndWnd: this.sndWnd,
      rcvWnd: Math.max(0, (this.rcvAdv - this.rcvNxt) | 0),
      mss: this.sndMss,
      sendQueued: this.sendQ.length,
      recvQueued: this.rcvQueued,
      outOfOrderBytes: this.reasm.bytes
    }
  }

  /**
   * Queues `data` for sending (kept by reference: do not modify it afterwards) and sends what the windows
   * allow. Returns false when the send queue is at or above sendBuffer: wait for onDrain. Throws
   * StreamClosedError after end() or once closed, TcpLimitError when far beyond the buffer.
   */
  write (data: Uint8Array): boolean {
    if (!this.writable) {
      throw this.closeError !== undefined
        ? new StreamClosedError(`write on a closed TCP connection: ${this.closeError.message}`)
        : new StreamClosedError(`write on a TCP connection in state ${this._state}${this.finQueued ? ' after end()' : ''}`)
    }
    if (this.sendQ.length + data.length > this.opts.sendBuffer * HARD_SEND_LIMIT_FACTOR) {
      throw new TcpLimitError(`send queue would exceed ${this.opts.sendBuffer * HARD_SEND_LIMIT_FACTOR} bytes: wait for onDrain`)
    }
    this.sendQ.push(data)
    this.trySend()
    if (this.sendQ.length >= this.opts.sendBuffer) { this.needDrain = true; return false }
    return true
  }

  /** Holds back partial segments until uncork() (Nagle is off otherwise: small writes go out at once). */
  cork (): void { this.corked = true }
  /** Sends what cork() held back. */
  uncork (): void {
    if (!this.corked) return
    this.corked = false
    this.trySend()
  }

  /** Closes our direction: a FIN follows the queued data. Reading continues until onEnd. Idempotent. */
  end (): void {
    if (this.finQueued) return
    if (this._state === 'ESTABLISHED') this._state = 'FIN_WAIT_1'
    else if (this._state === 'CLOSE_WAIT') this._state = 'LAST_ACK'
    else if (this._state === 'SYN_SENT' || this._state === 'SYN_RECEIVED') { this.reset(); return } else return
    this.finQueued = true
    this.finSeq = (this.sndUna + this.sendQ.length) >>> 0
    this.trySend()
  }

  /** Aborts at once: sends RST, drops queued data both ways; onClose gets `err` (if any). */
  reset (err?: Error): void {
    if (this.isClosed()) return
    this.abort(err, true)
  }

  /** Stops delivering data: it accumulates (up to recvBuffer) and the advertised window shrinks. */
  pause (): void { this.paused = true }

  /** Delivers buffered data and reopens the window. */
  resume (): void {
    if (!this.paused) return
    this.paused = false
    if (this.inCallback === 0) this.drainReceived()
  }

  /** Human-readable endpoint, for logs. */
  toString (): string { return `[${formatIpv6(this.remoteAddress)}]:${this.remotePort} (local port ${this.localPort}, ${this._state})` }

  // ---------------------------------------------------------------------------------------------------------
  // Opening

  /** @internal Active open: send SYN. */
  _startConnect (): void {
    this.iss = this.ctx.random32()
    this.sndUna = this.iss
    this.sndNxt = (this.iss + 1) >>> 0
    this.sndMax = this.sndNxt
    this.recover = this.iss
    this._state = 'SYN_SENT'
    this.rcvWscale = this.opts.wscale
    this.emit(this.iss, SYN, 0, 0)
    this.rttStart = this.ctx.clock.now()
    this.rtxTimer.set(this.rto())
  }

  /** @internal Passive open from a listener: `seg` is the SYN. */
  _startPassive (seg: TcpSegment): void {
    this._passive = true
    this.acceptSynOptions(seg)
    this.irs = seg.seq
    this.rcvNxt = (seg.seq + 1) >>> 0
    this.rcvAdv = this.rcvNxt
    this.iss = this.ctx.random32()
    this.sndUna = this.iss
    this.sndNxt = (this.iss + 1) >>> 0
    this.sndMax = this.sndNxt
    this.recover = this.iss
    this.sndWnd = seg.window // never scaled in a SYN
    this.maxSndWnd = this.sndWnd
    this.sndWl1 = seg.seq
    this.sndWl2 = this.iss
    this._state = 'SYN_RECEIVED'
    this.lastRecvAt = this.ctx.clock.now()
    this.emit(this.iss, SYN | ACK, 0, 0)
    this.rttStart = this.ctx.clock.now()
    this.rtxTimer.set(this.rto())
  }

  private acceptSynOptions (seg: TcpSegment): void {
    const peerMss = seg.mss > 0 ? seg.mss : DEFAULT_IPV6_MSS
    this.sndMss = Math.max(64, Math.min(peerMss, this.opts.mss))
    this.cwnd = this.opts.initialCwndSegments * this.sndMss
    this.wsOk = seg.wscale >= 0
    this.sndWscale = this.wsOk ? seg.wscale : 0
    this.rcvWscale = this.wsOk ? this.opts.wscale : 0
  }

  // ---------------------------------------------------------------------------------------------------------
  // Input

  /** @internal A segment for this connection (checksum verified, header parsed). */
  _segmentArrives (seg: TcpSegment, pkt: Uint8Array): void {
    this.guard(() => { this.segmentArrives(seg, pkt) })
  }

  private segmentArrives (seg: TcpSegment, pkt: Uint8Array): void {
    this.segmentArrivesInner(seg, pkt)
    // Handlers set from inside callbacks (onConnection, onData) pick up what was buffered meanwhile.
    if (this.rcvQueued > 0 && !this.paused && this._onData !== undefined && !this.aborted) this.drainReceived()
  }

  private segmentArrivesInner (seg: TcpSegment, pkt: Uint8Array): void {
    this.st.segmentsReceived++
    const flags = seg.flags
    if (this._state === 'SYN_SENT') { this.synSentArrives(seg); return }
    if (this.isClosed()) return
    this.lastRecvAt = this.ctx.clock.now()
    this.keepAliveSent = 0

    // 1. Sequence acceptability (RFC 9293 §3.10.7.4).
    const len = seg.dataLength
    const wnd = Math.max(0, (this.rcvAdv - this.rcvNxt) | 0)
    const rel = (seg.seq - this.rcvNxt) | 0
    let ok: boolean
    let dataAllowed = true
    if (len === 0) ok = wnd === 0 ? rel === 0 : rel >= 0 && rel < wnd
    else if (wnd === 0) {
      // Zero window: still take the ACK/RST of a segment at RCV.NXT, not its data.
      ok = rel === 0
      dataAllowed = false
    } else ok = (rel >= 0 && rel < wnd) || (rel + len - 1 >= 0 && rel + len - 1 < wnd)
    if (!ok) {
      if ((flags & RST) === 0) this.sendAck()
      return
    }

    // 2. RST (RFC 5961 §3: exact match resets, in-window gets a challenge ACK).
    if ((flags & RST) !== 0) {
      if (rel !== 0) { this.sendAck(); return }
      if (this._state === 'SYN_RECEIVED' && this._passive) { this.release(); return }
      if (this._state === 'TIME_WAIT') return // RFC 1337
      this.abort(this._state === 'SYN_RECEIVED'
        ? new ConnectionRefusedError(this.peerName())
        : new ConnectionResetError(), false)
      return
    }

    // 3. SYN in a synchronized state.
    if ((flags & SYN) !== 0) {
      if (this._state === 'SYN_RECEIVED' && seg.seq === this.irs) {
        this.emit(this.iss, SYN | ACK, 0, 0) // our SYN-ACK was lost
        return
      }
      this.sendAck() // RFC 5961 §4 challenge ACK
      return
    }

    // 4. ACK.
    if ((flags & ACK) === 0) return
    if (this._state === 'SYN_RECEIVED') {
      if (seqGt(seg.ack, this.sndUna) && seqLeq(seg.ack, this.sndMax)) {
        this.sndWl1 = seg.seq
        this.synAcked(seg.ack, seg.window * (1 << this.sndWscale))
        this.armKeepAlive()
        this.callback(() => { this.ctx.established(this) })
        if (this.isClosed()) return
      } else {
        this.sendRstSeq(seg.ack)
        return
      }
    } else if (!this.processAck(seg)) return
    if (this.isClosed()) return

    const finAcked = this.finQueued && seqGt(this.sndUna, this.finSeq)
    if (finAcked) {
      if (this._state === 'FIN_WAIT_1') {
        this._state = 'FIN_WAIT_2'
        this.slowTimer.set(this.opts.finWait2TimeoutMs)
      } else if (this._state === 'CLOSING') {
        this.enterTimeWait()
        return
      } else if (this._state === 'LAST_ACK') {
        this.finish()
        return
      }
    }
    if (this._state === 'TIME_WAIT') {
      // A retransmitted FIN: acknowledge it again and restart the 2MSL timer.
      if ((flags & FIN) !== 0) { this.sendAck(); this.slowTimer.set(this.opts.timeWaitMs) }
      return
    }

    // 5. Data and 6. FIN.
    const fin = (flags & FIN) !== 0
    const receiving = this._state === 'ESTABLISHED' || this._state === 'FIN_WAIT_1' || this._state === 'FIN_WAIT_2'
    if (!dataAllowed) {
      // A probe into our zero window: its data cannot be taken, but it must be answered with our window.
      this.sendAck()
    } else if (receiving && (len > 0 || fin)) {
      this.receive(seg.seq, pkt, seg.dataOffset, len, fin)
      if (this.isClosed()) return
    } else if (len > 0 || fin) {
      // Data or FIN after the peer's FIN: only re-acknowledge.
      this.sendAck()
    }
    this.trySend()
  }

  private synSentArrives (seg: TcpSegment): void {
    const flags = seg.flags
    const ackOk = (flags & ACK) !== 0 && seqGt(seg.ack, this.iss) && seqLeq(seg.ack, this.sndMax)
    if ((flags & ACK) !== 0 && !ackOk) {
      if ((flags & RST) === 0) this.sendRstSeq(seg.ack)
      return
    }
    if ((flags & RST) !== 0) {
      if (ackOk) this.abort(new ConnectionRefusedError(this.peerName()), false)
      return
    }
    if ((flags & SYN) === 0) return
    this.lastRecvAt = this.ctx.clock.now()
    this.acceptSynOptions(seg)
    this.irs = seg.seq
    this.rcvNxt = (seg.seq + 1) >>> 0
    this.rcvAdv = (this.rcvNxt + Math.min(this.opts.recvBuffer, 65535)) >>> 0
    this.sndWl1 = seg.seq
    if (ackOk) {
      this.synAcked(seg.ack, seg.window) // the window is unscaled in a SYN-ACK
      this.sendAck()
      this.armKeepAlive()
      const w = this._connectWaiter
      this._connectWaiter = undefined
      if (w !== undefined) this.callback(() => { w.resolve(this) })
    } else {
      // Simultaneous open.
      this.sndWnd = seg.window
      this._state = 'SYN_RECEIVED'
      this.emit(this.iss, SYN | ACK, 0, 0)
    }
  }

  /** Our SYN is acknowledged by `ack` and the peer's window is `wnd`: the connection is established. */
  private synAcked (ack: number, wnd: number): void {
    this.sndUna = ack
    this.sndWnd = wnd
    this.maxSndWnd = Math.max(this.maxSndWnd, wnd)
    this.sndWl2 = ack
    if (this.synRetx === 0) this.rttSample(this.ctx.clock.now() - this.rttStart)
    this.rtxTimer.cancel()
    this.backoff = 0
    this._state = 'ESTABLISHED'
    this.lastProgressAt = this.ctx.clock.now()
    this.handedOut = true
  }

  /** ACK processing in synchronized states; false means drop the rest of the segment. */
  private processAck (seg: TcpSegment): boolean {
    const ack = seg.ack
    if (seqGt(ack, this.sndMax)) { this.sendAck(); return false }
    const newWnd = seg.window * (1 << this.sndWscale)
    let windowChanged = false
    if (seqLt(this.sndWl1, seg.seq) || (this.sndWl1 === seg.seq && seqLeq(this.sndWl2, ack))) {
      windowChanged = newWnd !== this.sndWnd
      this.sndWnd = newWnd
      this.sndWl1 = seg.seq
      this.sndWl2 = ack
      if (newWnd > this.maxSndWnd) this.maxSndWnd = newWnd
      if (newWnd === 0) {
        // The peer is alive but full: this is progress as far as the user timeout is concerned.
        this.lastProgressAt = this.ctx.clock.now()
        this.rtxCount = 0
      }
    }
    if (seqLt(ack, this.sndUna)) return true
    const acked = (ack - this.sndUna) >>> 0
    if (acked === 0) {
      if (seg.dataLength === 0 && (seg.flags & (SYN | FIN)) === 0 && !windowChanged && this.sndMax !== this.sndUna) this.onDupAck()
      return true
    }
    this.onNewAck(ack, acked)
    return true
  }

  private onNewAck (ack: number, acked: number): void {
    const mss = this.sndMss
    let dataAcked = acked
    if (this.finQueued && seqGt(ack, this.finSeq)) dataAcked--
    if (dataAcked > this.sendQ.length) dataAcked = this.sendQ.length
    this.sendQ.consume(dataAcked)
    this.st.bytesAcked += dataAcked
    this.sndUna = ack
    if (seqLt(this.sndNxt, ack)) this.sndNxt = ack
    const now = this.ctx.clock.now()
    this.lastProgressAt = now
    this.backoff = 0
    this.rtxCount = 0
    if (this.timing && seqGeq(ack, this.rttSeq)) {
      this.timing = false
      this.rttSample(now - this.rttStart)
    }
    if (this.inRecovery) {
      if (seqGeq(ack, this.recover)) {
        // Full acknowledgment: leave fast recovery (RFC 6582 §3.2 step 3).
        this.inRecovery = false
        this.dupAcks = 0
        this.cwnd = Math.max(Math.min(this.ssthresh, ((this.sndMax - this.sndUna) >>> 0) + mss), mss)
      } else {
        // Partial acknowledgment: retransmit the next hole, deflate cwnd.
        this.retransmitFront()
        this.cwnd = Math.max(this.cwnd - dataAcked + (dataAcked >= mss ? mss : 0), mss)
      }
    } else {
      this.dupAcks = 0
      if (this.cwnd < this.ssthresh) this.cwnd += Math.min(dataAcked, 2 * mss)
      else {
        this.caAcc += dataAcked
        if (this.caAcc >= this.cwnd) { this.caAcc -= this.cwnd; this.cwnd += mss }
      }
      const cap = 2 * Math.max(this.opts.sendBuffer, this.maxSndWnd) + 4 * mss
      if (this.cwnd > cap) this.cwnd = cap
    }
    if (this.sndUna === this.sndMax) { this.rtxTimer.cancel(); this.persistMode = false } else { this.persistMode = false; this.rtxTimer.set(this.rto()) }
    if (this.needDrain && this.sendQ.length <= this.opts.sendBuffer >> 1) {
      this.needDrain = false
      const fn = this.onDrain
      if (fn !== undefined) this.callback(fn)
    }
  }

  private onDupAck (): void {
    this.st.dupAcksReceived++
    this.dupAcks++
    const mss = this.sndMss
    if (this.inRecovery) {
      this.cwnd += mss // inflate: another segment left the network
      return
    }
    if (this.dupAcks === 3 && seqGt(this.sndUna, this.recover)) {
      const flight = (this.sndMax - this.sndUna) >>> 0
      this.ssthresh = Math.max(flight >> 1, 2 * mss)
      this.recover = this.sndMax
      this.inRecovery = true
      this.timing = false
      this.st.fastRetransmits++
      this.retransmitFront()
      this.cwnd = this.ssthresh + 3 * mss
    }
  }

  /** In-window data (and maybe FIN) at `seq`; `len` bytes from pkt[off]. */
  private receive (seq: number, pkt: Uint8Array, off: number, len: number, fin: boolean): void {
    // Trim what we already have and what lies beyond the window.
    const pre = (this.rcvNxt - seq) | 0
    if (pre > 0) {
      if (pre >= len) { off += len; len = 0 } else { off += pre; len -= pre }
      seq = this.rcvNxt
    }
    const room = (this.rcvAdv - seq) | 0
    if (len > room) { len = Math.max(room, 0); fin = false }
    let ackNow = false
    if (fin) {
      const fs = (seq + len) >>> 0
      if (this.rcvFinSeq === -1) this.rcvFinSeq = fs
    }
    if (len > 0) {
      if (seq === this.rcvNxt) {
        this.rcvNxt = (this.rcvNxt + len) >>> 0
        this.st.bytesReceived += len
        this.ackPending = true
        this.segsSinceAck++
        const filling = this.reasm.count > 0
        this.deliver(pkt.subarray(off, off + len))
        if (this.isClosed()) return
        if (filling) {
          ackNow = true
          for (;;) {
            const chunk = this.reasm.shift(this.rcvNxt)
            if (chunk === undefined) break
            this.rcvNxt = (this.rcvNxt + chunk.length) >>> 0
            this.st.bytesReceived += chunk.length
            this.deliver(chunk)
            if (this.isClosed()) return
          }
        }
      } else {
        if (!this.reasm.insert(seq, pkt.subarray(off, off + len), this.rcvNxt)) this.st.outOfOrderDropped++
        ackNow = true // duplicate ACK tells the sender about the hole
        this.ackPending = true
      }
    }
    if (this.rcvFinSeq !== -1 && !this.finReceived && this.rcvNxt === this.rcvFinSeq) {
      this.finReceived = true
      this.rcvNxt = (this.rcvNxt + 1) >>> 0
      this.reasm.clear()
      this.ackPending = true
      ackNow = true
      if (this._state === 'ESTABLISHED') this._state = 'CLOSE_WAIT'
      else if (this._state === 'FIN_WAIT_1') this._state = 'CLOSING'
      else if (this._state === 'FIN_WAIT_2') { this.sendAck(); this.enterTimeWait() }
      this.maybeDeliverEnd()
      if (this.isClosed() || this._state as TcpState === 'TIME_WAIT') return
    } else if (this.rcvFinSeq !== -1 && !this.finReceived) ackNow = true
    if (!this.ackPending) return
    if (ackNow || this.segsSinceAck >= 2 || this.opts.delayedAckMs === 0) this.sendAck()
    else if (!this.delackTimer.armed) this.delackTimer.set(this.opts.delayedAckMs)
  }

  private deliver (chunk: Uint8Array): void {
    const fn = this._onData
    if (this.paused || fn === undefined || this.rcvQueued > 0) {
      this.rcvQueue.push(chunk)
      this.rcvQueued += chunk.length
      return
    }
    this.callback(() => { fn(chunk) })
  }

  private drainReceived (): void {
    if (this.aborted) return
    while (this.rcvQueued > 0 && !this.paused && this._onData !== undefined) {
      const chunk = this.rcvQueue[this.rcvQueueHead]
      this.rcvQueue[this.rcvQueueHead++] = EMPTY
      this.rcvQueued -= chunk.length
      if (this.rcvQueueHead === this.rcvQueue.length) { this.rcvQueue = []; this.rcvQueueHead = 0 }
      const fn = this._onData
      this.callback(() => { fn(chunk) })
      if (this.aborted) return
    }
    this.maybeDeliverEnd()
    // Window update once the reader freed a useful amount (receiver-side SWS avoidance).
    if (this.isSynchronized() && !this.finReceived) {
      const cur = Math.max(0, (this.rcvAdv - this.rcvNxt) | 0)
      const free = this.opts.recvBuffer - this.rcvQueued
      if (free - cur >= this.updateThreshold) this.sendAck()
    }
    this.maybeNotifyClose()
  }

  private maybeDeliverEnd (): void {
    if (!this.finReceived || this.endDelivered || this.rcvQueued > 0 || this.paused || this.aborted) return
    this.endDelivered = true
    const fn = this.onEnd
    if (fn !== undefined) this.callback(fn)
    this.maybeNotifyClose()
  }

  // ---------------------------------------------------------------------------------------------------------
  // Output

  /** Sends as much queued data (and the FIN) as the peer's window and cwnd allow. */
  private trySend (force = false): void {
    const s = this._state
    if (s !== 'ESTABLISHED' && s !== 'CLOSE_WAIT' && s !== 'FIN_WAIT_1' && s !== 'CLOSING' && s !== 'LAST_ACK') return
    const mss = this.sndMss
    const wnd = Math.min(this.sndWnd, this.cwnd)
    for (;;) {
      if (this.finQueued && seqGt(this.sndNxt, this.finSeq)) return // everything, FIN included, is out
      const sent = (this.sndNxt - this.sndUna) >>> 0
      const unsent = this.sendQ.length - sent
      if (unsent > 0) {
        const usable = ((this.sndUna + wnd - this.sndNxt) | 0)
        if (usable <= 0) {
          if (this.sndNxt === this.sndUna) this.armPersist()
          return
        }
        const len = Math.min(mss, unsent, usable)
        if (len < mss && len < unsent && len < (this.maxSndWnd >> 1) && !force) {
          // Window-limited small segment: sender SWS avoidance (RFC 9293 §3.8.6.2.1). Wait for an ACK, or
          // for the persist timer when nothing is in flight.
          if (this.sndNxt === this.sndUna) this.armPersist()
          return
        }
        if (len < mss && this.corked && len === unsent) return
        force = false
        let flags = ACK
        const end = (this.sndNxt + len) >>> 0
        if (len === unsent) flags |= PSH
        if (this.finQueued && end === this.finSeq) flags |= FIN
        this.sendSegment(this.sndNxt, flags, sent, len)
        continue
      }
      if (this.finQueued && this.sndNxt === this.finSeq) {
        this.sendSegment(this.sndNxt, FIN | ACK, sent, 0)
      }
      return
    }
  }

  /** Emits data/FIN at `seq` (= SND.NXT) and advances SND.NXT/SND.MAX, RTT timing and the RTO timer. */
  private sendSegment (seq: number, flags: number, dataOff: number, len: number): void {
    const next = (seq + len + ((flags & FIN) !== 0 ? 1 : 0)) >>> 0
    if (seqLt(seq, this.sndMax)) {
      this.st.retransmits++
      this.timing = false
    } else if (!this.timing && len > 0) {
      this.timing = true
      this.rttSeq = next
      this.rttStart = this.ctx.clock.now()
    }
    if (this.sndUna === this.sndMax) this.lastProgressAt = this.ctx.clock.now()
    this.emit(seq, flags, dataOff, len)
    this.sndNxt = next
    if (seqGt(next, this.sndMax)) this.sndMax = next
    if (this.persistMode || !this.rtxTimer.armed) {
      this.persistMode = false
      this.rtxTimer.set(this.rto())
    }
  }

  /** Sends one segment at SND.UNA again (fast retransmit, partial ACK, RTO), regardless of the window. */
  private retransmitFront (): void {
    // Only what was sent before: SND.MAX bounds it (the peer must never see data beyond SND.MAX acked).
    const finSent = this.finQueued && seqGt(this.sndMax, this.finSeq)
    const outstanding = ((this.sndMax - this.sndUna) >>> 0) - (finSent ? 1 : 0)
    const len = Math.min(this.sndMss, outstanding)
    let flags = ACK
    if (finSent && ((this.sndUna + len) >>> 0) === this.finSeq) flags |= FIN
    if (len <= 0 && (flags & FIN) === 0) return
    this.st.retransmits++
    this.timing = false
    this.emit(this.sndUna, flags | (len === outstanding ? PSH : 0), 0, len)
    const next = (this.sndUna + len + ((flags & FIN) !== 0 ? 1 : 0)) >>> 0
    if (seqLt(this.sndNxt, next)) this.sndNxt = next
  }

  private armPersist (): void {
    if (this.rtxTimer.armed) return
    this.persistMode = true
    this.persistBackoff = Math.max(this.rto(), this.opts.minRtoMs)
    this.rtxTimer.set(this.persistBackoff)
  }

  /** An ACK now (piggybacking is handled by emit clearing ackPending). */
  private sendAck (): void {
    if (!this.isSynchronized()) return
    this.emit(this.sndMax, ACK, 0, 0) // SND.MAX, not a rewound SND.NXT: an old seq would make the ACK unacceptable
  }

  private sendRstSeq (seq: number): void {
    this.emit(seq, RST, 0, 0)
  }

  private isSynchronized (): boolean {
    const s = this._state
    return s !== 'SYN_SENT' && s !== 'SYN_RECEIVED' && s !== 'CLOSED'
  }

  private emit (seq: number, flags: number, dataOff: number, dataLen: number): void {
    const syn = (flags & SYN) !== 0
    const optLen = syn ? (flags & ACK) !== 0 && !this.wsOk ? 4 : 8 : 0
    const hlen = 20 + optLen
    const tcpLen = hlen + dataLen
    const pkt = this.ctx.alloc(40 + tcpLen)
    pkt.set(this.hdr)
    pkt[4] = tcpLen >> 8
    pkt[5] = tcpLen & 0xff
    pkt[40] = this.localPort >> 8
    pkt[41] = this.localPort & 0xff
    pkt[42] = this.remotePort >> 8
    pkt[43] = this.remotePort & 0xff
    writeU32(pkt, 44, seq)
    const ackOn = (flags & ACK) !== 0
    writeU32(pkt, 48, ackOn ? this.rcvNxt : 0)
    pkt[52] = (hlen >> 2) << 4
    pkt[53] = flags
    const w = (flags & RST) !== 0 ? 0 : this.windowField(syn)
    pkt[54] = w >> 8
    pkt[55] = w & 0xff
    pkt[56] = 0
    pkt[57] = 0
    pkt[58] = 0
    pkt[59] = 0
    if (optLen > 0) {
      const mss = this.opts.mss
      pkt[60] = 2
      pkt[61] = 4
      pkt[62] = mss >> 8
      pkt[63] = mss & 0xff
      if (optLen === 8) {
        pkt[64] = 1
        pkt[65] = 3
        pkt[66] = 3
        pkt[67] = this.opts.wscale
      }
    }
    if (dataLen > 0) this.sendQ.copyTo(pkt, 40 + hlen, dataOff, dataLen)
    const c = (~foldChecksum(onesSum(pkt, 40, 40 + tcpLen, this.pseudo + tcpLen))) & 0xffff
    pkt[56] = c >> 8
    pkt[57] = c & 0xff
    if (ackOn) {
      this.ackPending = false
      this.segsSinceAck = 0
      this.delackTimer.cancel()
    }
    this.st.segmentsSent++
    this.ctx.output(pkt)
  }

  /** The window field to advertise (and record the advertised right edge). */
  private windowField (syn: boolean): number {
    const cur = Math.max(0, (this.rcvAdv - this.rcvNxt) | 0)
    let wnd = Math.max(0, this.opts.recvBuffer - this.rcvQueued)
    // Never shrink the window; only move the right edge by a useful amount (receiver SWS avoidance).
    if (wnd - cur < this.updateThreshold) wnd = cur
    if (syn) {
      // Window fields of SYN segments are never scaled (RFC 7323 §2.2).
      const f = Math.min(wnd, 65535)
      const synEdge = (this.rcvNxt + f) >>> 0
      if (seqGt(synEdge, this.rcvAdv)) this.rcvAdv = synEdge
      return f
    }
    const unit = 2 ** this.rcvWscale
    let f = Math.ceil(wnd / unit)
    if (f > 65535) f = 65535
    const edge = (this.rcvNxt + f * unit) >>> 0
    if (seqGt(edge, this.rcvAdv)) this.rcvAdv = edge
    return f
  }

  // ---------------------------------------------------------------------------------------------------------
  // Timers

  private rto (): number {
    const o = this.opts
    return Math.min(Math.max(this.rtoBase, o.minRtoMs) * 2 ** this.backoff, o.maxRtoMs)
  }

  private rttSample (r: number): void {
    if (r < 0) r = 0
    if (this.srtt < 0) {
      this.srtt = r
      this.rttvar = r / 2
    } else {
      this.rttvar = 0.75 * this.rttvar + 0.25 * Math.abs(this.srtt - r)
      this.srtt = 0.875 * this.srtt + 0.125 * r
    }
    this.rtoBase = this.srtt + Math.max(1, 4 * this.rttvar)
  }

  private onRtxTimer (): void {
    const o = this.opts
    const now = this.ctx.clock.now()
    switch (this._state) {
      case 'CLOSED': case 'TIME_WAIT': return
      case 'SYN_SENT':
        if (++this.synRetx > o.synRetries) {
          this.abort(new ConnectionTimeoutError(`connect to ${this.peerName()} timed out after ${o.synRetries} SYN retransmissions`), false)
          return
        }
        this.st.retransmits++
        this.st.timeouts++
        this.backoff++
        this.emit(this.iss, SYN, 0, 0)
        this.rtxTimer.set(this.rto())
        return
      case 'SYN_RECEIVED':
        if (++this.synRetx > o.synAckRetries) { this.release(); return }
        this.st.retransmits++
        this.st.timeouts++
        this.backoff++
        this.emit(this.iss, SYN | ACK, 0, 0)
        this.rtxTimer.set(this.rto())
        return
    }
    if (this.sndUna === this.sndMax) {
      // Nothing outstanding: the persist timer (zero window with data waiting).
      const unsent = this.sendQ.length - ((this.sndNxt - this.sndUna) >>> 0)
      if (!this.persistMode || (unsent <= 0 && !(this.finQueued && this.sndNxt === this.finSeq))) return
      if (now - this.lastRecvAt >= o.userTimeoutMs) {
        this.abort(new ConnectionTimeoutError(`zero-window probes to ${this.peerName()} unanswered for ${o.userTimeoutMs} ms`), true)
        return
      }
      if (this.sndWnd > 0) { this.trySend(true); if (this.rtxTimer.armed && !this.persistMode) return }
      this.emit((this.sndUna - 1) >>> 0, ACK, 0, 0) // probe: an old sequence number elicits an ACK with the window
      this.persistBackoff = Math.min(this.persistBackoff * 2, o.maxRtoMs)
      this.persistMode = true
      this.rtxTimer.set(this.persistBackoff)
      return
    }
    if (this.rtxCount >= o.maxRetransmits || now - this.lastProgressAt >= o.userTimeoutMs) {
      this.abort(new ConnectionTimeoutError(
        `${this.peerName()} stopped acknowledging: ${this.rtxCount} retransmissions, ${Math.round(now - this.lastProgressAt)} ms without progress`), true)
      return
    }
    this.rtxCount++
    this.st.timeouts++
    const flight = (this.sndMax - this.sndUna) >>> 0
    const mss = this.sndMss
    this.ssthresh = Math.max(flight >> 1, 2 * mss)
    this.cwnd = mss
    this.caAcc = 0
    this.inRecovery = false
    this.dupAcks = 0
    this.recover = this.sndMax
    this.backoff++
    this.timing = false
    this.persistMode = false
    // Go back to SND.UNA: the first segment now, the rest as ACKs open cwnd.
    this.sndNxt = this.sndUna
    this.retransmitFront()
    this.rtxTimer.set(this.rto())
  }

  private onSlowTimer (): void {
    const o = this.opts
    const now = this.ctx.clock.now()
    switch (this._state) {
      case 'TIME_WAIT':
        this.release()
        return
      case 'FIN_WAIT_2':
        if (now - this.lastRecvAt >= o.finWait2TimeoutMs) {
          this.abort(new ConnectionTimeoutError(`${this.peerName()} did not close its side within ${o.finWait2TimeoutMs} ms`), true)
        } else this.slowTimer.setAt(this.lastRecvAt + o.finWait2TimeoutMs)
        return
      case 'ESTABLISHED': case 'CLOSE_WAIT': {
        if (o.keepAliveIdleMs === 0) return
        const idleFor = now - this.lastRecvAt
        if (this.keepAliveSent === 0 && idleFor < o.keepAliveIdleMs) { this.slowTimer.setAt(this.lastRecvAt + o.keepAliveIdleMs); return }
        if (this.keepAliveSent >= o.keepAliveProbes) {
          this.abort(new ConnectionTimeoutError(`${this.peerName()} did not answer ${o.keepAliveProbes} keepalive probes`), true)
          return
        }
        this.keepAliveSent++
        this.emit((this.sndUna - 1) >>> 0, ACK, 0, 0)
        this.slowTimer.set(o.keepAliveIntervalMs)
      }
    }
  }

  private armKeepAlive (): void {
    if (this.opts.keepAliveIdleMs > 0) this.slowTimer.set(this.opts.keepAliveIdleMs)
  }

  // ---------------------------------------------------------------------------------------------------------
  // Closing

  /** @internal An ICMPv6 error quoting one of our segments. */
  _icmpError (type: number, code: number, mtu: number, seq: number): void {
    this.guard(() => {
      if (this._state === 'SYN_SENT') {
        if (seq !== this.iss) return
        if (type === 1) this.abort(new HostUnreachableError(this.peerName(), `ICMPv6 destination unreachable (code ${code})`), false)
        return
      }
      if (seqLt(seq, this.sndUna) || seqGeq(seq, this.sndMax)) return // not in flight: forged or stale
      if (type === 2) {
        const mss = Math.max(mtu, 1280) - 60
        if (mss < this.sndMss) {
          this.sndMss = mss
          this.sndNxt = this.sndUna
          this.retransmitFront()
        }
      }
    })
  }

  /** @internal Close from the stack (stack.close() or eviction). */
  _abortByStack (err: Error | undefined, sendRst: boolean): void {
    if (this.isClosed()) return
    this.guard(() => { this.abort(err, sendRst) })
  }

  private enterTimeWait (): void {
    this._state = 'TIME_WAIT'
    this.rtxTimer.dispose()
    this.delackTimer.dispose()
    this.sendQ.clear()
    this.reasm.clear()
    if (this.opts.timeWaitMs === 0) { this.finish(); return }
    this.slowTimer.set(this.opts.timeWaitMs)
    this.ctx.enteredTimeWait(this)
    this.maybeNotifyClose()
  }

  /** Orderly end: CLOSED without error. */
  private finish (): void {
    this.release()
  }

  /** Abortive end: optional RST, error to the connect() waiter or onClose. */
  private abort (err: Error | undefined, sendRst: boolean): void {
    if (sendRst && this._state !== 'CLOSED' && this._state !== 'TIME_WAIT' && this._state !== 'SYN_SENT') {
      this.emit(this.sndMax, RST | ACK, 0, 0)
    }
    this.aborted = true
    this.closeError = err
    this.rcvQueue = []
    this.rcvQueueHead = 0
    this.rcvQueued = 0
    this.release(err)
  }

  /** Leaves every state for CLOSED, frees buffers and timers and tells the stack and the application. */
  private release (err?: Error): void {
    if (this.isClosed()) return
    this._state = 'CLOSED'
    this.rtxTimer.dispose()
    this.delackTimer.dispose()
    this.slowTimer.dispose()
    this.sendQ.clear()
    this.reasm.clear()
    this.ctx.released(this)
    const w = this._connectWaiter
    if (w !== undefined) {
      this._connectWaiter = undefined
      this.closeNotified = true
      w.reject(err ?? new ConnectionResetError('connection closed during the handshake'))
      return
    }
    if (!this.handedOut) { this.closeNotified = true; return }
    if (err !== undefined) {
      if (!this.closeNotified) {
        this.closeNotified = true
        const fn = this.onClose
        if (fn !== undefined) this.callback(() => { fn(err) })
      }
      return
    }
    this.maybeNotifyClose()
  }

  private maybeNotifyClose (): void {
    if (this.closeNotified) return
    const s = this._state
    if (s !== 'CLOSED' && s !== 'TIME_WAIT') return
    if (this.closeError === undefined && (this.rcvQueued > 0 || (this.finReceived && !this.endDelivered && this.onEnd !== undefined))) return
    this.closeNotified = true
    const fn = this.onClose
    if (fn !== undefined) this.callback(() => { fn(this.closeError) })
  }

  private isClosed (): boolean { return this._state === 'CLOSED' }

  private peerName (): string { return `[${formatIpv6(this.remoteAddress)}]:${this.remotePort}` }

  /** Runs application code; an exception resets the connection with that error instead of escaping. */
  private callback (fn: () => void): void {
    this.inCallback++
    try {
      fn()
    } catch (e) {
      const err = e instanceof Error ? e : new Error(String(e))
      if (this._state !== 'CLOSED') this.abort(err, true)
    } finally {
      this.inCallback--
    }
  }

  /** Runs an input or timer path; nothing escapes to the caller of TcpStack.input() or the clock. */
  private guard (fn: () => void): void {
    try {
      fn()
    } catch (e) {
      // A bug in this file must not take the node down; close the connection with the error.
      const err = e instanceof Error ? e : new Error(String(e))
      if (this._state !== 'CLOSED') {
        try { this.abort(err, false) } catch (e2) { log('aborting a connection after an internal error failed too: %s', e2 instanceof Error ? e2.message : String(e2)) }
      }
    }
  }
}

const EMPTY = new Uint8Array(0)
