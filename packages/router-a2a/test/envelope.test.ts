/**
 * The MCP (@axl/router-mcp) and A2A (this package) envelope codecs of AXL's default protocol: byte-compatible
 * with Go AXL's json.Marshal / json.Unmarshal (moved here from core with the codecs; the dispatch rule they must
 * round-trip through, classifyFrame, stays in @axl/core/wire).
 */
import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { MalformedEnvelopeError } from '@axl/core'
import { classifyFrame } from '@axl/core/wire'
import { decodeMcpResponse, encodeMcpRequest, encodeMcpResponse } from '@axl/router-mcp'
import { decodeA2aResponse, encodeA2aAgentCardRequest, encodeA2aRequest, encodeA2aResponse } from '../src/envelope.js'

const enc = new TextEncoder()
const dec = new TextDecoder()
const b = (s: string): Uint8Array => enc.encode(s)
const str = (u: Uint8Array): string => dec.decode(u)

/** What Go's json.Marshal HTML escaping does to the output of JSON.stringify. */
const htmlEscape = (s: string): string =>
  s.replace(/[<>&\u2028\u2029]/g, c => '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0'))

function thrown (fn: () => unknown): Error {
  try { fn() } catch (err) { return err as Error }
  throw new Error('expected a throw')
}

const RPC = '{"jsonrpc":"2.0","method":"tools/list","id":1,"params":{}}'
const MCP_FRAME = '{"service":"weather","request":{"jsonrpc":"2.0","method":"tools/list","id":1,"params":{}}}'
const CARD_FRAME = '{"a2a":true,"agent_card":true,"request":null}'
const BIG = '{"jsonrpc":"2.0","id":123456789012345678901234567890,"x":1.50E+10,"y":-0.0,"z":1e-400}'

describe('encoding (byte-compatible with Go json.Marshal)', () => {
  it('MCP request: the 90-byte frame of §2.1', () => {
    const out = encodeMcpRequest('weather', RPC)
    expect(str(out)).toBe(MCP_FRAME)
    expect(out.length).toBe(90)
  })

  it('compacts the embedded JSON like json.Compact, strings untouched', () => {
    const pretty = '\r\n { "jsonrpc" :\t"2.0",\n  "method": "tools/list" , "id" : 1,\n "params" : { } }  \n'
    expect(str(encodeMcpRequest('weather', pretty))).toBe(MCP_FRAME)
    expect(str(encodeA2aRequest('[ "a b" , "c\\n d" ]'))).toBe('{"a2a":true,"request":["a b","c\\n d"]}')
  })

  it('A2A: request and agent-card (45 bytes) envelopes', () => {
    expect(str(encodeA2aRequest('{"jsonrpc":"2.0","method":"SendMessage","id":"1"}')))
      .toBe('{"a2a":true,"request":{"jsonrpc":"2.0","method":"SendMessage","id":"1"}}')
    const card = encodeA2aAgentCardRequest()
    expect(str(card)).toBe(CARD_FRAME)
    expect(card.length).toBe(45)
  })

  it('reply shapes with and without error (error is omitempty)', () => {
    expect(str(encodeMcpResponse('weather', '{"jsonrpc":"2.0","id":1,"result":{}}')))
      .toBe('{"service":"weather","response":{"jsonrpc":"2.0","id":1,"result":{}}}')
    expect(str(encodeMcpResponse('weather', null, 'router error: Service not found: weather')))
      .toBe('{"service":"weather","response":null,"error":"router error: Service not found: weather"}')
    expect(str(encodeMcpResponse('weather', 'null', ''))).toBe('{"service":"weather","response":null}')
    expect(str(encodeA2aResponse('{"id":"1"}'))).toBe('{"a2a":true,"response":{"id":"1"}}')
    expect(str(encodeA2aResponse(null, 'failed to contact a2a server: boom')))
      .toBe('{"a2a":true,"response":null,"error":"failed to contact a2a server: boom"}')
  })

  it('non-string values are JSON.stringify-ed; strings are JSON text', () => {
    expect(str(encodeMcpRequest('s', { method: 'x', id: 2 }))).toBe('{"service":"s","request":{"method":"x","id":2}}')
    expect(str(encodeMcpRequest('s', null))).toBe('{"service":"s","request":null}')
    expect(str(encodeA2aRequest([1, 'a<b']))).toBe('{"a2a":true,"request":[1,"a\\u003cb"]}')
    expect(str(encodeMcpRequest('s', '"just a string"'))).toBe('{"service":"s","request":"just a string"}')
  })

  it('preserves big integers and number spellings byte for byte', () => {
    expect(str(encodeMcpRequest('s', BIG))).toBe(`{"service":"s","request":${BIG}}`)
  })

  it('HTML-escapes < > & U+2028 U+2029 in the service and the embedded JSON, like Go', () => {
    const out = str(encodeMcpRequest('a<b>&c\u2028d\u2029', '{"q":"<script>&\u2028\u2029","k<":1}'))
    expect(out).toBe('{"service":"a\\u003cb\\u003e\\u0026c\\u2028d\\u2029","request":' +
      '{"q":"\\u003cscript\\u003e\\u0026\\u2028\\u2029","k\\u003c":1}}')
    expect(str(encodeMcpResponse('s', null, '<&>'))).toBe('{"service":"s","response":null,"error":"\\u003c\\u0026\\u003e"}')
    // Existing escapes are kept verbatim (Go does not re-escape them).
    expect(str(encodeA2aRequest('"\\u003c\\/\\u00e9"'))).toBe('{"a2a":true,"request":"\\u003c\\/\\u00e9"}')
  })

  it('rejects invalid JSON text and unserializable values with MalformedEnvelopeError', () => {
    const e1 = thrown(() => encodeMcpRequest('s', '{"a":1,}'))
    expect(e1).toBeInstanceOf(MalformedEnvelopeError)
    expect(e1.message).toBe("MCP request is not valid JSON: invalid JSON: unexpected '}' looking for an object key at offset 7")
    expect(thrown(() => encodeA2aRequest('')).message).toBe('A2A request is not valid JSON: invalid JSON: unexpected end of input')
    expect(thrown(() => encodeA2aRequest('{} {}')).message)
      .toBe("A2A request is not valid JSON: invalid JSON: unexpected '{' after the top-level value at offset 3")
    expect(thrown(() => encodeMcpResponse('s', 'NaN')).message)
      .toBe("MCP response is not valid JSON: invalid JSON: unexpected 'N' looking for the beginning of a value at offset 0")
    expect(thrown(() => encodeMcpRequest('s', undefined)).message).toBe('MCP request cannot be serialized to JSON (got undefined)')
    expect(thrown(() => encodeMcpRequest('s', 1n))).toBeInstanceOf(MalformedEnvelopeError)
    const circular: Record<string, unknown> = {}
    circular.self = circular
    expect(thrown(() => encodeA2aRequest(circular)).message).toMatch(/^A2A request cannot be serialized to JSON: /)
    expect(thrown(() => encodeMcpRequest('', '{}')).message).toBe('MCP service name must be a non-empty string')
  })
})

