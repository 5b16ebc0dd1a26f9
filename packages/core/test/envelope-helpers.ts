/**
 * Test-only MCP / A2A envelopes for core's dispatch tests. Core recognises envelopes (classifyFrame) but the
 * codecs are the router packages' (Go-exact, tested there); these JSON-based stand-ins keep core's tests free of
 * an upward dependency. A string `request` / `response` is JSON text, as with the real codecs.
 */
import type { A2aHandler, A2aRequest, McpHandler, McpRequest, RequestContext } from '../src/registry.js'

const enc = new TextEncoder()
const dec = new TextDecoder()
const json = (v: unknown): string => typeof v === 'string' ? v : JSON.stringify(v)
const errorPart = (error?: string): string => error === undefined || error === '' ? '' : `,"error":${JSON.stringify(error)}`

/** `{"service":…,"request":…}`. */
export const mcpRequest = (service: string, request: unknown): Uint8Array => enc.encode(`{"service":${JSON.stringify(service)},"request":${json(request)}}`)
/** `{"a2a":true,"request":…}`. */
export const a2aRequest = (request: unknown): Uint8Array => enc.encode(`{"a2a":true,"request":${json(request)}}`)
/** The agent card query. */
export const a2aCardRequest = (): Uint8Array => enc.encode('{"a2a":true,"agent_card":true,"request":null}')

/** An answer before encoding. */
export interface Reply { response: string | null, error?: string }

/** Reads a reply envelope: `response` as JSON text ('null' for JSON null, null when absent), `error` when non-empty. */
export function readReply (frame: Uint8Array): { service?: string, response: string | null, error?: string } {
  const v = JSON.parse(dec.decode(frame)) as { service?: string, response?: unknown, error?: string }
  const out: { service?: string, response: string | null, error?: string } = { response: 'response' in v ? JSON.stringify(v.response) : null }
  if (typeof v.service === 'string') out.service = v.service
  if (typeof v.error === 'string' && v.error !== '') out.error = v.error
  return out
}

function encodeReply (head: string, r: Reply): Uint8Array {
  if (r.response !== null) JSON.parse(r.response) // like the real codecs: invalid JSON text throws
  return enc.encode(`${head},"response":${r.response ?? 'null'}${errorPart(r.error)}}`)
}

/** An McpHandler from a function answering `{ response, error? }` (sync stays sync, throws stay throws). */
export function mcp (fn: (req: McpRequest, ctx: RequestContext) => Reply | Promise<Reply>): McpHandler {
  return (req, ctx) => {
    const head = `{"service":${JSON.stringify(req.service)}`
    const r = fn(req, ctx)
    return r instanceof Promise ? r.then(x => encodeReply(head, x)) : encodeReply(head, r)
  }
}

/** An A2aHandler from a function answering `{ response, error? }`. */
export function a2a (fn: (req: A2aRequest, ctx: RequestContext) => Reply | Promise<Reply>): A2aHandler {
  return (req, ctx) => {
    const r = fn(req, ctx)
    return r instanceof Promise ? r.then(x => encodeReply('{"a2a":true', x)) : encodeReply('{"a2a":true', r)
  }
}
