/**
 * AXL's default protocol on the `axl` channel, as Go AXL dispatches it (axl-reference §2.3): a frame is an MCP
 * request envelope, an A2A request envelope, or a raw message for the inbox. Core recognises the two envelope
 * kinds (the dispatch rule) and writes the error replies it answers on its own (no handler, busy, timed out);
 * the codecs that build requests and read and write replies belong to the router packages (`@axl/router-mcp`,
 * `@axl/router-a2a`), which register the handlers (`node.handle('mcp' | 'a2a', …)`).
 */
import { MalformedEnvelopeError } from './errors.js'
import { GoStructDecoder, type RawJson } from './go-json.js'
import { firstNonWhitespace, quoteJsonString } from './json-raw.js'

export type { RawJson } from './go-json.js'

/** An inbound MCP request envelope `{"service","request"}`. `request` is null when the field was absent. */
export interface McpRequestEnvelope { kind: 'mcp', service: string, request: RawJson | null }

/** An inbound A2A request envelope `{"a2a":true,"agent_card"?,"request"}`; `request` null when absent. */
export interface A2aRequestEnvelope { kind: 'a2a', agentCard: boolean, request: RawJson | null }

/** What an inbound frame is, by Go AXL's dispatch rule: MCP, A2A, or a raw message for the inbox. */
export type InboundFrame = McpRequestEnvelope | A2aRequestEnvelope | { kind: 'raw' }

/** The envelope kinds of AXL's default protocol (Go AXL's stream ids). */
export type EnvelopeKind = 'mcp' | 'a2a'

const F_SERVICE = 0
const F_REQUEST = 1
const F_A2A = 2
const F_AGENT_CARD = 3
/** The union of Go AXL's two request structs, as its multiplexer tries them. */
const REQUEST_FIELDS = new GoStructDecoder([
  { name: 'service', kind: 'string' }, { name: 'request', kind: 'raw' }, { name: 'a2a', kind: 'bool' }, { name: 'agent_card', kind: 'bool' }
])
const RAW: InboundFrame = Object.freeze({ kind: 'raw' }) as InboundFrame
const utf8Encoder = new TextEncoder()

/**
 * Go AXL's inbound dispatch (§2.3): MCP iff the frame unmarshals into `{service string, request raw}` with
 * a non-empty service; else A2A iff it unmarshals into `{a2a bool, agent_card bool, request raw}` with
 * a2a true; else raw. Keys match case-insensitively, the last occurrence wins, `null` leaves a field
 * unset. A disabled kind never matches. Never throws.
 */
export function classifyFrame (frame: Uint8Array, enabled: { mcp: boolean, a2a: boolean }): InboundFrame {
  if (!enabled.mcp && !enabled.a2a) return RAW
  try {
    const first = firstNonWhitespace(frame)
    if (first >= frame.length || frame[first] !== 0x7b) return RAW // only objects can match
    const d = REQUEST_FIELDS
    const v = d.unmarshal(frame)
    if (enabled.mcp && v.badType[F_SERVICE] === 0) {
      const service = d.string(v, F_SERVICE)
      if (service !== '') return { kind: 'mcp', service, request: d.raw(v, F_REQUEST) }
    }
    if (enabled.a2a && v.badType[F_A2A] === 0 && v.badType[F_AGENT_CARD] === 0 && d.bool(v, F_A2A)) {
      return { kind: 'a2a', agentCard: d.bool(v, F_AGENT_CARD), request: d.raw(v, F_REQUEST) }
    }
    return RAW
  } catch {
    return RAW // not JSON: a raw message
  }
}

/**
 * The error reply to a request envelope, as Go AXL writes one with a nil response:
 * `{"service":"<svc>","response":null,"error":"<text>"}` for MCP, `{"a2a":true,"response":null,"error":"<text>"}`
 * for A2A. What a node answers when no handler serves the kind, it is busy, or the handler failed.
 */
export function encodeEnvelopeError (req: McpRequestEnvelope | A2aRequestEnvelope, error: string): Uint8Array {
  if (typeof error !== 'string' || error === '') throw new MalformedEnvelopeError('an error reply needs a non-empty error text')
  const head = req.kind === 'mcp' ? '{"service":' + quoteJsonString(req.service) : '{"a2a":true'
  return utf8Encoder.encode(head + ',"response":null,"error":' + quoteJsonString(error) + '}')
}