describe('decoding replies', () => {
  it('MCP reply: raw response is the exact substring of the frame', () => {
    expect(decodeMcpResponse(b('{"service":"weather","response":{"jsonrpc":"2.0","id":1,"result":{}}}')))
      .toEqual({ service: 'weather', response: '{"jsonrpc":"2.0","id":1,"result":{}}' })
    expect(decodeMcpResponse(b(`{"service":"s","response":  ${BIG.replace(',', ' , ')}  }`)))
      .toEqual({ service: 's', response: BIG.replace(',', ' , ') })
    expect(decodeMcpResponse(b('{"service":"weather","response":null,"error":"router error: Service not found: weather"}')))
      .toEqual({ service: 'weather', response: 'null', error: 'router error: Service not found: weather' })
    expect(decodeMcpResponse(b('{"service":"s","response":1,"error":""}'))).toEqual({ service: 's', response: '1' })
    expect(decodeMcpResponse(b('{"service":"s","error":"boom"}'))).toEqual({ service: 's', response: null, error: 'boom' })
    expect(decodeMcpResponse(b('{"Response":[],"ERROR":null}'))).toEqual({ service: '', response: '[]' })
    expect(decodeMcpResponse(b('{"service":"s","response":"\\u003c","error":"a\\u003cb"}')))
      .toEqual({ service: 's', response: '"\\u003c"', error: 'a<b' })
  })

  it('A2A reply', () => {
    expect(decodeA2aResponse(b('{"a2a":true,"response":{"id":"1","result":{}}}'))).toEqual({ response: '{"id":"1","result":{}}' })
    expect(decodeA2aResponse(b('{"a2a":true,"response":null,"error":"failed to contact a2a server: x"}')))
      .toEqual({ response: 'null', error: 'failed to contact a2a server: x' })
    expect(decodeA2aResponse(b(`{"a2a":true,"response":${BIG}}`))).toEqual({ response: BIG })
  })

  it('malformed replies throw MalformedEnvelopeError with clear messages', () => {
    const cases: Array<[string, string]> = [
      ['', 'MCP response is not JSON: invalid JSON: unexpected end of input'],
      ['not json', "MCP response is not JSON: invalid JSON: unexpected 'o' in literal at offset 1"],
      ['{"service":"s","response":1,}', "MCP response is not JSON: invalid JSON: unexpected '}' looking for an object key at offset 28"],
      ['{"service":"s","response":1} x', "MCP response is not JSON: invalid JSON: unexpected 'x' after the top-level value at offset 29"],
      ['[1]', 'MCP response must be a JSON object, got an array'],
      ['null', 'MCP response must be a JSON object, got null'],
      ['"x"', 'MCP response must be a JSON object, got a string'],
      ['{"service":1,"response":null}', 'MCP response field "service" must be a string'],
      ['{"service":"s","response":null,"error":5}', 'MCP response field "error" must be a string'],
      ['{"service":"s"}', 'MCP response is missing field "response"'],
      ['{"service":"s","error":""}', 'MCP response is missing field "response"']
    ]
    for (const [frame, message] of cases) {
      const err = thrown(() => decodeMcpResponse(b(frame)))
      expect(err, frame).toBeInstanceOf(MalformedEnvelopeError)
      expect(err.message, frame).toBe(message)
    }
    expect(thrown(() => decodeA2aResponse(b('{"a2a":"yes","response":1}'))).message)
      .toBe('A2A response field "a2a" must be a boolean')
    expect(thrown(() => decodeA2aResponse(b('{"a2a":true}'))).message).toBe('A2A response is missing field "response"')
    expect(thrown(() => decodeA2aResponse(b('{"a2a":true,"error":[]}'))).message).toBe('A2A response field "error" must be a string')
    expect(thrown(() => decodeA2aResponse(b('5'))).message).toBe('A2A response must be a JSON object, got a number')
  })
})
/** A JSON value as text with insignificant whitespace (JSON.stringify's indents; core's tests vary it token by token). */
const INDENTS = [0, 1, 2, '\t', '\r\n ']
const spaced = (v: unknown, seed: number): string => JSON.stringify(v, null, INDENTS[seed % INDENTS.length] as string | number)

