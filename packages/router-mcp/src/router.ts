/**
 * The MCP router: a registry of services on a node, the inbound dispatch of MCP envelopes to them, and the
 * client side (call a remote service, or get an MCP SDK Transport to one).
 */
import { AxlError, NotStartedError, TimeoutError, parsePeerId, withDeadline, type AxlNode, type NodeComponents, type PeerId, type RawJson, type RequestContext } from '@axl/core'
import { encodeMcpResponse, type EnvelopeReply } from './envelope.js'
import { setMaxListeners } from 'node:events'
import type { Backend, CallContext, ServiceKind, ServiceStatus } from './backend.js'
import { RouterErrorCode } from './error-codes.js'
import { BackendError, InvalidServiceError, ServiceExistsError } from './errors.js'
import { HandlerBackend, type JsonRpcHandler } from './handler-backend.js'
import { HttpBackend, isHttpSpec, type HttpEndpointSpec } from './http-backend.js'
import { errorResponse, parseInbound, serializeResponse, type JsonRpcRequest, type JsonRpcResponse } from './jsonrpc.js'
import { McpClient, type CallOptions } from './client.js'
import { MeshClientTransport, type MeshTransportOptions } from './mesh-transport.js'
import type { McpPort } from './port.js'
import { PerPeerSdkBackend, SharedSdkBackend, isSdkServer, isServerFactorySpec, type McpSdkServer, type PerPeerServerSpec, type PerSessionServerSpec } from './sdk-backend.js'
import { StdioBackend, isStdioSpec, type StdioServerSpec } from './stdio-backend.js'
import type { BackendSession, SessionSink } from './backend.js'
import { DispatchSession } from './session-adapter.js'
import { SessionServer, type SessionHost, type SessionOptions, type SessionStats } from './session-server.js'
import { openClientSession, type ClientSession, type OpenSessionOptions, type SessionNode } from './session-client.js'

/**
 * What answers a service: a JSON-RPC handler function, an MCP SDK server (shared connection), a per-peer
 * server factory, a stdio server to spawn, or a Streamable-HTTP endpoint (URL or spec).
 */
export type ServiceDefinition = JsonRpcHandler | McpSdkServer | PerPeerServerSpec | PerSessionServerSpec | StdioServerSpec | HttpEndpointSpec | string | URL

/** Who may call a service: a list of peer ids, or a predicate (a throw or a rejection counts as "no"). */
export type AccessRule = readonly string[] | ((peer: PeerId, service: string) => boolean | Promise<boolean>)

/** Per-service options. */
export interface ServiceOptions {
  /** Who may call; everyone when omitted. Refused callers get error -32001. */
  allow?: AccessRule
  /** Requests handled at once; more get error -32011 at once. Default 16. */
  maxConcurrent?: number
  /** Deadline per request, ms; then error -32012. Default 90% of the node's requestTimeoutMs (so the caller gets it before its own deadline). */
  timeoutMs?: number
  /** Largest JSON-RPC answer, bytes; larger ones become error -32014. Default: what fits in the node's maxMessageSize. */
  maxResponseBytes?: number
}

/** A service to register at start, passed in mcp({ services }). */
export interface InitialService extends ServiceOptions {
  /** The name callers use (the envelope's `service`). */
  name: string
  /** What answers it. */
  service: ServiceDefinition
}

/** Options of mcp(). */
export interface McpRouterOptions {
  /** Services to register when the node starts. */
  services?: InitialService[]
  /** Defaults for every service's options. */
  defaults?: ServiceOptions
  /** The MCP session protocol (`/axl/mcp/1`): its limits, or false to not offer it (callers then use one-request envelopes). @default {} (offered) */
  session?: SessionOptions | false
}

