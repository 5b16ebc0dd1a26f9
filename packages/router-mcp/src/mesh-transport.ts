/**
 * An MCP SDK Transport that reaches a service on another node over the mesh, so the SDK's own Client
 * works unchanged: `await new Client(info).connect(node.services.mcp.transport(peer, 'weather'))`.
 *
 * start() opens an MCP session (`/axl/mcp/1`): one mesh stream for this transport, JSON-RPC both ways, so
 * progress, logging, list_changed, sampling, elicitation and roots travel. When the peer does not speak it
 * (a Go AXL node, an older node), the transport falls back to envelopes, exactly as AXL does: one mesh request
 * per JSON-RPC request, notifications fire-and-forget (a later request waits until the notifications sent
 * before it were accepted, so `notifications/initialized` arrives before `tools/list`), and no
 * server-to-client messages.
 */
import { AbortError, AxlError, NotStartedError, StreamClosedError, TimeoutError, UnsupportedProtocolError, type PeerId } from '@axl/core'
import type { Transport, TransportSendOptions } from '@modelcontextprotocol/sdk/shared/transport.js'
import type { JSONRPCMessage, MessageExtraInfo } from '@modelcontextprotocol/sdk/types.js'
import type { McpCaller } from './client.js'
import type { ClientSession, OpenSessionOptions } from './session-client.js'
import { SessionRefusedError, idKey } from './session-protocol.js'

/** Opens an MCP session (McpRouter and McpClient provide it). */
export interface SessionOpener {
  /** Open an MCP session to `service` on `peer` (throws UnsupportedProtocolError when the peer has no session protocol). */
  dialSession: (peer: PeerId, service: string, opts?: OpenSessionOptions) => Promise<ClientSession>
}

interface Awaiting {
  settle: (err?: Error) => void
  restart?: () => void
}

/** How a MeshClientTransport talks to the peer. */
export type MeshTransportMode = 'session' | 'envelope'

/** Options of router.transport() / new MeshClientTransport(). */
export interface MeshTransportOptions {
  /** Deadline of each mesh round trip, ms. Default: the node's requestTimeoutMs. */
  timeoutMs?: number
  /** Closes the transport when it fires. */
  signal?: AbortSignal
  /** Notifications in flight at once; more are dropped and reported through onerror. Default 64. */
  maxPendingNotifications?: number
  /**
   * 'auto': an MCP session when the peer speaks `/axl/mcp/1`, else envelopes; 'require': a session or
   * start() fails; 'off': envelopes only (AXL's one request, one answer). @default 'auto'
   */
  session?: 'auto' | 'require' | 'off'
}

/** The MCP client side of a mesh link to one service on one peer. */
export class MeshClientTransport implements Transport {
  /** Set by the SDK. */
  onclose?: () => void
  /** Set by the SDK. */
  onerror?: (error: Error) => void
  /** Set by the SDK. */
  onmessage?: (message: JSONRPCMessage, extra?: MessageExtraInfo) => void
  /** Always undefined: the mesh session is identified by its stream, not by an MCP session id. */
  sessionId?: string
  /** The protocol version the SDK negotiated. */
  protocolVersion?: string
  private started = false
  private closed = false
  private readonly inflight = new Map<string, AbortController>()
  private readonly pendingNotifications = new Set<Promise<void>>()
  private readonly maxPending: number
  private session: ClientSession | undefined
  private currentMode: MeshTransportMode = 'envelope'
  /** Session mode: requests sent and not answered yet; their send() settles with the answer, a deadline or the session's end. */
  private readonly awaiting = new Map<string, Awaiting>()
  /** Session mode: the refusal every request is answered with (the session was refused). */
  private refusal: SessionRefusedError | undefined

  constructor (
    private readonly router: McpCaller & Partial<SessionOpener>,
    /** The remote node. */
    readonly peer: PeerId,
    /** The remote service. */
    readonly service: string,
    private readonly opts: MeshTransportOptions = {}
  ) {
    this.maxPending = opts.maxPendingNotifications ?? 64
  }

  /** 'session' once start() opened an MCP session, 'envelope' otherwise. */
  get mode (): MeshTransportMode { return this.currentMode }

