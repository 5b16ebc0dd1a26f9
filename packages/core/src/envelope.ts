/**
 * The JSON envelopes AXL nodes exchange on port 7000 (axl-reference §2.2, §2.3, §5.1), byte-compatible
 * with Go AXL's `json.Marshal` output and `json.Unmarshal` dispatch rules.
 *
 * Embedded JSON (`request`, `response`) is handled as raw JSON text ({@link RawJson}): it is validated and
 * compacted like Go's json.RawMessage, never re-serialized, so big integer ids keep every digit.
 *
 * Known gaps against Go (all on malformed input only):
 * - Raw JSON is returned as a JS string; invalid UTF-8 bytes inside JSON strings are replaced with U+FFFD
 *   (Go keeps the bytes). Valid UTF-8 is preserved byte for byte.
 * - When encoding, a JS string holding an unpaired surrogate is written as U+FFFD.
 */
import { MalformedEnvelopeError } from './errors.js'
import { compactJson, decodeJsonString, firstNonWhitespace, quoteJsonString, scanJson } from './json-raw.js'

/** A JSON text (e.g. `{"jsonrpc":"2.0","id":1}` or `null`), kept verbatim. */
export type RawJson = string

/** An inbound MCP request envelope `{"service","request"}`. `request` is null when the field was absent. */
export interface McpRequestEnvelope { kind: 'mcp', service: string, request: RawJson | null }

/** An inbound A2A request envelope `{"a2a":true,"agent_card"?,"request"}`; `request` null when absent. */
export interface A2aRequestEnvelope { kind: 'a2a', agentCard: boolean, request: RawJson | null }

/** What an inbound frame is, by Go AXL's dispatch rule: MCP, A2A, or a raw message for the inbox. */
export type InboundFrame = McpRequestEnvelope | A2aRequestEnvelope | { kind: 'raw' }

/** A decoded MCP reply. `response` is null only when the field was absent (JSON null gives `'null'`). */
export interface McpResponseEnvelope { service: string, response: RawJson | null, error?: string }

/** A decoded A2A reply. `response` is null only when the field was absent (JSON null gives `'null'`). */
export interface A2aResponseEnvelope { response: RawJson | null, error?: string }

const utf8Encoder = new TextEncoder()
const utf8Decoder = new TextDecoder('utf-8', { fatal: false, ignoreBOM: true })
const NULL_BYTES = utf8Encoder.encode('null')

/** Turns a request/response argument into compact, HTML-escaped JSON bytes (Go json.RawMessage marshal). */
function rawJsonBytes (value: unknown, what: string): Uint8Array {
  let text: string
  if (typeof value === 'string') {
    text = value
  } else {
    let s: string | undefined
    try {
      s = JSON.stringify(value)
    } catch (err) {
      throw new MalformedEnvelopeError(`${what} cannot be serialized to JSON: ${(err as Error).message}`, { cause: err })
    }
    if (s === undefined) throw new MalformedEnvelopeError(`${what} cannot be serialized to JSON (got ${typeof value})`)
    text = s
  }
  try {
    return compactJson(utf8Encoder.encode(text))
  } catch (err) {
    throw new MalformedEnvelopeError(`${what} is not valid JSON: ${(err as Error).message}`, { cause: err })
  }
}

function concat (parts: Array<string | Uint8Array>): Uint8Array {
  const bytes = parts.map(p => typeof p === 'string' ? utf8Encoder.encode(p) : p)
  let n = 0
  for (const b of bytes) n += b.length
  const out = new Uint8Array(n)
  let off = 0
  for (const b of bytes) { out.set(b, off); off += b.length }
  return out
}

/**
 * `{"service":"<svc>","request":<json>}`. A string `request` is JSON text (validated and compacted);
 * any other value is JSON.stringify'd. Throws MalformedEnvelopeError on invalid JSON or an empty service.
 */
export function encodeMcpRequest (service: string, request: RawJson | unknown): Uint8Array {
  if (typeof service !== 'string' || service === '') {
    throw new MalformedEnvelopeError('MCP service name must be a non-empty string')
  }
  return concat(['{"service":' + quoteJsonString(service) + ',"request":', rawJsonBytes(request, 'MCP request'), '}'])
}

/** `{"a2a":true,"request":<json>}`; `request` as in {@link encodeMcpRequest}. */
export function encodeA2aRequest (request: RawJson | unknown): Uint8Array {
  return concat(['{"a2a":true,"request":', rawJsonBytes(request, 'A2A request'), '}'])
}

/** Exactly `{"a2a":true,"agent_card":true,"request":null}` (the agent card query). */
export function encodeA2aAgentCardRequest (): Uint8Array {
  return utf8Encoder.encode('{"a2a":true,"agent_card":true,"request":null}')
}

function responseBytes (response: RawJson | null, what: string): Uint8Array {
  return response === null ? NULL_BYTES : rawJsonBytes(response, what)
}

