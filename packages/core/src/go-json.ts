/**
 * Go `encoding/json` semantics for AXL's JSON envelopes, independent of any one envelope: unmarshalling the
 * top-level members of a frame into a Go struct of string / bool / json.RawMessage fields (case-insensitive
 * keys, last occurrence wins, `null` leaves a field unset, a wrong type fails), and marshalling raw JSON the way
 * `json.Marshal` writes a json.RawMessage (compacted, HTML-escaped). Core's envelope dispatch rule
 * (`classifyFrame`) and the MCP / A2A codecs of the router packages are built on it.
 *
 * Hand-written rather than JSON.parse: the envelopes must be byte-compatible with Go AXL (raw members are kept
 * verbatim, so big integer ids keep every digit; key folding follows Go's, including ſ and the Kelvin sign).
 */
import { MalformedEnvelopeError } from './errors.js'
import { compactJson, decodeJsonString, quoteJsonString, scanJson } from './json-raw.js'

/** A JSON text (e.g. `{"jsonrpc":"2.0","id":1}` or `null`), kept verbatim. */
export type RawJson = string

/** The Go type of a struct field: `string`, `bool` or `json.RawMessage`. */
export type GoFieldKind = 'string' | 'bool' | 'raw'

/** One field of a Go struct: its JSON name (matched case-insensitively, as Go does) and its type. */
export interface GoField { readonly name: string, readonly kind: GoFieldKind }

/** The result of unmarshalling one frame; read the fields with the decoder's `string`, `bool` and `raw`. */
export interface GoStructValue {
  /** The frame the spans point into. */
  readonly frame: Uint8Array
  /** Whether the top-level value is an object (`null`, arrays, strings, … are not). */
  readonly isObject: boolean
  /** The first byte of the top-level value. */
  readonly topByte: number
  /** Per field: the span [start, end) of its value in `frame` (the last non-null occurrence, or the last raw one), or -1. */
  readonly start: Int32Array
  readonly end: Int32Array
  /** Per field: 1 when a value had the wrong JSON type (Go's UnmarshalTypeError). */
  readonly badType: Uint8Array
  /** The first field seen with a wrong type, or -1. */
  readonly typeError: number
}

const utf8Decoder = new TextDecoder('utf-8', { fatal: false, ignoreBOM: true })
const utf8Encoder = new TextEncoder()

/**
 * Go's json foldName for one code point, restricted to what can equal an ASCII field name: ASCII letters are
 * upper-cased; a non-ASCII rune folds to the smallest rune of its unicode.SimpleFold orbit, which is ASCII only
 * for U+017F ſ (→ S) and U+212A Kelvin sign (→ K). Anything else returns -1 (never matches).
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

/** Unmarshals frames into one Go struct shape; build once per shape (module level), use for every frame. */
export class GoStructDecoder {
  private readonly upper: string[]
  private readonly kinds: GoFieldKind[]
  private readonly longest: number

  /** A decoder for a struct with these fields (ASCII JSON names). */
  constructor (readonly fields: readonly GoField[]) {
    this.upper = fields.map(f => f.name.toUpperCase())
    this.kinds = fields.map(f => f.kind)
    this.longest = Math.max(0, ...fields.map(f => f.name.length))
  }

