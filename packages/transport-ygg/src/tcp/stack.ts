/**
 * The userspace TCP/IPv6 stack: demultiplexes inbound IPv6 packets to connections and listeners, answers
 * segments for unknown connections with RST (without keeping any state), bounds half-open and TIME_WAIT
 * connections, answers ICMPv6 echo and feeds ICMPv6 errors to connections. One stack per IPv6 address.
 */
import { randomFillSync } from 'node:crypto'
import { AbortError, ConfigError, StreamClosedError, formatIpv6 } from '@axl/core'
import { systemClock, type Clock } from '../clock.js'
import { IPPROTO_ICMPV6, IPPROTO_TCP, addressEquals, encodeIpv6Header, setIpv6PayloadChecksum, validateIpv6, verifyIpv6PayloadChecksum } from '../ipv6/ipv6.js'
import { ICMPV6_DEST_UNREACHABLE, ICMPV6_ECHO_REQUEST, ICMPV6_PACKET_TOO_BIG, buildEchoReply, parseIcmpTcpError } from '../ipv6/icmpv6.js'
import { TcpConnection, type StackContext } from './connection.js'
import { ConnectionTimeoutError, PortInUseError, TcpLimitError } from './errors.js'
import { resolveTcpOptions, type ResolvedTcpOptions, type TcpStackOptions } from './options.js'
import { ACK, FIN, RST, SYN, newSegment, parseTcp, seqGt, writeU32 } from './segment.js'

/** Counters of a TcpStack. */
export interface TcpStackStats {
  /** Connections in any state but TIME_WAIT (half-open included). */
  connections: number
  /** Half-open (SYN_RECEIVED) connections. */
  halfOpen: number
  /** Connections in TIME_WAIT. */
  timeWait: number
  listeners: number
  packetsIn: number
  packetsOut: number
  /** Inbound packets dropped, in total and by reason. */
  dropped: number
  droppedBy: Record<string, number>
  /** RSTs sent for segments that matched no connection. */
  rstSent: number
  /** SYNs that reached a listener, were refused for lack of room, and half-open connections evicted. */
  synReceived: number
  synDropped: number
  synEvicted: number
  timeWaitEvicted: number
  icmpEchoReplies: number
  icmpErrors: number
  /** Exceptions thrown by the output callback (the packet is lost; TCP recovers). */
  outputErrors: number
}

/** Options of connect(). */
export interface TcpConnectOptions {
  /** Aborts the handshake (AbortError). */
  signal?: AbortSignal
  /** Fails the handshake with ConnectionTimeoutError after this long (default: SYN retries only). */
  timeoutMs?: number
}

/** A listening port. */
export interface TcpListener {
  /** The port. */
  readonly port: number
  /** Stops accepting; half-open connections of this port are dropped, established ones live on. */
  close: () => void
}

interface ListenerEntry { port: number, onConnection: (c: TcpConnection) => void, closed: boolean }

const EPHEMERAL_LOW = 49152
const EPHEMERAL_COUNT = 65536 - EPHEMERAL_LOW
const SLAB_SIZE = 256 * 1024

/** A userspace TCP stack on one IPv6 address (see TcpStackOptions). */
export class TcpStack {
  /** Our IPv6 address. */
  readonly address: Uint8Array
  private readonly opts: ResolvedTcpOptions
  private readonly clock: Clock
  private readonly out: (p: Uint8Array) => void
  private readonly rand: () => number
  private readonly ctx: StackContext
  private readonly conns = new Map<number, TcpConnection[]>()
  private readonly listeners = new Map<number, ListenerEntry>()
  private readonly synBacklog = new Set<TcpConnection>()
  private readonly timeWait = new Set<TcpConnection>()
  private readonly listenerOf = new WeakMap<TcpConnection, ListenerEntry>()
  private connCount = 0
  private cache: TcpConnection | undefined
  private closed = false
  private readonly seg = newSegment()
  private inInput = false
  private readonly pending: Uint8Array[] = []
  private slab = new ArrayBuffer(0)
  private slabOff = 0
  private readonly counters = {
    packetsIn: 0, packetsOut: 0, dropped: 0, rstSent: 0, synReceived: 0, synDropped: 0, synEvicted: 0,
    timeWaitEvicted: 0, icmpEchoReplies: 0, icmpErrors: 0, outputErrors: 0
  }

  private readonly droppedBy: Record<string, number> = {}

