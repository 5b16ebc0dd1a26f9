/** Response helpers that reproduce Go net/http's exact bytes (http.Error, json.Encoder). */
import type { ServerResponse } from 'node:http'

/** Go's http.Error: status, `text/plain; charset=utf-8`, `X-Content-Type-Options: nosniff`, body = message + "\n". */
export function httpError (res: ServerResponse, status: number, message: string, headers: Record<string, string> = {}): void {
  if (res.headersSent) { res.destroy(); return }
  const body = Buffer.from(message + '\n', 'utf8')
  res.writeHead(status, {
    ...headers,
    'Content-Type': 'text/plain; charset=utf-8',
    'X-Content-Type-Options': 'nosniff',
    'Content-Length': String(body.byteLength)
  })
  res.end(body)
}

/**
 * The bytes of a complete Go-style http.Error answer with `Connection: close`, for writing straight to a
 * socket that has no ServerResponse (a connection refused or timed out before its request was parsed).
 */
export function rawHttpError (status: number, reason: string, message: string): string {
  const body = message + '\n'
  return `HTTP/1.1 ${status} ${reason}\r\nContent-Type: text/plain; charset=utf-8\r\nX-Content-Type-Options: nosniff\r\n` +
    `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`
}

/** A 200 with a body and content type. */
export function sendBody (res: ServerResponse, status: number, body: Uint8Array | string, contentType: string, headers: Record<string, string> = {}): void {
  const bytes = typeof body === 'string' ? Buffer.from(body, 'utf8') : body
  res.writeHead(status, { ...headers, 'Content-Type': contentType, 'Content-Length': String(bytes.byteLength) })
  res.end(bytes)
}

/** A status with no body and no content type (Go's bare WriteHeader). */
export function sendEmpty (res: ServerResponse, status: number, headers: Record<string, string> = {}): void {
  res.writeHead(status, headers)
  res.end()
}

/** A JSON string as Go's encoding/json writes it (HTML-escaped: <, >, &, U+2028, U+2029). */
export function goJsonString (s: string): string {
  return goEscapeHtml(JSON.stringify(s))
}

/** Go's json HTML escaping applied to JSON text. */
export function goEscapeHtml (json: string): string {
  return json.replace(/[<>&\u2028\u2029]/g, c => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)
}

/** Go's http.Redirect with 301 (body only for GET, as Go writes it). */
export function redirect (res: ServerResponse, method: string, location: string): void {
  const headers: Record<string, string> = { Location: location }
  if (method === 'GET' || method === 'HEAD') headers['Content-Type'] = 'text/html; charset=utf-8'
  if (method === 'GET') {
    const esc = location.replace(/[&<>"']/g, c => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&#34;', "'": '&#39;' })[c] as string)
    const body = Buffer.from(`<a href="${esc}">Moved Permanently</a>.\n\n`, 'utf8')
    headers['Content-Length'] = String(body.byteLength)
    res.writeHead(301, headers)
    res.end(body)
    return
  }
  res.writeHead(301, headers)
  res.end()
}
