/**
 * createBridge(): AXL's local HTTP API (axl-reference §3) over a node: /topology, /send, /recv,
 * /mcp/{peer}/{service}, /a2a/{peer}, with Go net/http's routing, statuses and bodies, plus the fixes
 * listed in the package README (bounded bodies and sessions, Host/Origin checks, long-poll /recv).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import { setMaxListeners } from 'node:events'
import type { AxlNode, InboundMessage } from '@axl/core'
import type { ApiRequest, ApiSettings } from './api-context.js'
import { handleA2a } from './api-a2a.js'
import { handleMcp } from './api-mcp.js'
import { handleRecv } from './api-recv.js'
import { handleSend } from './api-send.js'
import { handleTopology } from './api-topology.js'
import { BodyLease, ByteBudget, closeAfterResponse } from './body.js'
import { ConnectionCap } from './connection-cap.js'
import { cleanPath } from './go-path.js'
import { DropLog, zeroDropStats, type HttpDropStats } from './http-drops.js'
import { httpError, rawHttpError, redirect } from './http-response.js'
import { McpSessions, type McpSessionsOptions } from './mcp-sessions.js'
import { StreamableFront } from './mcp-streamable.js'
import { requestGuard } from './request-guard.js'
import type { RootParent } from './topology-json.js'

/** Options of createBridge(). */
export interface BridgeOptions {
  /** TCP port; 0 picks a free one. Default 9002 (AXL's api_port). */
  port?: number
  /** Address to bind. Default 127.0.0.1 (loopback only); IPv6 literals are fine. */
  host?: string
  /** Extra accepted Host header values (`name` or `name:port`); "*" disables the DNS-rebinding check. */
  allowedHosts?: string[]
  /** Browser origins allowed to call the API; default none ("*": any). */
  allowedOrigins?: string[]
  /** The root's `parent` in /topology: "empty" (default) or "self" (AXL). */
  rootParent?: RootParent
  /** Deadline of /send, /mcp and /a2a round trips, ms. Default: the node's requestTimeoutMs (30 s). */
  requestTimeoutMs?: number
  /** Longest /recv long-poll, ms. Default 60 000. */
  maxRecvWaitMs?: number
  /**
   * Largest request body, bytes.
   * @default the node's maxMessageSize (16 MiB)
   */
  maxBodyBytes?: number
  /**
   * Request-body bytes held in memory across all requests; charged as the bytes arrive (a declared
   * Content-Length reserves nothing). Past it, a request gets 503 `Server busy`. Raised to maxBodyBytes if lower.
   * @default max(256 MiB, maxBodyBytes)
   */
  maxBodyBytesInFlight?: number
  /**
   * A request body must complete within this many ms of the bridge starting to read it (after any
   * `100 Continue`); else 408 `Request Timeout`, the connection is closed and its budget released. 0: no deadline.
   * @default 30_000
   */
  bodyTimeoutMs?: number
  /**
   * A connection must send a complete request header within this many ms of opening (or of the first byte
   * of a later request on a keep-alive connection); else 408 and the connection is closed. Checked every
   * min(1 s, headersTimeoutMs / 4). 0: no deadline.
   * @default 10_000
   */
  headersTimeoutMs?: number
  /**
   * An idle keep-alive connection (no request in flight) is closed after this many ms. 0: never.
   * @default 5_000
   */
  keepAliveTimeoutMs?: number
  /**
   * Concurrent HTTP connections. A connection past the cap closes the one idle the longest (no request in
   * flight); only when every connection has a request in flight is the new one refused (503 `Server busy`).
   * @default 1024
   */
  maxConnections?: number
  /** MCP session table bounds. Default 1024 sessions, 1 h idle. */
  mcpSessions?: McpSessionsOptions
  /** Called with unexpected handler failures, and with refusals and drops (at most one line per cause every 10 s). Default: ignored. */
  log?: (line: string) => void
  /** Closes the bridge when it fires. */
  signal?: AbortSignal
}

/** Bridge counters (the refusal and drop counters are HttpDropStats'). */
export interface BridgeStats extends HttpDropStats {
  /** HTTP requests received. */
  requests: number
  /** /recv long-polls parked now. */
  recvWaiting: number
  /** Messages dequeued for a /recv whose client was gone, put back in front of the queue. */
  recvReturned: number
  /** Messages dropped because the put-back buffer was full. */
  recvLost: number
}

/** A running HTTP API. */
export interface Bridge {
  /** Base URL, e.g. `http://127.0.0.1:9002`. */
  readonly url: string
  /** The bound address. */
  readonly host: string
  /** The bound port. */
  readonly port: number
  /** The /mcp session table. */
  readonly sessions: McpSessions
  /** Streamable HTTP sessions of /mcp (clients that accept SSE): the MCP SDK's transport paired with a mesh MCP session. */
  readonly front: StreamableFront
  /** Counters. */
  readonly stats: Readonly<BridgeStats>
  /** Stop listening, end in-flight requests and close every connection. Idempotent. Does not stop the node. */
  close: () => Promise<void>
}

