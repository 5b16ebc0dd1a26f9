/**
 * The MCP envelope codec of AXL's default protocol (axl-reference §2.2), byte-compatible with Go AXL's
 * `json.Marshal` / `json.Unmarshal` of its MCPRequest / MCPResponse: `{"service","request"}` out,
 * `{"service","response","error"?}` back. Core recognises inbound requests (`classifyFrame`) and hands them to
 * the handler registered with `node.handle('mcp', …)`; this module builds requests and reads and writes replies.
 *
 * Embedded JSON (`request`, `response`) is raw JSON text: validated and compacted like Go's json.RawMessage,
 * never re-serialized, so big integer ids keep every digit. Known gaps against Go (malformed input only): invalid
 * UTF-8 inside JSON strings becomes U+FFFD; a JS string with an unpaired surrogate is written as U+FFFD.
 */
import { MalformedEnvelopeError } from '@axl/core'
import { concatBytes, GoStructDecoder, omitEmptyString, quoteJsonString, rawJsonBytes, type RawJson } from '@axl/core/wire'

/** The answer to an MCP or A2A request before it is encoded: a JSON response, or an error text (AXL's envelope `error`). */
export interface EnvelopeReply {
  /** The JSON text of the response, or null. */
  response: RawJson | null
  /** An error text; when set the caller sees an error. */
  error?: string
}

/** A decoded MCP reply. `response` is null only when the field was absent (JSON null gives `'null'`). */
export interface McpResponseEnvelope { service: string, response: RawJson | null, error?: string }

/**
 * `{"service":"<svc>","request":<json>}`. A string `request` is JSON text (validated and compacted);
 * any other value is JSON.stringify'd. Throws MalformedEnvelopeError on invalid JSON or an empty service.
 */
export function encodeMcpRequest (service: string, request: RawJson | unknown): Uint8Array {
  if (typeof service !== 'string' || service === '') throw new MalformedEnvelopeError('MCP service name must be a non-empty string')
  return concatBytes(['{"service":' + quoteJsonString(service) + ',"request":', rawJsonBytes(request, 'MCP request'), '}'])
}

/** `{"service":"<svc>","response":<json|null>}` plus `,"error":"<text>"` when `error` is non-empty. */
export function encodeMcpResponse (service: string, response: RawJson | null, error?: string): Uint8Array {
  if (typeof service !== 'string') throw new MalformedEnvelopeError('MCP service name must be a string')
  return concatBytes(['{"service":' + quoteJsonString(service) + ',"response":',
    response === null ? 'null' : rawJsonBytes(response, 'MCP response'), omitEmptyString('error', error) + '}'])
}

const REPLY = new GoStructDecoder([{ name: 'service', kind: 'string' }, { name: 'response', kind: 'raw' }, { name: 'error', kind: 'string' }])

/**
 * Parses an MCP reply `{"service","response","error"?}` (Go's MCPResponse). `response` is the exact JSON
 * text of the field. Throws MalformedEnvelopeError if the frame is not a JSON object, a field has the
 * wrong type, or neither `response` nor a non-empty `error` is present. A missing service reads as "".
 */
export function decodeMcpResponse (frame: Uint8Array): McpResponseEnvelope {
  const v = REPLY.decodeObject(frame, 'MCP response')
  const error = REPLY.string(v, 2)
  const response = REPLY.raw(v, 1)
  if (response === null && error === '') throw new MalformedEnvelopeError('MCP response is missing field "response"')
  const service = REPLY.string(v, 0)
  return error === '' ? { service, response } : { service, response, error }
}
