/**
 * A lenient JSON reader for node-config.json. Yggdrasil reads its half of the file as HJSON, so configs
 * written by `yggdrasil -genconf` (unquoted keys, `#` comments, no commas, quoteless strings) must load.
 *
 * Accepted: plain JSON; comments `# …`, `// …`, `/* … *\/`; trailing commas; newlines instead of commas;
 * unquoted keys; single-quoted strings; quoteless string values (to the end of the line, trimmed — as in
 * HJSON a comment after a quoteless string is part of the string); `'''` multi-line strings; a root object
 * without its braces. Not accepted: anything JSON5 adds beyond that (hex numbers, `+1`, `Infinity`, `NaN`).
 */
import { HjsonSyntaxError } from './errors.js'

/** A parsed value. */
export type HjsonValue = null | boolean | number | string | HjsonValue[] | { [key: string]: HjsonValue }

const NUMBER = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/
const PUNCT = new Set(['{', '}', '[', ']', ',', ':'])

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
      this.skipInline()
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
      this.skip()
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
      if (PUNCT.has(ch) || /\s/.test(ch)) break
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

  private multiline (): string {
    let col = 0
    for (let j = this.i - 1; j >= 0 && this.s[j] !== '\n'; j--) col++
    const start = this.i
    this.i += 3
    const end = this.s.indexOf("'''", this.i)
    if (end < 0) { this.i = start; throw this.error("unterminated ''' string") }
    let body = this.s.slice(this.i, end)
    this.i = end + 3
    body = body.replace(/\r\n/g, '\n')
    const nl = body.indexOf('\n')
    if (nl >= 0 && body.slice(0, nl).trim() === '') body = body.slice(nl + 1)
    const lines = body.split('\n').map(l => {
      let k = 0
      while (k < col && (l[k] === ' ' || l[k] === '\t')) k++
      return l.slice(k)
    })
    if (lines.length > 0 && lines[lines.length - 1].trim() === '') lines.pop()
    return lines.join('\n')
  }

  /** A number, true/false/null followed by a terminator; otherwise a quoteless string to the end of the line. */
  private scalar (): HjsonValue {
    const rest = this.s.slice(this.i, this.i + 400)
    const kw = /^(true|false|null)/.exec(rest)?.[0] ?? NUMBER.exec(rest)?.[0]
    if (kw !== undefined && this.terminated(this.i + kw.length)) {
      this.i += kw.length
      return kw === 'true' ? true : kw === 'false' ? false : kw === 'null' ? null : Number(kw)
    }
    let end = this.s.indexOf('\n', this.i)
    if (end < 0) end = this.s.length
    const text = this.s.slice(this.i, end).trim()
    this.i = end
    return text
  }

  private terminated (j: number): boolean {
    if (j >= this.s.length) return true
    const c = this.s[j]
    if (/\s/.test(c) || c === ',' || c === '}' || c === ']' || c === '#') {
      if (/[ \t]/.test(c)) {
        // "1 2" is a quoteless string; "1  # comment" is a number.
        let k = j
        while (k < this.s.length && (this.s[k] === ' ' || this.s[k] === '\t')) k++
        return k >= this.s.length || /[\r\n,}\]#]/.test(this.s[k]) || this.s.startsWith('//', k) || this.s.startsWith('/*', k)
      }
      return true
    }
    return this.s.startsWith('//', j) || this.s.startsWith('/*', j)
  }

  /** Skip whitespace (including newlines) and comments. */
  private skip (): void {
    for (;;) {
      while (this.i < this.s.length && /\s/.test(this.s[this.i])) this.i++
      if (!this.comment()) return
    }
  }

  /** Skip spaces, tabs and comments on the current line (a `#`/`//` comment stops before its newline). */
  private skipInline (): void {
    for (;;) {
      while (this.i < this.s.length && (this.s[this.i] === ' ' || this.s[this.i] === '\t')) this.i++
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
