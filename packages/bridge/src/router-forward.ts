/**
 * Inbound MCP envelopes → AXL's Python MCP router (`POST {router_addr}:{router_port}/route`, axl-reference
 * §3.6, §4). The router's `{response, error}` is read whatever the HTTP status. Unlike AXL every outcome is
 * answered at once (no 30 s silence when the router gives neither), and `from_peer_id` is the full key.
 */
import http from 'node:http'
import { MalformedEnvelopeError, type AxlNode, type McpHandler, type PeerId } from '@axl/core'
import { compactJson } from '@axl/core/wire'
import { decodeMcpResponse, encodeMcpResponse, type EnvelopeReply } from '@axl/router-mcp'
import type { McpPort } from '@axl/router-mcp'
import { goJsonString } from './http-response.js'
import { HttpCallError, httpCall } from './http-client.js'
import { defaultLogger } from '@libp2p/logger'

const log = defaultLogger().forComponent('axl:bridge:router')

/** Options of the router forwarder. */
export interface RouterForwardOptions {
  /** The router's base URL with port, e.g. `http://127.0.0.1:9003` (`/route` is appended). */
  url: string
  /** Deadline of one router call, ms. Default 27 000 (below the caller's 30 s, so it sees the clean error). */
  timeoutMs?: number
  /** Largest router answer read, bytes. Default 16 MiB. */
  maxBytes?: number
}

const enc = new TextEncoder()
const dec = new TextDecoder()

/** A forwarder: the MCP handler plus its connection pool (close() releases it). */
export interface RouterForwarder {
  /** The node handler. */
  handler: McpHandler
  /** An McpPort for the in-process A2A agent (services from the router's GET /services, refreshed on use). */
  port: McpPort
  /** Re-read the router's service list (GET /services) for `port.services()`. */
  refresh: () => Promise<void>
  /** Release pooled connections. */
  close: () => void
}

/** Build the forwarder for a router at `opts.url`. */
export function routerForwarder (opts: RouterForwardOptions): RouterForwarder {
  const base = opts.url.replace(/\/+$/, '')
  const routeUrl = `${base}/route`
  const timeoutMs = opts.timeoutMs ?? 27_000
  const maxBytes = opts.maxBytes ?? 16 * 1024 * 1024
  const agent = new http.Agent({ keepAlive: true, maxSockets: 64 })
  let names: string[] = []
  let refreshing: Promise<void> | undefined
  let refreshedAt = 0

  const forward = async (service: string, request: string | null, from: PeerId, signal: AbortSignal): Promise<EnvelopeReply> => {
    const reqJson = request === null ? 'null' : dec.decode(compactJson(enc.encode(request)))
    const body = `{"service":${goJsonString(service)},"request":${reqJson},"from_peer_id":${goJsonString(from)}}`
    let res
    try {
      res = await httpCall(routeUrl, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body, timeoutMs, maxBytes, signal, agent })
    } catch (err) {
      const e = err as HttpCallError
      return { response: null, error: e.phase === 'read' ? `failed to read router response: ${e.message}` : `failed to contact router: ${e.message}` }
    }
    try {
      const env = decodeMcpResponse(res.body)
      if (env.error !== undefined && env.error !== '') return { response: null, error: `router error: ${env.error}` }
      return { response: env.response }
    } catch (err) {
      const msg = err instanceof MalformedEnvelopeError ? err.message : String(err)
      if (/missing field "response"/.test(msg)) return { response: null, error: `router answered HTTP ${res.status} without a response or an error` }
      return { response: null, error: `failed to parse router response: ${msg}` }
    }
  }

  const refresh = async (): Promise<void> => {
    refreshing ??= (async () => {
      try {
        const r = await httpCall(`${base}/services`, { method: 'GET', timeoutMs: 5000, maxBytes: 1024 * 1024, agent })
        const v = JSON.parse(r.body.toString('utf8')) as unknown
        if (r.status === 200 && v !== null && typeof v === 'object' && !Array.isArray(v)) names = Object.keys(v)
      } catch (err) {
        // Keep the last list; the router may be restarting.
        log('router %s: listing services failed: %s', base, err instanceof Error ? err.message : String(err))
      }
      refreshedAt = Date.now()
      refreshing = undefined
    })()
    await refreshing
  }

  return {
    handler: async (req, ctx) => {
      const r = await forward(req.service, req.request, ctx.from, ctx.signal)
      return encodeMcpResponse(req.service, r.response, r.error)
    },
    port: {
      services: () => {
        if (Date.now() - refreshedAt > 10_000) void refresh()
        return names
      },
      dispatch: async (call, ctx) => await forward(call.service, call.request, ctx.from, ctx.signal)
    },
    refresh,
    close: () => { agent.destroy() }
  }
}

/** Send the node's inbound MCP envelopes to an AXL router; returns a function that undoes it. */
export function forwardMcpToRouter (node: AxlNode<any>, opts: RouterForwardOptions): () => void {
  const f = routerForwarder(opts)
  const unhandle = node.handle('mcp', f.handler)
  return () => { unhandle(); f.close() }
}
