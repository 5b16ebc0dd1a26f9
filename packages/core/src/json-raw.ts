/**
 * A small, strict JSON scanner working on bytes, used by the envelope codec to keep embedded JSON
 * byte-exact (big integer ids never go through a JS number).
 *
 * - Validation follows Go's encoding/json scanner (RFC 8259 grammar, whitespace = space, tab, LF, CR,
 *   nothing but whitespace after the top-level value). Like Go, any byte >= 0x20 is accepted inside a
 *   string, including invalid UTF-8.
 * - Nesting is bounded by {@link MAX_JSON_DEPTH} (Go's limit, 10000); deeper input is an error, not a
 *   stack overflow: the scanner is iterative and linear in time.
 * - Every error is a {@link MalformedEnvelopeError} whose message starts with "invalid JSON".
 */
import { MalformedEnvelopeError } from './errors.js'

/** Maximum nesting depth of arrays/objects accepted, equal to Go encoding/json's `maxNestingDepth`. */
export const MAX_JSON_DEPTH = 10000

/**
 * Called once per member of the top-level object, in order (duplicates included). Spans are byte
 * offsets `[start, end)`: the key includes its quotes, the value is the exact JSON text of the value.
 */
export type JsonMemberVisitor = (keyStart: number, keyEnd: number, valueStart: number, valueEnd: number) => void

const QUOTE = 0x22
const BACKSLASH = 0x5c
const COMMA = 0x2c
const COLON = 0x3a
const LBRACE = 0x7b
const RBRACE = 0x7d
const LBRACKET = 0x5b
const RBRACKET = 0x5d
const MINUS = 0x2d
const OBJ = 1
const ARR = 2

const LIT_TRUE = [0x74, 0x72, 0x75, 0x65]
const LIT_FALSE = [0x66, 0x61, 0x6c, 0x73, 0x65]
const LIT_NULL = [0x6e, 0x75, 0x6c, 0x6c]

function isWs (c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09
}

function isDigit (c: number): boolean {
  return c >= 0x30 && c <= 0x39
}

function isHex (c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66)
}

function skipWs (b: Uint8Array, i: number, end: number): number {
  while (i < end && isWs(b[i])) i++
  return i
}

function describe (c: number): string {
  return c >= 0x20 && c < 0x7f ? `'${String.fromCharCode(c)}'` : `byte 0x${c.toString(16).padStart(2, '0')}`
}

function eof (): MalformedEnvelopeError {
  return new MalformedEnvelopeError('invalid JSON: unexpected end of input')
}

function unexpected (b: Uint8Array, i: number, context: string): MalformedEnvelopeError {
  return new MalformedEnvelopeError(`invalid JSON: unexpected ${describe(b[i])} ${context} at offset ${i}`)
}

function scanString (b: Uint8Array, i: number, end: number): number {
  i++ // opening quote
  for (;;) {
    if (i >= end) throw eof()
    const c = b[i]
    if (c === QUOTE) return i + 1
    if (c === BACKSLASH) {
      i++
      if (i >= end) throw eof()
      const e = b[i]
      if (e === 0x75) { // \uXXXX
        for (let k = 1; k <= 4; k++) {
          if (i + k >= end) throw eof()
          if (!isHex(b[i + k])) throw unexpected(b, i + k, 'in \\u escape')
        }
        i += 5
      } else if (e === QUOTE || e === BACKSLASH || e === 0x2f || e === 0x62 || e === 0x66 || e === 0x6e ||
        e === 0x72 || e === 0x74) {
        i++
      } else {
        throw unexpected(b, i, 'in string escape')
      }
      continue
    }
    if (c < 0x20) throw unexpected(b, i, 'in string literal')
    i++
  }
}

function scanLiteral (b: Uint8Array, i: number, end: number, lit: number[]): number {
  for (let k = 0; k < lit.length; k++) {
    if (i + k >= end) throw eof()
    if (b[i + k] !== lit[k]) throw unexpected(b, i + k, 'in literal')
  }
  return i + lit.length
}

function scanDigits (b: Uint8Array, i: number, end: number): number {
  if (i >= end) throw eof()
  if (!isDigit(b[i])) throw unexpected(b, i, 'in number')
  i++
  while (i < end && isDigit(b[i])) i++
  return i
}

