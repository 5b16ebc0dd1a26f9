/**
 * In-process MCP SDK servers (`McpServer` or `Server` from @modelcontextprotocol/sdk), connected through an
 * in-memory Transport. Two modes:
 * - shared: one server instance, one connection, every caller multiplexed over it (ids rewritten). Server
 *   state is shared: the last caller's `initialize` sets the client capabilities the server sees. In MCP
 *   sessions, messages the server sends for a request go to that request's session (see openSession).
 * - per peer / per session: a factory makes one server (and connection) per calling peer for envelopes
 *   (bounded, LRU, closed when idle) and one per MCP session, so session state is per caller.
 * Either way each request carries the caller: `extra.authInfo.clientId` and
 * `extra.requestInfo.headers['x-from-peer-id']` are the caller's full peer id.
 */
import type { Transport, TransportSendOptions } from '@modelcontextprotocol/sdk/shared/transport.js'
import type { JSONRPCMessage, MessageExtraInfo } from '@modelcontextprotocol/sdk/types.js'
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js'
import type { Server } from '@modelcontextprotocol/sdk/server/index.js'
import { AbortError, type PeerId } from '@axl/core'
import type { Backend, BackendSession, CallContext, ServiceStatus, SessionContext, SessionSink } from './backend.js'
import { JsonRpcChannel, type Route } from './channel.js'
import { BackendError, unavailable } from './errors.js'
import { RouterErrorCode } from './error-codes.js'
import type { JsonRpcId, JsonRpcRequest } from './jsonrpc.js'

/** An MCP SDK server: `McpServer` or the low-level `Server`. */
export type McpSdkServer = McpServer | Server

/** A service where every calling peer gets its own server instance (per-caller MCP session state). */
export interface PerPeerServerSpec {
  /** Makes the server for one calling peer. */
  serverPerPeer: (peer: PeerId) => McpSdkServer | Promise<McpSdkServer>
  /** Most live per-peer servers; the least recently used idle one is closed to make room. Default 64. */
  maxSessions?: number
  /** Close a peer's server after this long without calls, ms. Default 600000 (10 min). */
  sessionIdleMs?: number
}

/**
 * A service where every MCP session gets its own server instance: over the session protocol one per client
 * session (so two clients behind one node are isolated), over one-request envelopes one per calling peer.
 */
export interface PerSessionServerSpec {
  /** Makes the server for one session (`from` is the client's peer id). */
  serverPerSession: (ctx: { from: PeerId, service: string }) => McpSdkServer | Promise<McpSdkServer>
  /** Most live per-peer servers for envelope callers (LRU, like serverPerPeer). @default 64 */
  maxSessions?: number
  /** Close an envelope caller's server after this long without calls, ms. @default 600000 */
  sessionIdleMs?: number
}

/** True when `v` is a PerPeerServerSpec or a PerSessionServerSpec. */
export function isServerFactorySpec (v: unknown): v is PerPeerServerSpec | PerSessionServerSpec {
  if (v === null || typeof v !== 'object') return false
  return typeof (v as PerPeerServerSpec).serverPerPeer === 'function' || typeof (v as PerSessionServerSpec).serverPerSession === 'function'
}

/** True when `v` looks like an MCP SDK server (has connect() and is a Server or wraps one). */
export function isSdkServer (v: unknown): v is McpSdkServer {
  if (v === null || typeof v !== 'object') return false
  const o = v as Record<string, unknown>
  if (typeof o.connect !== 'function' || typeof o.close !== 'function') return false
  if (typeof o.setRequestHandler === 'function') return true
  const inner = o.server as Record<string, unknown> | undefined
  return inner !== null && typeof inner === 'object' && typeof inner.setRequestHandler === 'function'
}

/** The server side of the in-memory link: the SDK server sees this as its Transport. */
class InProcessServerTransport implements Transport {
  onclose?: () => void
  onerror?: (error: Error) => void
  onmessage?: (message: JSONRPCMessage, extra?: MessageExtraInfo) => void
  sessionId?: string
  private closed = false