  constructor (options: TcpStackOptions) {
    if (!(options.address instanceof Uint8Array) || options.address.length !== 16) {
      throw new ConfigError('TcpStack address must be a 16-byte Uint8Array')
    }
    if (typeof options.output !== 'function') throw new ConfigError('TcpStack output must be a function')
    this.opts = resolveTcpOptions(options)
    this.address = options.address.slice()
    this.clock = options.clock ?? systemClock()
    this.out = options.output
    this.rand = options.random ?? cryptoRandom32()
    const self = this
    this.ctx = {
      clock: this.clock,
      local: this.address,
      opts: this.opts,
      output: (p) => { self.emit(p) },
      alloc: (n) => self.alloc(n),
      random32: () => self.rand() >>> 0,
      released: (c) => { self.forget(c) },
      established: (c) => { self.onEstablished(c) },
      enteredTimeWait: (c) => { self.onTimeWait(c) }
    }
  }

  /** A snapshot of the counters. */
  get stats (): TcpStackStats {
    return {
      ...this.counters,
      connections: this.connCount,
      halfOpen: this.synBacklog.size,
      timeWait: this.timeWait.size,
      listeners: this.listeners.size,
      droppedBy: { ...this.droppedBy }
    }
  }

  /** The segment size we advertise (mtu − 60). */
  get mss (): number { return this.opts.mss }

  /** Every live connection (not TIME_WAIT, not half-open), for diagnostics. */
  connections (): TcpConnection[] {
    const out: TcpConnection[] = []
    for (const list of this.conns.values()) for (const c of list) if (c._state !== 'TIME_WAIT' && c._state !== 'SYN_RECEIVED') out.push(c)
    return out
  }

  /**
   * Handles one inbound IPv6 packet (ownership passes to the stack: received data is delivered as views into
   * it). Never throws; bad packets are counted in stats.droppedBy.
   */
  input (ipv6Packet: Uint8Array): void {
    if (this.closed) return
    if (this.inInput) {
      // output() looped straight back into input(): finish the current packet first.
      if (this.pending.length < 4096) this.pending.push(ipv6Packet)
      else this.drop('reentrant-overflow')
      return
    }
    this.inInput = true
    try {
      this.inputOne(ipv6Packet)
      while (this.pending.length > 0 && !this.closed) this.inputOne(this.pending.shift()!)
    } finally {
      this.inInput = false
    }
  }

  /**
   * Listens on `port`; `onConnection` gets each connection once its handshake completes (set its handlers
   * synchronously). Throws PortInUseError or ConfigError.
   */
  listen (port: number, onConnection: (c: TcpConnection) => void): TcpListener {
    checkPort(port)
    if (this.closed) throw new StreamClosedError('the TCP stack is closed')
    if (this.listeners.has(port)) throw new PortInUseError(port)
    const entry: ListenerEntry = { port, onConnection, closed: false }
    this.listeners.set(port, entry)
    return {
      port,
      close: () => {
        if (entry.closed) return
        entry.closed = true
        if (this.listeners.get(port) === entry) this.listeners.delete(port)
        for (const c of [...this.synBacklog]) if (this.listenerOf.get(c) === entry) c._abortByStack(undefined, true)
      }
    }
  }

  /**
   * Opens a connection to `remote`:`port`; resolves once established. Rejects with ConnectionRefusedError
   * (RST), HostUnreachableError (ICMPv6), ConnectionTimeoutError (SYN retries or timeoutMs), AbortError,
   * TcpLimitError or StreamClosedError (stack closed).
   */
  async connect (remote: Uint8Array, port: number, opts: TcpConnectOptions = {}): Promise<TcpConnection> {
    if (!(remote instanceof Uint8Array) || remote.length !== 16) throw new ConfigError('remote address must be a 16-byte Uint8Array')
    checkPort(port)
    if (this.closed) throw new StreamClosedError('the TCP stack is closed')
    if (opts.signal?.aborted === true) throw new AbortError()
    if (this.connCount >= this.opts.maxConnections) throw new TcpLimitError(`too many TCP connections (${this.connCount})`)
    const remoteCopy = remote.slice()
    const localPort = this.ephemeralPort(remoteCopy, port)
    const conn = new TcpConnection(this.ctx, remoteCopy, port, localPort)
    this.register(conn)
    return await new Promise<TcpConnection>((resolve, reject) => {
      let timer: ReturnType<Clock['setTimeout']> | undefined
      const onAbort = (): void => { conn._abortByStack(new AbortError('connect aborted'), false) }
      const done = (): void => {
        if (timer !== undefined) this.clock.clearTimeout(timer)
        opts.signal?.removeEventListener('abort', onAbort)
      }
      conn._connectWaiter = {
        resolve: (c) => { done(); resolve(c) },
        reject: (e) => { done(); reject(e) }
      }
      if (opts.timeoutMs !== undefined) {
        timer = this.clock.setTimeout(() => {
          conn._abortByStack(new ConnectionTimeoutError(`connect to [${formatIpv6(remoteCopy)}]:${port} timed out after ${opts.timeoutMs} ms`), false)
        }, opts.timeoutMs)
      }
      opts.signal?.addEventListener('abort', onAbort, { once: true })
      conn._startConnect()
    })
  }

