import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { classifyFrame, encodeEnvelopeError } from '../src/envelope.js'
import { GoStructDecoder } from '../src/go-json.js'
import type { InboundFrame } from '../src/envelope.js'
import { MAX_JSON_DEPTH, compactJson, decodeJsonString, quoteJsonString, scanJson } from '../src/json-raw.js'
import { MalformedEnvelopeError } from '../src/errors.js'

const enc = new TextEncoder()
const dec = new TextDecoder()
const b = (s: string): Uint8Array => enc.encode(s)
const str = (u: Uint8Array): string => dec.decode(u)
const BOTH = { mcp: true, a2a: true }
const classify = (s: string | Uint8Array, enabled = BOTH): InboundFrame =>
  classifyFrame(typeof s === 'string' ? b(s) : s, enabled)

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

describe('quoting (byte-compatible with Go json.Marshal)', () => {
  it('quotes strings exactly like Go (control chars, DEL, non-ASCII, unpaired surrogates)', () => {
    expect(quoteJsonString('\b\f\n\r\t\u0001\u001f"\\/\u007f')).toBe('"\\b\\f\\n\\r\\t\\u0001\\u001f\\"\\\\/\u007f"')
    expect(quoteJsonString('é😀')).toBe('"é😀"')
    expect(quoteJsonString('a\ud800b\udc00')).toBe('"a\\ufffdb\\ufffd"')
    expect(quoteJsonString('plain')).toBe('"plain"')
  })

})

