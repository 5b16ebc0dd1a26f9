/**
 * /recv (axl-reference §3.3): the oldest queued message, 204 when none. Unlike AXL only GET and POST
 * dequeue (HEAD and other methods get 405, so a probe never destroys a message), and `?wait=<secs>` or the
 * `X-Recv-Wait: <secs>` header turns it into a long-poll (204 when the wait ends empty).
 */
import { TimeoutError, type InboundMessage } from '@axl/core'
import type { ApiRequest } from './api-context.js'
import { headerValue } from './api-send.js'
import { httpError, sendBody, sendEmpty } from './http-response.js'

/** Handle /recv. */
export async function handleRecv (r: ApiRequest): Promise<void> {
  const { req, res } = r
  if (req.method !== 'GET' && req.method !== 'POST') { httpError(res, 405, 'Method not allowed', { Allow: 'GET, POST' }); return }
  const raw = r.query.get('wait') ?? headerValue(req.headers['x-recv-wait'])
  let waitMs = 0
  if (raw !== '') {
    const secs = /^\d+(\.\d+)?$/.test(raw) ? Number(raw) : NaN
    if (!Number.isFinite(secs)) { httpError(res, 400, 'Invalid wait: expected a number of seconds, e.g. ?wait=30'); return }
    waitMs = Math.min(secs * 1000, r.settings.maxRecvWaitMs)
  }
  if (res.destroyed) return
  let msg: InboundMessage | undefined = r.returned.shift() ?? r.node.recv()
  if (msg === undefined && waitMs > 0 && r.node.running) {
    r.stats.recvWaiting++
    try {
      msg = await r.node.nextMessage({ timeoutMs: waitMs, signal: r.signal })
    } catch (err) {
      if (!(err instanceof TimeoutError) && res.destroyed) return
    } finally { r.stats.recvWaiting-- }
  }
  if (msg === undefined) { sendEmpty(res, 204); return }
  const m = msg
  // A client that went away before the message was handed to the OS gets it put back (best effort:
  // a connection that dies after that point loses the message, as with AXL).
  if (res.destroyed || req.socket.destroyed) { putBack(r, m); return }
  res.once('close', () => { if (!res.writableFinished) putBack(r, m) })
  sendBody(res, 200, m.data, 'application/octet-stream', { 'X-From-Peer-Id': m.from })
}

const MAX_RETURNED = 64

function putBack (r: ApiRequest, m: InboundMessage): void {
  if (r.returned.length >= MAX_RETURNED) { r.stats.recvLost++; return }
  r.returned.unshift(m)
  r.stats.recvReturned++
}