function scanNumber (b: Uint8Array, i: number, end: number): number {
  if (b[i] === MINUS) {
    i++
    if (i >= end) throw eof()
  }
  const c = b[i]
  if (c === 0x30) i++
  else if (c >= 0x31 && c <= 0x39) i = scanDigits(b, i, end)
  else throw unexpected(b, i, 'in number')
  if (i < end && b[i] === 0x2e) i = scanDigits(b, i + 1, end)
  if (i < end && (b[i] === 0x65 || b[i] === 0x45)) {
    i++
    if (i < end && (b[i] === 0x2b || b[i] === MINUS)) i++
    i = scanDigits(b, i, end)
  }
  return i
}

/**
 * Validates that `b` holds exactly one JSON text (surrounding whitespace allowed) and returns the offset
 * of the top-level value's first byte; `onMember` sees each member of a top-level object.
 */
export function scanJson (b: Uint8Array, onMember?: JsonMemberVisitor, maxDepth: number = MAX_JSON_DEPTH): number {
  const end = b.length
  let i = skipWs(b, 0, end)
  const top = i
  const stack: number[] = []
  let keyStart = 0
  let keyEnd = 0
  let valueStart = 0
  for (;;) {
    // A value starts at i (whitespace already skipped).
    if (i >= end) throw eof()
    let c = b[i]
    if (c === LBRACE || c === LBRACKET) {
      if (stack.length >= maxDepth) {
        throw new MalformedEnvelopeError(`invalid JSON: nesting deeper than ${maxDepth} levels at offset ${i}`)
      }
      i = skipWs(b, i + 1, end)
      if (i >= end) throw eof()
      if (c === LBRACE) {
        if (b[i] === RBRACE) {
          i++
        } else {
          stack.push(OBJ)
          if (b[i] !== QUOTE) throw unexpected(b, i, 'looking for an object key')
          const ks = i
          i = scanString(b, i, end)
          const ke = i
          i = skipWs(b, i, end)
          if (i >= end) throw eof()
          if (b[i] !== COLON) throw unexpected(b, i, 'after object key')
          i = skipWs(b, i + 1, end)
          if (stack.length === 1) { keyStart = ks; keyEnd = ke; valueStart = i }
          continue
        }
      } else if (b[i] === RBRACKET) {
        i++
      } else {
        stack.push(ARR)
        continue
      }
    } else if (c === QUOTE) {
      i = scanString(b, i, end)
    } else if (c === 0x74) {
      i = scanLiteral(b, i, end, LIT_TRUE)
    } else if (c === 0x66) {
      i = scanLiteral(b, i, end, LIT_FALSE)
    } else if (c === 0x6e) {
      i = scanLiteral(b, i, end, LIT_NULL)
    } else if (c === MINUS || isDigit(c)) {
      i = scanNumber(b, i, end)
    } else {
      throw unexpected(b, i, 'looking for the beginning of a value')
    }
    // A value ended at i: close containers and find the next value.
    for (;;) {
      const depth = stack.length
      if (depth === 0) {
        i = skipWs(b, i, end)
        if (i < end) throw unexpected(b, i, 'after the top-level value')
        return top
      }
      const container = stack[depth - 1]
      if (depth === 1 && container === OBJ && onMember !== undefined) onMember(keyStart, keyEnd, valueStart, i)
      i = skipWs(b, i, end)
      if (i >= end) throw eof()
      c = b[i]
      if (c === COMMA) {
        i = skipWs(b, i + 1, end)
        if (container === OBJ) {
          if (i >= end) throw eof()
          if (b[i] !== QUOTE) throw unexpected(b, i, 'looking for an object key')
          const ks = i
          i = scanString(b, i, end)
          const ke = i
          i = skipWs(b, i, end)
          if (i >= end) throw eof()
          if (b[i] !== COLON) throw unexpected(b, i, 'after object key')
          i = skipWs(b, i + 1, end)
          if (depth === 1) { keyStart = ks; keyEnd = ke; valueStart = i }
        }
        break
      }
      if (c === (container === OBJ ? RBRACE : RBRACKET)) {
        stack.pop()
        i++
        continue
      }
      throw unexpected(b, i, container === OBJ ? 'after object member' : 'after array element')
    }
  }
}

