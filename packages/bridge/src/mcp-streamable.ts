/**
 * The bridge's Streamable HTTP front for `/mcp/{peer}/{service}` (MCP's HTTP transport): a client that accepts
 * `text/event-stream` gets a full two-way MCP session. Each `Mcp-Session-Id` pairs the MCP SDK's own
 * StreamableHTTPServerTransport (SSE responses, the standalone GET stream, DELETE, resumption with `Last-Event-ID`
 * from a bounded event store) with a MeshClientTransport to the remote service, which opens one MCP session over
 * the mesh (`/axl/mcp/1`: notifications and server-to-client requests both ways) or, with a peer that only speaks
 * AXL's envelopes (Go AXL), falls back to one request / one answer.
 *
 * Server-to-client messages are routed as the SDK's own server routes them: responses to the stream of their
 * request; a progress notification to the request that carried its progress token; other notifications and
 * requests to the newest request still in flight, else to the standalone GET stream.
 *
 * A plain AXL client (POST JSON, no `text/event-stream` in Accept) never comes here: api-mcp.ts answers it as Go
 * AXL does.
 */
import { randomUUID } from 'node:crypto'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js'
import { BoundedEventStore } from './event-store.js'
import type { JSONRPCMessage, RequestId } from '@modelcontextprotocol/sdk/types.js'
import { defaultLogger } from '@libp2p/logger'
import type { AxlNode, PeerId } from '@axl/core'
import { McpClient, MeshClientTransport } from '@axl/router-mcp'

const log = defaultLogger().forComponent('axl:bridge:mcp-http')

/** Bounds of the Streamable HTTP front. */
export interface StreamableFrontOptions {
  /** Sessions at once; the least recently used is closed for a new one. @default 1024 */
  maxSessions?: number
  /** A session unused this long is closed, ms. @default 3600000 */
  ttlMs?: number
  /** Server-to-client events kept per session for `Last-Event-ID` resumption; older ones are forgotten. @default 1000 */
  maxEventsPerSession?: number
  /** Deadline of each mesh round trip (envelope fallback) and of opening the mesh session, ms. @default the node's requestTimeoutMs */
  timeoutMs?: number
}

/** Counters of the front. */
export interface StreamableFrontStats {
  /** Sessions open now. */
  sessions: number
  /** Sessions opened since start. */
  opened: number
  /** Of which carried by an MCP session over the mesh (the rest: AXL envelopes). */
  meshSessions: number
  /** Sessions closed for the session cap or their idle time. */
  evicted: number
  /** Events forgotten by the resumption store (its per-session bound). */
  eventsForgotten: number
  /** Idle sessions closed because the remote node refused a new one as busy (its per-peer session cap). */
  reclaimed: number
}

interface FrontSession {
  endpoint: string
  peer: PeerId
  /** HTTP requests of this session still open (a POST's SSE stream, the GET stream). */
  openRequests: number
  http: StreamableHTTPServerTransport
  mesh: MeshClientTransport
  lastUsed: number
  /** Client requests forwarded and not yet answered, oldest first (id → its progress token, if any). */
  inflight: Map<RequestId, string | number | undefined>
  closed: boolean
}

/** A JSON-RPC request's id and progress token (`params._meta.progressToken`), when it is a request. */
function requestInfo (m: JSONRPCMessage): { id: RequestId, progressToken?: string | number } | undefined {
  const r = m as { id?: RequestId, method?: unknown, params?: { _meta?: { progressToken?: unknown } } }
  if (r.id === undefined || typeof r.method !== 'string') return undefined
  const t = r.params?._meta?.progressToken
  return { id: r.id, ...(typeof t === 'string' || typeof t === 'number' ? { progressToken: t } : {}) }
}

/** The Streamable HTTP sessions of one bridge. */
export class StreamableFront {
  readonly stats: StreamableFrontStats = { sessions: 0, opened: 0, meshSessions: 0, evicted: 0, eventsForgotten: 0, reclaimed: 0 }
  private readonly sessions = new Map<string, FrontSession>()
  private readonly client: McpClient
  private readonly maxSessions: number
  private readonly ttlMs: number
  private readonly maxEvents: number
  private readonly sweepTimer: NodeJS.Timeout

