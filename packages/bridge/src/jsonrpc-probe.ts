/**
 * What /mcp needs from a JSON-RPC body, read like Go's `json.Unmarshal(body, &struct{Method string; ID any})`:
 * the body must be JSON whose top level is an object (or `null`), `method` must be a string (or null/absent);
 * keys match case-insensitively and the last occurrence wins. The id is kept as raw JSON text so big
 * integers keep every digit (Go turns them into float64).
 */
import { compactJson } from '@axl/core/wire'

/** The probed fields of a JSON-RPC body. */
export interface JsonRpcProbe {
  /** `method`, or '' when absent/null. */
  method: string
  /** The `id` as compact JSON text, or undefined when absent. */
  idRaw: string | undefined
  /** The whole body, compacted and HTML-escaped as Go embeds a json.RawMessage. */
  compact: Uint8Array
}

const dec = new TextDecoder()

/** Probe a body; returns undefined when Go's unmarshal would fail (→ 400 "Invalid JSON-RPC"). */
export function probeJsonRpc (body: Uint8Array): JsonRpcProbe | undefined {
  let compact: Uint8Array
  try { compact = compactJson(body) } catch { return undefined }
  const text = dec.decode(compact)
  if (text === 'null') return { method: '', idRaw: undefined, compact }
  if (text[0] !== '{') return undefined
  let method = ''
  let idRaw: string | undefined
  let i = 1
  while (i < text.length && text[i] !== '}') {
    const keyEnd = stringEnd(text, i)
    const key = JSON.parse(text.slice(i, keyEnd)) as string
    i = keyEnd + 1 // skip ':'
    const valEnd = valueEnd(text, i)
    const raw = text.slice(i, valEnd)
    const folded = key.toLowerCase()
    if (folded === 'method') {
      const v = JSON.parse(raw) as unknown
      if (v !== null && typeof v !== 'string') return undefined
      if (typeof v === 'string') method = v
    } else if (folded === 'id') {
      idRaw = raw
    }
    i = valEnd
    if (text[i] === ',') i++
  }
  return { method, idRaw, compact }
}

/** Index just past the JSON string starting at `i` (text is valid, compact JSON). */
function stringEnd (text: string, i: number): number {
  let j = i + 1
  while (text[j] !== '"') j += text[j] === '\\' ? 2 : 1
  return j + 1
}

/** Index just past the JSON value starting at `i`. */
function valueEnd (text: string, i: number): number {
  const c = text[i]
  if (c === '"') return stringEnd(text, i)
  if (c === '{' || c === '[') {
    let depth = 0
    let j = i
    while (j < text.length) {
      const d = text[j]
      if (d === '"') { j = stringEnd(text, j); continue }
      if (d === '{' || d === '[') depth++
      else if (d === '}' || d === ']') { depth--; if (depth === 0) return j + 1 }
      j++
    }
    return j
  }
  let j = i
  while (j < text.length && text[j] !== ',' && text[j] !== '}' && text[j] !== ']') j++
  return j
}
