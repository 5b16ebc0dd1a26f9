/**
 * Our subset HJSON reader (src/hjson.ts) against the reference implementation, the `hjson` npm package (which
 * ships no test corpus in its tarball, so the corpus is built here): hand-picked documents, documents written
 * by Hjson.stringify under every option combination, JSON restyled with comments / missing or trailing commas /
 * unquoted keys / a braceless root, and random mutations of all of those. Whenever ours accepts a document,
 * hjson must accept it and give the same value; whenever ours refuses, it must be with HjsonSyntaxError.
 */
import { createRequire } from 'node:module'
import { describe, expect, it } from 'vitest'
import { HjsonSyntaxError } from '../src/errors.js'
import { parseHjson, type HjsonValue } from '../src/hjson.js'
import { prng } from '@axl/transport-ygg/testing'

interface HjsonModule {
  parse: (text: string) => unknown
  stringify: (value: unknown, options?: Record<string, unknown>) => string
}
const Hjson = createRequire(import.meta.url)('hjson') as HjsonModule

/** Deep equality that tells -0 from 0 and own keys from prototype keys. */
function same (a: unknown, b: unknown): boolean {
  if (typeof a !== 'object' || a === null || typeof b !== 'object' || b === null) return Object.is(a, b)
  if (Array.isArray(a) !== Array.isArray(b)) return false
  const ka = Object.keys(a)
  const kb = Object.keys(b)
  if (ka.length !== kb.length || ka.some((k, i) => k !== kb[i])) return false
  return ka.every(k => same((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]))
}

type Outcome = { ok: true, value: unknown } | { ok: false, error: unknown }
function run (f: () => unknown): Outcome {
  try { return { ok: true, value: f() } } catch (error) { return { ok: false, error } }
}

/** Checks one document; returns 'agree', 'both-refuse' or 'ours-refuses' (hjson accepts more than we do). */
function check (text: string): 'agree' | 'both-refuse' | 'ours-refuses' {
  const ours = run(() => parseHjson(text))
  // We drop a leading byte-order mark (editors on Windows write one); hjson keeps it as part of the first key.
  const ref = run(() => Hjson.parse(text.startsWith('\ufeff') ? text.slice(1) : text))
  if (!ours.ok) {
    if (!(ours.error instanceof HjsonSyntaxError)) throw new Error(`not an HjsonSyntaxError for ${JSON.stringify(text)}: ${String(ours.error)}`)
    return ref.ok ? 'ours-refuses' : 'both-refuse'
  }
  if (!ref.ok) throw new Error(`we accept what hjson refuses: ${JSON.stringify(text)} → ${JSON.stringify(ours.value)}; hjson: ${String(ref.error)}`)
  if (!same(ours.value, ref.value)) throw new Error(`different values for ${JSON.stringify(text)}: ours ${JSON.stringify(ours.value)}, hjson ${JSON.stringify(ref.value)}`)
  return 'agree'
}