/** A row of list(). */
export interface ServiceInfo {
  /** The service name. */
  name: string
  /** What answers it. */
  kind: ServiceKind
  /** Lifecycle state. */
  status: ServiceStatus
  /** Requests in progress. */
  active: number
  /** Requests answered (including with errors). */
  calls: number
  /** Requests answered with a router error (refused, busy, timeout, crash, ...). */
  errors: number
  /** Backend details: pid/restarts (stdio), url (http), sessions (sdk). */
  details: Record<string, unknown>
}

export type { CallOptions } from './client.js'

/** Detail of the `service:status` event. */
export interface ServiceStatusDetail {
  /** The service name. */
  name: string
  /** New status. */
  status: ServiceStatus
  /** Extra facts: pid, restarts, delayMs (before a restart), reason. */
  [key: string]: unknown
}

interface Entry {
  name: string
  backend: Backend
  allow: ((peer: PeerId, service: string) => boolean | Promise<boolean>) | undefined
  maxConcurrent: number
  timeoutMs: number
  maxResponseBytes: number
  active: number
  calls: number
  errors: number
  /** Aborted when the entry is retired (replaced, deregistered, router stopped). */
  retired: AbortController
  idle: Array<() => void>
}

const MAX_BACKGROUND_NOTIFICATIONS = 256

/**
 * The `mcp` service of a node: `createNode({ transport, services: { mcp: mcp() } })`, then
 * `node.services.mcp.register('weather', handlerOrServerOrStdioOrUrl)`.
 */
export class McpRouter extends EventTarget implements McpPort, SessionHost {
  private readonly node: AxlNode<Record<string, unknown>>
  private readonly client: McpClient
  private readonly limits: NodeComponents['limits']
  private readonly entries = new Map<string, Entry>()
  private readonly retiring = new Set<Promise<void>>()
  private readonly defaults: ServiceOptions
  private readonly initial: InitialService[]
  private unhandle: (() => void) | undefined
  private state: 'new' | 'running' | 'stopped' = 'new'
  private readonly lifetime = new AbortController()
  private backgroundNotifications = 0
  private readonly sessionServer: SessionServer | undefined

  constructor (components: NodeComponents, opts: McpRouterOptions = {}) {
    super()
    this.node = components.node
    const log = components.logger.forComponent('axl:mcp:session')
    this.sessionServer = opts.session === false ? undefined : new SessionServer(components.node, this, log, opts.session ?? {})
    this.limits = components.limits
    this.client = new McpClient(components.node)
    this.defaults = opts.defaults ?? {}
    this.initial = opts.services ?? []
  }

  /** Called by the node: installs the MCP handler and starts the initial services. */
  async start (): Promise<void> {
    if (this.state !== 'new') return
    this.state = 'running'
    this.unhandle = this.node.handle('mcp', async (req, ctx) => {
      const r = await this.dispatch(req, ctx)
      return encodeMcpResponse(req.service, r.response, r.error)
    })
    this.sessionServer?.start()
    for (const s of this.initial) {
      const { name, service, ...options } = s
      await this.register(name, service, options)
    }
  }

  /** Called by the node: stops every service (stdio children are killed) and waits for them. */
  async stop (): Promise<void> {
    if (this.state === 'stopped') return
    this.state = 'stopped'
    this.unhandle?.()
    this.sessionServer?.stop()
    this.lifetime.abort(new NotStartedError('the MCP router is stopping'))
    const all = [...this.entries.values()]
    this.entries.clear()
    await Promise.allSettled([...all.map(async e => { await this.retire(e, 0) }), ...this.retiring])
  }

  // ---- registry ------------------------------------------------------------------------------------------

  /** Register a service under `name`; resolves once it can answer (a stdio server answered initialize). Throws ServiceExistsError if taken. */
  async register (name: string, service: ServiceDefinition, opts: ServiceOptions = {}): Promise<void> {
    this.assertUsable()
    checkName(name)
    if (this.entries.has(name)) throw new ServiceExistsError(name)
    const entry = this.makeEntry(name, service, opts)
    this.entries.set(name, entry)
    try {
      await entry.backend.start(AbortSignal.any([this.lifetime.signal, entry.retired.signal]))
    } catch (err) {
      if (this.entries.get(name) === entry) this.entries.delete(name)
      await entry.backend.stop().catch(() => {})
      throw wrapStartError(name, err)
    }
  }

