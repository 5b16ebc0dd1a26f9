/**
 * An MCP SDK Transport that reaches a service on another node over the mesh, so the SDK's own Client
 * works unchanged: `await new Client(info).connect(node.services.mcp.transport(peer, 'weather'))`.
 * One mesh request per JSON-RPC request; notifications are fire-and-forget (a later request waits until the
 * notifications sent before it were accepted, so `notifications/initialized` arrives before `tools/list`).
 * Server-to-client messages (progress, logging, sampling) cannot travel back over AXL's one-answer envelopes.
 */
import { AbortError, AxlError, NotStartedError, TimeoutError, type PeerId } from '@axl/core'
import type { Transport, TransportSendOptions } from '@modelcontextprotocol/sdk/shared/transport.js'
import type { JSONRPCMessage, MessageExtraInfo } from '@modelcontextprotocol/sdk/types.js'
import type { McpCaller } from './client.js'

/** Options of router.transport() / new MeshClientTransport(). */
export interface MeshTransportOptions {
  /** Deadline of each mesh round trip, ms. Default: the node's requestTimeoutMs. */
  timeoutMs?: number
  /** Closes the transport when it fires. */
  signal?: AbortSignal
  /** Notifications in flight at once; more are dropped and reported through onerror. Default 64. */
  maxPendingNotifications?: number
}

/** The MCP client side of a mesh link to one service on one peer. */
export class MeshClientTransport implements Transport {
  /** Set by the SDK. */
  onclose?: () => void
  /** Set by the SDK. */
  onerror?: (error: Error) => void
  /** Set by the SDK. */
  onmessage?: (message: JSONRPCMessage, extra?: MessageExtraInfo) => void
  /** Always undefined: AXL envelopes carry no MCP session. */
  sessionId?: string
  /** The protocol version the SDK negotiated. */
  protocolVersion?: string
  private started = false
  private closed = false
  private readonly inflight = new Map<string, AbortController>()
  private readonly pendingNotifications = new Set<Promise<void>>()
  private readonly maxPending: number

  constructor (
    private readonly router: McpCaller,
    /** The remote node. */
    readonly peer: PeerId,
    /** The remote service. */
    readonly service: string,
    private readonly opts: MeshTransportOptions = {}
  ) {
    this.maxPending = opts.maxPendingNotifications ?? 64
  }

  /** Called by Client.connect(). */
  async start (): Promise<void> {
    if (this.started) throw new AxlError('ERR_ALREADY_STARTED', 'MeshClientTransport already started; use one transport per Client')
    this.started = true
    const signal = this.opts.signal
    if (signal !== undefined) {
      if (signal.aborted) { await this.close(); return }
      signal.addEventListener('abort', () => { void this.close() }, { once: true })
    }
  }

  /** Called by the SDK with the negotiated protocol version. */
  setProtocolVersion (version: string): void { this.protocolVersion = version }

  /** Requests resolve after their answer was delivered to onmessage (or reject with a typed error); notifications return at once. */
  async send (message: JSONRPCMessage, _options?: TransportSendOptions): Promise<void> {
    if (this.closed) throw new NotStartedError('the mesh MCP transport is closed')
    const m = message as Record<string, unknown>
    if (typeof m.method !== 'string') return // an answer to a server-to-client request: nowhere to send it
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
    for (const ac of this.inflight.values()) ac.abort(new AbortError('the mesh MCP transport was closed'))
    this.inflight.clear()
    this.onclose?.()
  }
}