function errorSuffix (error: string | undefined): string {
  if (error === undefined || error === '') return '}'
  if (typeof error !== 'string') throw new MalformedEnvelopeError('the error of a reply must be a string')
  return ',"error":' + quoteJsonString(error) + '}'
}

/** `{"service":"<svc>","response":<json|null>}` plus `,"error":"<text>"` when `error` is non-empty. */
export function encodeMcpResponse (service: string, response: RawJson | null, error?: string): Uint8Array {
  if (typeof service !== 'string') throw new MalformedEnvelopeError('MCP service name must be a string')
  return concat(['{"service":' + quoteJsonString(service) + ',"response":', responseBytes(response, 'MCP response'),
    errorSuffix(error)])
}

/** `{"a2a":true,"response":<json|null>}` plus `,"error":"<text>"` when `error` is non-empty. */
export function encodeA2aResponse (response: RawJson | null, error?: string): Uint8Array {
  return concat(['{"a2a":true,"response":', responseBytes(response, 'A2A response'), errorSuffix(error)])
}

// ---- decoding: Go encoding/json struct semantics over the top-level members --------------------------

const F_SERVICE = 0
const F_REQUEST = 1
const F_A2A = 2
const F_AGENT_CARD = 3
const F_RESPONSE = 4
const F_ERROR = 5
const FIELD_NAMES = ['SERVICE', 'REQUEST', 'A2A', 'AGENT_CARD', 'RESPONSE', 'ERROR']
const JSON_NAMES = ['service', 'request', 'a2a', 'agent_card', 'response', 'error']
const KIND_STRING = 1
const KIND_BOOL = 2
const KIND_RAW = 3
const FIELD_KINDS = [KIND_STRING, KIND_RAW, KIND_BOOL, KIND_BOOL, KIND_RAW, KIND_STRING]

/**
 * Go's json foldName for one code point, restricted to what can equal an ASCII field name: ASCII letters
 * are upper-cased; a non-ASCII rune folds to the smallest rune of its unicode.SimpleFold orbit, which is
 * ASCII only for U+017F ſ (→ S) and U+212A Kelvin sign (→ K). Anything else returns -1 (never matches).
 */
function foldToAscii (cp: number): number {
  if (cp < 0x80) return cp >= 0x61 && cp <= 0x7a ? cp - 0x20 : cp
  if (cp === 0x17f) return 0x53
  if (cp === 0x212a) return 0x4b
  return -1
}

function foldedEquals (key: string, upperName: string): boolean {
  let j = 0
  for (const ch of key) {
    if (j >= upperName.length) return false
    if (foldToAscii(ch.codePointAt(0) as number) !== upperName.charCodeAt(j)) return false
    j++
  }
  return j === upperName.length
}

/** Which of `wanted` fields the key at [ks, ke) names, by Go's exact-then-case-folded match; -1 if none. */
function matchField (b: Uint8Array, ks: number, ke: number, wanted: readonly number[]): number {
  // Fast path: plain ASCII key without escapes.
  let plain = true
  for (let i = ks + 1; i < ke - 1; i++) {
    const c = b[i]
    if (c === 0x5c || c >= 0x80) { plain = false; break }
  }
  const len = ke - ks - 2
  if (plain) {
    for (const f of wanted) {
      const name = FIELD_NAMES[f]
      if (name.length !== len) continue
      let ok = true
      for (let k = 0; k < len; k++) {
        let c = b[ks + 1 + k]
        if (c >= 0x61 && c <= 0x7a) c -= 0x20
        if (c !== name.charCodeAt(k)) { ok = false; break }
      }
      if (ok) return f
    }
    return -1
  }
  if (len > 60) return -1 // longer than any field name (10 chars) even if every char is a \uXXXX escape
  const key = decodeJsonString(b, ks, ke)
  for (const f of wanted) if (foldedEquals(key, FIELD_NAMES[f])) return f
  return -1
}

/** Result of unmarshalling the top-level object into a Go struct made of `wanted` fields. */
interface Unmarshalled {
  /** Whether the top-level value is an object (false for arrays/strings/...; null counts as not-object). */
  isObject: boolean
  topByte: number
  /** Value span per field ([start, end) of the last non-null (or raw) occurrence), or -1. */
  start: number[]
  end: number[]
  /** Field whose value had the wrong JSON type (first one seen), or -1. */
  typeError: number
  /** Fields that had a type error. */
  badFields: Set<number>
}

