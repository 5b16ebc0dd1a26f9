/**
 * POST /a2a/{peer} with SendStreamingMessage or SubscribeToTask: one `/axl/a2a-stream/1` mesh stream, relayed as
 * Server-Sent Events (each frame, a JSON-RPC response, becomes one `data:` event), as an A2A HTTP server answers
 * a streaming method. A peer without the stream protocol (Go AXL, older nodes) gets the -32004 JSON-RPC
 * refusal at once, in a 200 JSON answer like any other JSON-RPC error.
 */
import { once } from 'node:events'
import { ProtocolRefusedError, type AxlNode, type PeerId } from '@axl/core'
import type { A2aStreamCall, A2aStreamClient, StreamRequest } from '@axl/router-a2a/internals'
import type { ApiRequest } from './api-context.js'
import { httpError, sendBody } from './http-response.js'
import { meshFailure } from './mesh-errors.js'

/**
 * The streaming methods (`STREAM_PROTOCOL_METHODS` of @axl/router-a2a, repeated here so that the bridge loads
 * @axl/router-a2a and the A2A SDK only when a stream is asked for, as it does for the in-process services).
 */
const STREAMING_METHODS: ReadonlySet<string> = new Set(['SendStreamingMessage', 'SubscribeToTask'])

/** One stream client (and so one set of bounds) per bridge node. */
const clients = new WeakMap<AxlNode<any>, A2aStreamClient>()

/** The request as a streaming JSON-RPC request (a v1.0 streaming method with an id), or undefined. */
export function streamRequestOf (json: string): StreamRequest | undefined {
  let v: unknown
  try { v = JSON.parse(json) } catch { return undefined } // not JSON: not a stream request (the caller checked it is)
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return undefined
  const r = v as Record<string, unknown>
  if (typeof r.method !== 'string' || !STREAMING_METHODS.has(r.method)) return undefined
  if (typeof r.id !== 'string' && typeof r.id !== 'number') return undefined
  return { jsonrpc: '2.0', id: r.id, method: r.method, params: r.params }
}

/** Relay one streaming call to `peer` as SSE on r.res. */
export async function relayA2aStream (r: ApiRequest, peer: PeerId, request: StreamRequest): Promise<void> {
  const { res } = r
  const { A2aStreamLimitError, A2aStreamingUnsupportedError } = await import('@axl/router-a2a')
  const { A2aStreamClient, SSE_CONTENT_TYPE, sseEvent } = await import('@axl/router-a2a/internals')
  let client = clients.get(r.node)
  if (client === undefined) { client = new A2aStreamClient(r.node); clients.set(r.node, client) }
  let call: A2aStreamCall
  try {
    call = await client.open(peer, request, { signal: r.signal, timeoutMs: r.settings.requestTimeoutMs })
  } catch (err) {
    if (res.destroyed) return
    if (err instanceof A2aStreamingUnsupportedError) {
      sendBody(res, 200, JSON.stringify({ jsonrpc: '2.0', id: request.id, error: { code: err.rpcCode, message: err.message } }), 'application/json')
    } else if (err instanceof A2aStreamLimitError) {
      httpError(res, 503, `Server busy: ${err.message}`, { 'Retry-After': '1' })
    } else if (err instanceof ProtocolRefusedError) {
      httpError(res, 503, `Peer refused the request: ${err.message}`, { 'Retry-After': '1' })
    } else {
      const f = meshFailure(err, 'request')
      httpError(res, f.status, f.message)
    }
    return
  }
  const idleMs = client.limits.idleTimeoutMs
  res.writeHead(200, { 'Content-Type': SSE_CONTENT_TYPE, 'Cache-Control': 'no-cache', 'X-Content-Type-Options': 'nosniff' })
  try {
    for (;;) {
      const text = await call.nextFrame()
      if (text === null) break
      if (!res.write(sseEvent(text))) {
        await once(res, 'drain', { signal: AbortSignal.any([r.signal, AbortSignal.timeout(idleMs)]) })
      }
    }
    res.end()
  } catch (err) {
    call.cancel(err instanceof Error ? err.message : String(err))
    if (res.destroyed || r.signal.aborted) return
    // The 200 is out: the failure (idle deadline, reset, oversized event) is a last event with a JSON-RPC error.
    const message = `the A2A stream from ${peer} failed: ${err instanceof Error ? err.message : String(err)}`
    res.end(sseEvent(JSON.stringify({ jsonrpc: '2.0', id: request.id, error: { code: -32603, message } })))
  }
}