  constructor (private readonly toRouter: (message: unknown, related?: unknown) => Promise<void> | undefined | void, private readonly service: string) {}

  async start (): Promise<void> {}

  async send (message: JSONRPCMessage, options?: TransportSendOptions): Promise<void> {
    if (this.closed) throw unavailable('the in-process MCP connection is closed')
    // Delivered on a later microtask (never re-entrant); a session sink's promise is backpressure.
    await new Promise<void>(resolve => { queueMicrotask(resolve) })
    await this.toRouter(message, options?.relatedRequestId)
  }

  async close (): Promise<void> {
    if (this.closed) return
    this.closed = true
    this.onclose?.()
  }

  get isClosed (): boolean { return this.closed }

  /** Deliver a message to the server, tagged with the caller's peer id. */
  deliver (message: Record<string, unknown>, from: PeerId | undefined): void {
    if (this.closed) throw unavailable('the in-process MCP connection is closed')
    const extra: MessageExtraInfo | undefined = from === undefined
      ? undefined
      : {
          authInfo: { token: '', clientId: from, scopes: [], extra: { peerId: from } },
          requestInfo: { headers: { 'x-from-peer-id': from, 'x-service': this.service } }
        }
    queueMicrotask(() => { this.onmessage?.(message as JSONRPCMessage, extra) })
  }
}

/** One connected server and its channel. */
class Connection {
  readonly channel: JsonRpcChannel
  readonly transport: InProcessServerTransport
  lastUsed = Date.now()
  active = 0

  constructor (readonly server: McpSdkServer, service: string, onClosed?: () => void) {
    this.transport = new InProcessServerTransport((m, related) => { this.channel.receive(m, related) }, service)
    this.channel = new JsonRpcChannel((m, from) => { this.transport.deliver(m, from) })
    // Set before connect(): the SDK wraps whatever onclose is present when it connects.
    this.transport.onclose = () => {
      this.channel.failAll(unavailable(`the in-process MCP server of "${service}" closed its connection`))
      onClosed?.()
    }
  }

  async connect (): Promise<void> {
    try {
      await this.server.connect(this.transport)
    } catch (err) {
      throw new BackendError(RouterErrorCode.InternalError, 'connect_failed', `cannot connect the MCP server: ${(err as Error).message}`, { cause: err })
    }
  }

  async close (): Promise<void> {
    try { await this.server.close() } catch { /* already closed */ }
    await this.transport.close()
  }
}

/** Internal: one shared in-process server. */
export class SharedSdkBackend implements Backend {
  readonly kind = 'sdk' as const
  status: ServiceStatus = 'starting'
  private readonly conn: Connection

  /** Observe status changes. */
  onStatus?: (status: ServiceStatus, detail: Record<string, unknown>) => void

  constructor (server: McpSdkServer, private readonly service: string) {
    this.conn = new Connection(server, service, () => {
      if (this.status !== 'ready') return
      this.status = 'stopped'
      this.onStatus?.('stopped', { reason: 'the server closed its connection' })
    })
  }

  info (): Record<string, unknown> { return { sessions: 'shared', ...this.conn.channel.stats } }

  async start (): Promise<void> {
    await this.conn.connect()
    this.status = 'ready'
  }

  async stop (): Promise<void> {
    if (this.status === 'stopped') return
    this.status = 'stopped'
    await this.conn.close()
  }

  async request (message: JsonRpcRequest & { id: JsonRpcId }, ctx: CallContext): Promise<unknown> {
    if (this.status !== 'ready' || this.conn.transport.isClosed) throw unavailable(`service "${this.service}" is ${this.status}`)
    return await this.conn.channel.request(message, ctx.from, ctx.signal)
  }