/** Offset of the first non-whitespace byte of `b` (b.length when it is all whitespace). */
export function firstNonWhitespace (b: Uint8Array): number {
  return skipWs(b, 0, b.length)
}

/**
 * Decodes one UTF-8 sequence at `i` the way Go's utf8.DecodeRune does: returns `cp * 8 + size`, or
 * `0xfffd * 8 + 1` for an invalid/truncated sequence (one replacement character per bad byte).
 */
function decodeRune (b: Uint8Array, i: number, end: number): number {
  const c0 = b[i]
  const bad = 0xfffd * 8 + 1
  let need: number
  let lo = 0x80
  let hi = 0xbf
  let cp: number
  if (c0 >= 0xc2 && c0 <= 0xdf) { need = 1; cp = c0 & 0x1f } else if (c0 >= 0xe0 && c0 <= 0xef) {
    need = 2; cp = c0 & 0x0f
    if (c0 === 0xe0) lo = 0xa0
    else if (c0 === 0xed) hi = 0x9f
  } else if (c0 >= 0xf0 && c0 <= 0xf4) {
    need = 3; cp = c0 & 0x07
    if (c0 === 0xf0) lo = 0x90
    else if (c0 === 0xf4) hi = 0x8f
  } else {
    return bad
  }
  if (i + need >= end) return bad
  for (let k = 1; k <= need; k++) {
    const c = b[i + k]
    if (c < lo || c > hi) return bad
    lo = 0x80
    hi = 0xbf
    cp = (cp << 6) | (c & 0x3f)
  }
  return cp * 8 + need + 1
}

function hexVal (c: number): number {
  return c <= 0x39 ? c - 0x30 : (c | 0x20) - 0x57
}

function readU4 (b: Uint8Array, i: number, end: number): number {
  // b[i] === '\\', b[i + 1] === 'u'; returns -1 when there is no \uXXXX at i.
  if (i + 6 > end || b[i] !== BACKSLASH || b[i + 1] !== 0x75) return -1
  let v = 0
  for (let k = 2; k < 6; k++) {
    const c = b[i + k]
    if (!isHex(c)) return -1
    v = (v << 4) | hexVal(c)
  }
  return v
}

/**
 * Decodes the JSON string literal at `[start, end)` (quotes included, already validated) to a JS string
 * with Go's unquote rules: invalid UTF-8 bytes and unpaired surrogate escapes become U+FFFD.
 */
export function decodeJsonString (b: Uint8Array, start: number, end: number): string {
  const stop = end - 1 // closing quote
  let i = start + 1
  let out = ''
  const units: number[] = []
  const flush = (): void => {
    out += String.fromCharCode.apply(null, units)
    units.length = 0
  }
  while (i < stop) {
    if (units.length >= 4096) flush()
    const c = b[i]
    if (c < 0x80) {
      if (c !== BACKSLASH) {
        units.push(c)
        i++
        continue
      }
      const e = b[i + 1]
      switch (e) {
        case 0x62: units.push(0x08); i += 2; continue
        case 0x66: units.push(0x0c); i += 2; continue
        case 0x6e: units.push(0x0a); i += 2; continue
        case 0x72: units.push(0x0d); i += 2; continue
        case 0x74: units.push(0x09); i += 2; continue
        case 0x75: {
          const r = readU4(b, i, stop)
          i += 6
          if (r >= 0xd800 && r <= 0xdfff) {
            const r2 = readU4(b, i, stop)
            if (r < 0xdc00 && r2 >= 0xdc00 && r2 <= 0xdfff) {
              units.push(r, r2)
              i += 6
            } else {
              units.push(0xfffd)
            }
          } else {
            units.push(r)
          }
          continue
        }
        default: units.push(e); i += 2; continue // " \ /
      }
    }
    const d = decodeRune(b, i, stop)
    const cp = Math.floor(d / 8)
    i += d % 8
    if (cp >= 0x10000) {
      const v = cp - 0x10000
      units.push(0xd800 | (v >> 10), 0xdc00 | (v & 0x3ff))
    } else {
      units.push(cp)
    }
  }
  flush()
  return out
}

