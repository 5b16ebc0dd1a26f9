import { MalformedEnvelopeError, parsePeerId, type AxlNode, type PeerId } from '@axl/core'
import { encodeA2aAgentCardRequest, encodeA2aRequest } from './envelope.js'
import { exchange } from './client.js'
import { A2aStreamingUnsupportedError, A2aUrlError } from './errors.js'
import { SSE_CONTENT_TYPE, sseEvent } from './sse.js'
import { A2aStreamClient, parseStreamRequest, type StreamRequest } from './stream-client.js'

/** Options of meshFetch(). */
export interface MeshFetchOptions {
  /** Send every request to this peer, whatever the URL says. Default: the peer named by the URL. */
  peer?: PeerId | string
  /** Deadline of each request in ms (default: the node's requestTimeoutMs); for a stream, of its opening. */
  timeoutMs?: number
  /** Opens the streams of SendStreamingMessage / SubscribeToTask (and bounds them). @default a new A2aStreamClient with default bounds */
  streams?: A2aStreamClient
}

const PEER_IN_PATH = /\/a2a\/([0-9a-fA-F]{64})(?:[/?#]|$)/

/** The peer a URL names: `axl://<peerId>/…` or any URL whose path contains `/a2a/<peerId>` (AXL's bridge form). */
export function peerFromUrl (url: string): PeerId {
  let parsed: URL | undefined
  try { parsed = new URL(url, 'axl-relative:/') } catch { /* fall through to the path pattern */ }
  if (parsed?.protocol === 'axl:' && parsed.hostname !== '') {
    try { return parsePeerId(parsed.hostname) } catch (err) { throw new A2aUrlError(`${url}: ${(err as Error).message}`) }
  }
  const m = PEER_IN_PATH.exec(parsed?.pathname ?? url)
  if (m !== null) return parsePeerId(m[1])
  throw new A2aUrlError(`cannot tell which peer ${JSON.stringify(url)} names: expected axl://<peerId>/… or …/a2a/<peerId>`)
}

function jsonResponse (body: string, status: number, statusText: string): Response {
  return new Response(body, { status, statusText, headers: { 'content-type': 'application/json' } })
}

const enc = new TextEncoder()

/**
 * A streaming method over A2A_STREAM_PROTOCOL: 200 `text/event-stream`, one `data:` event per frame (the
 * remote's JSON-RPC responses, verbatim). A peer that does not serve streams → 200 JSON with the -32004
 * refusal, at once. Cancelling the body (the SDK does on break) or aborting `signal` resets the mesh stream.
 */
async function streamResponse (streams: A2aStreamClient, peer: PeerId, req: StreamRequest, signal: AbortSignal | undefined, timeoutMs: number | undefined): Promise<Response> {
  let call
  try {
    call = await streams.open(peer, req, { signal, timeoutMs })
  } catch (err) {
    if (!(err instanceof A2aStreamingUnsupportedError)) throw err
    return jsonResponse(JSON.stringify({ jsonrpc: '2.0', id: req.id, error: { code: err.rpcCode, message: err.message } }), 200, 'OK')
  }
  const body = new ReadableStream<Uint8Array>({
    async pull (controller) {
      try {
        const text = await call.nextFrame()
        if (text === null) controller.close()
        else controller.enqueue(enc.encode(sseEvent(text)))
      } catch (err) {
        controller.error(err)
      }
    },
    cancel (reason) { call.cancel(`the reader cancelled the A2A stream${reason === undefined ? '' : `: ${String(reason)}`}`) }
  }, { highWaterMark: 0 })
  return new Response(body, { status: 200, statusText: 'OK', headers: { 'content-type': SSE_CONTENT_TYPE, 'cache-control': 'no-cache' } })
}

function textResponse (body: string, status: number, statusText: string): Response {
  return new Response(body, { status, statusText, headers: { 'content-type': 'text/plain; charset=utf-8' } })
}

/**
 * A `fetch` that carries A2A over the mesh, so the stock `@a2a-js/sdk` client works with no HTTP server:
 * GET (e.g. `/.well-known/agent-card.json`) → the agent-card envelope; POST of a JSON-RPC body → the
 * request envelope; 200 + the remote's JSON. POST of SendStreamingMessage / SubscribeToTask → one stream of
 * A2A_STREAM_PROTOCOL, answered as `text/event-stream` (what the SDK's sendMessageStream/resubscribeTask read). A remote error envelope → 502 with its text (as AXL's bridge);
 * a body that is not JSON → 400 with a JSON-RPC parse error; other methods → 405. Mesh failures (unreachable,
 * timeout, abort) reject, as network errors do in fetch.
 */
export function meshFetch (node: AxlNode<any>, opts: MeshFetchOptions = {}): typeof fetch {
  const bound = opts.peer === undefined ? undefined : parsePeerId(String(opts.peer))
  const streams = opts.streams ?? new A2aStreamClient(node)
  const impl = async (input: string | URL | Request, init: RequestInit = {}): Promise<Response> => {
    const request = input instanceof Request ? input : undefined
    const url = request?.url ?? String(input)
    const method = (init.method ?? request?.method ?? 'GET').toUpperCase()
    const signal = init.signal ?? request?.signal ?? undefined
    const peer = bound ?? peerFromUrl(url)
    const wait = { timeoutMs: opts.timeoutMs, signal }
    let frame: Uint8Array
    if (method === 'GET' || method === 'HEAD') {
      frame = encodeA2aAgentCardRequest()
    } else if (method === 'POST') {
      const body = init.body !== undefined && init.body !== null ? await new Response(init.body).text() : (await request?.text()) ?? ''
      const streaming = parseStreamRequest(body)
      if (streaming !== undefined) return await streamResponse(streams, peer, streaming, signal, opts.timeoutMs)
      try {
        frame = encodeA2aRequest(body)
      } catch (err) {
        if (!(err instanceof MalformedEnvelopeError)) throw err
        const why = body === '' ? 'the request body is empty' : `the request body is not JSON (${err.message})`
        return jsonResponse(JSON.stringify({ jsonrpc: '2.0', id: null, error: { code: -32700, message: `Parse error: ${why}` } }), 400, 'Bad Request')
      }
    } else {
      return textResponse('Method not allowed', 405, 'Method Not Allowed')
    }
    const r = await exchange(node, peer, frame, wait)
    if (r.error !== undefined) return textResponse(r.error, 502, 'Bad Gateway')
    return jsonResponse(method === 'HEAD' ? '' : (r.response ?? 'null'), 200, 'OK')
  }
  return impl as typeof fetch
}