  /**
   * A session on the shared connection: requests are multiplexed (ids rewritten); what the server sends for a
   * request (SDK relatedRequestId: progress, logging through `extra`, `extra.sendRequest` sampling/elicitation)
   * goes to the session that made it, and its answers come back; notifications related to no request
   * (list_changed, ...) go to every session. Requests the server sends outside any request get -32601.
   */
  async openSession (ctx: SessionContext, sink: SessionSink): Promise<BackendSession> {
    if (this.status !== 'ready' || this.conn.transport.isClosed) throw unavailable(`service "${this.service}" is ${this.status}`)
    const channel = this.conn.channel
    const route: Route = m => sink.message(m)
    const inflight = new Map<string, AbortController>()
    let closed = false
    channel.openSession(route)
    return {
      send: m => {
        if (closed || this.conn.transport.isClosed) throw unavailable(`service "${this.service}" is ${this.status}`)
        if (typeof m.method !== 'string') { channel.answer(m, route); return }
        if (m.method === 'notifications/cancelled') {
          const id = (m.params as { requestId?: unknown } | undefined)?.requestId
          inflight.get(JSON.stringify(id))?.abort(new AbortError('the request was cancelled by the client'))
          return
        }
        if (m.id === undefined) { channel.notify(m as unknown as JsonRpcRequest, ctx.from); return }
        const key = JSON.stringify(m.id)
        const ac = new AbortController()
        inflight.set(key, ac)
        const id = m.id
        channel.request(m as unknown as JsonRpcRequest, ctx.from, AbortSignal.any([ctx.signal, ac.signal]), route)
          .then(r => { if (!ac.signal.aborted) void sink.message({ ...r, id }) }, (err: unknown) => {
            if (ac.signal.aborted || closed) return
            const e = err instanceof BackendError ? err : unavailable((err as Error).message)
            void sink.message({ jsonrpc: '2.0', id, error: { code: e.rpcCode, message: e.message, data: { axl: e.reason, service: this.service } } })
          })
          .finally(() => { if (inflight.get(key) === ac) inflight.delete(key) })
      },
      close: async () => {
        if (closed) return
        closed = true
        for (const ac of inflight.values()) ac.abort(new AbortError('the session closed'))
        inflight.clear()
        channel.closeSession(route)
      }
    }
  }

  async notify (message: JsonRpcRequest, ctx: CallContext): Promise<void> {
    if (this.status !== 'ready' || this.conn.transport.isClosed) throw unavailable(`service "${this.service}" is ${this.status}`)
    this.conn.channel.notify(message, ctx.from)
  }
}

/** Internal: one server per calling peer, LRU-bounded, closed when idle. */
export class PerPeerSdkBackend implements Backend {
  readonly kind = 'sdk' as const
  status: ServiceStatus = 'starting'
  private readonly sessions = new Map<PeerId, Promise<Connection>>()
  private readonly live = new Map<PeerId, Connection>()
  private readonly maxSessions: number
  private readonly idleMs: number
  private sweeper: NodeJS.Timeout | undefined
  private closedForIdle = 0

  private readonly make: (peer: PeerId) => McpSdkServer | Promise<McpSdkServer>
  private readonly mode: string
  private meshSessions = 0

  constructor (spec: PerPeerServerSpec | PerSessionServerSpec, private readonly service: string) {
    this.maxSessions = spec.maxSessions ?? 64
    this.idleMs = spec.sessionIdleMs ?? 600_000
    if ('serverPerSession' in spec && typeof spec.serverPerSession === 'function') {
      const f = spec.serverPerSession
      this.make = peer => f({ from: peer, service })
      this.mode = 'per-session'
    } else {
      this.make = (spec as PerPeerServerSpec).serverPerPeer
      this.mode = 'per-peer'
    }
  }

  info (): Record<string, unknown> { return { sessions: this.mode, liveSessions: this.live.size + this.meshSessions, meshSessions: this.meshSessions, maxSessions: this.maxSessions, closedForIdle: this.closedForIdle } }

