/**
 * JSON-RPC 2.0 shapes and the few byte-level helpers the router needs: parse an inbound request, keep its
 * `id` exactly as the caller wrote it (big integers keep every digit), and serialize a response with it.
 */
import type { RawJson } from '@axl/core'
import { RouterErrorCode } from './error-codes.js'

/** A JSON-RPC request id. */
export type JsonRpcId = string | number | null

/** A JSON-RPC 2.0 request (`id` present) or notification (`id` absent). */
export interface JsonRpcRequest {
  /** Always "2.0". */
  jsonrpc: '2.0'
  /** Present on requests, absent on notifications. */
  id?: JsonRpcId
  /** The method, e.g. "tools/call". */
  method: string
  /** Method parameters. */
  params?: Record<string, unknown> | unknown[]
}

/** The `error` member of a JSON-RPC error response. */
export interface JsonRpcErrorObject {
  /** Error code (see README "Error codes"). */
  code: number
  /** Human-readable text. */
  message: string
  /** Extra data; router errors carry `{ axl: '<reason>' , ... }`. */
  data?: unknown
}

/** A JSON-RPC 2.0 response: `result` or `error`. */
export type JsonRpcResponse =
  | { jsonrpc: '2.0', id: JsonRpcId, result: unknown }
  | { jsonrpc: '2.0', id: JsonRpcId, error: JsonRpcErrorObject }

/** An inbound message after parsing: a request (answer expected) or a notification. */
export type ParsedInbound =
  | { kind: 'request', message: JsonRpcRequest & { id: JsonRpcId }, rawId: RawJson }
  | { kind: 'notification', message: JsonRpcRequest }
  | { kind: 'invalid', rawId: RawJson, code: number, reason: string }

/** Parse the `request` of an MCP envelope. Never throws. */
export function parseInbound (raw: RawJson | null): ParsedInbound {
  if (raw === null) return { kind: 'invalid', rawId: 'null', code: RouterErrorCode.InvalidRequest, reason: 'the envelope has no request' }
  let v: unknown
  try { v = JSON.parse(raw) } catch (err) {
    return { kind: 'invalid', rawId: 'null', code: RouterErrorCode.ParseError, reason: `request is not JSON: ${(err as Error).message}` }
  }
  if (Array.isArray(v)) return { kind: 'invalid', rawId: 'null', code: RouterErrorCode.InvalidRequest, reason: 'JSON-RPC batches are not supported (MCP 2025-06-18 removed them)' }
  if (v === null || typeof v !== 'object') return { kind: 'invalid', rawId: 'null', code: RouterErrorCode.InvalidRequest, reason: 'request must be a JSON object' }
  const o = v as Record<string, unknown>
  const hasId = 'id' in o && o.id !== undefined
  const id = o.id
  const idOk = !hasId || id === null || typeof id === 'string' || typeof id === 'number'
  const rawId = hasId && idOk ? rawIdOf(raw, id as JsonRpcId) : 'null'
  if (!idOk) return { kind: 'invalid', rawId: 'null', code: RouterErrorCode.InvalidRequest, reason: 'id must be a string, a number or null' }
  if (typeof o.method !== 'string' || o.method === '') {
    // A response sent to us is not something a service can answer.
    return { kind: 'invalid', rawId, code: RouterErrorCode.InvalidRequest, reason: 'request has no "method" string' }
  }
  if (o.params !== undefined && (o.params === null || typeof o.params !== 'object')) {
    return { kind: 'invalid', rawId, code: RouterErrorCode.InvalidRequest, reason: '"params" must be an object or an array' }
  }
  if (!hasId) return { kind: 'notification', message: o as unknown as JsonRpcRequest }
  return { kind: 'request', message: o as unknown as JsonRpcRequest & { id: JsonRpcId }, rawId }
}

/**
 * The JSON text of the top-level `id` exactly as written. Strings and null re-serialize losslessly; numbers
 * are taken from the source text so `12345678901234567890` or `1.0` come back unchanged.
 */
export function rawIdOf (raw: RawJson, parsed: JsonRpcId): RawJson {
  if (typeof parsed !== 'number') return JSON.stringify(parsed)
  const span = topLevelMember(raw, 'id')
  return span ?? JSON.stringify(parsed)
}

/** The raw text of a top-level member's value (last occurrence, like JSON.parse), or undefined. `raw` must be valid JSON. */
function topLevelMember (raw: string, name: string): string | undefined {
  let i = raw.indexOf('{')
  if (i < 0) return undefined
  i++
  let found: string | undefined
  const n = raw.length
  const skipWs = (): void => { while (i < n && (raw[i] === ' ' || raw[i] === '\t' || raw[i] === '\n' || raw[i] === '\r')) i++ }
  const skipString = (): void => { i++; while (i < n && raw[i] !== '"') { if (raw[i] === '\\') i++; i++ } i++ }
  const skipValue = (): void => {
    let depth = 0
    while (i < n) {
      const c = raw[i]
      if (c === '"') { skipString(); if (depth === 0) return; continue }
      if (c === '{' || c === '[') depth++
      else if (c === '}' || c === ']') { if (depth === 0) return; depth--; if (depth === 0) { i++; return } }
      else if (depth === 0 && (c === ',')) return
      i++
    }
  }
  for (;;) {
    skipWs()
    if (i >= n || raw[i] === '}') return found
    if (raw[i] === ',') { i++; continue }
    const ks = i
    skipString()
    let key: string
    try { key = JSON.parse(raw.slice(ks, i)) as string } catch { return found }
    skipWs()
    i++ // ':'
    skipWs()
    const vs = i
    skipValue()
    if (key === name) found = raw.slice(vs, i).trim()
  }
}

/** Serialize a response object with the caller's raw id (the object's own `id` is ignored). */
export function serializeResponse (response: object, rawId: RawJson): RawJson {
  const { id: _ignored, jsonrpc: _v, ...rest } = response as Record<string, unknown>
  const body = JSON.stringify(rest)
  return `{"jsonrpc":"2.0","id":${rawId}${body === '{}' ? '}' : ',' + body.slice(1)}`
}

/** A JSON-RPC error response as JSON text, with the caller's raw id. */
export function errorResponse (rawId: RawJson, code: number, message: string, data?: unknown): RawJson {
  const error: JsonRpcErrorObject = data === undefined ? { code, message } : { code, message, data }
  return `{"jsonrpc":"2.0","id":${rawId},"error":${JSON.stringify(error)}}`
}

/** True when `v` has the shape of a JSON-RPC response (`jsonrpc: "2.0"` and `result` or `error`). */
export function isJsonRpcResponse (v: unknown): v is JsonRpcResponse {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return false
  const o = v as Record<string, unknown>
  return o.jsonrpc === '2.0' && ('result' in o || ('error' in o && o.error !== null && typeof o.error === 'object'))
}
