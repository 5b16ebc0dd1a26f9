/**
 * Python's `json.dumps(json.loads(text), indent=2)` computed on the JSON text itself, so the MCP response
 * artifact reads exactly as AXL's Python A2A server writes it: two-space indent, `", "`/`": "` separators
 * (`","` at line ends), non-ASCII and control characters as lowercase `\uXXXX`, integers kept digit for
 * digit (no JS number rounding), floats in Python `repr` form (`1.0`, `1e+16`, `1e-05`).
 *
 * Known difference: an object with duplicate keys keeps every member (Python keeps the last value).
 */

const SIMPLE_ESCAPES: Record<string, string> = {
  '"': '\\"', '\\': '\\\\', '\n': '\\n', '\r': '\\r', '\t': '\\t', '\b': '\\b', '\f': '\\f'
}

/** Python's `encode_basestring_ascii`: every character outside U+0020..U+007E becomes an escape. */
export function pythonJsonString (s: string): string {
  let out = '"'
  for (let i = 0; i < s.length; i++) {
    const ch = s[i]
    const c = s.charCodeAt(i)
    const simple = SIMPLE_ESCAPES[ch]
    if (simple !== undefined) out += simple
    else if (c >= 0x20 && c <= 0x7e) out += ch
    else out += '\\u' + c.toString(16).padStart(4, '0') // UTF-16 units: surrogate pairs come out as Python writes them
  }
  return out + '"'
}

/** Python's `repr(float(token))` for a JSON number token with a fraction or an exponent. */
export function pythonFloatRepr (token: string): string {
  const x = Number(token)
  if (x === Infinity) return 'Infinity'
  if (x === -Infinity) return '-Infinity'
  if (x === 0) return Object.is(x, -0) ? '-0.0' : '0.0'
  // Shortest round-trip digits, the same as Python's repr: "d.ddde±n".
  const [mantissa, expText] = x.toExponential().split('e')
  const exp = Number(expText)
  const negative = mantissa.startsWith('-')
  const digits = mantissa.replace('-', '').replace('.', '')
  const sign = negative ? '-' : ''
  if (exp < -4 || exp >= 16) {
    const m = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits
    const e = Math.abs(exp).toString().padStart(2, '0')
    return `${sign}${m}e${exp < 0 ? '-' : '+'}${e}`
  }
  let intPart: string
  let frac: string
  if (exp < 0) {
    intPart = '0'
    frac = '0'.repeat(-exp - 1) + digits
  } else if (digits.length > exp + 1) {
    intPart = digits.slice(0, exp + 1)
    frac = digits.slice(exp + 1)
  } else {
    intPart = digits + '0'.repeat(exp + 1 - digits.length)
    frac = '0'
  }
  return `${sign}${intPart}.${frac}`
}

/** A JSON integer token as Python prints the int: the same digits, `-0` as `0`. */
function pythonInt (token: string): string {
  return token === '-0' ? '0' : token
}

class Formatter {
  private i = 0
  constructor (private readonly text: string, private readonly indent: string) {}

  format (): string {
    const out = this.value(0)
    this.ws()
    if (this.i !== this.text.length) throw new SyntaxError(`unexpected data after JSON value at offset ${this.i}`)
    return out
  }

  private ws (): void {
    const t = this.text
    while (this.i < t.length && (t[this.i] === ' ' || t[this.i] === '\n' || t[this.i] === '\r' || t[this.i] === '\t')) this.i++
  }

  private value (level: number): string {
    this.ws()
    const c = this.text[this.i]
    if (c === '{') return this.container(level, '{', '}', true)
    if (c === '[') return this.container(level, '[', ']', false)
    if (c === '"') return pythonJsonString(this.string())
    for (const lit of ['true', 'false', 'null']) {
      if (this.text.startsWith(lit, this.i)) { this.i += lit.length; return lit }
    }
    const m = /^-?(?:0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/.exec(this.text.slice(this.i, this.i + 400))
    if (m === null || m[0] === '' || m[0] === '-') throw new SyntaxError(`unexpected character at offset ${this.i}`)
    this.i += m[0].length
    if (m[0].length === 400) throw new SyntaxError('number too long')
    return m[1] === undefined && m[2] === undefined ? pythonInt(m[0]) : pythonFloatRepr(m[0])
  }

  private container (level: number, open: string, close: string, isObject: boolean): string {
    this.i++ // open
    this.ws()
    if (this.text[this.i] === close) { this.i++; return open + close }
    const pad = '\n' + this.indent.repeat(level + 1)
    const items: string[] = []
    for (;;) {
      this.ws()
      let item = ''
      if (isObject) {
        if (this.text[this.i] !== '"') throw new SyntaxError(`expected a key at offset ${this.i}`)
        item = pythonJsonString(this.string()) + ': '
        this.ws()
        if (this.text[this.i] !== ':') throw new SyntaxError(`expected ':' at offset ${this.i}`)
        this.i++
      }
      items.push(item + this.value(level + 1))
      this.ws()
      const c = this.text[this.i++]
      if (c === ',') continue
      if (c === close) break
      throw new SyntaxError(`expected ',' or '${close}' at offset ${this.i - 1}`)
    }
    return open + pad + items.join(',' + pad) + '\n' + this.indent.repeat(level) + close
  }

  /** Reads a JSON string token and returns its decoded value. */
  private string (): string {
    const start = this.i
    const t = this.text
    this.i++
    while (this.i < t.length && t[this.i] !== '"') this.i += t[this.i] === '\\' ? 2 : 1
    if (this.i >= t.length) throw new SyntaxError('unterminated string')
    this.i++
    return JSON.parse(t.slice(start, this.i)) as string
  }
}

/** `json.dumps(json.loads(text), indent=indent)` as Python writes it; throws SyntaxError on invalid JSON. */
export function pythonJsonDumps (text: string, indent = 2): string {
  return new Formatter(text, ' '.repeat(indent)).format()
}