  /**
   * Register or swap a service. The new one is started first; callers switch to it once it is ready; the
   * old one finishes its in-flight requests (up to its timeoutMs) and is then stopped.
   */
  async replace (name: string, service: ServiceDefinition, opts: ServiceOptions = {}): Promise<void> {
    this.assertUsable()
    checkName(name)
    const entry = this.makeEntry(name, service, opts)
    try {
      await entry.backend.start(AbortSignal.any([this.lifetime.signal, entry.retired.signal]))
    } catch (err) {
      await entry.backend.stop().catch(() => {})
      throw wrapStartError(name, err)
    }
    if (this.state !== 'running') { await entry.backend.stop(); throw new NotStartedError('the MCP router stopped') }
    const old = this.entries.get(name)
    this.entries.set(name, entry)
    if (old !== undefined) this.retireInBackground(old)
  }

  /** Remove a service; new calls get "unknown service" at once, in-flight ones may finish (up to timeoutMs). Resolves true once stopped, false if unknown. */
  async deregister (name: string): Promise<boolean> {
    const entry = this.entries.get(name)
    if (entry === undefined) return false
    this.entries.delete(name)
    await this.retire(entry, entry.timeoutMs)
    return true
  }

  /** The registered services. */
  list (): ServiceInfo[] {
    return [...this.entries.values()].map(e => ({
      name: e.name,
      kind: e.backend.kind,
      status: e.backend.status,
      active: e.active,
      calls: e.calls,
      errors: e.errors,
      details: e.backend.info()
    }))
  }

  /** True when `name` is registered. */
  has (name: string): boolean { return this.entries.has(name) }

  private makeEntry (name: string, service: ServiceDefinition, opts: ServiceOptions): Entry {
    const o = { ...this.defaults, ...opts }
    const overhead = encodeMcpResponse(name, 'null').byteLength - 4
    const meshMax = this.limits.maxMessageSize - overhead
    const maxConcurrent = o.maxConcurrent ?? 16
    const timeoutMs = o.timeoutMs ?? Math.max(1, Math.floor(this.limits.requestTimeoutMs * 0.9))
    if (!Number.isInteger(maxConcurrent) || maxConcurrent < 1) throw new InvalidServiceError(`maxConcurrent of "${name}" must be a positive integer, got ${String(maxConcurrent)}`)
    if (!(timeoutMs > 0)) throw new InvalidServiceError(`timeoutMs of "${name}" must be positive, got ${String(timeoutMs)}`)
    const entry: Entry = {
      name,
      backend: this.makeBackend(name, service, meshMax),
      allow: accessRule(o.allow),
      maxConcurrent,
      timeoutMs,
      maxResponseBytes: Math.min(o.maxResponseBytes ?? meshMax, meshMax),
      active: 0,
      calls: 0,
      errors: 0,
      retired: new AbortController(),
      idle: []
    }
    // run() adds one listener per call in progress (at most maxConcurrent), and each open session one (bounded by the session limits).
    setMaxListeners(maxConcurrent + 16 + 1024, entry.retired.signal)
    entry.backend.onStatus = (status, detail) => {
      if (this.entries.get(name) !== entry && status !== 'stopped') return
      this.dispatchEvent(new CustomEvent<ServiceStatusDetail>('service:status', { detail: { ...detail, name, status } }))
    }
    return entry
  }

  private makeBackend (name: string, def: ServiceDefinition, maxBytes: number): Backend {
    if (typeof def === 'function') return new HandlerBackend(def)
    if (isSdkServer(def)) return new SharedSdkBackend(def, name)
    if (isServerFactorySpec(def)) return new PerPeerSdkBackend(def, name)
    if (isStdioSpec(def)) return new StdioBackend(def, name, maxBytes)
    if (isHttpSpec(def)) {
      try { return new HttpBackend(def, name, maxBytes) } catch (err) { throw new InvalidServiceError(`service "${name}": ${(err as Error).message}`) }
    }
    throw new InvalidServiceError(`service "${name}" must be a JSON-RPC handler function, an MCP SDK server, { serverPerPeer }, { command, args } or an http(s) URL`)
  }

