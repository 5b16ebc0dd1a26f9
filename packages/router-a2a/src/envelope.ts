/**
 * The A2A envelope codec of AXL's default protocol (axl-reference §2.2), byte-compatible with Go AXL's
 * A2ARequest / A2AResponse: `{"a2a":true,"agent_card"?,"request"}` out, `{"a2a":true,"response","error"?}` back.
 * Core recognises inbound requests (`classifyFrame`) and hands them to the handler registered with
 * `node.handle('a2a', …)`; this module builds requests and reads and writes replies. Raw JSON as in
 * `@axl/router-mcp`'s MCP codec.
 */
import { MalformedEnvelopeError } from '@axl/core'
import { concatBytes, GoStructDecoder, omitEmptyString, rawJsonBytes, type RawJson } from '@axl/core/wire'

/** A decoded A2A reply. `response` is null only when the field was absent (JSON null gives `'null'`). */
export interface A2aResponseEnvelope { response: RawJson | null, error?: string }

/** `{"a2a":true,"request":<json>}`; a string `request` is JSON text, any other value is JSON.stringify'd. */
export function encodeA2aRequest (request: RawJson | unknown): Uint8Array {
  return concatBytes(['{"a2a":true,"request":', rawJsonBytes(request, 'A2A request'), '}'])
}

/** Exactly `{"a2a":true,"agent_card":true,"request":null}` (the agent card query). */
export function encodeA2aAgentCardRequest (): Uint8Array {
  return new TextEncoder().encode('{"a2a":true,"agent_card":true,"request":null}')
}

/** `{"a2a":true,"response":<json|null>}` plus `,"error":"<text>"` when `error` is non-empty. */
export function encodeA2aResponse (response: RawJson | null, error?: string): Uint8Array {
  return concatBytes(['{"a2a":true,"response":', response === null ? 'null' : rawJsonBytes(response, 'A2A response'), omitEmptyString('error', error) + '}'])
}

const REPLY = new GoStructDecoder([{ name: 'a2a', kind: 'bool' }, { name: 'response', kind: 'raw' }, { name: 'error', kind: 'string' }])

/**
 * Parses an A2A reply `{"a2a":true,"response","error"?}` (Go's A2AResponse; `a2a` must be a boolean if present
 * but, like Go, its value is not checked). Throws MalformedEnvelopeError if the frame is not a JSON object, a
 * field has the wrong type, or neither `response` nor a non-empty `error` is present.
 */
export function decodeA2aResponse (frame: Uint8Array): A2aResponseEnvelope {
  const v = REPLY.decodeObject(frame, 'A2A response')
  const error = REPLY.string(v, 2)
  const response = REPLY.raw(v, 1)
  if (response === null && error === '') throw new MalformedEnvelopeError('A2A response is missing field "response"')
  return error === '' ? { response } : { response, error }
}