/** Start AXL's HTTP API for `node`; resolves once listening. */
export async function createBridge (node: AxlNode<any>, opts: BridgeOptions = {}): Promise<Bridge> {
  const host = opts.host ?? '127.0.0.1'
  const settings: ApiSettings = {
    requestTimeoutMs: opts.requestTimeoutMs ?? node.limits.requestTimeoutMs,
    maxRecvWaitMs: opts.maxRecvWaitMs ?? 60_000,
    maxBodyBytes: opts.maxBodyBytes ?? node.limits.maxMessageSize,
    bodyTimeoutMs: ms(opts.bodyTimeoutMs, 30_000, 'bodyTimeoutMs'),
    rootParent: opts.rootParent ?? 'empty'
  }
  const headersTimeoutMs = ms(opts.headersTimeoutMs, 10_000, 'headersTimeoutMs')
  const budget = new ByteBudget(Math.max(opts.maxBodyBytesInFlight ?? 256 * 1024 * 1024, settings.maxBodyBytes))
  const sessions = new McpSessions(opts.mcpSessions)
  const front = new StreamableFront(node, {
    ...(opts.mcpSessions?.max !== undefined ? { maxSessions: opts.mcpSessions.max } : {}),
    ...(opts.mcpSessions?.ttlMs !== undefined ? { ttlMs: opts.mcpSessions.ttlMs } : {}),
    timeoutMs: settings.requestTimeoutMs
  })
  const stats: BridgeStats = { requests: 0, recvWaiting: 0, recvReturned: 0, recvLost: 0, ...zeroDropStats() }
  const drops = new DropLog(stats, opts.log)
  const returned: InboundMessage[] = []
  const closing = new AbortController()
  setMaxListeners(Infinity, closing.signal)
  let guard: ((req: IncomingMessage) => ReturnType<ReturnType<typeof requestGuard>>) | undefined
  const server: Server = createServer({
    headersTimeout: headersTimeoutMs,
    // Node's own deadline for a whole request, a backstop for bodies no handler reads (answered early).
    requestTimeout: headersTimeoutMs > 0 && settings.bodyTimeoutMs > 0 ? headersTimeoutMs + settings.bodyTimeoutMs + 1000 : 0,
    connectionsCheckingInterval: headersTimeoutMs > 0 ? Math.max(25, Math.min(1000, Math.floor(headersTimeoutMs / 4))) : 1000
  })
  server.keepAliveTimeout = ms(opts.keepAliveTimeoutMs, 5_000, 'keepAliveTimeoutMs')
  const cap = new ConnectionCap(opts.maxConnections ?? 1024, (socket, why) => {
    if (why === 'evicted') {
      drops.record('connectionsEvicted', `closed an idle connection to make room (maxConnections ${cap.max} reached)`)
      socket.destroy()
    } else {
      drops.record('connectionsRefused', `refused a connection: all ${cap.max} connections have requests in flight`)
      socket.end(rawHttpError(503, 'Service Unavailable', `Server busy: too many connections (limit ${cap.max}, all with requests in flight); retry later`))
    }
  })
  /** Sockets whose last response was sent before its request body ended (Node discards the rest). */
  const unreadBodies = new WeakSet<Socket>()
  const sweep = setInterval(() => { sessions.sweep() }, 60_000)
  sweep.unref()

  const onRequest = (req: IncomingMessage, res: ServerResponse, expectContinue: boolean): void => {
    const socket = req.socket
    cap.requestStarted(socket)
    unreadBodies.delete(socket)
    res.once('close', () => {
      if (!req.complete) unreadBodies.add(socket)
      cap.requestEnded(socket)
    })
    void route(req, res, expectContinue).catch(err => {
      opts.log?.(`internal error on ${req.method ?? '?'} ${req.url ?? '?'}: ${err instanceof Error ? err.stack ?? err.message : String(err)}`)
      if (!res.headersSent) httpError(res, 500, 'Internal Server Error')
      else res.destroy()
    })
  }

  const route = async (req: IncomingMessage, res: ServerResponse, expectContinue: boolean): Promise<void> => {
    stats.requests++
    const lease = new BodyLease(budget)
    const ac = new AbortController()
    const onClosing = (): void => { ac.abort(new Error('the bridge is closing')) }
    closing.signal.addEventListener('abort', onClosing, { once: true })
    res.once('close', () => {
      lease.release()
      closing.signal.removeEventListener('abort', onClosing)
      ac.abort(new Error('the client went away'))
    })
    const verdict = guard?.(req)
    if (verdict !== undefined) {
      drops.record('guardRefusals', `${verdict.status} on ${req.method ?? '?'} ${truncate(req.url ?? '')} (Host ${truncate(req.headers.host ?? '(none)')}): ${verdict.message}`)
      closeAfterResponse(req, res)
      httpError(res, verdict.status, verdict.message, { Connection: 'close' })
      return
    }
    let path: string
    let search: string
    try {
      ({ path, search } = splitTarget(req.url ?? '/'))
    } catch {
      httpError(res, 400, 'Bad Request')
      return
    }
    const clean = cleanPath(path)
    if (clean !== path) { redirect(res, req.method ?? 'GET', clean + search); return }
    if (path === '/mcp' || path === '/a2a') { redirect(res, req.method ?? 'GET', path + '/' + search); return }
    const r: ApiRequest = {
      node, settings, sessions, front, req, res, path, query: new URLSearchParams(search), signal: ac.signal,
      closing: () => closing.signal.aborted, lease, expectContinue, stats, returned, drops
    }
    if (path === '/topology') { handleTopology(r); return }
    if (path === '/send') { await handleSend(r); return }
    if (path === '/recv') { await handleRecv(r); return }
    if (path.startsWith('/mcp/')) { await handleMcp(r); return }
    if (path.startsWith('/a2a/')) { await handleA2a(r); return }
    httpError(res, 404, '404 page not found')
  }

  server.on('request', (req: IncomingMessage, res: ServerResponse) => { onRequest(req, res, false) })
  server.on('checkContinue', (req: IncomingMessage, res: ServerResponse) => { onRequest(req, res, true) })
  server.on('connection', (socket: Socket) => { cap.admit(socket) })
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
    if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') { onRequestTimeout(socket); return }
    if (socket.writable && err.code !== 'ECONNRESET') socket.end('HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n400 Bad Request')
    else socket.destroy()
  })
  // Node's deadlines (headersTimeout; requestTimeout as a backstop) expired on a connection.
  const onRequestTimeout = (socket: Socket): void => {
    if (cap.isBusy(socket)) {
      // A handler owns the response; the body deadline normally fires first and answers 408 itself.
      drops.record('bodyTimeouts', `closed a connection whose request did not complete within ${server.requestTimeout} ms`)
      socket.destroy()
      return
    }
    if (unreadBodies.has(socket)) {
      drops.record('bodyTimeouts', `closed a connection still sending a body nobody reads after ${server.requestTimeout} ms`)
      socket.destroy()
      return
    }
    drops.record('headerTimeouts', `408: no complete request header within ${headersTimeoutMs} ms`)
    if (socket.writable) socket.end(rawHttpError(408, 'Request Timeout', `Request Timeout: no complete request header within ${headersTimeoutMs} ms`))
    else socket.destroy()
  }
  // keepAliveTimeout expired on an idle keep-alive connection (with a listener here, Node leaves closing it to us).
  server.on('timeout', (socket: Socket) => {
    if (cap.isBusy(socket)) return
    drops.record('idleTimeouts', `closed a keep-alive connection idle for ${server.keepAliveTimeout} ms`)
    socket.destroy()
  })

  await new Promise<void>((resolve, reject) => {
    const onError = (err: Error): void => { reject(err) }
    server.once('error', onError)
    server.listen(opts.port ?? 9002, host, () => { server.off('error', onError); resolve() })
  })
  const addr = server.address() as AddressInfo
  guard = requestGuard({ port: addr.port, bindHost: host, allowedHosts: opts.allowedHosts, allowedOrigins: opts.allowedOrigins })
  const hostForUrl = addr.address.includes(':') ? `[${addr.address}]` : addr.address

  let closed: Promise<void> | undefined
  const close = async (): Promise<void> => {
    closed ??= (async () => {
      clearInterval(sweep)
      closing.abort(new Error('the bridge is closing'))
      const done = new Promise<void>(resolve => { server.close(() => { resolve() }) })
      await new Promise(resolve => setImmediate(resolve))
      server.closeAllConnections()
      await done
      sessions.clear()
      await front.close()
    })()
    await closed
  }
  if (opts.signal !== undefined) {
    if (opts.signal.aborted) await close()
    else opts.signal.addEventListener('abort', () => { void close() }, { once: true })
  }
  return { url: `http://${hostForUrl}:${addr.port}`, host: addr.address, port: addr.port, sessions, front, stats, close }
}

/** A duration option in ms: a finite number ≥ 0 (0: none), else a RangeError naming it. */
function ms (v: number | undefined, dflt: number, name: string): number {
  if (v === undefined) return dflt
  if (!Number.isFinite(v) || v < 0) throw new RangeError(`${name} must be a number of ms ≥ 0 (0: none), got ${v}`)
  return Math.min(0x7fffffff, Math.round(v))
}

/** At most 200 characters of client-sent text, for a log line. */
function truncate (s: string): string {
  return s.length > 200 ? `${s.slice(0, 200)}…` : s
}

/** The path (percent-decoded, as Go's URL.Path) and the `?query` of a request target. */
function splitTarget (target: string): { path: string, search: string } {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(target)) {
    const u = new URL(target) // absolute-form (proxies)
    return { path: decodeURIComponent(u.pathname), search: u.search }
  }
  const q = target.indexOf('?')
  const raw = q < 0 ? target : target.slice(0, q)
  const search = q < 0 ? '' : target.slice(q)
  return { path: decodeURIComponent(raw), search: search === '?' ? '' : search }
}