  private retireInBackground (entry: Entry): void {
    const p = this.retire(entry, entry.timeoutMs).finally(() => { this.retiring.delete(p) })
    this.retiring.add(p)
  }

  /** Let in-flight requests finish (up to graceMs), then abort the rest and stop the backend. */
  private async retire (entry: Entry, graceMs: number): Promise<void> {
    if (entry.active > 0 && graceMs > 0) {
      await new Promise<void>(resolve => {
        const t = setTimeout(resolve, graceMs)
        entry.idle.push(() => { clearTimeout(t); resolve() })
      })
    }
    entry.retired.abort(new BackendError(RouterErrorCode.Unavailable, 'unavailable', `service "${entry.name}" was stopped`))
    await entry.backend.stop()
  }

  private assertUsable (): void {
    if (this.state === 'stopped') throw new NotStartedError('the MCP router is stopped')
  }

  /** McpPort: the names of the services that are up (not stopping, stopped or failed). */
  services (): string[] {
    return [...this.entries.values()].filter(e => !DOWN.has(e.backend.status)).map(e => e.name)
  }

  // ---- inbound -------------------------------------------------------------------------------------------

  /**
   * Answers one MCP envelope as if it came from `ctx.from` (the node's inbound MCP handler, and McpPort's
   * dispatch). Never throws, never leaves the caller without an answer.
   */
  async dispatch (req: { service: string, request: RawJson | null }, ctx: Pick<RequestContext, 'from' | 'signal'>): Promise<EnvelopeReply> {
    const parsed = parseInbound(req.request)
    if (parsed.kind === 'invalid') return reply(errorResponse(parsed.rawId, parsed.code, parsed.reason, { axl: 'invalid_request', service: req.service }))
    const rawId = parsed.kind === 'request' ? parsed.rawId : 'null'
    const fail = (entry: Entry | undefined, code: number, reason: string, message: string): EnvelopeReply => {
      if (entry !== undefined) entry.errors++
      if (parsed.kind === 'notification') return { response: null, error: message }
      return reply(errorResponse(rawId, code, message, { axl: reason, service: req.service }))
    }
    const entry = this.entries.get(req.service)
    if (entry === undefined) return fail(undefined, RouterErrorCode.UnknownService, 'unknown_service', `Service not found: ${req.service}`)
    if (entry.allow !== undefined) {
      let ok = false
      try { ok = await entry.allow(ctx.from, req.service) === true } catch { ok = false }
      if (!ok) return fail(entry, RouterErrorCode.AccessDenied, 'access_denied', `peer ${ctx.from} may not use service "${req.service}"`)
    }
    if (entry.active >= entry.maxConcurrent) {
      return fail(entry, RouterErrorCode.Busy, 'busy', `service "${req.service}" is busy (${entry.active} of ${entry.maxConcurrent} requests in progress)`)
    }
    const raw = req.request as RawJson
    if (parsed.kind === 'notification') {
      if (this.backgroundNotifications >= MAX_BACKGROUND_NOTIFICATIONS) return fail(entry, RouterErrorCode.Busy, 'busy', 'too many notifications in progress; dropped')
      this.backgroundNotifications++
      void this.run(entry, ctx, async c => { await entry.backend.notify(parsed.message, c, raw) })
        .catch(() => { entry.errors++ })
        .finally(() => { this.backgroundNotifications-- })
      return { response: null }
    }
    entry.calls++
    let result: unknown
    try {
      result = await this.run(entry, ctx, async c => await entry.backend.request(parsed.message, c, raw))
    } catch (err) {
      const [code, reason, message] = describeFailure(err, entry)
      return fail(entry, code, reason, message)
    }
    let text: RawJson
    try {
      text = serializeResponse(result as object, rawId)
    } catch (err) {
      return fail(entry, RouterErrorCode.InternalError, 'bad_answer', `service "${entry.name}" answered with a value that is not JSON: ${(err as Error).message}`)
    }
    const bytes = Buffer.byteLength(text)
    if (bytes > entry.maxResponseBytes) {
      return fail(entry, RouterErrorCode.ResponseTooLarge, 'too_large', `the answer of service "${entry.name}" is ${bytes} bytes, over the limit of ${entry.maxResponseBytes} bytes`)
    }
    return reply(text)
  }

