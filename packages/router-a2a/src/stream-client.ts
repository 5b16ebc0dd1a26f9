import { randomUUID } from 'node:crypto'
import { UnsupportedOperationError } from '@a2a-js/sdk/errors'
import {
  MessageTooLargeError, ProtocolError, TimeoutError, UnsupportedProtocolError, abortReason, parsePeerId,
  type AxlNode, type MeshStream, type PeerId, type WaitOptions
} from '@axl/core'
import { FrameReader, writeFrame } from '@axl/core/wire'
import { parseJson, toRpcError } from './client.js'
import { STREAMING_NOT_SUPPORTED } from './endpoint.js'
import { A2aStreamLimitError, A2aStreamingUnsupportedError } from './errors.js'
import { A2A_STREAM_PROTOCOL, STREAM_PROTOCOL_METHODS, resolveStreamLimits, type A2aStreamOptions, type StreamLimits } from './stream-options.js'
import { StreamSlots } from './stream-slots.js'
import type { StreamEventJson } from './wire.js'

const enc = new TextEncoder()
const dec = new TextDecoder()

/** A JSON-RPC request for a streaming method. */
export interface StreamRequest {
  /** "2.0". */
  jsonrpc: '2.0'
  /** The request id; every event carries it back. */
  id: string | number
  /** "SendStreamingMessage" or "SubscribeToTask". */
  method: string
  /** The method's params (v1.0 JSON). */
  params: unknown
}

/** A JSON-RPC request body (text) as a StreamRequest when it is one: a v1.0 streaming method with a string or number id. */
export function parseStreamRequest (body: string): StreamRequest | undefined {
  let v: unknown
  try { v = JSON.parse(body) } catch { return undefined } // not JSON: not a stream request (the envelope path answers it)
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return undefined
  const r = v as Record<string, unknown>
  if (typeof r.method !== 'string' || !STREAM_PROTOCOL_METHODS.has(r.method)) return undefined
  if (typeof r.id !== 'string' && typeof r.id !== 'number') return undefined
  return { jsonrpc: '2.0', id: r.id, method: r.method, params: r.params }
}

/** Options of opening a stream: `timeoutMs` bounds the opening (dial, negotiation, request); `signal` cancels it all. */
export interface StreamCallOptions extends WaitOptions {
  /** Longest wait for the next event, ms. @default the client's idleTimeoutMs (5 min) */
  idleTimeoutMs?: number
}

/** The caller's side of one open A2A stream: frames (JSON-RPC responses as text) until the peer half-closes. */
export class A2aStreamCall {
  private readonly reader: FrameReader
  private readonly deadline: number
  private done = false
  /** Set when the caller's signal cancelled the stream: what later reads throw. */
  private abortedWith: Error | undefined
  private readonly onAbort: () => void

  constructor (
    private readonly stream: MeshStream,
    private readonly release: () => void,
    private readonly limits: StreamLimits,
    private readonly signal: AbortSignal | undefined,
    private readonly idleTimeoutMs: number
  ) {
    this.reader = new FrameReader(stream, limits.maxEventBytes)
    this.deadline = Date.now() + limits.maxDurationMs
    this.onAbort = () => {
      if (!this.done) this.abortedWith = abortReason(signal!)
      this.cancel('the caller aborted the A2A stream')
    }
    if (signal?.aborted === true) this.onAbort()
    else signal?.addEventListener('abort', this.onAbort, { once: true })
  }

  /** The peer serving the stream. */
  get peer (): PeerId { return this.stream.remotePeer }

  /** True once the stream ended or was cancelled. */
  get ended (): boolean { return this.done }

  /**
   * The next frame's JSON text, or null at the end of the stream. Throws TimeoutError (idle or total deadline),
   * AbortError, FrameTooLargeError (an event above maxEventBytes), StreamClosedError (the peer reset it); the
   * stream is cancelled then.
   */
  async nextFrame (): Promise<string | null> {
    if (this.abortedWith !== undefined) throw this.abortedWith
    if (this.done) return null
    const left = this.deadline - Date.now()
    const wait = Math.max(0, Math.min(this.idleTimeoutMs, left))
    try {
      const f = await this.reader.next({ signal: this.signal, timeoutMs: wait })
      if (f === null) { this.finish(); return null }
      return dec.decode(f)
    } catch (err) {
      this.cancel(err instanceof Error ? err.message : String(err))
      if (err instanceof TimeoutError) {
        throw new TimeoutError(wait < this.idleTimeoutMs
          ? `the A2A stream from ${this.stream.remotePeer} reached its maximum duration of ${this.limits.maxDurationMs} ms`
          : `no A2A event from ${this.stream.remotePeer} for ${this.idleTimeoutMs} ms`)
      }
      throw err
    }
  }

