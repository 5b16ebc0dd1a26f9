/**
 * The server side of the MCP session protocol (`/axl/mcp/1`, see session-protocol.ts): accepts session
 * streams, admits them (service known, access rule, limits), gives each its own upstream session from the
 * backend, and relays framed JSON-RPC both ways. Bounded: sessions per node and per peer, frame size, queued
 * frames, requests in flight per session; idle sessions are closed; drops are counted.
 */
import { FrameReader } from '@axl/core/wire'
import { ConfigError, ProtocolError, type AxlNode, type MeshStream, type PeerId, type ProtocolContext } from '@axl/core'
import type { BackendSession, SessionSink } from './backend.js'
import { RouterErrorCode } from './error-codes.js'
import { FrameQueue, MCP_SESSION_PROTOCOL, SESSION_VERSION, decodeFrame, encodeFrame, idKey, isNotification, isRequest, isResponse, parseHello, type SessionAnswer } from './session-protocol.js'

/** Limits of the MCP session protocol on a node (`mcp({ session: { ... } })`). */
export interface SessionOptions {
  /** MCP sessions open at once on this node; more are refused ('busy'). @default 256 */
  maxSessions?: number
  /** MCP sessions open at once per calling peer; more are refused ('busy'). @default 16 */
  maxSessionsPerPeer?: number
  /** A session without any frame either way and nothing in flight for this long is closed, ms. @default 600000 */
  idleMs?: number
  /** Frames queued for sending per session; beyond that notifications are dropped (counted), anything else ends the session. @default 1024 */
  maxQueuedFrames?: number
  /** Deadline for the client's hello frame, ms. @default 10000 */
  helloTimeoutMs?: number
}

/** Counters of the session server (router.sessionStats()). */
export interface SessionStats {
  /** Sessions open now. */
  open: number
  /** Sessions accepted since start. */
  accepted: number
  /** Sessions refused (unknown service, access rule, limits, bad hello). */
  refused: number
  /** Sessions closed because idle. */
  closedIdle: number
  /** Malformed frames received (each resets its session). */
  badFrames: number
  /** Server-to-client notifications dropped (send queue full). */
  droppedNotifications: number
  /** Client requests answered with -32011 (too many in flight in one session). */
  busyRequests: number
  /** Client requests answered with -32012 (no answer within the service's timeoutMs). */
  timedOutRequests: number
  /** Answers from the upstream for requests no longer waited for (after a timeout or cancel). */
  unmatchedResponses: number
}

/** What the session server needs from the router. */
export interface SessionHost {
  /** Admit `from` to `service` and open its upstream session, or say why not. */
  openSession: (service: string, from: PeerId, signal: AbortSignal, sink: SessionSink) => Promise<
  | { ok: true, session: BackendSession, maxConcurrent: number, timeoutMs: number, maxResponseBytes: number }
  | { ok: false, code: number, reason: string, message: string }>
}

/** Minimal logger shape (a `@libp2p/logger` component logger). */
export interface SessionLog { (fmt: string, ...args: unknown[]): void, error: (fmt: string, ...args: unknown[]) => void }

/** Accepts and runs the MCP sessions of one node. */
export class SessionServer {
  /** Counters. */
  readonly stats: SessionStats = { open: 0, accepted: 0, refused: 0, closedIdle: 0, badFrames: 0, droppedNotifications: 0, busyRequests: 0, timedOutRequests: 0, unmatchedResponses: 0 }
  private readonly perPeer = new Map<PeerId, number>()
  private readonly live = new Set<RunningSession>()
  private readonly maxSessions: number
  private readonly maxPerPeer: number
  private readonly idleMs: number
  private readonly maxQueued: number
  private readonly helloTimeoutMs: number
  private unhandle: (() => void) | undefined

  constructor (private readonly node: AxlNode<Record<string, unknown>>, private readonly host: SessionHost, private readonly log: SessionLog, opts: SessionOptions = {}) {
    this.maxSessions = positive(opts.maxSessions ?? 256, 'maxSessions')
    this.maxPerPeer = positive(opts.maxSessionsPerPeer ?? 16, 'maxSessionsPerPeer')
    this.idleMs = positive(opts.idleMs ?? 600_000, 'idleMs')
    this.maxQueued = positive(opts.maxQueuedFrames ?? 1024, 'maxQueuedFrames')
    this.helloTimeoutMs = positive(opts.helloTimeoutMs ?? 10_000, 'helloTimeoutMs')
  }