/** Scans `b` (throws MalformedEnvelopeError if not JSON) and applies Go's struct-field semantics. */
function unmarshal (b: Uint8Array, wanted: readonly number[]): Unmarshalled {
  const r: Unmarshalled = {
    isObject: false,
    topByte: -1,
    start: [-1, -1, -1, -1, -1, -1],
    end: [-1, -1, -1, -1, -1, -1],
    typeError: -1,
    badFields: new Set()
  }
  const top = scanJson(b, (ks, ke, vs, ve) => {
    const f = matchField(b, ks, ke, wanted)
    if (f < 0) return
    const kind = FIELD_KINDS[f]
    const c = b[vs]
    if (kind === KIND_RAW) { r.start[f] = vs; r.end[f] = ve; return }
    if (c === 0x6e) return // null: Go leaves the field unchanged
    const ok = kind === KIND_STRING ? c === 0x22 : (c === 0x74 || c === 0x66)
    if (!ok) {
      if (r.typeError < 0) r.typeError = f
      r.badFields.add(f)
      return
    }
    r.start[f] = vs
    r.end[f] = ve
  })
  r.topByte = b[top]
  r.isObject = r.topByte === 0x7b
  return r
}

function stringField (b: Uint8Array, r: Unmarshalled, f: number): string {
  return r.start[f] < 0 ? '' : decodeJsonString(b, r.start[f], r.end[f])
}

function boolField (b: Uint8Array, r: Unmarshalled, f: number): boolean {
  return r.start[f] >= 0 && b[r.start[f]] === 0x74
}

function rawField (b: Uint8Array, r: Unmarshalled, f: number): RawJson | null {
  return r.start[f] < 0 ? null : utf8Decoder.decode(b.subarray(r.start[f], r.end[f]))
}

const CLASSIFY_FIELDS = [F_SERVICE, F_REQUEST, F_A2A, F_AGENT_CARD]
const RAW: InboundFrame = Object.freeze({ kind: 'raw' }) as InboundFrame

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
    const r = unmarshal(frame, CLASSIFY_FIELDS)
    if (enabled.mcp && !r.badFields.has(F_SERVICE)) {
      const service = stringField(frame, r, F_SERVICE)
      if (service !== '') return { kind: 'mcp', service, request: rawField(frame, r, F_REQUEST) }
    }
    if (enabled.a2a && !r.badFields.has(F_A2A) && !r.badFields.has(F_AGENT_CARD) && boolField(frame, r, F_A2A)) {
      return { kind: 'a2a', agentCard: boolField(frame, r, F_AGENT_CARD), request: rawField(frame, r, F_REQUEST) }
    }
    return RAW
  } catch {
    return RAW
  }
}

function decodeReply (frame: Uint8Array, what: string, fields: readonly number[]): Unmarshalled {
  let r: Unmarshalled
  try {
    r = unmarshal(frame, fields)
  } catch (err) {
    throw new MalformedEnvelopeError(`${what} is not JSON: ${(err as Error).message}`, { cause: err })
  }
  if (!r.isObject) {
    const t = r.topByte
    const kind = t === 0x5b ? 'an array' : t === 0x22 ? 'a string' : t === 0x6e ? 'null' : t === 0x74 || t === 0x66 ? 'a boolean' : 'a number'
    throw new MalformedEnvelopeError(`${what} must be a JSON object, got ${kind}`)
  }
  if (r.typeError >= 0) {
    const f = r.typeError
    throw new MalformedEnvelopeError(`${what} field "${JSON_NAMES[f]}" must be a ${FIELD_KINDS[f] === KIND_STRING ? 'string' : 'boolean'}`)
  }
  return r
}

function replyResult (frame: Uint8Array, r: Unmarshalled, what: string): { response: RawJson | null, error?: string } {
  const error = stringField(frame, r, F_ERROR)
  const response = rawField(frame, r, F_RESPONSE)
  if (response === null && error === '') throw new MalformedEnvelopeError(`${what} is missing field "response"`)
  return error === '' ? { response } : { response, error }
}

/**
 * Parses an MCP reply `{"service","response","error"?}` (Go's MCPResponse). `response` is the exact JSON
 * text of the field. Throws MalformedEnvelopeError if the frame is not a JSON object, a field has the
 * wrong type, or neither `response` nor a non-empty `error` is present. A missing service reads as "".
 */
export function decodeMcpResponse (frame: Uint8Array): McpResponseEnvelope {
  const what = 'MCP response'
  const r = decodeReply(frame, what, [F_SERVICE, F_RESPONSE, F_ERROR])
  const service = stringField(frame, r, F_SERVICE)
  return { service, ...replyResult(frame, r, what) }
}

/**
 * Parses an A2A reply `{"a2a":true,"response","error"?}` (Go's A2AResponse; `a2a` must be a boolean if
 * present but, like Go, its value is not checked). Errors as in {@link decodeMcpResponse}.
 */
export function decodeA2aResponse (frame: Uint8Array): A2aResponseEnvelope {
  const what = 'A2A response'
  const r = decodeReply(frame, what, [F_A2A, F_RESPONSE, F_ERROR])
  return replyResult(frame, r, what)
}