  constructor (private readonly node: AxlNode<Record<string, unknown>>, private readonly opts: StreamableFrontOptions = {}) {
    this.client = new McpClient(node)
    this.maxSessions = opts.maxSessions ?? 1024
    this.ttlMs = opts.ttlMs ?? 3_600_000
    this.maxEvents = opts.maxEventsPerSession ?? 1000
    this.sweepTimer = setInterval(() => { this.sweep() }, Math.max(1000, Math.min(60_000, Math.floor(this.ttlMs / 4))))
    this.sweepTimer.unref()
  }

  /** Whether `sid` is one of this front's sessions. */
  owns (sid: string): boolean { return this.sessions.has(sid) }

  /**
   * Serves one HTTP request of a Streamable HTTP client: opens a session on `initialize` (no session id), else
   * hands the request to its session's SDK transport (POST, GET stream, DELETE). `body` is the parsed JSON of a POST.
   */
  async handle (req: IncomingMessage, res: ServerResponse, peer: PeerId, service: string, endpoint: string, sid: string, body: unknown): Promise<void> {
    let s: FrontSession | undefined
    if (sid !== '') {
      s = this.sessions.get(sid)
      if (s === undefined || s.endpoint !== endpoint) { this.rpcError(res, 404, -32001, 'Session not found'); return }
    } else {
      if (req.method !== 'POST' || !isInitialize(body)) { this.rpcError(res, 400, -32000, 'Bad Request: Mcp-Session-Id header is required'); return }
      s = await this.open(peer, service, endpoint)
      if (s === undefined) { this.rpcError(res, 502, -32603, `Failed to reach peer: could not open an MCP session to ${service}`); return }
    }
    s.lastUsed = Date.now()
    const held = s
    held.openRequests++
    res.once('close', () => { held.openRequests--; held.lastUsed = Date.now() })
    await s.http.handleRequest(req, res, body)
  }

  /** Closes every session. */
  async close (): Promise<void> {
    clearInterval(this.sweepTimer)
    await Promise.all([...this.sessions.values()].map(async s => { await this.closeSession(s) }))
  }