describe('codec properties (fast-check)', () => {
  const serviceArb = fc.string({
    unit: fc.oneof(fc.constantFrom('<', '>', '&', '\u2028', '\u2029', '"', '\\', '\n', '\u0000', '\ud800', '\udc00', 'ſ'),
      fc.string({ unit: 'binary', minLength: 1, maxLength: 1 })),
    minLength: 1,
    maxLength: 12
  })
  const wellFormed = (s: string): string => (s as unknown as { toWellFormed: () => string }).toWellFormed()

  it('encode → classify round-trips random services and JSON values', () => {
    fc.assert(fc.property(serviceArb, fc.jsonValue(), fc.boolean(), fc.nat(), (service, v, asText, seed) => {
      // A string argument is JSON text, so a JSON string value must be passed already encoded.
      const request = asText || typeof v === 'string' ? spaced(v, seed) : v
      const r = classifyFrame(encodeMcpRequest(service, request), { mcp: true, a2a: true })
      expect(r).toEqual({ kind: 'mcp', service: wellFormed(service), request: htmlEscape(JSON.stringify(v)) })
      if (r.kind === 'mcp' && r.request !== null) expect(JSON.parse(r.request)).toEqual(JSON.parse(JSON.stringify(v)))
    }), { numRuns: 2000 })
    fc.assert(fc.property(fc.jsonValue(), (v) => {
      const r = classifyFrame(encodeA2aRequest(typeof v === 'string' ? JSON.stringify(v) : v), { mcp: true, a2a: true })
      expect(r).toEqual({ kind: 'a2a', agentCard: false, request: htmlEscape(JSON.stringify(v)) })
    }), { numRuns: 1000 })
  })

  it('encode → decode round-trips replies', () => {
    fc.assert(fc.property(serviceArb, fc.jsonValue(), fc.string(), (service, v, error) => {
      const text = JSON.stringify(v)
      expect(decodeMcpResponse(encodeMcpResponse(service, text, error))).toEqual(
        error === '' ? { service: wellFormed(service), response: htmlEscape(text) } : { service: wellFormed(service), response: htmlEscape(text), error })
      expect(decodeA2aResponse(encodeA2aResponse(null, error))).toEqual(error === '' ? { response: 'null' } : { response: 'null', error })
    }), { numRuns: 1000 })
  })

})