  /** Install the `/axl/mcp/1` protocol handler. */
  start (): void {
    // Core counts a stream until its handler settles, and refuses beyond maxStreams without telling us; the
    // slack lets this class refuse (and count) first.
    this.unhandle = this.node.handle(MCP_SESSION_PROTOCOL, async (stream, ctx) => { await this.accept(stream, ctx) }, { maxStreams: this.maxSessions + 16 })
  }

  /** Remove the handler and end every session. */
  stop (): void {
    this.unhandle?.()
    for (const s of [...this.live]) s.end('the MCP router is stopping', true)
  }

  private async accept (stream: MeshStream, ctx: ProtocolContext): Promise<void> {
    const maxFrame = this.node.limits.maxMessageSize
    const reader = new FrameReader(stream, maxFrame)
    let hello
    let first: Uint8Array | null
    try {
      first = await reader.next({ timeoutMs: this.helloTimeoutMs, signal: ctx.signal })
    } catch (err) {
      this.stats.refused++
      this.log('MCP session from %s: no hello: %s', ctx.from, (err as Error).message)
      stream.abort(err as Error)
      return
    }
    if (first === null) { stream.close(); return }
    try {
      hello = parseHello(decodeFrame(first))
    } catch (err) {
      // Answered (not just reset), so a client of another version learns why and can fall back.
      this.stats.refused++
      this.stats.badFrames++
      const answer: SessionAnswer = { v: SESSION_VERSION, ok: false, code: RouterErrorCode.InvalidRequest, reason: 'bad_hello', message: (err as Error).message }
      await writeAnswerAndClose(stream, answer, maxFrame).catch(e => { this.log('MCP session refusal to %s not delivered: %s', ctx.from, (e as Error).message) })
      return
    }
    const refuse = async (code: number, reason: string, message: string): Promise<void> => {
      this.stats.refused++
      const answer: SessionAnswer = { v: SESSION_VERSION, ok: false, code, reason, message }
      await writeAnswerAndClose(stream, answer, maxFrame).catch(err => { this.log('MCP session refusal to %s not delivered: %s', ctx.from, (err as Error).message) })
    }
    if (this.live.size >= this.maxSessions) { await refuse(RouterErrorCode.Busy, 'busy', `this node has ${this.maxSessions} MCP sessions open`); return }
    const mine = this.perPeer.get(ctx.from) ?? 0
    if (mine >= this.maxPerPeer) { await refuse(RouterErrorCode.Busy, 'busy', `peer ${ctx.from} has ${this.maxPerPeer} MCP sessions open on this node`); return }
    this.perPeer.set(ctx.from, mine + 1)
    const session = new RunningSession(stream, reader, ctx.from, hello.service, this, maxFrame)
    this.live.add(session)
    this.stats.open = this.live.size
    try {
      await session.run(ctx.signal)
    } finally {
      this.live.delete(session)
      this.stats.open = this.live.size
      const n = (this.perPeer.get(ctx.from) ?? 1) - 1
      if (n <= 0) this.perPeer.delete(ctx.from); else this.perPeer.set(ctx.from, n)
    }
  }

  /** @internal used by RunningSession */
  get config (): { host: SessionHost, log: SessionLog, idleMs: number, maxQueued: number } {
    return { host: this.host, log: this.log, idleMs: this.idleMs, maxQueued: this.maxQueued }
  }
}

/** Send a refusal and close; a client that does not close its side within 5 s gets a reset. */
async function writeAnswerAndClose (stream: MeshStream, answer: SessionAnswer, maxFrame: number): Promise<void> {
  const q = new FrameQueue(stream, maxFrame, 1, 5000, () => { stream.abort('refusal not delivered') })
  await q.push(answer, false)
  stream.close()
  await stream.closed({ timeoutMs: 5000 }).catch(() => { stream.abort('the MCP session was refused') })
}

interface Tracked { id: unknown, timer: NodeJS.Timeout | undefined }

/** One accepted session: relays frames between the stream and the backend's upstream session. */
class RunningSession {
  private upstream: BackendSession | undefined
  private queue!: FrameQueue
  private readonly life = new AbortController()
  private readonly inflight = new Map<string, Tracked>()
  private idleTimer: NodeJS.Timeout | undefined
  private ended = false
  private limits = { maxConcurrent: 16, timeoutMs: 27_000, maxResponseBytes: 1 }

  constructor (
    private readonly stream: MeshStream,
    private readonly reader: FrameReader,
    private readonly from: PeerId,
    private readonly service: string,
    private readonly server: SessionServer,
    private readonly maxFrame: number
  ) {}

  private get stats (): SessionStats { return this.server.stats }