  /**
   * Opens the mesh session of a new HTTP session. Streamable HTTP clients often just go away without DELETE
   * (the SDK's `client.close()` sends none), so their sessions linger here until the TTL, each holding an MCP
   * session on the remote node, whose per-peer cap (16 by default) then refuses new ones as busy. On such a
   * refusal this closes our least recently used session to that peer that is idle (no request in flight, no
   * HTTP stream open: its client is gone or between requests; if it comes back it gets 404 and initializes
   * again, as the spec has it) and dials again, a bounded number of times. With no idle session to give up,
   * the refusal stands: initialize is answered with it (-32011).
   */
  private async open (peer: PeerId, service: string, endpoint: string): Promise<FrontSession | undefined> {
    const timeoutMs = this.opts.timeoutMs ?? this.node.limits.requestTimeoutMs
    let mesh: MeshClientTransport
    for (let attempt = 0; ; attempt++) {
      mesh = new MeshClientTransport(this.client, peer, service, { timeoutMs })
      try {
        await mesh.start()
      } catch (err) {
        log('opening %s on %s failed: %s', service, peer, err instanceof Error ? err.message : String(err))
        return undefined
      }
      if (mesh.refused?.reason !== 'busy' || attempt >= 4) break
      const idle = this.idleSessionTo(peer)
      if (idle === undefined) break
      log('%s refused a session as busy (%s); closing the idle session %s', peer, mesh.refused.message, idle.endpoint)
      this.stats.reclaimed++
      await Promise.all([this.closeSession(idle), mesh.close()])
    }
    while (this.sessions.size >= this.maxSessions) {
      const oldest = this.sessions.values().next().value!
      this.stats.evicted++
      await this.closeSession(oldest)
    }
    const s: FrontSession = { endpoint, peer, openRequests: 0, mesh, lastUsed: Date.now(), inflight: new Map(), closed: false, http: undefined as unknown as StreamableHTTPServerTransport }
    s.http = new StreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      eventStore: new BoundedEventStore(this.maxEvents, () => { this.stats.eventsForgotten++ }),
      onsessioninitialized: (id) => {
        this.sessions.set(id, s)
        this.stats.sessions = this.sessions.size
      }
    })
    s.http.onmessage = (m) => { this.toMesh(s, m) }
    s.http.onclose = () => { void this.closeSession(s) }
    s.http.onerror = (err) => { log('HTTP side of %s: %s', endpoint, err.message) }
    mesh.onmessage = (m) => { this.toClient(s, m) }
    mesh.onclose = () => { void this.closeSession(s) }
    mesh.onerror = (err) => { log('mesh side of %s: %s', endpoint, err.message) }
    await s.http.start()
    this.stats.opened++
    if (mesh.mode === 'session') this.stats.meshSessions++
    return s
  }

  /** Client → remote service. A request that cannot be sent is answered with a JSON-RPC error at once. */
  private toMesh (s: FrontSession, m: JSONRPCMessage): void {
    const info = requestInfo(m)
    if (info !== undefined) {
      if (s.inflight.size >= 1024) s.inflight.delete(s.inflight.keys().next().value!) // bounded; the oldest is forgotten
      s.inflight.set(info.id, info.progressToken)
    }
    s.mesh.send(m).catch((err: unknown) => {
      const message = err instanceof Error ? err.message : String(err)
      log('forwarding to %s failed: %s', s.endpoint, message)
      if (info === undefined) return
      s.inflight.delete(info.id)
      this.toClient(s, { jsonrpc: '2.0', id: info.id, error: { code: -32603, message: `Failed to reach peer: ${message}` } })
    })
  }

  /** Remote service → client, on the stream the SDK's own server would use. */
  private toClient (s: FrontSession, m: JSONRPCMessage): void {
    const r = m as { id?: RequestId, method?: string, params?: { progressToken?: unknown } }
    let relatedRequestId: RequestId | undefined
    if (r.id !== undefined && r.method === undefined) {
      s.inflight.delete(r.id) // a response goes to its request's stream by its id
    } else if (r.method === 'notifications/progress') {
      for (const [id, token] of s.inflight) if (token !== undefined && token === r.params?.progressToken) relatedRequestId = id
    }
    if (relatedRequestId === undefined && r.method !== undefined) relatedRequestId = [...s.inflight.keys()].pop()
    s.lastUsed = Date.now()
    s.http.send(m, relatedRequestId !== undefined ? { relatedRequestId } : undefined).catch((err: unknown) => {
      log('delivering to the HTTP client of %s failed: %s', s.endpoint, err instanceof Error ? err.message : String(err))
    })
  }

  private async closeSession (s: FrontSession): Promise<void> {
    if (s.closed) return
    s.closed = true
    for (const [id, x] of this.sessions) if (x === s) this.sessions.delete(id)
    this.stats.sessions = this.sessions.size
    await Promise.allSettled([s.mesh.close(), s.http.close()])
  }

  /** Our least recently used session to `peer` with nothing in flight and no HTTP request open. */
  private idleSessionTo (peer: PeerId): FrontSession | undefined {
    let best: FrontSession | undefined
    for (const s of this.sessions.values()) {
      if (s.peer !== peer || s.closed || s.openRequests > 0 || s.inflight.size > 0) continue
      if (best === undefined || s.lastUsed < best.lastUsed) best = s
    }
    return best
  }

  private sweep (): void {
    const cutoff = Date.now() - this.ttlMs
    for (const s of this.sessions.values()) {
      if (s.lastUsed < cutoff) { this.stats.evicted++; void this.closeSession(s) }
    }
  }

  private rpcError (res: ServerResponse, status: number, code: number, message: string): void {
    res.writeHead(status, { 'Content-Type': 'application/json' })
    res.end(JSON.stringify({ jsonrpc: '2.0', error: { code, message }, id: null }))
  }
}

/** Whether a parsed POST body is (or, as a batch, holds) an `initialize` request. */
function isInitialize (body: unknown): boolean {
  const one = (x: unknown): boolean => typeof x === 'object' && x !== null && (x as { method?: unknown }).method === 'initialize'
  return Array.isArray(body) ? body.some(one) : one(body)
}