const HAND = [
  // plain JSON
  '{}', '[]', '{"a": 1, "b": [true, false, null], "c": {"d": "e\\n\\u00e9\\"\\\\"}}', '[1, -2.5, 3e10, -0, 0.1e-2]',
  // comments
  '# c\n{\n  # c\n  a: 1 # c\n  // c\n  b: 2 // c\n  /* c\n  c */ c: 3 /* c */\n}\n# c', 'a: /* c */ 1', '{} // c',
  // quoteless strings, and what stays a keyword or number
  'a: hello world', 'a: x # not a comment', 'a: 1 2', 'a: true story', 'a: null,', 'a: 1,', 'a: 01', 'a: -', 'a: 1.',
  'a: 1e400', 'a: -0', 'a: .5', 'a: 1e', 'a: 0x10', 'a: Infinity', 'a: +1', 'a: tcp://[::1]:9001', 'a: C:\\path\\x',
  'a: x,\nb: y', 'a: "q" # c', "a: 'q\\'x'", '"a b": 1', "'a': 1", 'a\n: 1', 'a#b: 1', 'a/b: 1',
  // multi-line strings
  "a: '''\n  x\n  y\n  '''", "a: '''x'''", "a: '''\n    x\n      y\n  '''", "  a: '''\n    x\n    '''", "a:\n  '''\n  x\n  y\n  '''",
  "a: ''' x \n y'''", "a: '''\r\n  x\r\n  '''", "a: '''\n\n  x\n\n  '''", "a: '''\n  x\n    '''", "a: '''\n  x'''", "a: ''''''",
  "[\n  '''\n  a\n  '''\n  b\n]", "a: '''x''' # c", "a: '''\n \tx\n'''",
  // separators and braces
  'a: 1, b: 2', '{a: 1, b: 2,}', '[1, 2,]', '[\n1\n2\n]', 'a: 1\r\nb: 2\r\n', '{\n  a: [\n    1\n    2,\n  ]\n  b: {\n    c: d\n  },\n}',
  '[\n  {a: 1}\n  {b: 2}\n]', '{"a": 1, "a": 2}', '5', '"s"', 'true', '[true, false]',
  // whitespace HJSON does and does not skip
  'a:\t1', 'a: \u00a0x', 'a:\u00a01', '\u00a0a: 1', 'a: 1\u00a0', 'a: true\u00a0', '\ufeffa: 1', 'a: 1\u000b', 'a:\u000c1',
  // Yggdrasil's -genconf style
  `{
  # Your private key. DO NOT share this with anyone!
  PrivateKey: 5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c5ced6a47a39da869b5446155e40b2d93f1e3f0167be26732bae7a3ef9d8e3a3fd3

  # List of connection strings for outbound peer connections.
  Peers: []

  Listen: [
    tls://[::]:0
  ]
  AdminListen: none
  MulticastInterfaces: [
    {
      Regex: .*
      Beacon: true
      Listen: true
      Port: 0
      Priority: 0
      Password: ""
    }
  ]
  IfName: auto
  IfMTU: 65535
  NodeInfoPrivacy: false
  NodeInfo: {}
}`,
  // refused by ours (hjson may accept some)
  '', '# only', 'a:', 'a: //x', 'a: 1 /* x', 'a: {b: c}', 'a: [x, y]', '["a" "b"]', 'a: "x" y', 'a: "\\x"', '{a: 1', 'a: 1\n}',
  '[1,,2]', '{,}', 'a: ,', 'a b: 1', "a: '''x", 'a: "x\ny"', '{} x', '/* x'
]

function randomValue (r: () => number, depth: number): HjsonValue {
  const pick = r()
  if (depth > 3 || pick < 0.45) {
    const s = r()
    if (s < 0.15) return Math.floor((r() - 0.5) * 1e6) / (r() < 0.5 ? 1 : 1000)
    if (s < 0.2) return [true, false, null, 0, -1, 1e21, 5e-7][Math.floor(r() * 7)]
    return randomString(r)
  }
  if (pick < 0.7) return Array.from({ length: Math.floor(r() * 4) }, () => randomValue(r, depth + 1))
  const o: Record<string, HjsonValue> = {}
  const n = Math.floor(r() * 5)
  for (let i = 0; i < n; i++) o[randomKey(r)] = randomValue(r, depth + 1)
  return o
}

const PIECES = ['a', 'b', 'Z', '0', '9', ' ', '  ', '\t', '#', '//', '/*', '*/', '"', "'", "'''", '\\', ',', ':', '{', '}', '[', ']',
  '\n', '\r\n', 'true', 'null', '-', '1', '.', 'e', 'é', '\u00a0', 'tcp://h:1', 'x y']
function randomString (r: () => number): string {
  let s = ''
  const n = Math.floor(r() * 6)
  for (let i = 0; i < n; i++) s += PIECES[Math.floor(r() * PIECES.length)]
  return s
}
function randomKey (r: () => number): string {
  const k = randomString(r)
  return k === '__proto__' ? 'proto' : k // hjson assigns keys with [] (a __proto__ key sets the prototype); ours defines own properties
}

