/**
 * The client side of the MCP session protocol (`/axl/mcp/1`, see session-protocol.ts): dial the peer's
 * custom-protocol channel, send the hello, read the answer, then exchange framed JSON-RPC messages. A peer
 * without the protocol (a Go AXL node, an older node, a node with `session: false`) makes `dialProtocol`
 * throw UnsupportedProtocolError; the caller (MeshClientTransport) then falls back to envelopes.
 */
import { AbortError, ProtocolError, StreamClosedError, TimeoutError, type AxlNode, type MeshStream, type PeerId } from '@axl/core'
import { FrameReader } from '@axl/core/wire'
import { FrameQueue, MCP_SESSION_PROTOCOL, SESSION_VERSION, SessionRefusedError, decodeFrame, parseAnswer } from './session-protocol.js'

/** The node features a session client uses. */
export type SessionNode = Pick<AxlNode, 'dialProtocol' | 'limits'>

/** Options of openClientSession(). */
export interface OpenSessionOptions {
  /** Deadline for opening the session (dial, negotiation, hello, answer), ms. @default the node's requestTimeoutMs */
  timeoutMs?: number
  /** Aborts the opening. */
  signal?: AbortSignal
  /** Frames queued for sending; beyond that notifications are dropped and a request fails the session. @default 1024 */
  maxQueuedFrames?: number
}

/** An open MCP session to one service on one peer. */
export class ClientSession {
  /** Each JSON-RPC message from the server side. */
  onmessage?: (message: Record<string, unknown>) => void
  /** The session ended: without an error when either side closed it cleanly, with one when it broke. */
  onclose?: (err?: Error) => void
  private readonly queue: FrameQueue
  private ended = false
  private readonly life = new AbortController()

  /** @internal */
  constructor (private readonly stream: MeshStream, private readonly reader: FrameReader, maxFrame: number, maxQueued: number, private readonly peer: PeerId) {
    this.queue = new FrameQueue(stream, maxFrame, maxQueued, 30_000, err => { this.finish(err) })
  }

  /** Notifications dropped because the send queue was full. */
  get droppedNotifications (): number { return this.queue.stats.droppedNotifications }

  /** Start delivering messages to onmessage (call once, after setting the callbacks). */
  begin (): void {
    void this.readLoop()
  }

  private async readLoop (): Promise<void> {
    try {
      for (;;) {
        const frame = await this.reader.next({ signal: this.life.signal })
        if (frame === null) { this.finish(undefined); return }
        this.onmessage?.(decodeFrame(frame))
      }
    } catch (err) {
      if (this.ended) return
      const e = err instanceof StreamClosedError ? err : new StreamClosedError(`the MCP session with ${this.peer} broke: ${(err as Error).message}`)
      this.stream.abort(e)
      this.finish(e)
    }
  }

  /** Send one JSON-RPC message; resolves once written (a notification over the queue bound is dropped and resolves). */
  async send (message: Record<string, unknown>): Promise<void> {
    if (this.ended) throw new StreamClosedError(`the MCP session with ${this.peer} is closed`)
    const droppable = typeof message.method === 'string' && message.id === undefined
    const r = this.queue.push(message, droppable)
    if (r === false) return
    await r
  }

  /** Close cleanly: half-close after what is queued; the server then closes too. Idempotent. */
  close (): void {
    if (this.ended) return
    this.finish(undefined)
    // Half-close once what is queued was written; the server half-closes in turn, whatever else it sends is dropped.
    void this.queue.drained().then(() => { if (this.stream.status === 'open') this.stream.close() })
  }

  private finish (err: Error | undefined): void {
    if (this.ended) return
    this.ended = true
    this.life.abort(new AbortError('the MCP session closed'))
    if (err !== undefined && this.stream.status === 'open') this.stream.abort(err)
    this.onclose?.(err)
  }
}

/**
 * Open an MCP session to `service` on `peer`. Throws UnsupportedProtocolError when the peer does not speak
 * `/axl/mcp/1` (fall back to envelopes), SessionRefusedError when it refuses (unknown service, access rule,
 * limits), ProtocolRefusedError when the peer's node refused the stream (its limit), TimeoutError/AbortError.
 */
export async function openClientSession (node: SessionNode, peer: PeerId, service: string, opts: OpenSessionOptions = {}): Promise<ClientSession> {
  const timeoutMs = opts.timeoutMs ?? node.limits.requestTimeoutMs
  const deadline = AbortSignal.timeout(timeoutMs)
  const signal = opts.signal === undefined ? deadline : AbortSignal.any([deadline, opts.signal])
  const stream = await node.dialProtocol(peer, MCP_SESSION_PROTOCOL, { timeoutMs, signal: opts.signal })
  const maxFrame = node.limits.maxMessageSize
  const reader = new FrameReader(stream, maxFrame)
  const session = new ClientSession(stream, reader, maxFrame, opts.maxQueuedFrames ?? 1024, peer)
  try {
    await session.send({ v: SESSION_VERSION, service })
    const first = await reader.next({ signal })
    if (first === null) throw new ProtocolError(`peer ${peer} closed the MCP session without answering`)
    const answer = parseAnswer(decodeFrame(first))
    if (!answer.ok) throw new SessionRefusedError(peer, service, answer.code, answer.reason, answer.message)
    return session
  } catch (err) {
    stream.abort(err as Error)
    if (deadline.aborted) throw new TimeoutError(`opening an MCP session to "${service}" on ${peer} took longer than ${timeoutMs} ms`)
    if (opts.signal?.aborted === true) throw new AbortError('opening the MCP session was aborted')
    throw err
  }
}