  /** Resets every connection (RST), closes listeners and ignores further input. Idempotent. */
  close (): void {
    if (this.closed) return
    this.closed = true
    this.listeners.clear()
    const all: TcpConnection[] = []
    for (const list of this.conns.values()) all.push(...list)
    for (const c of all) c._abortByStack(new StreamClosedError('the TCP stack was closed'), c._state !== 'TIME_WAIT')
    this.conns.clear()
    this.synBacklog.clear()
    this.timeWait.clear()
    this.connCount = 0
    this.cache = undefined
  }

  // ---------------------------------------------------------------------------------------------------------

  private inputOne (pkt: Uint8Array): void {
    this.counters.packetsIn++
    const reason = validateIpv6(pkt, this.address)
    if (reason !== null) { this.drop(reason); return }
    try {
      if (pkt[6] === IPPROTO_TCP) this.inputTcp(pkt)
      else if (pkt[6] === IPPROTO_ICMPV6) this.inputIcmp(pkt)
    } catch {
      // Connections guard themselves; this is a last resort so input() never throws.
      this.drop('internal')
    }
  }

  private inputTcp (pkt: Uint8Array): void {
    // skipInboundChecksum: the packet's integrity was already authenticated by the channel that carried it.
    if (!this.opts.skipInboundChecksum && !verifyIpv6PayloadChecksum(pkt)) { this.drop('checksum'); return }
    const plen = (pkt[4] << 8) | pkt[5]
    const seg = this.seg
    const r = parseTcp(pkt, 40, plen, seg)
    if (r !== null) { this.drop(`tcp-${r}`); return }
    let conn = this.lookup(pkt, 8, seg.dstPort, seg.srcPort)
    if (conn !== undefined && conn._state === 'TIME_WAIT' && (seg.flags & (SYN | ACK | RST)) === SYN &&
      seqGt(seg.seq, conn.rcvNxt) && this.listeners.has(seg.dstPort)) {
      // A new incarnation may reuse a TIME_WAIT tuple when its SYN is above the old sequence space (RFC 9293 §3.6.1).
      conn._abortByStack(undefined, false)
      conn = undefined
    }
    if (conn !== undefined) { conn._segmentArrives(seg, pkt); return }
    const listener = this.listeners.get(seg.dstPort)
    if (listener !== undefined && (seg.flags & (SYN | ACK | RST)) === SYN) { this.acceptSyn(listener, pkt); return }
    if ((seg.flags & RST) !== 0) { this.drop('rst-unknown'); return }
    this.sendRst(pkt)
  }

  private acceptSyn (listener: ListenerEntry, pkt: Uint8Array): void {
    const seg = this.seg
    this.counters.synReceived++
    if (this.synBacklog.size >= this.opts.maxSynBacklog) {
      // Backlog full: the oldest half-open entry goes (a flood cannot lock real clients out for long).
      const oldest = this.synBacklog.values().next().value
      if (oldest !== undefined) { this.counters.synEvicted++; oldest._abortByStack(undefined, false) }
    }
    if (this.connCount >= this.opts.maxConnections) { this.counters.synDropped++; return }
    const conn = new TcpConnection(this.ctx, pkt.slice(8, 24), seg.srcPort, seg.dstPort)
    this.register(conn)
    this.synBacklog.add(conn)
    this.listenerOf.set(conn, listener)
    conn._startPassive(seg)
  }

  private onEstablished (c: TcpConnection): void {
    this.synBacklog.delete(c)
    const l = this.listenerOf.get(c)
    if (l === undefined || l.closed || this.closed) { c.reset(); return }
    l.onConnection(c)
  }

  private onTimeWait (c: TcpConnection): void {
    this.connCount--
    this.timeWait.add(c)
    while (this.timeWait.size > this.opts.maxTimeWait) {
      const oldest = this.timeWait.values().next().value
      if (oldest === undefined) break
      this.counters.timeWaitEvicted++
      oldest._abortByStack(undefined, false)
    }
  }

  private inputIcmp (pkt: Uint8Array): void {
    if (!verifyIpv6PayloadChecksum(pkt)) { this.drop('checksum'); return }
    const type = pkt[40]
    if (type === ICMPV6_ECHO_REQUEST) {
      const reply = buildEchoReply(pkt, this.address)
      if (reply !== undefined) { this.counters.icmpEchoReplies++; this.emit(reply) }
      return
    }
    if (type === ICMPV6_DEST_UNREACHABLE || type === ICMPV6_PACKET_TOO_BIG) {
      const e = parseIcmpTcpError(pkt)
      if (e === undefined) { this.drop('icmp-malformed'); return }
      this.counters.icmpErrors++
      const c = this.lookup(e.remote, 0, e.localPort, e.remotePort)
      if (c !== undefined) c._icmpError(e.type, e.code, e.mtu, e.seq)
      return
    }
    this.drop('icmp-ignored')
  }

