/** How the typed errors of @axl/core become HTTP answers on /send, /mcp and /a2a. */
import type { PeerId } from '@axl/core'
import type { ApiRequest } from './api-context.js'
import { httpError } from './http-response.js'
import { AbortError, InvalidPeerIdError, MessageTooLargeError, NotStartedError, ProtocolError, RefusedError, TimeoutError, UnreachableError } from '@axl/core'

/** An HTTP status and a plain-text message. */
export interface HttpFailure { status: number, message: string }

/**
 * The answer for a failed send()/request(). `what` words the 502 for timeouts and protocol failures the way
 * AXL does for each endpoint ("no response from peer" for /mcp and /a2a).
 */
export function meshFailure (err: unknown, kind: 'send' | 'request'): HttpFailure {
  const msg = err instanceof Error ? err.message : String(err)
  if (err instanceof InvalidPeerIdError) return { status: 502, message: 'Failed to reach peer: invalid peer ID' }
  if (err instanceof MessageTooLargeError) return { status: 413, message: `Message too large: ${msg}` }
  if (err instanceof RefusedError) return { status: 503, message: `Peer refused the ${kind === 'send' ? 'message' : 'request'}: ${err.reason}` }
  if (err instanceof UnreachableError) return { status: 502, message: `Failed to reach peer: ${msg}` }
  if (err instanceof TimeoutError) return { status: 502, message: kind === 'send' ? `Failed to reach peer: ${msg}` : `no response from peer: ${msg}` }
  if (err instanceof NotStartedError) return { status: 503, message: `Node unavailable: ${msg}` }
  if (err instanceof ProtocolError) return { status: 502, message: kind === 'send' ? `Failed to send to peer: ${msg}` : `no response from peer: ${msg}` }
  if (err instanceof AbortError) return { status: 503, message: `Aborted: ${msg}` }
  return { status: 502, message: `Failed to reach peer: ${msg}` }
}

/**
 * node.request() for /mcp and /a2a: the reply frame, or undefined once the HTTP error has been answered
 * (AXL's texts: an oversize reply is `message size N exceeds maximum M`, other failures as meshFailure says).
 */
export async function relayRequest (r: ApiRequest, peer: PeerId, frame: Uint8Array): Promise<Uint8Array | undefined> {
  try {
    return await r.node.request(peer, frame, { timeoutMs: r.settings.requestTimeoutMs, signal: r.signal })
  } catch (err) {
    if (r.res.destroyed) return undefined
    if (err instanceof MessageTooLargeError && err.message.includes('local limit')) {
      httpError(r.res, 502, `message size ${err.size} exceeds maximum ${err.limit}`)
      return undefined
    }
    const f = meshFailure(err, 'request')
    httpError(r.res, f.status, f.message)
    return undefined
  }
}
