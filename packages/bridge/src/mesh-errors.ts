/** How the typed errors of @axl/core become HTTP answers on /send, /mcp and /a2a. */
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