  /** Reset the stream: the remote call is cancelled (its signal fires). Idempotent. */
  cancel (reason = 'the caller closed the A2A stream'): void {
    if (this.done) return
    this.stream.abort(reason)
    this.finish()
  }

  private finish (): void {
    this.done = true
    this.signal?.removeEventListener('abort', this.onAbort)
    this.release()
  }
}

/** Counters of the streams a client opened. */
export interface A2aStreamClientStats {
  /** Streams open now. */
  active: number
  /** Streams refused because a bound (per peer, per node) was reached. */
  refused: number
}

/** Opens A2A streams to peers over A2A_STREAM_PROTOCOL, within the bounds of A2aStreamOptions. */
export class A2aStreamClient {
  /** The bounds. */
  readonly limits: StreamLimits
  private readonly slots: StreamSlots

  constructor (private readonly node: AxlNode<any>, opts: A2aStreamOptions = {}) {
    this.limits = resolveStreamLimits(opts)
    this.slots = new StreamSlots(this.limits.maxStreams, this.limits.maxStreamsPerPeer)
  }

  /** Counters of the streams opened. */
  stats (): A2aStreamClientStats { return { active: this.slots.active, refused: this.slots.refused } }

  /**
   * Open a stream to `peer` and send the request. Rejects with A2aStreamingUnsupportedError at once when the
   * peer does not serve the stream protocol (Go AXL, older nodes), A2aStreamLimitError past the bounds,
   * ProtocolRefusedError when the peer is busy, MessageTooLargeError, or the node's mesh errors.
   */
  async open (peer: PeerId | string, request: StreamRequest, opts: StreamCallOptions = {}): Promise<A2aStreamCall> {
    const to = parsePeerId(String(peer))
    const bytes = enc.encode(JSON.stringify(request))
    if (bytes.byteLength > this.limits.maxRequestBytes) throw new MessageTooLargeError(bytes.byteLength, this.limits.maxRequestBytes)
    const slot = this.slots.take(to)
    if (typeof slot === 'string') throw new A2aStreamLimitError(`cannot open an A2A stream to ${to}: ${slot}`)
    let stream: MeshStream | undefined
    try {
      stream = await this.node.dialProtocol(to, A2A_STREAM_PROTOCOL, { signal: opts.signal, timeoutMs: opts.timeoutMs })
      await writeFrame(stream, bytes, { signal: opts.signal, timeoutMs: opts.timeoutMs })
      stream.closeWrite()
    } catch (err) {
      stream?.abort(err instanceof Error ? err.message : String(err))
      slot()
      if (err instanceof UnsupportedProtocolError) throw streamingUnsupported(request.method, to, err)
      throw err
    }
    return new A2aStreamCall(stream, slot, this.limits, opts.signal, opts.idleTimeoutMs ?? this.limits.idleTimeoutMs)
  }

  /**
   * Open a stream and iterate over its events (the JSON-RPC `result` of each frame). A JSON-RPC error frame
   * throws A2aRpcError; leaving the loop early (break, return, throw) cancels the remote call.
   */
  async * events (peer: PeerId | string, method: string, params: unknown, opts: StreamCallOptions = {}): AsyncGenerator<StreamEventJson, void, undefined> {
    const id = randomUUID()
    const call = await this.open(peer, { jsonrpc: '2.0', id, method, params }, opts)
    try {
      for (;;) {
        const text = await call.nextFrame()
        if (text === null) return
        const body = parseJson(text, `an event of the ${method} stream of ${call.peer}`) as Record<string, unknown> | null
        if (body === null || typeof body !== 'object' || Array.isArray(body)) throw new ProtocolError(`an event of the ${method} stream of ${call.peer} is not a JSON-RPC response object`)
        if (body.error !== undefined && body.error !== null) throw toRpcError(method, body.error)
        if (body.id !== id) throw new ProtocolError(`an event of the ${method} stream of ${call.peer} has id ${JSON.stringify(body.id)}, expected ${JSON.stringify(id)}`)
        const result = body.result
        if (result === null || typeof result !== 'object' || Array.isArray(result)) throw new ProtocolError(`an event of the ${method} stream of ${call.peer} has no "result" object`)
        yield result as StreamEventJson
      }
    } finally {
      call.cancel() // no-op once the peer ended the stream
    }
  }
}

/** The refusal for a peer that does not serve the stream protocol: the endpoint's -32004 with the reason. */
export function streamingUnsupported (method: string, peer: PeerId, err: UnsupportedProtocolError): A2aStreamingUnsupportedError {
  const message = `${method}: ${STREAMING_NOT_SUPPORTED} (peer ${peer} does not serve ${A2A_STREAM_PROTOCOL}: ${err.reason})`
  return new A2aStreamingUnsupportedError(method, peer, err.reason, message, { cause: new UnsupportedOperationError(message) })
}
