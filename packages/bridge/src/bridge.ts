/**
 * createBridge(): AXL's local HTTP API (axl-reference §3) over a node: /topology, /send, /recv,
 * /mcp/{peer}/{service}, /a2a/{peer}, with Go net/http's routing, statuses and bodies, plus the fixes
 * listed in the package README (bounded bodies and sessions, Host/Origin checks, long-poll /recv).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { setMaxListeners } from 'node:events'
import type { AxlNode, InboundMessage } from '@axl/core'
import type { ApiRequest, ApiSettings } from './api-context.js'
import { handleA2a } from './api-a2a.js'
import { handleMcp } from './api-mcp.js'
import { handleRecv } from './api-recv.js'
import { handleSend } from './api-send.js'
import { handleTopology } from './api-topology.js'
import { BodyLease, ByteBudget, closeAfterResponse } from './body.js'
import { cleanPath } from './go-path.js'
import { httpError, redirect } from './http-response.js'
import { McpSessions, type McpSessionsOptions } from './mcp-sessions.js'
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
  /** Largest request body, bytes. Default: the node's maxMessageSize. */
  maxBodyBytes?: number
  /** Request-body bytes held in memory across all requests. Default max(256 MiB, maxBodyBytes). */
  maxBodyBytesInFlight?: number
  /** Concurrent HTTP connections. Default 1024. */
  maxConnections?: number
  /** MCP session table bounds. Default 1024 sessions, 1 h idle. */
  mcpSessions?: McpSessionsOptions
  /** Called with unexpected handler failures (default: ignored). */
  log?: (line: string) => void
  /** Closes the bridge when it fires. */
  signal?: AbortSignal
}

/** Bridge counters. */
export interface BridgeStats {
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
    rootParent: opts.rootParent ?? 'empty'
  }
  const budget = new ByteBudget(opts.maxBodyBytesInFlight ?? Math.max(256 * 1024 * 1024, settings.maxBodyBytes))
  const sessions = new McpSessions(opts.mcpSessions)
  const stats: BridgeStats = { requests: 0, recvWaiting: 0, recvReturned: 0, recvLost: 0 }
  const returned: InboundMessage[] = []
  const closing = new AbortController()
  setMaxListeners(Infinity, closing.signal)
  let guard: ((req: IncomingMessage) => ReturnType<ReturnType<typeof requestGuard>>) | undefined
  const server: Server = createServer({ requestTimeout: Math.max(300_000, settings.maxRecvWaitMs + 60_000) })
  server.maxConnections = opts.maxConnections ?? 1024
  server.headersTimeout = 60_000
  const sweep = setInterval(() => { sessions.sweep() }, 60_000)
  sweep.unref()

  const onRequest = (req: IncomingMessage, res: ServerResponse, expectContinue: boolean): void => {
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
      node, settings, sessions, req, res, path, query: new URLSearchParams(search), signal: ac.signal,
      closing: () => closing.signal.aborted, lease, expectContinue, stats, returned
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
  server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
    if (socket.writable && err.code !== 'ECONNRESET') socket.end('HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n400 Bad Request')
    else socket.destroy()
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
    })()
    await closed
  }
  if (opts.signal !== undefined) {
    if (opts.signal.aborted) await close()
    else opts.signal.addEventListener('abort', () => { void close() }, { once: true })
  }
  return { url: `http://${hostForUrl}:${addr.port}`, host: addr.address, port: addr.port, sessions, stats, close }
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
