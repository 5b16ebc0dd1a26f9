/** What every endpoint handler of the bridge receives. */
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { AxlNode, InboundMessage } from '@axl/core'
import { BodyAbortedError, BodyBudgetError, BodyTimeoutError, BodyTooLargeError, closeAfterResponse, readBody, type BodyLease } from './body.js'
import type { DropLog } from './http-drops.js'
import { httpError } from './http-response.js'
import type { McpSessions } from './mcp-sessions.js'
import type { StreamableFront } from './mcp-streamable.js'
import type { RootParent } from './topology-json.js'

/** Settings shared by the handlers. */
export interface ApiSettings {
  /** Deadline of /send, /mcp and /a2a round trips, ms. */
  requestTimeoutMs: number
  /** Longest /recv long-poll, ms. */
  maxRecvWaitMs: number
  /** Largest request body, bytes. */
  maxBodyBytes: number
  /** A request body must complete within this many ms of the first read (0: no deadline). */
  bodyTimeoutMs: number
  /** The root's parent in /topology. */
  rootParent: RootParent
}

/** One request being handled. */
export interface ApiRequest {
  node: AxlNode<Record<string, unknown>>
  settings: ApiSettings
  sessions: McpSessions
  /** Streamable HTTP sessions of /mcp (clients that accept SSE). */
  front: StreamableFront
  req: IncomingMessage
  res: ServerResponse
  /** The decoded, cleaned path. */
  path: string
  /** The query string parameters. */
  query: URLSearchParams
  /** Fires when the client goes away or the bridge closes. */
  signal: AbortSignal
  /** True while the bridge is closing. */
  closing: () => boolean
  lease: BodyLease
  expectContinue: boolean
  /** Bridge counters. */
  stats: { recvWaiting: number, recvReturned: number, recvLost: number }
  /** Messages put back because their /recv client was gone (served before the node's queue). */
  returned: InboundMessage[]
  /** Counts and reports refusals and drops. */
  drops: DropLog
}

/** Read the body, or answer 413/503/408/nothing (the body's budget released, the refusal counted) and return undefined. */
export async function bodyOrReply (r: ApiRequest): Promise<Buffer | undefined> {
  try {
    return await readBody(r.req, r.res, { limit: r.settings.maxBodyBytes, lease: r.lease, expectContinue: r.expectContinue, deadlineMs: r.settings.bodyTimeoutMs })
  } catch (err) {
    r.lease.release()
    const what = `${r.req.method ?? '?'} ${r.path}`
    if (err instanceof BodyTooLargeError) {
      r.drops.record('bodiesTooLarge', `413 on ${what}: ${err.message}`)
      closeAfterResponse(r.req, r.res)
      httpError(r.res, 413, `Request body too large: ${err.message}`, { Connection: 'close' })
    } else if (err instanceof BodyBudgetError) {
      r.drops.record('bodyBudgetRefusals', `503 on ${what}: ${err.message}`)
      closeAfterResponse(r.req, r.res)
      httpError(r.res, 503, `Server busy: ${err.message}`, { Connection: 'close', 'Retry-After': '1' })
    } else if (err instanceof BodyTimeoutError) {
      r.drops.record('bodyTimeouts', `408 on ${what} (body deadline): ${err.message}`)
      closeAfterResponse(r.req, r.res)
      httpError(r.res, 408, `Request Timeout: ${err.message}`, { Connection: 'close' })
    } else if (err instanceof BodyAbortedError) {
      r.res.destroy()
    } else throw err
    return undefined
  }
}