  /** Why the peer refused the MCP session start() asked for (every request is then answered with it), if it did. */
  get refused (): SessionRefusedError | undefined { return this.refusal }

  /** Called by Client.connect(): opens the MCP session, or falls back to envelopes (see the module comment). */
  async start (): Promise<void> {
    if (this.started) throw new AxlError('ERR_ALREADY_STARTED', 'MeshClientTransport already started; use one transport per Client')
    this.started = true
    const signal = this.opts.signal
    if (signal !== undefined) {
      if (signal.aborted) { await this.close(); return }
      signal.addEventListener('abort', () => { void this.close() }, { once: true })
    }
    const want = this.opts.session ?? 'auto'
    if (want === 'off') return
    if (this.router.dialSession === undefined) {
      if (want === 'require') throw new UnsupportedProtocolError(this.peer, '/axl/mcp/1', 'this caller cannot open MCP sessions')
      return
    }
    let session: ClientSession
    try {
      session = await this.router.dialSession(this.peer, this.service, { timeoutMs: this.opts.timeoutMs, signal })
    } catch (err) {
      if (err instanceof UnsupportedProtocolError && want === 'auto') return // a Go AXL or older peer: envelopes
      if (err instanceof SessionRefusedError) {
        // Answered like an envelope request would be: initialize gets the same JSON-RPC error (e.g. -32001).
        this.refusal = err
        this.currentMode = 'session'
        return
      }
      throw err
    }
    if (this.closed) { session.close(); return }
    this.session = session
    this.currentMode = 'session'
    session.onmessage = m => { this.fromSession(m) }
    session.onclose = err => { this.sessionEnded(err) }
    session.begin()
  }

  private fromSession (m: Record<string, unknown>): void {
    if (this.closed) return
    let answered: Awaiting | undefined
    if (m.method === undefined && m.id !== undefined) {
      answered = this.awaiting.get(idKey(m.id))
      this.awaiting.delete(idKey(m.id))
    } else if (m.method === 'notifications/progress') {
      this.extendDeadlines()
    }
    try {
      this.onmessage?.(m as JSONRPCMessage)
    } catch (err) {
      this.onerror?.(err as Error)
    }
    answered?.settle()
  }

  /** Progress shows the remote is working: deadlines of requests in flight start again. */
  private extendDeadlines (): void {
    for (const a of this.awaiting.values()) a.restart?.()
  }

  /** The session ended: pending requests fail at once with a typed error, then the transport closes. */
  private sessionEnded (err: Error | undefined): void {
    if (this.closed) return
    const why = err?.message ?? 'the server closed the session'
    this.failAwaiting(new StreamClosedError(`the MCP session to "${this.service}" on ${this.peer} ended before the answer: ${why}`))
    if (err !== undefined) this.onerror?.(err)
    // Closed on the next turn, so the requests reject with the StreamClosedError above (the SDK would
    // otherwise reject them first with its generic "Connection closed").
    setImmediate(() => { void this.close() })
  }

  private failAwaiting (err: Error): void {
    const pending = [...this.awaiting.values()]
    this.awaiting.clear()
    for (const a of pending) a.settle(err)
  }

