/**
 * MCP envelopes for the overlay's tests, in Go AXL's shape (`{"service","request"}` → `{"service","response"}`),
 * built with JSON: transport-ygg sits below the router packages that own the Go-exact codecs, and these tests
 * are about carrying the frames, not about the codec.
 */
import type { McpHandler, McpRequest, RequestContext } from '@axl/core'

const enc = new TextEncoder()

/** `{"service":…,"request":…}`; a string request is JSON text. */
export function mcpRequest (service: string, request: unknown): Uint8Array {
  return enc.encode(`{"service":${JSON.stringify(service)},"request":${typeof request === 'string' ? request : JSON.stringify(request)}}`)
}

/** Reads `{"service","response","error"?}`; the response as JSON text. */
export function readMcpReply (frame: Uint8Array): { service: string, response: string | null, error?: string } {
  const v = JSON.parse(new TextDecoder().decode(frame)) as { service: string, response?: unknown, error?: string }
  return { service: v.service, response: 'response' in v ? JSON.stringify(v.response) : null, ...(v.error !== undefined ? { error: v.error } : {}) }
}

/** An MCP handler answering with `answer(req, ctx)` (JSON text, or null) as the response. */
export function mcpHandler (answer: (req: McpRequest, ctx: RequestContext) => string | null): McpHandler {
  return async (req, ctx) => enc.encode(`{"service":${JSON.stringify(req.service)},"response":${answer(req, ctx) ?? 'null'}}`)
}
