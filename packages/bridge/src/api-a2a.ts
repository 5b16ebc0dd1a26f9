/**
 * /a2a/{peer_id} (axl-reference §3.5): GET fetches the remote agent card (its mesh URLs rewritten to this bridge's
 * URL for the peer), POST relays an A2A JSON-RPC request; a streaming method (SendStreamingMessage,
 * SubscribeToTask) is answered as Server-Sent Events from one `/axl/a2a-stream/1` mesh stream.
 * `GET /a2a/{peer_id}/.well-known/agent-card.json` is the card too (where the A2A SDK looks for it).
 */
import { parsePeerId, type PeerId } from '@axl/core'
import { compactJson } from '@axl/core/wire'
import { decodeA2aResponse, encodeA2aAgentCardRequest, encodeA2aRequest } from '@axl/router-a2a'
import { bridgeA2aUrl, rewriteCardUrls } from './a2a-card-url.js'
import { relayA2aStream, streamRequestOf } from './a2a-stream-relay.js'
import { bodyOrReply, type ApiRequest } from './api-context.js'
import { httpError, sendBody } from './http-response.js'
import { relayRequest } from './mesh-errors.js'

const dec = new TextDecoder()

/** The A2A SDK's card path under an agent's base URL. */
const CARD_SUFFIX = '/.well-known/agent-card.json'

/** Handle /a2a/…. */
export async function handleA2a (r: ApiRequest): Promise<void> {
  const { req, res } = r
  let peerSeg = r.path.slice('/a2a/'.length)
  if (peerSeg === '') { httpError(res, 400, 'URL must be /a2a/{peer_id}'); return }
  if (req.method !== 'GET' && req.method !== 'POST') { httpError(res, 405, 'Method not allowed', { Allow: 'GET, POST' }); return }
  if (req.method === 'GET' && peerSeg.endsWith(CARD_SUFFIX)) peerSeg = peerSeg.slice(0, -CARD_SUFFIX.length)
  let frame: Uint8Array
  if (req.method === 'POST') {
    const body = await bodyOrReply(r)
    if (body === undefined) return
    let compact: Uint8Array
    try { compact = compactJson(body) } catch {
      // AXL: 500 "Failed to marshal A2A envelope: …"; a client error is a 400.
      httpError(res, 400, body.byteLength === 0 ? 'Invalid A2A request: empty body (expected a JSON-RPC request)' : 'Invalid A2A request: the body is not valid JSON')
      return
    }
    const json = dec.decode(compact)
    const streaming = streamRequestOf(json)
    if (streaming !== undefined) {
      let peer: PeerId
      try { peer = parsePeerId(peerSeg) } catch { httpError(res, 502, 'Failed to reach peer: invalid peer ID'); return }
      await relayA2aStream(r, peer, streaming)
      return
    }
    frame = encodeA2aRequest(json)
    if (frame.byteLength > r.node.limits.maxMessageSize) {
      httpError(res, 413, `Message too large: the A2A envelope of ${frame.byteLength} bytes exceeds the limit of ${r.node.limits.maxMessageSize} bytes`)
      return
    }
  } else {
    frame = encodeA2aAgentCardRequest()
  }
  let peer: PeerId
  try { peer = parsePeerId(peerSeg) } catch { httpError(res, 502, 'Failed to reach peer: invalid peer ID'); return }
  const reply = await relayRequest(r, peer, frame)
  if (reply === undefined) return
  let env
  try { env = decodeA2aResponse(reply) } catch { httpError(res, 502, 'Invalid response from peer'); return }
  if (env.error !== undefined && env.error !== '') { httpError(res, 502, env.error); return }
  let body = env.response ?? 'null'
  if (req.method === 'GET') body = rewriteCardUrls(body, bridgeA2aUrl(req.headers.host, req.socket.localAddress, req.socket.localPort, peer)) ?? body
  sendBody(res, 200, body, 'application/json')
}