  /** A session protocol session: a fresh server from the factory, connected to this session alone (no id rewriting). */
  async openSession (ctx: SessionContext, sink: SessionSink): Promise<BackendSession> {
    if (this.status !== 'ready') throw unavailable(`service "${this.service}" is ${this.status}`)
    const server = await this.make(ctx.from)
    const transport = new InProcessServerTransport(async m => { await sink.message(m as Record<string, unknown>) }, this.service)
    let closed = false
    transport.onclose = () => {
      if (!closed) { closed = true; this.meshSessions--; sink.close('the MCP server closed its connection') }
    }
    try {
      await server.connect(transport)
    } catch (err) {
      throw new BackendError(RouterErrorCode.InternalError, 'connect_failed', `cannot connect the MCP server: ${(err as Error).message}`, { cause: err })
    }
    this.meshSessions++
    return {
      send: m => { transport.deliver(m, ctx.from) },
      close: async () => {
        if (closed) return
        closed = true
        this.meshSessions--
        try { await server.close() } finally { await transport.close() }
      }
    }
  }

  async start (): Promise<void> {
    this.status = 'ready'
    const every = Math.max(50, Math.min(this.idleMs / 2, 60_000))
    this.sweeper = setInterval(() => { this.sweep() }, every)
    this.sweeper.unref()
  }

  async stop (): Promise<void> {
    if (this.status === 'stopped') return
    this.status = 'stopped'
    clearInterval(this.sweeper)
    const all = [...this.sessions.values()]
    this.sessions.clear()
    this.live.clear()
    await Promise.allSettled(all.map(async p => { await (await p).close() }))
  }

  private sweep (): void {
    const now = Date.now()
    for (const [peer, c] of this.live) {
      if (c.active === 0 && now - c.lastUsed >= this.idleMs) { this.drop(peer, c); this.closedForIdle++ }
    }
  }

  private drop (peer: PeerId, c: Connection): void {
    this.live.delete(peer)
    this.sessions.delete(peer)
    void c.close()
  }

  private async connection (peer: PeerId): Promise<Connection> {
    if (this.status !== 'ready') throw unavailable(`service "${this.service}" is ${this.status}`)
    let p = this.sessions.get(peer)
    if (p === undefined) {
      if (this.sessions.size >= this.maxSessions) {
        let victim: [PeerId, Connection] | undefined
        for (const e of this.live) if (e[1].active === 0 && (victim === undefined || e[1].lastUsed < victim[1].lastUsed)) victim = e
        if (victim === undefined) throw new BackendError(RouterErrorCode.Busy, 'busy', `service "${this.service}" has ${this.maxSessions} busy per-peer sessions`)
        this.drop(victim[0], victim[1])
      }
      p = (async () => {
        const c: Connection = new Connection(await this.make(peer), this.service, () => {
          if (this.live.get(peer) === c) { this.live.delete(peer); this.sessions.delete(peer) }
        })
        await c.connect()
        if (this.status !== 'ready') { await c.close(); throw unavailable(`service "${this.service}" stopped`) }
        this.live.set(peer, c)
        return c
      })()
      this.sessions.set(peer, p)
      p.catch(() => { if (this.sessions.get(peer) === p) this.sessions.delete(peer) })
    }
    const c = await p
    c.lastUsed = Date.now()
    return c
  }

  async request (message: JsonRpcRequest & { id: JsonRpcId }, ctx: CallContext): Promise<unknown> {
    const c = await this.connection(ctx.from)
    c.active++
    try {
      return await c.channel.request(message, ctx.from, ctx.signal)
    } finally {
      c.active--
      c.lastUsed = Date.now()
    }
  }

  async notify (message: JsonRpcRequest, ctx: CallContext): Promise<void> {
    const c = await this.connection(ctx.from)
    c.channel.notify(message, ctx.from)
  }
}
