/** POST /send (axl-reference §3.2): raw bytes to a peer; 200 only once the remote node accepted them. */
import { parsePeerId, type PeerId } from '@axl/core'
import { bodyOrReply, type ApiRequest } from './api-context.js'
import { httpError, sendEmpty } from './http-response.js'
import { meshFailure } from './mesh-errors.js'

/** Handle /send. */
export async function handleSend (r: ApiRequest): Promise<void> {
  const { req, res } = r
  if (req.method !== 'POST') { httpError(res, 405, 'Method not allowed', { Allow: 'POST' }); return }
  const dest = headerValue(req.headers['x-destination-peer-id'])
  if (dest === '') { httpError(res, 400, 'Missing X-Destination-Peer-Id header'); return }
  let peer: PeerId
  try { peer = parsePeerId(dest) } catch { httpError(res, 400, 'Invalid destination peer ID'); return }
  const body = await bodyOrReply(r)
  if (body === undefined) return
  try {
    await r.node.send(peer, body, { timeoutMs: r.settings.requestTimeoutMs, signal: r.signal })
  } catch (err) {
    if (res.destroyed) return
    const f = meshFailure(err, 'send')
    httpError(res, f.status, f.message)
    return
  }
  sendEmpty(res, 200, { 'Content-Type': 'application/octet-stream', 'X-Sent-Bytes': String(body.byteLength), 'Content-Length': '0' })
}

/** A header's value, trimmed ('' when absent); repeated headers count as their first value. */
export function headerValue (h: string | string[] | undefined): string {
  if (h === undefined) return ''
  return (Array.isArray(h) ? h[0] ?? '' : h).trim()
}
