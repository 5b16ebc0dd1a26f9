/**
 * A lenient JSON reader for node-config.json. Yggdrasil reads its half of the file as HJSON, so configs
 * written by `yggdrasil -genconf` (unquoted keys, `#` comments, no commas, quoteless strings) must load.
 *
 * Accepted: plain JSON; comments `# …`, `// …`, `/* … *\/`; trailing commas; newlines instead of commas;
 * unquoted keys; single-quoted strings; quoteless string values (to the end of the line, trimmed — as in
 * HJSON a comment after a quoteless string is part of the string); `'''` multi-line strings; a root object
 * without its braces. Not accepted: anything JSON5 adds beyond that (hex numbers, `+1`, `Infinity`, `NaN`).
 *
 * test/hjson-corpus.test.ts checks it against the `hjson` package: whatever this accepts, hjson accepts with
 * the same value. It refuses (HjsonSyntaxError) some things hjson takes: an empty document, an empty value
 * (`a:`), an unterminated `/*` at the end, values on one line without a comma, and a root that is not an
 * object but a whole line of quoteless text. It drops a leading byte-order mark, which hjson keeps in the
 * first key.
 */
import { HjsonSyntaxError } from './errors.js'

/** A parsed value. */
export type HjsonValue = null | boolean | number | string | HjsonValue[] | { [key: string]: HjsonValue }

const NUMBER = /^-?(?:0|[1-9]\d*)(?:\.\d*)?(?:[eE][+-]?\d+)?/
const PUNCT = new Set(['{', '}', '[', ']', ',', ':'])

/** HJSON's whitespace: every character up to and including the space (not Unicode spaces such as U+00A0). */
function isWs (code: number): boolean {
  return code <= 0x20
}

/** Parse lenient JSON/HJSON text; throws HjsonSyntaxError with the line and column of the problem. */
export function parseHjson (text: string): HjsonValue {
  return new Parser(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text).parseRoot()
}

class Parser {
  private i = 0
  constructor (private readonly s: string) {}

  parseRoot (): HjsonValue {
    this.skip()
    if (this.i >= this.s.length) throw this.error('empty document: expected a JSON object')
    const c = this.s[this.i]
    let value: HjsonValue
    if (c === '{' || c === '[') value = this.value()
    else if (this.looksLikeBracelessRoot()) value = this.members(undefined)
    else value = this.value()
    this.skip()
    if (this.i < this.s.length) throw this.error(`unexpected ${this.describe()} after the end of the document`)
    return value
  }

  /** A root object without braces starts with `key:`. */
  private looksLikeBracelessRoot (): boolean {
    const save = this.i
    try {
      this.key()
      this.skipWs()
      return this.s[this.i] === ':'
    } catch {
      return false
    } finally { this.i = save }
  }

  private value (): HjsonValue {
    this.skip()
    if (this.i >= this.s.length) throw this.error('unexpected end of input: expected a value')
    const c = this.s[this.i]
    if (c === '{') { this.i++; return this.members('}') }
    if (c === '[') { this.i++; return this.elements() }
    if (c === '"') return this.quoted('"')
    if (c === "'") return this.s.startsWith("'''", this.i) ? this.multiline() : this.quoted("'")
    if (PUNCT.has(c)) throw this.error(`unexpected ${this.describe()}: expected a value`)
    return this.scalar()
  }

  /** Members until `close` ('}'), or until the end of input for a braceless root. */
  private members (close: '}' | undefined): { [key: string]: HjsonValue } {
    const obj: { [key: string]: HjsonValue } = {}
    for (;;) {
      this.skip()
      if (this.i >= this.s.length) {
        if (close === undefined) return obj
        throw this.error('unexpected end of input: expected "}"')
      }
      if (this.s[this.i] === close) { this.i++; return obj }
      const key = this.key()
      this.skipWs() // HJSON allows whitespace, not comments, between a key and its colon
      if (this.s[this.i] !== ':') throw this.error(`expected ":" after key ${JSON.stringify(key)}, got ${this.describe()}`)
      this.i++
      const v = this.value()
      Object.defineProperty(obj, key, { value: v, enumerable: true, writable: true, configurable: true })
      this.separator(close ?? '')
    }
  }

  private elements (): HjsonValue[] {
    const arr: HjsonValue[] = []
    for (;;) {
      this.skip()
      if (this.i >= this.s.length) throw this.error('unexpected end of input: expected "]"')
      if (this.s[this.i] === ']') { this.i++; return arr }
      arr.push(this.value())
      this.separator(']')
    }
  }

  /** After a member or element: a comma, a newline, or the closing bracket. */
  private separator (close: string): void {
    const start = this.i
    this.skipInline()
    const c = this.s[this.i]
    if (c === ',') { this.i++; return }
    if (this.i >= this.s.length || c === close || c === '\n' || c === '\r') return
    if (this.s.slice(start, this.i).includes('\n')) return
    throw this.error(`expected "," or a newline, got ${this.describe()}`)
  }

  private key (): string {
    const c = this.s[this.i]
    if (c === '"' || c === "'") return this.quoted(c)
    const start = this.i
    while (this.i < this.s.length) {
      const ch = this.s[this.i]
      if (PUNCT.has(ch) || isWs(ch.charCodeAt(0))) break
      this.i++
    }
    if (this.i === start) throw this.error(`expected a key, got ${this.describe()}`)
    return this.s.slice(start, this.i)
  }