  /** Runs one backend operation with the entry's concurrency slot, deadline and abort wiring. */
  private async run<T> (entry: Entry, ctx: RequestContext, op: (c: CallContext) => Promise<T>): Promise<T> {
    entry.active++
    // One controller per call, fed by the caller's signal and the entry's retirement (plain listeners, not
    // AbortSignal.any on the long-lived retirement signal, which piles up dependents on Node 20).
    const ac = new AbortController()
    const onAbort = (e: Event): void => { ac.abort((e.target as AbortSignal).reason) }
    for (const s of [ctx.signal, entry.retired.signal]) {
      if (s.aborted) ac.abort(s.reason)
      else s.addEventListener('abort', onAbort, { once: true })
    }
    const signal = ac.signal
    try {
      return await withDeadline(op({ from: ctx.from, service: entry.name, signal }), { timeoutMs: entry.timeoutMs, signal }, `service "${entry.name}"`, err => { ac.abort(err) })
    } finally {
      ctx.signal.removeEventListener('abort', onAbort)
      entry.retired.signal.removeEventListener('abort', onAbort)
      entry.active--
      if (entry.active === 0) for (const f of entry.idle.splice(0)) f()
    }
  }

  // ---- sessions (the /axl/mcp/1 protocol) -----------------------------------------------------------------

  /** Counters of the MCP session protocol on this node (undefined when it is turned off). */
  sessionStats (): SessionStats | undefined { return this.sessionServer === undefined ? undefined : { ...this.sessionServer.stats } }

  /** SessionHost: admit `from` to `service` and open its upstream session (the backend's own, or envelope dispatch). */
  async openSession (service: string, from: PeerId, signal: AbortSignal, sink: SessionSink): Promise<
  | { ok: true, session: BackendSession, maxConcurrent: number, timeoutMs: number, maxResponseBytes: number }
  | { ok: false, code: number, reason: string, message: string }> {
    const entry = this.entries.get(service)
    if (entry === undefined || this.state !== 'running') return { ok: false, code: RouterErrorCode.UnknownService, reason: 'unknown_service', message: `Service not found: ${service}` }
    if (entry.allow !== undefined) {
      let ok = false
      try { ok = await entry.allow(from, service) === true } catch { ok = false }
      if (!ok) { entry.errors++; return { ok: false, code: RouterErrorCode.AccessDenied, reason: 'access_denied', message: `peer ${from} may not use service "${service}"` } }
    }
    if (DOWN.has(entry.backend.status)) return { ok: false, code: RouterErrorCode.Unavailable, reason: 'unavailable', message: `service "${service}" is ${entry.backend.status}` }
    // The session ends when the service is retired (replaced, deregistered, router stopped).
    const onRetired = (): void => { sink.close(`service "${service}" was stopped`) }
    entry.retired.signal.addEventListener('abort', onRetired, { once: true })
    signal.addEventListener('abort', () => { entry.retired.signal.removeEventListener('abort', onRetired) }, { once: true })
    const limits = { maxConcurrent: entry.maxConcurrent, timeoutMs: entry.timeoutMs, maxResponseBytes: entry.maxResponseBytes }
    const open = entry.backend.openSession
    if (open === undefined) return { ok: true, session: new DispatchSession(async (c, ctx) => await this.dispatch(c, ctx), service, from, signal, sink), ...limits }
    try {
      return { ok: true, session: await open.call(entry.backend, { from, service, signal }, sink), ...limits }
    } catch (err) {
      entry.errors++
      const [code, reason, message] = describeFailure(err, entry)
      return { ok: false, code, reason, message }
    }
  }

