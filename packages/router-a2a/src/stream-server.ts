import { JsonRpcTransportHandler } from '@a2a-js/sdk/server'
import { ProtocolError, StreamClosedError, TimeoutError, withDeadline, type MeshStream, type PeerId, type ProtocolContext } from '@axl/core'
import { FrameReader, writeFrame } from '@axl/core/wire'
import { A2A_STREAM_PROTOCOL, STREAM_PROTOCOL_METHODS, type StreamLimits } from './stream-options.js'
import type { StreamSlots } from './stream-slots.js'

/** How long a server waits for the request frame after the protocol was negotiated, ms. */
export const STREAM_REQUEST_TIMEOUT_MS = 30_000

const enc = new TextEncoder()
const dec = new TextDecoder()

/** What serveA2aStream needs from the endpoint. */
export interface StreamServerDeps {
  /** The bounds. */
  limits: StreamLimits
  /** Inbound slots (per peer, per node). */
  slots: StreamSlots
  /** Runs one JSON-RPC request through the SDK's JsonRpcTransportHandler (an async generator for streaming methods). */
  dispatch: (body: Record<string, unknown>, from: PeerId, signal: AbortSignal) => Promise<unknown>
  /** Where failures that reach no caller are reported. */
  log: (format: string, ...args: unknown[]) => void
}

interface RpcErrorBody { code: number, message: string, data?: unknown }

function safeId (id: unknown): string | number | null {
  return typeof id === 'string' || (typeof id === 'number' && Number.isInteger(id)) ? id : null
}

function isAsyncIterable (v: unknown): v is AsyncIterable<unknown> {
  return v !== null && typeof v === 'object' && Symbol.asyncIterator in v
}

/**
 * The server side of A2A_STREAM_PROTOCOL on one mesh stream: read one frame (a JSON-RPC request for
 * SendStreamingMessage or SubscribeToTask), then write one frame per event (a JSON-RPC response whose `result`
 * is a v1.0 StreamResponse: `{task}`, `{message}`, `{statusUpdate}` or `{artifactUpdate}`), then half-close.
 * A failure is one last frame with a JSON-RPC `error`. The caller resetting the stream, the node stopping,
 * the idle and total deadlines all end the SDK's event generator and abort the call's signal.
 */
export async function serveA2aStream (stream: MeshStream, ctx: ProtocolContext, deps: StreamServerDeps): Promise<void> {
  const { limits } = deps
  const ac = new AbortController()
  const onStop = (): void => { ac.abort(ctx.signal.reason) }
  ctx.signal.addEventListener('abort', onStop, { once: true })
  const reader = new FrameReader(stream, limits.maxRequestBytes)
  let release: (() => void) | undefined
  let events: AsyncIterator<unknown> | undefined
  let finished = false
  let id: string | number | null = null
  const fail = async (error: RpcErrorBody): Promise<void> => {
    await writeFrame(stream, enc.encode(JSON.stringify({ jsonrpc: '2.0', id, error })), { signal: ac.signal, timeoutMs: limits.idleTimeoutMs })
  }
  try {
    const frame = await reader.next({ signal: ac.signal, timeoutMs: STREAM_REQUEST_TIMEOUT_MS })
    if (frame === null) { finished = true; return } // the caller closed before asking anything
    let body: unknown
    try { body = JSON.parse(dec.decode(frame)) } catch (err) {
      await fail({ code: -32700, message: `Parse error: ${(err as Error).message}` })
      finished = true
      return
    }
    if (body === null || typeof body !== 'object' || Array.isArray(body)) {
      await fail({ code: -32600, message: 'Invalid JSON-RPC Request: expected a JSON object' })
      finished = true
      return
    }
    const req = body as Record<string, unknown>
    id = safeId(req.id)
    if (typeof req.method !== 'string' || !STREAM_PROTOCOL_METHODS.has(req.method)) {
      await fail({ code: -32601, message: `Method not found: ${A2A_STREAM_PROTOCOL} serves ${[...STREAM_PROTOCOL_METHODS].join(' and ')}, not ${JSON.stringify(req.method)}` })
      finished = true
      return
    }
    const slot = deps.slots.take(ctx.from)
    if (typeof slot === 'string') { await fail({ code: -32603, message: `Server busy: ${slot}` }); finished = true; return }
    release = slot
    // The caller half-closes after its request; a reset (abort, close) or a second frame cancels the call.
    const watch = async (): Promise<void> => {
      const more = await reader.next({ signal: ac.signal })
      if (more !== null) throw new ProtocolError(`the caller sent a second frame on ${A2A_STREAM_PROTOCOL}`)
      await stream.closed({ signal: ac.signal })
      if (stream.status === 'aborted') throw new StreamClosedError('the caller reset the A2A stream')
    }
    watch().catch((err: unknown) => { if (!ac.signal.aborted) ac.abort(err) })
    const started = Date.now()
    const out = await withDeadline(deps.dispatch(req, ctx.from, ac.signal), { signal: ac.signal, timeoutMs: limits.idleTimeoutMs }, `the ${req.method} request`)
    if (!isAsyncIterable(out)) { // the SDK answered with one JSON-RPC object (an error: bad params, …)
      await writeFrame(stream, enc.encode(JSON.stringify(out)), { signal: ac.signal, timeoutMs: limits.idleTimeoutMs })
      finished = true
      return
    }
    events = out[Symbol.asyncIterator]()
    for (;;) {
      const left = limits.maxDurationMs - (Date.now() - started)
      const idle = left > limits.idleTimeoutMs
      let r: IteratorResult<unknown>
      try {
        r = await withDeadline(events.next(), { signal: ac.signal, timeoutMs: Math.max(0, Math.min(limits.idleTimeoutMs, left)) }, 'the next A2A event')
      } catch (err) {
        if (ac.signal.aborted) throw err
        if (err instanceof TimeoutError) {
          await fail({ code: -32603, message: idle ? `no event for ${limits.idleTimeoutMs} ms: the stream is closed (subscribe again with SubscribeToTask)` : `the stream reached its maximum duration of ${limits.maxDurationMs} ms (subscribe again with SubscribeToTask)` })
        } else {
          await fail(JsonRpcTransportHandler.mapToJSONRPCError(err) as RpcErrorBody)
          events = undefined // the generator threw: it is finished
        }
        finished = true
        return
      }
      if (r.done === true) { events = undefined; break }
      const bytes = enc.encode(JSON.stringify(r.value))
      if (bytes.byteLength > limits.maxEventBytes) {
        await fail({ code: -32603, message: `an event of ${bytes.byteLength} bytes exceeds the stream's limit of ${limits.maxEventBytes} bytes` })
        finished = true
        return
      }
      await writeFrame(stream, bytes, { signal: ac.signal, timeoutMs: limits.idleTimeoutMs })
    }
    finished = true
  } catch (err) {
    if (!ac.signal.aborted) deps.log('A2A stream from %s failed: %s', ctx.from, err)
  } finally {
    ctx.signal.removeEventListener('abort', onStop)
    if (finished) stream.closeWrite()
    else stream.abort(ac.signal.reason instanceof Error ? ac.signal.reason : 'the A2A stream was cancelled')
    if (!ac.signal.aborted) ac.abort(new Error('the A2A stream ended'))
    release?.()
    // An SDK event generator waiting for the executor's next event handles return() only once that event
    // comes (or the task ends); it is not awaited, so the slot is free at once.
    if (events?.return !== undefined) {
      events.return(undefined).then(undefined, (err: unknown) => { deps.log('closing the A2A event generator failed: %s', err) })
    }
  }
}