  /** Session mode: send one message; a request's promise settles with its answer (or deadline, or session end). */
  private async sendInSession (session: ClientSession, m: Record<string, unknown>): Promise<void> {
    const isReq = typeof m.method === 'string' && m.id !== undefined
    if (!isReq) {
      if (m.method === 'notifications/cancelled') {
        const id = (m.params as { requestId?: unknown } | undefined)?.requestId
        const a = this.awaiting.get(idKey(id))
        this.awaiting.delete(idKey(id))
        a?.settle(new AbortError('the request was cancelled by the client'))
      }
      await session.send(m)
      return
    }
    const key = idKey(m.id)
    const done = new Promise<void>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined
      const a: Awaiting = {
        settle: err => { clearTimeout(timer); if (err === undefined) resolve(); else reject(err) }
      }
      const ms = this.opts.timeoutMs
      if (ms !== undefined) {
        const arm = (): void => {
          clearTimeout(timer)
          timer = setTimeout(() => {
            if (this.awaiting.get(key) !== a) return
            this.awaiting.delete(key)
            const err = new TimeoutError(`no answer to ${String(m.method)} from "${this.service}" on ${this.peer} within ${ms} ms`)
            // Tell the remote to stop working on it, as the SDK does on its own timeouts.
            session.send({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: m.id, reason: err.message } }).catch(e => { this.onerror?.(e as Error) })
            a.settle(err)
          }, ms)
        }
        a.restart = arm
        arm()
      }
      this.awaiting.set(key, a)
    })
    try {
      await session.send(m)
    } catch (err) {
      this.awaiting.get(key)?.settle(err instanceof AxlError ? err : new StreamClosedError((err as Error).message))
      this.awaiting.delete(key)
    }
    await done
  }

  /** A refused session: every request gets the refusal as a JSON-RPC error, as an envelope request would. */
  private answerRefused (refusal: SessionRefusedError, m: Record<string, unknown>): void {
    this.onerror?.(refusal)
    if (typeof m.method !== 'string' || m.id === undefined) return
    const error = { code: refusal.rpcCode, message: refusal.message, data: { axl: refusal.reason, service: this.service } }
    queueMicrotask(() => { if (!this.closed) this.onmessage?.({ jsonrpc: '2.0', id: m.id, error } as JSONRPCMessage) })
  }

  /** Called by the SDK with the negotiated protocol version. */
  setProtocolVersion (version: string): void { this.protocolVersion = version }

  /** Requests resolve after their answer was delivered to onmessage (or reject with a typed error); notifications return at once. */
  async send (message: JSONRPCMessage, _options?: TransportSendOptions): Promise<void> {
    if (this.closed) throw new NotStartedError('the mesh MCP transport is closed')
    const m = message as Record<string, unknown>
    if (this.session !== undefined) { await this.sendInSession(this.session, m); return }
    if (this.refusal !== undefined) { this.answerRefused(this.refusal, m); return }
    if (typeof m.method !== 'string') {
      // An answer to a server-to-client request cannot exist in envelope mode (none are delivered).
      return
    } // an answer to a server-to-client request: nowhere to send it
    if (m.id === undefined) { this.notify(message, m); return }
    const key = JSON.stringify(m.id)
    const ac = new AbortController()
    this.inflight.set(key, ac)
    try {
      if (this.pendingNotifications.size > 0) await Promise.allSettled([...this.pendingNotifications])
      const raw = await this.router.callRaw(this.peer, this.service, m as never, { timeoutMs: this.opts.timeoutMs, signal: ac.signal })
      if (this.closed || raw === null) return
      this.onmessage?.(JSON.parse(raw) as JSONRPCMessage)
    } catch (err) {
      if (this.closed) return
      if (err instanceof TimeoutError) {
        // Tell the remote to stop working on it (best effort, like the SDK does on its own timeouts).
        this.notify({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: m.id, reason: err.message } } as JSONRPCMessage)
      }
      throw err
    } finally {
      if (this.inflight.get(key) === ac) this.inflight.delete(key)
    }
  }

  private notify (message: JSONRPCMessage, m: Record<string, unknown> = message as Record<string, unknown>): void {
    if (m.method === 'notifications/cancelled') {
      const id = (m.params as { requestId?: unknown } | undefined)?.requestId
      this.inflight.get(JSON.stringify(id))?.abort(new AbortError('the request was cancelled by the client'))
    }
    if (this.pendingNotifications.size >= this.maxPending) {
      this.onerror?.(new AxlError('ERR_BUSY', `dropped ${String(m.method)}: ${this.maxPending} notifications already in flight`))
      return
    }
    const p: Promise<void> = this.router.callRaw(this.peer, this.service, message as never, { timeoutMs: this.opts.timeoutMs })
      .then(() => {}, err => { if (!this.closed) this.onerror?.(err as Error) })
      .finally(() => { this.pendingNotifications.delete(p) })
    this.pendingNotifications.add(p)
  }

  /** Abort every request in flight and report onclose. Idempotent. */
  async close (): Promise<void> {
    if (this.closed) return
    this.closed = true
    this.session?.close()
    this.failAwaiting(new AbortError('the mesh MCP transport was closed'))
    for (const ac of this.inflight.values()) ac.abort(new AbortError('the mesh MCP transport was closed'))
    this.inflight.clear()
    this.onclose?.()
  }
}