  // ---- outbound ------------------------------------------------------------------------------------------

  /**
   * Send one JSON-RPC request to `service` on `peer` and return its response object. Remote failures
   * (unknown service, refused, busy, timeout, crash) arrive as JSON-RPC error responses; an envelope error
   * from the remote node becomes `{ error: { code: -32603, message, data: { axl: 'remote_error' } } }`.
   * Local/transport failures throw typed errors (TimeoutError, AbortError, UnreachableError,
   * MessageTooLargeError, ProtocolError, MalformedEnvelopeError). A notification (no id) resolves to null.
   */
  async call (peer: PeerId | string, service: string, request: JsonRpcRequest | RawJson, opts: CallOptions = {}): Promise<JsonRpcResponse | null> {
    return await this.client.call(peer, service, request, opts)
  }

  /** Like call(), but returns the response's exact JSON text (null for a notification). */
  async callRaw (peer: PeerId | string, service: string, request: JsonRpcRequest | RawJson, opts: CallOptions = {}): Promise<RawJson | null> {
    return await this.client.callRaw(peer, service, request, opts)
  }

  /** Open an MCP session (`/axl/mcp/1`) to `service` on `peer`; UnsupportedProtocolError when the peer has none. MeshClientTransport uses it. */
  async dialSession (peer: PeerId | string, service: string, opts: OpenSessionOptions = {}): Promise<ClientSession> {
    return await openClientSession(this.node as SessionNode, parsePeerId(peer), service, opts)
  }

  /** An MCP SDK Transport to `service` on `peer`: `await new Client(info).connect(router.transport(peer, 'svc'))`. */
  transport (peer: PeerId | string, service: string, opts: MeshTransportOptions = {}): MeshClientTransport {
    return new MeshClientTransport(this, parsePeerId(peer), service, opts)
  }
}

/** The `mcp` service factory for createNode({ services: { mcp: mcp() } }). */
export function mcp (opts: McpRouterOptions = {}): (components: NodeComponents) => McpRouter {
  return components => new McpRouter(components, opts)
}

function reply (response: RawJson): EnvelopeReply { return { response } }

/** Service states that are not advertised by services(). */
const DOWN: ReadonlySet<ServiceStatus> = new Set<ServiceStatus>(['stopping', 'stopped', 'failed'])

function checkName (name: string): void {
  if (typeof name !== 'string' || name === '') throw new InvalidServiceError('a service name must be a non-empty string')
}

function accessRule (rule: AccessRule | undefined): Entry['allow'] {
  if (rule === undefined) return undefined
  if (typeof rule === 'function') return rule
  if (!Array.isArray(rule)) throw new InvalidServiceError('allow must be an array of peer ids or a function')
  const set = new Set(rule.map(p => parsePeerId(p)))
  return peer => set.has(peer)
}

function wrapStartError (name: string, err: unknown): Error {
  if (err instanceof AxlError) return err
  return new InvalidServiceError(`service "${name}" failed to start: ${(err as Error)?.message ?? String(err)}`)
}

function describeFailure (err: unknown, entry: Entry): [number, string, string] {
  if (err instanceof BackendError) return [err.rpcCode, err.reason, err.message]
  if (err instanceof TimeoutError) return [RouterErrorCode.Timeout, 'timeout', `service "${entry.name}" did not answer within ${entry.timeoutMs} ms`]
  if (err instanceof NotStartedError) return [RouterErrorCode.Unavailable, 'unavailable', `service "${entry.name}" is unavailable: ${err.message}`]
  const message = err instanceof Error ? err.message : String(err)
  return [RouterErrorCode.InternalError, 'handler_error', `service "${entry.name}" failed: ${message}`]
}

