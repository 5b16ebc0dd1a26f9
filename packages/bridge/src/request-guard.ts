/**
 * Local-API protection AXL lacks (axl-reference §9.1): a Host header check against DNS rebinding (applied
 * to the authority of an absolute-form request target too, `POST http://evil.example/send HTTP/1.1`, which
 * HTTP/1.1 says overrides Host) and an Origin / Sec-Fetch-Site check that refuses cross-site browser
 * requests. Non-browser clients (curl, Python requests, httpx) send neither Origin nor Sec-Fetch-Site and
 * are unaffected.
 */
import type { IncomingMessage } from 'node:http'

/** Options of the guard. */
export interface GuardOptions {
  /** The port the API listens on (Host must carry it unless it is 80). */
  port: number
  /** The address the API is bound to (also accepted as a Host). */
  bindHost: string
  /** Extra accepted Host values (`name` or `name:port`; "*" disables the check). */
  allowedHosts?: string[]
  /** Browser origins allowed (e.g. "http://localhost:3000"; "*" allows every origin). */
  allowedOrigins?: string[]
}

/** Why a request was refused, or undefined when it may proceed. */
export type GuardVerdict = undefined | { status: 403, message: string }

const INVALID_HOST = { status: 403, message: 'Forbidden: invalid Host header (the API only answers to loopback names; see api_allowed_hosts)' } as const

/** An absolute-form request target (`scheme://authority/path`); group 1 is the authority. */
const ABSOLUTE_FORM = /^[a-z][a-z0-9+.-]*:\/\/([^/?#]*)/i

/** Builds the per-request check. */
export function requestGuard (opts: GuardOptions): (req: IncomingMessage) => GuardVerdict {
  const extra = (opts.allowedHosts ?? []).map(h => h.toLowerCase())
  const anyHost = extra.includes('*')
  const anyOrigin = (opts.allowedOrigins ?? []).includes('*')
  const names = new Set(['127.0.0.1', 'localhost', '[::1]', bracket(opts.bindHost.toLowerCase())])
  const hosts = new Set<string>()
  for (const n of names) {
    hosts.add(`${n}:${opts.port}`)
    if (opts.port === 80) hosts.add(n)
  }
  for (const h of extra) {
    hosts.add(h)
    if (!/:\d+$/.test(h)) hosts.add(`${h}:${opts.port}`)
  }
  const origins = new Set((opts.allowedOrigins ?? []).map(o => o.toLowerCase().replace(/\/+$/, '')))
  for (const h of hosts) origins.add(`http://${h}`) // same-origin requests from a page the API itself would serve

  return (req) => {
    if (!anyHost) {
      const host = (req.headers.host ?? '').toLowerCase()
      if (!hosts.has(host)) return INVALID_HOST
      // The exact authority text (userinfo included), compared as the Host header is: no URL normalization.
      const authority = ABSOLUTE_FORM.exec(req.url ?? '')?.[1]
      if (authority !== undefined && !hosts.has(authority.toLowerCase())) return INVALID_HOST
    }
    if (anyOrigin) return undefined
    const origin = req.headers.origin
    if (origin !== undefined && !origins.has(origin.toLowerCase())) {
      return { status: 403, message: 'Forbidden: cross-origin requests are not allowed (see api_allowed_origins)' }
    }
    const site = req.headers['sec-fetch-site']
    if (origin === undefined && site !== undefined && site !== 'same-origin' && site !== 'none') {
      return { status: 403, message: 'Forbidden: cross-site requests are not allowed (see api_allowed_origins)' }
    }
    return undefined
  }
}

function bracket (h: string): string {
  return h.includes(':') && !h.startsWith('[') ? `[${h}]` : h
}