describe('classifyFrame (Go AXL dispatch, §2.3)', () => {
  it('routes the AXL example frames', () => {
    expect(classify(MCP_FRAME)).toEqual({ kind: 'mcp', service: 'weather', request: RPC })
    expect(classify(CARD_FRAME)).toEqual({ kind: 'a2a', agentCard: true, request: 'null' })
    expect(classify('{"a2a":true,"request":{"id":"1"}}')).toEqual({ kind: 'a2a', agentCard: false, request: '{"id":"1"}' })
  })

  it('matches keys case-insensitively like Go', () => {
    expect(classify('{"Service":"x"}')).toEqual({ kind: 'mcp', service: 'x', request: null })
    expect(classify('{"SERVICE":"x","REQUEST":[1]}')).toEqual({ kind: 'mcp', service: 'x', request: '[1]' })
    expect(classify('{"A2A":true}')).toEqual({ kind: 'a2a', agentCard: false, request: null })
    expect(classify('{"A2a":true,"Agent_Card":true,"Request":{}}')).toEqual({ kind: 'a2a', agentCard: true, request: '{}' })
    expect(classify('{"\\u0053ervice":"x"}')).toMatchObject({ kind: 'mcp', service: 'x' })
    expect(classify('{"a2\\u0061":true}')).toMatchObject({ kind: 'a2a' })
    // Go's foldName folds a rune to the smallest of its SimpleFold orbit: ſ→S and Kelvin K→K, but not ı/İ.
    expect(classify('{"ſervice":"x"}')).toMatchObject({ kind: 'mcp' })
    expect(classify('{"\\u017fervice":"x"}')).toMatchObject({ kind: 'mcp' })
    expect(classify('{"servıce":"x"}')).toEqual({ kind: 'raw' })
    expect(classify('{"servİce":"x"}')).toEqual({ kind: 'raw' })
    expect(classify('{"reqUeſt":5,"service":"x"}')).toMatchObject({ kind: 'mcp', request: '5' })
    expect(classify('{"sérvice":"x"}')).toEqual({ kind: 'raw' })
    expect(classify('{"services":"x","agentcard":true,"a2a ":true}')).toEqual({ kind: 'raw' })
  })

  it('a non-string or empty service is not MCP (but may still be A2A)', () => {
    expect(classify('{"service":1}')).toEqual({ kind: 'raw' })
    expect(classify('{"service":{"a":1}}')).toEqual({ kind: 'raw' })
    expect(classify('{"service":true,"request":{}}')).toEqual({ kind: 'raw' })
    expect(classify('{"service":""}')).toEqual({ kind: 'raw' })
    expect(classify('{"service":null}')).toEqual({ kind: 'raw' })
    expect(classify('{"service":1,"a2a":true}')).toEqual({ kind: 'a2a', agentCard: false, request: null })
    expect(classify('{"service":"","a2a":true}')).toMatchObject({ kind: 'a2a' })
    expect(classify('{"service":"x","a2a":true}')).toMatchObject({ kind: 'mcp', service: 'x' })
    expect(classify('{"service":"x","a2a":"oops"}')).toMatchObject({ kind: 'mcp', service: 'x' })
  })

  it('A2A needs a2a === true and boolean a2a/agent_card', () => {
    expect(classify('{"a2a":false,"request":{}}')).toEqual({ kind: 'raw' })
    expect(classify('{"a2a":"true"}')).toEqual({ kind: 'raw' })
    expect(classify('{"a2a":1}')).toEqual({ kind: 'raw' })
    expect(classify('{"a2a":true,"agent_card":"yes"}')).toEqual({ kind: 'raw' })
    expect(classify('{"a2a":true,"agent_card":null}')).toEqual({ kind: 'a2a', agentCard: false, request: null })
    expect(classify('{"agent_card":true}')).toEqual({ kind: 'raw' })
  })

  it('duplicate keys follow Go: last occurrence wins, null leaves the field, any type error fails', () => {
    expect(classify('{"service":"a","Service":"b"}')).toMatchObject({ kind: 'mcp', service: 'b' })
    expect(classify('{"service":"a","SERVICE":null}')).toMatchObject({ kind: 'mcp', service: 'a' })
    expect(classify('{"service":"a","service":""}')).toEqual({ kind: 'raw' })
    expect(classify('{"service":"a","service":5}')).toEqual({ kind: 'raw' })
    expect(classify('{"service":5,"service":"a"}')).toEqual({ kind: 'raw' })
    expect(classify('{"service":"s","request":1,"Request":2}')).toMatchObject({ request: '2' })
    expect(classify('{"service":"s","request":1,"request":null}')).toMatchObject({ request: 'null' })
    expect(classify('{"a2a":true,"a2a":false}')).toEqual({ kind: 'raw' })
    expect(classify('{"a2a":true,"A2A":null}')).toMatchObject({ kind: 'a2a' })
  })

  it('disabled kinds never match', () => {
    expect(classify(MCP_FRAME, { mcp: false, a2a: true })).toEqual({ kind: 'raw' })
    expect(classify(CARD_FRAME, { mcp: true, a2a: false })).toEqual({ kind: 'raw' })
    expect(classify(MCP_FRAME, { mcp: false, a2a: false })).toEqual({ kind: 'raw' })
    expect(classify('{"service":"x","a2a":true}', { mcp: false, a2a: true })).toMatchObject({ kind: 'a2a' })
  })

  it('everything that is not a JSON object with a discriminator is raw', () => {
    for (const s of ['', 'hello', '{', '}', '[{"service":"x"}]', 'null', '"service"', '42', '{}',
      '{"service":"x"} x', '{"service":"x"}{}', '{"service":"x",}', "{'service':'x'}", '{"service":"x"',
      '\ufeff{"service":"x"}', '{"service":"x","request":NaN}', '{"service":"x","request":01}',
      '{"service":"x\u0001"}', '{"service":"x","request":[1,]}', '{"a2a":true,"request":tru}',
      '{"service" "x"}', '{"service":"x" "request":1}', '\u00a0{"service":"x"}']) {
      expect(classify(s), JSON.stringify(s)).toEqual({ kind: 'raw' })
    }
  })

  it('accepts JSON whitespace around and inside, keeping the raw request verbatim', () => {
    expect(classify(' \t\r\n{ "service" : "s" , "request" : { "a" : [ 1 , 2 ] } }\n ')).toEqual(
      { kind: 'mcp', service: 's', request: '{ "a" : [ 1 , 2 ] }' })
  })

  it('preserves big integer ids byte for byte', () => {
    expect(classify(`{"service":"s","request":${BIG}}`)).toEqual({ kind: 'mcp', service: 's', request: BIG })
    expect(classify(`{"a2a":true,"request":${BIG}}`)).toMatchObject({ request: BIG })
  })

  it('decodes the service string like Go (escapes, surrogates, invalid UTF-8)', () => {
    expect(classify('{"service":"a\\u00e9\\n\\/\\"\\\\"}')).toMatchObject({ service: 'aé\n/"\\' })
    expect(classify('{"service":"\\ud83d\\ude00"}')).toMatchObject({ service: '😀' })
    expect(classify('{"service":"\\ud83d"}')).toMatchObject({ service: '\ufffd' })
    expect(classify('{"service":"\\ud83dx"}')).toMatchObject({ service: '\ufffdx' })
    expect(classify('{"service":"\\ude00\\ud83d\\ude00"}')).toMatchObject({ service: '\ufffd😀' })
    expect(classify('{"service":"\\ud83d\\u0041"}')).toMatchObject({ service: '\ufffdA' })
    const invalid = Uint8Array.from([...b('{"service":"'), 0xff, 0xe2, 0x82, 0x41, 0xed, 0xa0, 0x80, 0xf0, 0x9f, 0x98, 0x80, ...b('"}')])
    // Go: one U+FFFD per invalid byte (utf8.DecodeRune width 1); the valid 4-byte emoji is kept.
    expect(classify(invalid)).toMatchObject({ kind: 'mcp', service: '\ufffd\ufffd\ufffdA\ufffd\ufffd\ufffd😀' })
  })

  it('nesting: Go accepts 10000 levels and rejects 10001 (→ raw); deep input does not overflow the stack', () => {
    const nested = (n: number): string => '['.repeat(n) + ']'.repeat(n)
    expect(MAX_JSON_DEPTH).toBe(10000)
    expect(classify(`{"service":"s","request":${nested(9999)}}`)).toMatchObject({ kind: 'mcp' })
    expect(classify(`{"service":"s","request":${nested(10000)}}`)).toEqual({ kind: 'raw' })
    expect(classify(`{"service":"s","request":${'{"a":'.repeat(1_000_000)}`)).toEqual({ kind: 'raw' })
  })

  it('handles a large frame in linear time', () => {
    const big = `{"request":[${'{"k":"vvvvvvvvvv","n":12345},'.repeat(200_000)}0],"service":"s"}`
    const t0 = performance.now()
    expect(classify(big)).toMatchObject({ kind: 'mcp', service: 's' })
    expect(performance.now() - t0).toBeLessThan(2000)
  })
})