  async run (nodeSignal: AbortSignal): Promise<void> {
    const { host, log, maxQueued } = this.server.config
    const onNodeStop = (): void => { this.end('the node is stopping', true) }
    nodeSignal.addEventListener('abort', onNodeStop, { once: true })
    this.queue = new FrameQueue(this.stream, this.maxFrame, maxQueued, 30_000, err => { this.end(`cannot send to the client: ${err.message}`, false) })
    const sink: SessionSink = {
      message: m => this.fromUpstream(m),
      close: reason => { this.end(`the upstream session ended: ${reason}`, true) }
    }
    try {
      let opened
      try {
        opened = await host.openSession(this.service, this.from, this.life.signal, sink)
      } catch (err) {
        opened = { ok: false as const, code: RouterErrorCode.Unavailable, reason: 'unavailable', message: `service "${this.service}" cannot open a session: ${(err as Error).message}` }
      }
      if (!opened.ok) {
        this.stats.refused++
        await this.queue.push({ v: SESSION_VERSION, ok: false, code: opened.code, reason: opened.reason, message: opened.message } satisfies SessionAnswer, false)
        this.stream.closeWrite()
        return
      }
      if (this.ended) { await opened.session.close(); return }
      this.upstream = opened.session
      this.limits = opened
      this.stats.accepted++
      const accepted = this.queue.push({ v: SESSION_VERSION, ok: true } satisfies SessionAnswer, false)
      if (accepted !== false) accepted.catch(err => { log('MCP session %s/%s: accept not delivered: %s', this.from, this.service, (err as Error).message) })
      this.touch()
      await this.readLoop()
    } catch (err) {
      log('MCP session %s/%s failed: %s', this.from, this.service, (err as Error).message)
      this.end((err as Error).message, false)
    } finally {
      nodeSignal.removeEventListener('abort', onNodeStop)
      this.end('the session ended', true)
    }
  }

  private async readLoop (): Promise<void> {
    for (;;) {
      let frame: Uint8Array | null
      try {
        frame = await this.reader.next({ signal: this.life.signal })
      } catch (err) {
        if (this.ended) return
        throw err
      }
      if (frame === null) { this.end('the client closed the session', true); return }
      this.touch()
      let m: Record<string, unknown>
      try { m = decodeFrame(frame) } catch (err) {
        this.stats.badFrames++
        throw err
      }
      this.fromClient(m)
    }
  }

  private fromClient (m: Record<string, unknown>): void {
    const up = this.upstream
    if (up === undefined) return
    if (isRequest(m)) {
      const key = idKey(m.id)
      if (this.inflight.size >= this.limits.maxConcurrent || this.inflight.has(key)) {
        this.stats.busyRequests++
        this.reply(rpcError(m.id, RouterErrorCode.Busy, 'busy', this.inflight.has(key)
          ? `a request with id ${key} is already in progress in this session`
          : `service "${this.service}" is busy (${this.inflight.size} of ${this.limits.maxConcurrent} requests in progress in this session)`, this.service))
        return
      }
      const t: Tracked = { id: m.id, timer: undefined }
      if (up.ownDeadlines !== true) t.timer = this.deadline(key, t)
      this.inflight.set(key, t)
    } else if (isNotification(m)) {
      if (m.method === 'notifications/cancelled') {
        const id = (m.params as { requestId?: unknown } | undefined)?.requestId
        const t = this.inflight.get(idKey(id))
        if (t !== undefined) { clearTimeout(t.timer); this.inflight.delete(idKey(id)) }
      }
    } else if (!isResponse(m)) {
      this.stats.badFrames++
      if (m.id !== undefined && m.id !== null && (typeof m.id === 'string' || typeof m.id === 'number')) {
        this.reply(rpcError(m.id, RouterErrorCode.InvalidRequest, 'invalid_request', 'not a JSON-RPC request, notification or response', this.service))
      }
      return
    }
    try { up.send(m) } catch (err) {
      if (isRequest(m)) {
        const t = this.inflight.get(idKey(m.id))
        clearTimeout(t?.timer)
        this.inflight.delete(idKey(m.id))
        this.reply(rpcError(m.id, RouterErrorCode.Unavailable, 'unavailable', `service "${this.service}": ${(err as Error).message}`, this.service))
      } else {
        this.server.config.log('MCP session %s/%s: message not delivered upstream: %s', this.from, this.service, (err as Error).message)
      }
    }
  }