  /** RST for a segment that matches no connection (RFC 9293 §3.10.7.1); builds it from the segment alone. */
  private sendRst (pkt: Uint8Array): void {
    const seg = this.seg
    let seq: number
    let ack: number
    let flags: number
    if ((seg.flags & ACK) !== 0) {
      seq = seg.ack
      ack = 0
      flags = RST
    } else {
      seq = 0
      ack = (seg.seq + seg.dataLength + ((seg.flags & SYN) !== 0 ? 1 : 0) + ((seg.flags & FIN) !== 0 ? 1 : 0)) >>> 0
      flags = RST | ACK
    }
    const out = this.alloc(60)
    encodeIpv6Header(out, 0, this.address, pkt.subarray(8, 24), IPPROTO_TCP, 20)
    out[40] = seg.dstPort >> 8
    out[41] = seg.dstPort & 0xff
    out[42] = seg.srcPort >> 8
    out[43] = seg.srcPort & 0xff
    writeU32(out, 44, seq)
    writeU32(out, 48, ack)
    out[52] = 5 << 4
    out[53] = flags
    out[54] = 0
    out[55] = 0
    out[58] = 0
    out[59] = 0
    setIpv6PayloadChecksum(out, 16)
    this.counters.rstSent++
    this.emit(out)
  }

  private lookup (addr: Uint8Array, addrOff: number, localPort: number, remotePort: number): TcpConnection | undefined {
    const c = this.cache
    if (c !== undefined && c.localPort === localPort && c.remotePort === remotePort && addressEquals(addr, addrOff, c.remoteAddress)) return c
    const list = this.conns.get(localPort * 65536 + remotePort)
    if (list === undefined) return undefined
    for (const x of list) {
      if (addressEquals(addr, addrOff, x.remoteAddress)) { this.cache = x; return x }
    }
    return undefined
  }

  private register (c: TcpConnection): void {
    const key = c.localPort * 65536 + c.remotePort
    const list = this.conns.get(key)
    if (list === undefined) this.conns.set(key, [c])
    else list.push(c)
    this.connCount++
  }

  /** The connection reached CLOSED. */
  private forget (c: TcpConnection): void {
    const key = c.localPort * 65536 + c.remotePort
    const list = this.conns.get(key)
    if (list !== undefined) {
      const i = list.indexOf(c)
      if (i >= 0) {
        list.splice(i, 1)
        if (list.length === 0) this.conns.delete(key)
        if (!this.timeWait.delete(c)) this.connCount--
      }
    }
    this.synBacklog.delete(c)
    if (this.cache === c) this.cache = undefined
  }

  private ephemeralPort (remote: Uint8Array, remotePort: number): number {
    const start = this.rand() % EPHEMERAL_COUNT
    for (let i = 0; i < EPHEMERAL_COUNT; i++) {
      const port = EPHEMERAL_LOW + ((start + i) % EPHEMERAL_COUNT)
      if (this.listeners.has(port)) continue
      if (this.lookup(remote, 0, port, remotePort) === undefined) return port
    }
    throw new TcpLimitError(`no free local port towards [${formatIpv6(remote)}]:${remotePort}`)
  }

  private emit (p: Uint8Array): void {
    this.counters.packetsOut++
    try {
      this.out(p)
    } catch {
      this.counters.outputErrors++
    }
  }

  private drop (reason: string): void {
    this.counters.dropped++
    this.droppedBy[reason] = (this.droppedBy[reason] ?? 0) + 1
  }

  /** A packet buffer carved from a shared slab (8-byte aligned); never reused once handed out. */
  private alloc (n: number): Uint8Array {
    if (this.slabOff + n > this.slab.byteLength) {
      this.slab = new ArrayBuffer(Math.max(SLAB_SIZE, n))
      this.slabOff = 0
    }
    const u = new Uint8Array(this.slab, this.slabOff, n)
    this.slabOff += (n + 7) & ~7
    return u
  }
}

function checkPort (port: number): void {
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new ConfigError(`TCP port must be an integer in 1..65535, got ${String(port)}`)
}

/** A uint32 source backed by crypto.randomFillSync, refilled 256 values at a time. */
function cryptoRandom32 (): () => number {
  const pool = new Uint32Array(256)
  let i = pool.length
  return () => {
    if (i >= pool.length) { randomFillSync(pool); i = 0 }
    return pool[i++]
  }
}