describe('error replies and the Go struct decoder', () => {
  it('encodeEnvelopeError writes Go AXL\'s nil-response reply of the request\'s kind', () => {
    expect(str(encodeEnvelopeError({ kind: 'mcp', service: 'we<ather', request: null }, 'no "MCP" service')))
      .toBe('{"service":"we\\u003cather","response":null,"error":"no \\"MCP\\" service"}')
    expect(str(encodeEnvelopeError({ kind: 'a2a', agentCard: true, request: null }, 'busy')))
      .toBe('{"a2a":true,"response":null,"error":"busy"}')
    expect(thrown(() => encodeEnvelopeError({ kind: 'a2a', agentCard: false, request: null }, ''))).toBeInstanceOf(MalformedEnvelopeError)
  })

  it('GoStructDecoder: Go field semantics for any struct shape, with clear errors', () => {
    const d = new GoStructDecoder([{ name: 'name', kind: 'string' }, { name: 'ok', kind: 'bool' }, { name: 'body', kind: 'raw' }])
    const v = d.decodeObject(b('{"NAME":"x","Ok":true,"body": [1, 2] ,"name":null,"other":5}'), 'thing')
    expect([d.string(v, 0), d.bool(v, 1), d.raw(v, 2)]).toEqual(['x', true, '[1, 2]'])
    const empty = d.decodeObject(b('{}'), 'thing')
    expect([d.string(empty, 0), d.bool(empty, 1), d.raw(empty, 2)]).toEqual(['', false, null])
    expect(thrown(() => d.decodeObject(b('{"ok":"yes"}'), 'thing')).message).toBe('thing field "ok" must be a boolean')
    expect(thrown(() => d.decodeObject(b('[]'), 'thing')).message).toBe('thing must be a JSON object, got an array')
    expect(thrown(() => d.decodeObject(b('{'), 'thing')).message).toBe('thing is not JSON: invalid JSON: unexpected end of input')
  })
})