  private deadline (key: string, t: Tracked): NodeJS.Timeout {
    const timer = setTimeout(() => {
      if (this.inflight.get(key) !== t) return
      this.inflight.delete(key)
      this.stats.timedOutRequests++
      const reason = `service "${this.service}" did not answer within ${this.limits.timeoutMs} ms`
      try { this.upstream?.send({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: t.id, reason } }) } catch (err) {
        this.server.config.log('MCP session %s/%s: cancel not delivered: %s', this.from, this.service, (err as Error).message)
      }
      this.reply(rpcError(t.id, RouterErrorCode.Timeout, 'timeout', reason, this.service))
    }, this.limits.timeoutMs)
    timer.unref()
    return timer
  }

  /** Relay one upstream message; the promise (never rejecting) resolves once it was written: backpressure. */
  private fromUpstream (m: Record<string, unknown>): Promise<void> | undefined {
    if (this.ended) return
    this.touch()
    if (isResponse(m)) {
      const key = idKey(m.id)
      const t = this.inflight.get(key)
      if (t === undefined) { this.stats.unmatchedResponses++; return }
      clearTimeout(t.timer)
      this.inflight.delete(key)
      let size: number
      try { size = encodeFrame(m, Number.MAX_SAFE_INTEGER).byteLength } catch { size = Infinity }
      if (size > this.limits.maxResponseBytes) {
        return this.reply(rpcError(m.id, RouterErrorCode.ResponseTooLarge, 'too_large', `the answer of service "${this.service}" is ${size} bytes, over the limit of ${this.limits.maxResponseBytes} bytes`, this.service))
      }
      return this.reply(m)
    }
    if (isNotification(m)) {
      if (m.method === 'notifications/progress') this.extendDeadlines()
      const r = this.queue.push(m, true)
      if (r === false) { this.stats.droppedNotifications++; return }
      return r.catch(err => { this.dropped(m, err as Error) })
    }
    return this.reply(m) // a server-to-client request
  }

  /** Progress shows the upstream is working: the deadlines of requests in flight start again. */
  private extendDeadlines (): void {
    for (const [key, t] of this.inflight) {
      if (t.timer === undefined) continue
      clearTimeout(t.timer)
      t.timer = this.deadline(key, t)
    }
  }

  private reply (m: Record<string, unknown>): Promise<void> | undefined {
    const r = this.queue.push(m, false)
    if (r === false) return
    return r.catch(err => { this.dropped(m, err as Error) })
  }

  private dropped (m: Record<string, unknown>, err: Error): void {
    if (this.ended) return
    if (err instanceof ProtocolError) return // the queue failed: onFail ends the session
    // Too large for a frame: a request's answer becomes -32014, anything else is dropped (logged).
    if (isResponse(m)) {
      this.reply(rpcError(m.id, RouterErrorCode.ResponseTooLarge, 'too_large', `the answer of service "${this.service}" does not fit in one mesh message: ${err.message}`, this.service))
      return
    }
    this.stats.droppedNotifications++
    this.server.config.log('MCP session %s/%s: %s dropped: %s', this.from, this.service, String(m.method), err.message)
  }

  private touch (): void {
    clearTimeout(this.idleTimer)
    this.idleTimer = setTimeout(() => {
      if (this.inflight.size > 0 || this.queue.length > 0) { this.touch(); return }
      this.stats.closedIdle++
      this.end(`idle for ${this.server.config.idleMs} ms`, true)
    }, this.server.config.idleMs)
    this.idleTimer.unref()
  }

  /** End the session once: graceful (half-close after queued frames) or reset. */
  end (reason: string, graceful: boolean): void {
    if (this.ended) return
    this.ended = true
    clearTimeout(this.idleTimer)
    for (const t of this.inflight.values()) clearTimeout(t.timer)
    this.inflight.clear()
    this.life.abort(new ProtocolError(`MCP session ended: ${reason}`))
    const up = this.upstream
    this.upstream = undefined
    if (up !== undefined) {
      up.close().catch(err => { this.server.config.log('MCP session %s/%s: upstream close failed: %s', this.from, this.service, (err as Error).message) })
    }
    if (!graceful) { this.stream.abort(reason); return }
    // Half-close once what is queued was written (bounded by the queue's own drain deadline).
    void this.queue?.drained().then(() => { this.closeStream() })
  }

  /** Half-close and drop what else arrives; a client that does not close its side within 5 s gets a reset. */
  private closeStream (): void {
    if (this.stream.status !== 'open') return
    try { this.stream.close() } catch (err) { this.stream.abort(err as Error); return }
    this.stream.closed({ timeoutMs: 5000 }).catch(() => { this.stream.abort('the MCP session ended') })
  }
}

function rpcError (id: unknown, code: number, reason: string, message: string, service: string): Record<string, unknown> {
  return { jsonrpc: '2.0', id, error: { code, message, data: { axl: reason, service } } }
}

function positive (n: number, name: string): number {
  if (!(n > 0)) throw new ConfigError(`session option ${name} must be positive, got ${String(n)}`)
  return n
}