const HEX = '0123456789abcdef'
// eslint-disable-next-line no-control-regex
const NEEDS_QUOTING = /[\u0000-\u001f"\\<>&\u2028\u2029\ud800-\udfff]/

/**
 * Quotes `s` as a JSON string exactly like Go's json.Marshal (HTML-safe): `<` `>` `&` U+2028 U+2029 and
 * control characters become `\u00XX`-style escapes (`\b \f \n \r \t` short forms), unpaired surrogates
 * become `\ufffd`.
 */
export function quoteJsonString (s: string): string {
  if (!NEEDS_QUOTING.test(s)) return '"' + s + '"'
  let out = '"'
  let start = 0
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    let esc: string
    if (c < 0x80) {
      if (c >= 0x20 && c !== 0x22 && c !== 0x5c && c !== 0x3c && c !== 0x3e && c !== 0x26) continue
      switch (c) {
        case 0x22: esc = '\\"'; break
        case 0x5c: esc = '\\\\'; break
        case 0x08: esc = '\\b'; break
        case 0x0c: esc = '\\f'; break
        case 0x0a: esc = '\\n'; break
        case 0x0d: esc = '\\r'; break
        case 0x09: esc = '\\t'; break
        default: esc = '\\u00' + HEX[c >> 4] + HEX[c & 0xf]
      }
    } else if (c === 0x2028 || c === 0x2029) {
      esc = '\\u202' + HEX[c & 0xf]
    } else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      i++
      continue
    } else if (c >= 0xd800 && c <= 0xdfff) {
      esc = '\\ufffd'
    } else {
      continue
    }
    out += s.slice(start, i) + esc
    start = i + 1
  }
  return out + s.slice(start) + '"'
}

/**
 * Walks validated JSON and, when `dst` is given, writes its compact, HTML-escaped form there from offset
 * `off`. Returns the compact length, or -1 when the compact form equals the input.
 */
function compactPass (src: Uint8Array, dst?: Uint8Array, off = 0): number {
  let n = 0
  let changed = false
  let inString = false
  const end = src.length
  for (let i = 0; i < end; i++) {
    const c = src[i]
    if (!inString) {
      if (isWs(c)) { changed = true; continue }
      if (c === QUOTE) inString = true
      if (dst !== undefined) dst[off + n] = c
      n++
      continue
    }
    if (c === QUOTE) {
      inString = false
    } else if (c === BACKSLASH) {
      if (dst !== undefined) { dst[off + n] = c; dst[off + n + 1] = src[i + 1] }
      n += 2
      i++
      continue
    } else if (c === 0x3c || c === 0x3e || c === 0x26 ||
      (c === 0xe2 && i + 2 < end && src[i + 1] === 0x80 && (src[i + 2] === 0xa8 || src[i + 2] === 0xa9))) {
      changed = true
      if (dst !== undefined) {
        const code = c === 0xe2 ? 0x2028 + (src[i + 2] & 1) : c
        const esc = '\\u' + HEX[(code >> 12) & 0xf] + HEX[(code >> 8) & 0xf] + HEX[(code >> 4) & 0xf] + HEX[code & 0xf]
        for (let k = 0; k < 6; k++) dst[off + n + k] = esc.charCodeAt(k)
      }
      n += 6
      if (c === 0xe2) i += 2
      continue
    }
    if (dst !== undefined) dst[off + n] = c
    n++
  }
  return changed ? n : -1
}

/**
 * Validates `src` as one JSON text and returns Go's `json.Compact` form with json.Marshal's HTML escaping
 * (what Go does to an embedded json.RawMessage). Numbers and escapes are kept verbatim. May return `src`
 * itself when nothing changes. Throws MalformedEnvelopeError on invalid JSON.
 */
export function compactJson (src: Uint8Array): Uint8Array {
  scanJson(src)
  const n = compactPass(src)
  if (n < 0) return src
  const dst = new Uint8Array(n)
  compactPass(src, dst, 0)
  return dst
}