describe('json-raw scanner', () => {
  it('accepts valid JSON and rejects invalid JSON like JSON.parse', () => {
    const valid = ['0', '-0', '1.5e10', '-1E-2', '1e+2', '"\\u00e9\\b\\f\\n\\r\\t\\/"', 'true', 'false', 'null',
      '[]', '{}', ' [ 1 , { "a" : [ ] } ] ', '{"":""}', '"\u0080\u{10ffff}"']
    const invalid = ['', ' ', '01', '1.', '.5', '-', '1e', '1e+', '+1', 'tru', 'nul', 'True', '"\u0001"', '"\\x"',
      '"\\u12g4"', '"abc', '[1,]', '[,1]', '{"a"}', '{"a":}', '{a:1}', '{"a":1,}', '1 2', '[1 2]', 'NaN',
      'Infinity', "'a'", '\u00a0 1', '\ufeff1', '[', ']', '{"a":1]', '[1}', '"\\uD83D\\u"']
    for (const s of valid) {
      expect(() => JSON.parse(s), s).not.toThrow()
      expect(() => scanJson(b(s)), s).not.toThrow()
    }
    for (const s of invalid) {
      expect(() => JSON.parse(s), s).toThrow()
      expect(() => scanJson(b(s)), s).toThrow(MalformedEnvelopeError)
    }
  })

  it('reports top-level members with exact spans', () => {
    const text = ' { "a" : 1 , "b":{"c":[2]} ,"a":"x" } '
    const bytes = b(text)
    const seen: string[] = []
    scanJson(bytes, (ks, ke, vs, ve) => seen.push(`${text.slice(ks, ke)}=${text.slice(vs, ve)}`))
    expect(seen).toEqual(['"a"=1', '"b"={"c":[2]}', '"a"="x"'])
  })

  it('rejects nesting beyond the limit with a clear message', () => {
    expect(() => scanJson(b('['.repeat(10000) + ']'.repeat(10000)))).not.toThrow()
    expect(thrown(() => scanJson(b('['.repeat(10001) + ']'.repeat(10001)))).message)
      .toBe('invalid JSON: nesting deeper than 10000 levels at offset 10000')
    expect(thrown(() => scanJson(b('{"a":{"b":[1]}}'), undefined, 2)).message)
      .toBe('invalid JSON: nesting deeper than 2 levels at offset 10')
  })

  it('decodeJsonString matches JSON.parse on valid UTF-8', () => {
    const s = '"a\\"\\\\\\/\\b\\f\\n\\r\\t\\u0000\\u00e9\\ud83d\\ude00é😀<>"'
    expect(decodeJsonString(b(s), 0, b(s).length)).toBe(JSON.parse(s))
  })

  it('compactJson returns the input itself when already compact', () => {
    const input = b('{"a":[1,"b c"]}')
    expect(compactJson(input)).toBe(input)
    expect(str(compactJson(b(' {"a" : "<"} ')))).toBe('{"a":"\\u003c"}')
  })
})

// ---- property tests ----------------------------------------------------------------------------------

