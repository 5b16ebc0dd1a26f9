/**
 * The MCP session protocol `/axl/mcp/1`: one long-lived mesh stream (on the node's custom-protocol channel,
 * which a Go AXL node does not have) per MCP client session, carrying JSON-RPC messages both ways.
 *
 * Every frame is AXL's framing: a 4-byte big-endian length, then that many bytes of UTF-8 JSON, at most the
 * node's `maxMessageSize`.
 * ```
 * client → server   hello   {"v":1,"service":"<name>"}
 * server → client   answer  {"v":1,"ok":true}  or  {"v":1,"ok":false,"code":-32010,"reason":"unknown_service","message":"..."}
 * then, both ways   one JSON-RPC 2.0 message (request, response or notification) per frame, never a batch
 * ```
 * Either side ends the session by half-closing its direction; the other side then closes too. A reset (or
 * a malformed frame, which resets) fails what is pending on both ends.
 */
import { AxlError, FrameTooLargeError, ProtocolError, type MeshStream } from '@axl/core'
import { writeFrame } from '@axl/core/wire'

/** The protocol name negotiated on the custom-protocol channel. */
export const MCP_SESSION_PROTOCOL = '/axl/mcp/1'

/** The version carried in the hello and the answer. */
export const SESSION_VERSION = 1

/** The first frame a client sends. */
export interface SessionHello {
  /** Protocol version, 1. */
  v: number
  /** The service the session is for. */
  service: string
}

/** The server's first frame. */
export type SessionAnswer =
  | { v: number, ok: true }
  | { v: number, ok: false, code: number, reason: string, message: string }

/** The peer refused to open the MCP session (unknown service, access rule, too many sessions). */
export class SessionRefusedError extends AxlError {
  /** The JSON-RPC code the same refusal would have as an answer to a request (-32010, -32001, -32011, ...). */
  readonly rpcCode: number
  /** The router's reason, e.g. 'unknown_service', 'access_denied', 'busy'. */
  readonly reason: string
  constructor (peer: string, service: string, rpcCode: number, reason: string, message: string) {
    super('ERR_MCP_SESSION_REFUSED', `peer ${peer} refused an MCP session to "${service}": ${message}`)
    this.rpcCode = rpcCode
    this.reason = reason
  }
}

const encoder = new TextEncoder()
const decoder = new TextDecoder('utf-8', { fatal: true })

/** Encode one frame's JSON payload; throws FrameTooLargeError over `max` bytes. */
export function encodeFrame (value: unknown, max: number): Uint8Array {
  const bytes = encoder.encode(typeof value === 'string' ? value : JSON.stringify(value))
  if (bytes.byteLength > max) throw new FrameTooLargeError(bytes.byteLength, max)
  return bytes
}

/** Decode one frame into a JSON object; throws ProtocolError for anything else (bad UTF-8, not JSON, not an object, a batch). */
export function decodeFrame (bytes: Uint8Array): Record<string, unknown> {
  let v: unknown
  try { v = JSON.parse(decoder.decode(bytes)) } catch (err) {
    throw new ProtocolError(`an MCP session frame is not UTF-8 JSON: ${(err as Error).message}`)
  }
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new ProtocolError('an MCP session frame must be one JSON object (batches are not carried)')
  return v as Record<string, unknown>
}

/** Parse the client's hello. */
export function parseHello (frame: Record<string, unknown>): SessionHello {
  if (frame.v !== SESSION_VERSION) throw new ProtocolError(`unsupported MCP session version ${JSON.stringify(frame.v)}; this node speaks ${SESSION_VERSION}`)
  if (typeof frame.service !== 'string' || frame.service === '' || frame.service.length > 256) throw new ProtocolError('the MCP session hello names no service (1..256 characters)')
  return { v: SESSION_VERSION, service: frame.service }
}

/** Parse the server's answer. */
export function parseAnswer (frame: Record<string, unknown>): SessionAnswer {
  if (frame.ok === true) return { v: SESSION_VERSION, ok: true }
  if (frame.ok === false && typeof frame.code === 'number' && typeof frame.message === 'string') {
    return { v: SESSION_VERSION, ok: false, code: frame.code, reason: typeof frame.reason === 'string' ? frame.reason : 'refused', message: frame.message.slice(0, 1024) }
  }
  throw new ProtocolError('the MCP session answer is neither {"ok":true} nor a refusal')
}

/** Counters of a FrameQueue. */
export interface FrameQueueStats {
  /** Frames written. */
  sent: number
  /** Notifications dropped because the queue was full. */
  droppedNotifications: number
}

/**
 * Writes frames to a stream one at a time, waiting for the stream to drain; bounded to `max` queued frames.
 * When full, a notification is dropped (counted); anything else fails the session (`onFail`), since a lost
 * request or response would leave the other side waiting.
 */
export class FrameQueue {
  /** Counters. */
  readonly stats: FrameQueueStats = { sent: 0, droppedNotifications: 0 }
  private queued = 0
  private tail: Promise<void> = Promise.resolve()
  private failed = false

  constructor (
    private readonly stream: MeshStream,
    private readonly maxFrameBytes: number,
    private readonly max: number,
    private readonly drainTimeoutMs: number,
    private readonly onFail: (err: Error) => void
  ) {}

  /** Frames waiting to be written. */
  get length (): number { return this.queued }

  /** Resolves once every frame queued so far was written or failed. */
  async drained (): Promise<void> { await this.tail }

  /** Queue one message; resolves once written (rejects if the session failed). Returns false at once when dropped. */
  push (message: unknown, droppable: boolean): Promise<void> | false {
    if (this.failed) return Promise.reject(new ProtocolError('the MCP session is closed'))
    if (this.queued >= this.max) {
      if (droppable) { this.stats.droppedNotifications++; return false }
      const err = new ProtocolError(`the MCP session's send queue is full (${this.max} frames): the peer does not read`)
      this.fail(err)
      return Promise.reject(err)
    }
    let bytes: Uint8Array
    try { bytes = encodeFrame(message, this.maxFrameBytes) } catch (err) { return Promise.reject(err as Error) }
    this.queued++
    const p = this.tail.then(async () => {
      if (this.failed) throw new ProtocolError('the MCP session is closed')
      await writeFrame(this.stream, bytes, { timeoutMs: this.drainTimeoutMs })
      this.stats.sent++
    }).finally(() => { this.queued-- })
    this.tail = p.catch(err => { this.fail(err as Error) })
    return p
  }

  private fail (err: Error): void {
    if (this.failed) return
    this.failed = true
    this.onFail(err)
  }
}

/** True when `m` is a JSON-RPC request (method and id). */
export function isRequest (m: Record<string, unknown>): boolean { return typeof m.method === 'string' && m.id !== undefined }

/** True when `m` is a JSON-RPC notification (method, no id). */
export function isNotification (m: Record<string, unknown>): boolean { return typeof m.method === 'string' && m.id === undefined }

/** True when `m` is a JSON-RPC response (id and result or error, no method). */
export function isResponse (m: Record<string, unknown>): boolean { return m.method === undefined && ('result' in m || 'error' in m) }

/** A map key for a JSON-RPC id. */
export function idKey (id: unknown): string { return JSON.stringify(id) }