/** JSON of `v` restyled as hand-written HJSON: comments, dropped or trailing commas, unquoted keys, no root braces. */
function restyle (v: HjsonValue, r: () => number): string {
  const lines = JSON.stringify(v, null, 2).split('\n')
  const out: string[] = []
  for (let i = 0; i < lines.length; i++) {
    let line = lines[i]
    const key = /^(\s*)"([A-Za-z_][\w-]*)":/.exec(line)
    if (key !== null && r() < 0.5) line = `${key[1]}${key[2]}:${line.slice(key[0].length)}`
    if (line.endsWith(',') && r() < 0.4) line = line.slice(0, -1)
    else if (!line.endsWith(',') && /[^[{]$/.test(line) && /^\s*[}\]]/.test(lines[i + 1] ?? '') && r() < 0.3) line += ','
    const c = r()
    if (c < 0.15) line += ' # note'
    else if (c < 0.25) line += ' // note'
    else if (c < 0.3) line += ' /* note */'
    if (r() < 0.1) out.push('  # a comment line')
    if (r() < 0.05) out.push('/* a\n   block */')
    out.push(line)
  }
  let text = out.join('\n')
  if (typeof v === 'object' && v !== null && !Array.isArray(v) && lines.length > 2 && r() < 0.3 && lines[0] === '{' && lines[lines.length - 1] === '}') {
    const inner = out.slice(1, -1)
    if (!inner.some(l => /^\s*[}\]]/.test(l) === false && l.startsWith('}'))) text = inner.join('\n')
  }
  return text
}

/** A few random edits (insert, delete, replace) from a punctuation-heavy alphabet. */
function mutate (text: string, r: () => number): string {
  let s = text
  const edits = 1 + Math.floor(r() * 3)
  for (let e = 0; e < edits; e++) {
    const at = Math.floor(r() * (s.length + 1))
    const piece = PIECES[Math.floor(r() * PIECES.length)]
    const op = r()
    if (op < 0.4) s = s.slice(0, at) + piece + s.slice(at)
    else if (op < 0.7) s = s.slice(0, at) + s.slice(at + 1 + Math.floor(r() * 3))
    else s = s.slice(0, at) + piece + s.slice(at + piece.length)
  }
  return s
}

describe('parseHjson against the hjson package', () => {
  it('hand-picked documents: same value whenever we accept, HjsonSyntaxError otherwise', () => {
    const tally = { agree: 0, 'both-refuse': 0, 'ours-refuses': 0 }
    for (const d of HAND) tally[check(d)]++
    expect(tally.agree).toBeGreaterThan(60)
    // What hjson accepts and we refuse, on purpose: an empty document ({} in hjson), an empty value ("a:"), an
    // unterminated /* at the end, a non-object root that is a whole line of quoteless text, and values that
    // sit on one line without a comma.
    expect(tally['ours-refuses']).toBeLessThanOrEqual(16)
  })

  it('Hjson.stringify output of random values, under every emitter option', () => {
    const r = prng(5)
    let n = 0
    for (let t = 0; t < 400; t++) {
      const v = randomValue(r, 0)
      for (const quotes of ['min', 'keys', 'strings', 'all']) {
        for (const multiline of ['std', 'no-tabs', 'off']) {
          const opts = { quotes, multiline, separator: r() < 0.5, bracesSameLine: r() < 0.5, emitRootBraces: r() < 0.5, space: r() < 0.5 ? 2 : '\t' }
          const text = Hjson.stringify(v, opts)
          const outcome = check(text)
          if (outcome === 'agree') {
            n++
            expect(same(parseHjson(text), Hjson.parse(text))).toBe(true)
          }
        }
      }
    }
    expect(n).toBeGreaterThan(4000) // nearly all of the 4800 are accepted
  })

  it('JSON restyled with comments, optional commas, unquoted keys and a braceless root', () => {
    const r = prng(6)
    let agreed = 0
    for (let t = 0; t < 1500; t++) {
      const v = randomValue(r, 0)
      const text = restyle(v, r)
      if (check(text) === 'agree') {
        agreed++
        expect(same(parseHjson(text), v)).toBe(true)
      }
    }
    expect(agreed).toBeGreaterThan(1000)
  })

  it('random mutations of all of the above: never a different value, never an untyped error', () => {
    const r = prng(7)
    const seeds = [...HAND]
    for (let t = 0; t < 300; t++) {
      const v = randomValue(r, 0)
      seeds.push(restyle(v, r), Hjson.stringify(v, { quotes: 'min', emitRootBraces: r() < 0.5 }))
    }
    const tally = { agree: 0, 'both-refuse': 0, 'ours-refuses': 0 }
    for (let t = 0; t < 6000; t++) tally[check(mutate(seeds[Math.floor(r() * seeds.length)], r))]++
    expect(tally.agree).toBeGreaterThan(1000)
  })
})