  private quoted (q: '"' | "'"): string {
    const start = this.i
    this.i++
    let out = ''
    for (;;) {
      if (this.i >= this.s.length) { this.i = start; throw this.error('unterminated string') }
      const c = this.s[this.i]
      if (c === q) { this.i++; return out }
      if (c === '\n' || c === '\r') throw this.error('newline inside a quoted string (use \\n or a \'\'\' string)')
      if (c === '\\') {
        const e = this.s[this.i + 1]
        const map: Record<string, string> = { '"': '"', "'": "'", '\\': '\\', '/': '/', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t' }
        if (e === 'u') {
          const hex = this.s.slice(this.i + 2, this.i + 6)
          if (!/^[0-9a-fA-F]{4}$/.test(hex)) throw this.error('invalid \\u escape')
          out += String.fromCharCode(parseInt(hex, 16))
          this.i += 6
          continue
        }
        if (e === undefined || map[e] === undefined) throw this.error(`invalid escape "\\${e ?? ''}"`)
        out += map[e]
        this.i += 2
        continue
      }
      out += c
      this.i++
    }
  }

  /**
   * A `'''` string, as HJSON defines it: the indent is the column of the opening quotes; whitespace after
   * them up to a newline is skipped (and the newline); each later line loses up to `indent` leading
   * whitespace characters; CR characters are dropped; one final newline before the closing quotes is removed.
   */
  private multiline (): string {
    const s = this.s
    let indent = 0
    for (let j = this.i - 1; j >= 0 && s[j] !== '\n'; j--) indent++
    const start = this.i
    const end = s.indexOf("'''", this.i + 3)
    if (end < 0) throw this.error("unterminated ''' string")
    let j = start + 3
    const skipIndent = (): void => {
      for (let k = 0; k < indent && j < end && isWs(s.charCodeAt(j)) && s[j] !== '\n'; k++) j++
    }
    while (j < end && isWs(s.charCodeAt(j)) && s[j] !== '\n') j++
    if (s[j] === '\n') { j++; skipIndent() }
    let out = ''
    while (j < end) {
      const c = s[j++]
      if (c === '\n') { out += c; skipIndent() } else if (c !== '\r') out += c
    }
    this.i = end + 3
    return out.endsWith('\n') ? out.slice(0, -1) : out
  }

  /** A number, true/false/null followed by a terminator; otherwise a quoteless string to the end of the line. */
  private scalar (): HjsonValue {
    const rest = this.s.slice(this.i, this.i + 400)
    const kw = /^(true|false|null)/.exec(rest)?.[0]
    if (kw !== undefined && this.terminated(this.i + kw.length, true)) {
      this.i += kw.length
      return kw === 'true' ? true : kw === 'false' ? false : null
    }
    const num = NUMBER.exec(rest)?.[0]
    // A number too large for a double (1e400) stays a string, as in HJSON.
    if (num !== undefined && this.terminated(this.i + num.length, false) && Number.isFinite(Number(num))) {
      this.i += num.length
      return Number(num)
    }
    // A quoteless string runs to the end of the line: LF or a lone CR, as in HJSON.
    let end = this.i
    while (end < this.s.length && this.s[end] !== '\n' && this.s[end] !== '\r') end++
    const text = this.s.slice(this.i, end).trim() // HJSON trims with String.prototype.trim too
    this.i = end
    return text
  }

  /**
   * Whether a keyword or number ending before `j` stands alone: only whitespace, then a line end, `,`, `}`, `]`
   * or a comment. As in HJSON, a keyword may be followed by any Unicode space (it is compared trimmed), a number
   * only by characters up to U+0020.
   */
  private terminated (j: number, keyword: boolean): boolean {
    const s = this.s
    while (j < s.length && s[j] !== '\n' && s[j] !== '\r' && (isWs(s.charCodeAt(j)) || (keyword && /\s/.test(s[j])))) j++
    if (j >= s.length) return true
    const c = s[j]
    return c === '\n' || c === '\r' || c === ',' || c === '}' || c === ']' || c === '#' || s.startsWith('//', j) || s.startsWith('/*', j)
  }

  /** Skip whitespace only (including newlines). */
  private skipWs (): void {
    while (this.i < this.s.length && isWs(this.s.charCodeAt(this.i))) this.i++
  }

  /** Skip whitespace (including newlines) and comments. */
  private skip (): void {
    for (;;) {
      while (this.i < this.s.length && isWs(this.s.charCodeAt(this.i))) this.i++
      if (!this.comment()) return
    }
  }

  /** Skip spaces, tabs and comments on the current line (a `#`/`//` comment stops before its newline). */
  private skipInline (): void {
    for (;;) {
      while (this.i < this.s.length && isWs(this.s.charCodeAt(this.i)) && this.s[this.i] !== '\n') this.i++
      const before = this.i
      if (!this.comment()) return
      if (this.s.slice(before, this.i).includes('\n')) return
    }
  }

  private comment (): boolean {
    const s = this.s
    if (s[this.i] === '#' || s.startsWith('//', this.i)) {
      while (this.i < s.length && s[this.i] !== '\n') this.i++
      return true
    }
    if (s.startsWith('/*', this.i)) {
      const end = s.indexOf('*/', this.i + 2)
      if (end < 0) throw this.error('unterminated /* comment')
      this.i = end + 2
      return true
    }
    return false
  }

  private describe (): string {
    if (this.i >= this.s.length) return 'end of input'
    const c = this.s[this.i]
    return c === '\n' ? 'a newline' : JSON.stringify(c)
  }

  private error (message: string): HjsonSyntaxError {
    let line = 1
    let col = 1
    for (let j = 0; j < this.i && j < this.s.length; j++) {
      if (this.s[j] === '\n') { line++; col = 1 } else col++
    }
    return new HjsonSyntaxError(message, line, col)
  }
}
