/**
 * Inbound A2A envelopes → an A2A HTTP server (AXL's a2a_server.py, axl-reference §3.6): the agent card with
 * `GET /.well-known/agent-card.json`, requests with `POST /` carrying `A2A-Version: 1.0`, `X-From-Peer-Id`
 * (the full key) and `Content-Type: application/json`. The answer is relayed whatever its status; an answer
 * that is not JSON is reported at once as an error (AXL stays silent and the caller waits 30 s).
 */
import http from 'node:http'
import { type A2aHandler, type AxlNode } from '@axl/core'
import { encodeA2aResponse } from '@axl/router-a2a'
import type { EnvelopeReply } from '@axl/router-mcp'
import { compactJson } from '@axl/core/wire'
import { HttpCallError, httpCall } from './http-client.js'

/** Options of the A2A forwarder. */
export interface A2aForwardOptions {
  /** The A2A server's base URL with port, e.g. `http://127.0.0.1:9004`. */
  url: string
  /** Deadline of one call, ms. Default 27 000. */
  timeoutMs?: number
  /** Largest answer read, bytes. Default 16 MiB. */
  maxBytes?: number
}

const dec = new TextDecoder()

/** The A2A handler forwarding to `opts.url`, and close() for its connection pool. */
export function a2aForwarder (opts: A2aForwardOptions): { handler: A2aHandler, close: () => void } {
  const base = opts.url.replace(/\/+$/, '')
  const timeoutMs = opts.timeoutMs ?? 27_000
  const maxBytes = opts.maxBytes ?? 16 * 1024 * 1024
  const agent = new http.Agent({ keepAlive: true, maxSockets: 64 })
  const answer = async (req: Parameters<A2aHandler>[0], ctx: Parameters<A2aHandler>[1]): Promise<EnvelopeReply> => {
    const what = req.agentCard ? 'agent card' : 'a2a response'
    let res
    try {
      res = req.agentCard
        ? await httpCall(`${base}/.well-known/agent-card.json`, { method: 'GET', headers: { 'X-From-Peer-Id': ctx.from }, timeoutMs, maxBytes, signal: ctx.signal, agent })
        : await httpCall(`${base}/`, {
          method: 'POST',
          headers: { 'Content-Type': 'application/json', 'A2A-Version': '1.0', 'X-From-Peer-Id': ctx.from },
          body: req.request ?? '', // an envelope without "request": Go posts an empty body
          timeoutMs,
          maxBytes,
          signal: ctx.signal,
          agent
        })
    } catch (err) {
      const e = err as HttpCallError
      return { response: null, error: e.phase === 'read' ? `failed to read ${what}: ${e.message}` : `failed to contact a2a server: ${e.message}` }
    }
    try {
      return { response: dec.decode(compactJson(res.body)) }
    } catch {
      const snippet = res.body.subarray(0, 200).toString('utf8').trim()
      return { response: null, error: `a2a server answered HTTP ${res.status} (${res.contentType === '' ? 'no content type' : res.contentType}) with a body that is not JSON: ${snippet === '' ? '(empty)' : snippet}` }
    }
  }
  const handler: A2aHandler = async (req, ctx) => {
    const r = await answer(req, ctx)
    return encodeA2aResponse(r.response, r.error)
  }
  return { handler, close: () => { agent.destroy() } }
}

/** Send the node's inbound A2A envelopes to an A2A HTTP server; returns a function that undoes it. */
export function forwardA2aToServer (node: AxlNode<any>, opts: A2aForwardOptions): () => void {
  const f = a2aForwarder(opts)
  const unhandle = node.handle('a2a', f.handler)
  return () => { unhandle(); f.close() }
}