  /** Which field the key at [ks, ke) (quotes included) names, by Go's exact-then-case-folded match; -1 if none. */
  private match (b: Uint8Array, ks: number, ke: number): number {
    let plain = true // fast path: an ASCII key without escapes
    for (let i = ks + 1; i < ke - 1; i++) {
      const c = b[i]
      if (c === 0x5c || c >= 0x80) { plain = false; break }
    }
    const len = ke - ks - 2
    if (plain) {
      for (let f = 0; f < this.upper.length; f++) {
        const name = this.upper[f]
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
    if (len > 6 * this.longest) return -1 // longer than any field name even if every char is a \uXXXX escape
    const key = decodeJsonString(b, ks, ke)
    for (let f = 0; f < this.upper.length; f++) if (foldedEquals(key, this.upper[f])) return f
    return -1
  }

  /** Scans `frame` (throws MalformedEnvelopeError if it is not JSON) and applies Go's struct-field semantics. */
  unmarshal (frame: Uint8Array): GoStructValue {
    const n = this.fields.length
    const start = new Int32Array(n).fill(-1)
    const end = new Int32Array(n).fill(-1)
    const badType = new Uint8Array(n)
    let typeError = -1
    let top: number
    try {
      top = scanJson(frame, (ks, ke, vs, ve) => {
        const f = this.match(frame, ks, ke)
        if (f < 0) return
        const kind = this.kinds[f]
        const c = frame[vs]
        if (kind === 'raw') { start[f] = vs; end[f] = ve; return }
        if (c === 0x6e) return // null: Go leaves the field unchanged
        const ok = kind === 'string' ? c === 0x22 : (c === 0x74 || c === 0x66)
        if (!ok) {
          if (typeError < 0) typeError = f
          badType[f] = 1
          return
        }
        start[f] = vs
        end[f] = ve
      })
    } catch (err) {
      throw new MalformedEnvelopeError(`not JSON: ${(err as Error).message}`, { cause: err })
    }
    const topByte = frame[top]
    return { frame, isObject: topByte === 0x7b, topByte, start, end, badType, typeError }
  }

  /**
   * Go's json.Unmarshal into the struct, as a reply decoder needs it: throws MalformedEnvelopeError naming
   * `what` when the frame is not JSON, not an object, or a field has the wrong type.
   */
  decodeObject (frame: Uint8Array, what: string): GoStructValue {
    let v: GoStructValue
    try {
      v = this.unmarshal(frame)
    } catch (err) {
      throw new MalformedEnvelopeError(`${what} is ${(err as Error).message}`, { cause: err })
    }
    if (!v.isObject) {
      const t = v.topByte
      const kind = t === 0x5b ? 'an array' : t === 0x22 ? 'a string' : t === 0x6e ? 'null' : t === 0x74 || t === 0x66 ? 'a boolean' : 'a number'
      throw new MalformedEnvelopeError(`${what} must be a JSON object, got ${kind}`)
    }
    if (v.typeError >= 0) {
      const f = this.fields[v.typeError]
      throw new MalformedEnvelopeError(`${what} field "${f.name}" must be a ${f.kind === 'string' ? 'string' : 'boolean'}`)
    }
    return v
  }

  /** A string field's value ('' when absent or null, as Go's zero value). */
  string (v: GoStructValue, field: number): string {
    return v.start[field] < 0 ? '' : decodeJsonString(v.frame, v.start[field], v.end[field])
  }

  /** A bool field's value (false when absent or null). */
  bool (v: GoStructValue, field: number): boolean {
    return v.start[field] >= 0 && v.frame[v.start[field]] === 0x74
  }

  /** A raw field's exact JSON text, or null when absent (JSON null gives `'null'`). */
  raw (v: GoStructValue, field: number): RawJson | null {
    return v.start[field] < 0 ? null : utf8Decoder.decode(v.frame.subarray(v.start[field], v.end[field]))
  }
}

/**
 * A request/response argument as the bytes `json.Marshal` writes for a json.RawMessage: a string is JSON text
 * (validated and compacted, HTML-escaped like Go), any other value is JSON.stringify'd first. Throws
 * MalformedEnvelopeError naming `what` on invalid JSON or an unserializable value.
 */
export function rawJsonBytes (value: RawJson | unknown, what: string): Uint8Array {
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

/** Concatenates text (UTF-8) and byte parts into one frame. */
export function concatBytes (parts: ReadonlyArray<string | Uint8Array>): Uint8Array {
  const bytes = parts.map(p => typeof p === 'string' ? utf8Encoder.encode(p) : p)
  let n = 0
  for (const b of bytes) n += b.length
  const out = new Uint8Array(n)
  let off = 0
  for (const b of bytes) { out.set(b, off); off += b.length }
  return out
}

/** `,"<name>":"<value>"` for a non-empty string, '' for an empty or absent one (Go's `omitempty`). */
export function omitEmptyString (name: string, value: string | undefined): string {
  if (value === undefined || value === '') return ''
  if (typeof value !== 'string') throw new MalformedEnvelopeError(`the ${name} of a reply must be a string`)
  return ',' + quoteJsonString(name) + ':' + quoteJsonString(value)
}