/** Tiny deterministic PRNG for whitespace choices. */
function prng (seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** Renders a JSON value with random insignificant whitespace between tokens. */
function renderWithWs (v: unknown, rnd: () => number): string {
  const WS = ['', '', ' ', '\n', '\t', '\r\n  ']
  const ws = (): string => WS[Math.floor(rnd() * WS.length)]
  if (Array.isArray(v)) return '[' + ws() + v.map(x => ws() + renderWithWs(x, rnd) + ws()).join(',') + ws() + ']'
  if (v !== null && typeof v === 'object') {
    return '{' + ws() + Object.entries(v).map(([k, x]) => ws() + JSON.stringify(k) + ws() + ':' + ws() + renderWithWs(x, rnd) + ws()).join(',') + '}'
  }
  return JSON.stringify(v)
}

// Keys paired with the Go struct field they fold to (independent oracle for the case-folding rule).
const KEY_POOL: Array<[string, string | null]> = [
  ['service', 'service'], ['Service', 'service'], ['SERVICE', 'service'], ['sErViCe', 'service'], ['ſervice', 'service'],
  ['servİce', null], ['servıce', null], ['\\u0073ervice', 'service'],
  ['request', 'request'], ['Request', 'request'], ['REQUEST', 'request'], ['requeſt', 'request'], ['reque\\u017ft', 'request'],
  ['a2a', 'a2a'], ['A2A', 'a2a'], ['A2a', 'a2a'], ['\\u0061\\u0032\\u0061', 'a2a'],
  ['agent_card', 'agent_card'], ['Agent_Card', 'agent_card'], ['AGENT_CARD', 'agent_card'], ['agent_\\u0063ard', 'agent_card'],
  ['services', null], ['servic', null], ['a2a ', null], ['agentcard', null], ['agent-card', null], ['x', null], ['', null],
  ['sérvice', null], ['response', null], ['a2a\\u0000', null]
]
const VALUE_POOL = ['"x"', '"weather"', '""', 'null', 'true', 'false', '0', '12345678901234567890', '{"a":[1,2]}',
  '[]', '"\\u0000"', '"a\\"b"', '-1.5e3', '"<&>"']

/** Go's semantics computed with JSON.parse on each value: the reference model for classifyFrame. */
function model (members: Array<[number, number]>, enabled: { mcp: boolean, a2a: boolean }): InboundFrame {
  let service = ''
  let serviceBad = false
  let request: string | null = null
  let a2a = false
  let card = false
  let a2aBad = false
  for (const [ki, vi] of members) {
    const field = KEY_POOL[ki][1]
    const text = VALUE_POOL[vi]
    const v: unknown = JSON.parse(text)
    if (field === 'request') request = text
    else if (field === 'service') {
      if (typeof v === 'string') service = v
      else if (v !== null) serviceBad = true
    } else if (field === 'a2a' || field === 'agent_card') {
      if (typeof v === 'boolean') { if (field === 'a2a') a2a = v; else card = v } else if (v !== null) a2aBad = true
    }
  }
  if (enabled.mcp && !serviceBad && service !== '') return { kind: 'mcp', service, request }
  if (enabled.a2a && !a2aBad && a2a) return { kind: 'a2a', agentCard: card, request }
  return { kind: 'raw' }
}

describe('envelope properties (fast-check)', () => {
  const enabledArb = fc.record({ mcp: fc.boolean(), a2a: fc.boolean() })

  it('classifyFrame never throws on random bytes', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), enabledArb, (bytes, enabled) => {
      expect(classifyFrame(bytes, enabled).kind).toBe('raw')
    }), { numRuns: 2000 })
    const pieces = fc.constantFrom(...['{', '}', '[', ']', '"', ':', ',', '\\', 'service', 'a2a', 'true', 'null', '1', ' ', '"x"', 'u00', '\u00e9'].map(s => b(s)))
    fc.assert(fc.property(fc.array(fc.oneof(pieces, fc.uint8Array({ maxLength: 3 })), { maxLength: 40 }), enabledArb, (parts, enabled) => {
      const bytes = Uint8Array.from([0x7b, ...parts.flatMap(p => [...p])])
      expect(['raw', 'mcp', 'a2a']).toContain(classifyFrame(bytes, enabled).kind)
    }), { numRuns: 2000 })
  })

  it('classifyFrame on random JSON values never throws and agrees with JSON.parse', () => {
    fc.assert(fc.property(fc.jsonValue(), enabledArb, (v, enabled) => {
      const r = classifyFrame(b(JSON.stringify(v)), enabled)
      const isObj = v !== null && typeof v === 'object' && !Array.isArray(v)
      if (!isObj) expect(r.kind).toBe('raw')
      if (r.kind === 'mcp') expect(r.service).not.toBe('')
    }), { numRuns: 1000 })
  })

  it('classifyFrame agrees with a reference model of Go unmarshal on envelope-like objects', () => {
    const membersArb = fc.array(fc.tuple(fc.nat({ max: KEY_POOL.length - 1 }), fc.nat({ max: VALUE_POOL.length - 1 })), { maxLength: 6 })
    fc.assert(fc.property(membersArb, enabledArb, fc.boolean(), (members, enabled, spaced) => {
      const sp = spaced ? ' ' : ''
      const text = '{' + sp + members.map(([k, v]) => `"${KEY_POOL[k][0]}"${sp}:${sp}${VALUE_POOL[v]}`).join(`${sp},${sp}`) + sp + '}'
      expect(classify(text, enabled)).toEqual(model(members, enabled))
    }), { numRuns: 3000 })
  })

  it('compactJson(x) equals JSON.stringify(JSON.parse(x)) (HTML-escaped) for any whitespace layout', () => {
    fc.assert(fc.property(fc.jsonValue(), fc.nat(), (v, seed) => {
      const text = renderWithWs(v, prng(seed))
      expect(str(compactJson(b(text)))).toBe(htmlEscape(JSON.stringify(JSON.parse(text))))
    }), { numRuns: 2000 })
  })

  it('scanJson accepts exactly what JSON.parse accepts on mutated JSON', () => {
    const mutation = fc.tuple(fc.nat(), fc.constantFrom('', '{', '}', '[', ']', '"', ':', ',', '\\', ' ', '0', '-', '.', 'e', 'x', '\u0001', 'u'), fc.boolean())
    fc.assert(fc.property(fc.jsonValue(), fc.array(mutation, { maxLength: 3 }), (v, muts) => {
      let text = JSON.stringify(v)
      for (const [pos, ch, del] of muts) {
        const p = pos % (text.length + 1)
        text = text.slice(0, p) + ch + text.slice(del ? p + 1 : p)
      }
      let parseOk = true
      try { JSON.parse(text) } catch { parseOk = false }
      let scanOk = true
      try { scanJson(b(text)) } catch (err) {
        expect(err).toBeInstanceOf(MalformedEnvelopeError)
        scanOk = false
      }
      expect(scanOk, text).toBe(parseOk)
    }), { numRuns: 3000 })
  })
})
