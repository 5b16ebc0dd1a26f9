import type { Message } from '@a2a-js/sdk'

/** An MCP call extracted from an A2A message: `{"service": name, "request": json}`. */
export interface McpCall {
  /** The MCP service name. */
  service: string
  /** The JSON-RPC request for it (any JSON value). */
  request: unknown
}

/** Why a message could not be read as an MCP call. */
export class McpCallParseError extends Error {
  constructor (message: string) {
    super(message)
    this.name = 'McpCallParseError'
  }
}

const HINT = 'send a text part like {"service": "weather", "request": {"jsonrpc": "2.0", "method": "tools/list", "id": 1}}'

function isObject (v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

function tryJson (text: string): { ok: true, value: unknown } | { ok: false } {
  try { return { ok: true, value: JSON.parse(text) as unknown } } catch { return { ok: false } }
}

/**
 * Reads an MCP call from a message the way AXL's A2A server does, and a little smarter.
 *
 * AXL joins the text parts with "\n", parses that as JSON, and uses `{service, request}` (a bare JSON-RPC
 * request fails with "No service specified"). Here the joined text is tried first (AXL's behaviour); when
 * it is not JSON or not a call, each text part is tried alone, then each `data` part. The first value with
 * both `service` and `request` wins; failing that, the first JSON object found is read with AXL's rules
 * (`request` defaults to `{}`). Throws McpCallParseError with AXL's messages.
 */
export function parseMcpCall (message: Message | undefined): McpCall {
  const parts = message?.parts ?? []
  const texts: string[] = []
  const candidates: unknown[] = []
  for (const p of parts) if (p.content?.$case === 'text') texts.push(p.content.value)
  if (texts.length > 0) {
    const joined = tryJson(texts.join('\n'))
    if (joined.ok) candidates.push(joined.value)
    if (texts.length > 1) {
      for (const t of texts) {
        const r = tryJson(t)
        if (r.ok) candidates.push(r.value)
      }
    }
  }
  for (const p of parts) if (p.content?.$case === 'data') candidates.push(p.content.value)

  const objects = candidates.filter(isObject)
  const data = objects.find(o => 'service' in o && 'request' in o) ?? objects[0]
  if (data === undefined) {
    throw new McpCallParseError(`Could not parse MCP request from message: ${candidates.length === 0 ? 'no JSON found' : 'expected a JSON object'}; ${HINT}`)
  }
  if (!('service' in data) && 'jsonrpc' in data) {
    throw new McpCallParseError(`No service specified in request: a bare JSON-RPC request names no MCP service; ${HINT}`)
  }
  const service = data.service
  if (service === undefined || service === null || service === '') throw new McpCallParseError(`No service specified in request; ${HINT}`)
  if (typeof service !== 'string') throw new McpCallParseError(`"service" must be a string, got ${Array.isArray(service) ? 'an array' : typeof service}`)
  return { service, request: 'request' in data ? data.request : {} }
}
