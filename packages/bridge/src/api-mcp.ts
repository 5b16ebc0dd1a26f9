/**
 * /mcp/{peer_id}/{service} (axl-reference §3.4): one JSON-RPC request to a remote MCP service, AXL's
 * statuses and session handling; sessions are bounded, expire, and are bound to the endpoint. A client that
 * accepts `text/event-stream` and sends `initialize` gets a Streamable HTTP session instead (mcp-streamable.ts):
 * SSE, the GET stream, DELETE, notifications and server-to-client requests both ways.
 */
import { parsePeerId, type PeerId } from '@axl/core'
import { decodeMcpResponse, encodeMcpRequest } from '@axl/router-mcp'
import { bodyOrReply, type ApiRequest } from './api-context.js'
import { headerValue } from './api-send.js'
import { goJsonString, httpError, sendBody, sendEmpty } from './http-response.js'
import { probeJsonRpc } from './jsonrpc-probe.js'
import { relayRequest } from './mesh-errors.js'

const dec = new TextDecoder()

/** Handle /mcp/…. */
export async function handleMcp (r: ApiRequest): Promise<void> {
  const { req, res } = r
  const rest = r.path.slice('/mcp/'.length)
  const slash = rest.indexOf('/')
  const peerSeg = slash < 0 ? rest : rest.slice(0, slash)
  const service = slash < 0 ? '' : rest.slice(slash + 1)
  if (peerSeg === '' || service === '') { httpError(res, 400, 'URL must be /mcp/{peer_id}/{service}'); return }
  const endpoint = `${peerSeg.toLowerCase()}/${service}`
  const incomingSid = headerValue(req.headers['mcp-session-id'])
  const streamable = r.front.owns(incomingSid)
  if (streamable && req.method !== 'POST') { await toFront(r, peerSeg, service, endpoint, incomingSid, undefined); return }
  if (req.method === 'DELETE') {
    if (incomingSid !== '') r.sessions.delete(incomingSid)
    sendEmpty(res, 202)
    return
  }
  if (req.method !== 'POST') { httpError(res, 405, 'Method not allowed', { Allow: 'POST, DELETE' }); return }
  const body = await bodyOrReply(r)
  if (body === undefined) return
  const probe = probeJsonRpc(body)
  if (probe === undefined) { httpError(res, 400, 'Invalid JSON-RPC'); return }
  // A Streamable HTTP client (it accepts SSE) starting a session, or one of the front's sessions: the SDK's transport.
  if (streamable || (incomingSid === '' && probe.method === 'initialize' && /text\/event-stream/i.test(headerValue(req.headers.accept)))) {
    await toFront(r, peerSeg, service, endpoint, incomingSid, JSON.parse(dec.decode(probe.compact)) as unknown)
    return
  }
  if (probe.method === 'notifications/initialized') { sendEmpty(res, 202); return }
  let sid = ''
  if (probe.method === 'initialize') {
    sid = r.sessions.newId(service, peerSeg)
  } else if (incomingSid !== '') {
    if (!r.sessions.touch(incomingSid, endpoint)) { httpError(res, 404, 'Invalid or expired session'); return }
    sid = incomingSid
  }
  let peer: PeerId
  try { peer = parsePeerId(peerSeg) } catch { httpError(res, 502, 'Failed to reach peer: invalid peer ID'); return }
  const frame = encodeMcpRequest(service, dec.decode(probe.compact))
  if (frame.byteLength > r.node.limits.maxMessageSize) {
    httpError(res, 413, `Message too large: the MCP envelope of ${frame.byteLength} bytes exceeds the limit of ${r.node.limits.maxMessageSize} bytes`)
    return
  }
  const reply = await relayRequest(r, peer, frame)
  if (reply === undefined) return
  let env
  try { env = decodeMcpResponse(reply) } catch { httpError(res, 502, 'Invalid response from peer'); return }
  const headers: Record<string, string> = {}
  if (sid !== '') {
    headers['Mcp-Session-Id'] = sid
    if (probe.method === 'initialize') r.sessions.add(sid, endpoint)
  }
  if (env.error !== undefined && env.error !== '') {
    const text = `{"error":{"code":-32603,"message":${goJsonString(env.error)}},"id":${probe.idRaw ?? 'null'},"jsonrpc":"2.0"}\n`
    sendBody(res, 200, text, 'application/json', headers)
    return
  }
  sendBody(res, 200, env.response ?? 'null', 'application/json', headers)
}

/** Hands a request to the Streamable HTTP front (a peer id that does not parse is AXL's 502). */
async function toFront (r: ApiRequest, peerSeg: string, service: string, endpoint: string, sid: string, body: unknown): Promise<void> {
  let peer: PeerId
  try { peer = parsePeerId(peerSeg) } catch { httpError(r.res, 502, 'Failed to reach peer: invalid peer ID'); return }
  await r.front.handle(r.req, r.res, peer, service, endpoint, sid, body)
}
