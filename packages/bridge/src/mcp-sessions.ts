/** The `Mcp-Session-Id` table of /mcp: bounded (least recently used dropped first) and expiring. */

/** Options of McpSessions. */
export interface McpSessionsOptions {
  /** Most sessions remembered. Default 1024. */
  max?: number
  /** A session unused this long expires, ms. Default 1 h. */
  ttlMs?: number
  /** Clock (tests). Default Date.now. */
  now?: () => number
}

interface Session { endpoint: string, lastUsed: number }

/** Session ids `mcp-<service>-<peer8>-<unix ns>` bound to the /mcp endpoint (peer and service) that created them. */
export class McpSessions {
  private readonly map = new Map<string, Session>()
  private readonly max: number
  private readonly ttlMs: number
  private readonly now: () => number
  private lastNs = 0n

  constructor (opts: McpSessionsOptions = {}) {
    this.max = opts.max ?? 1024
    this.ttlMs = opts.ttlMs ?? 3_600_000
    this.now = opts.now ?? Date.now
  }

  /** Sessions remembered now. */
  get size (): number { return this.map.size }

  /** A fresh id in AXL's format (`peer8` is the first 8 characters of the URL's peer segment). */
  newId (service: string, peerSegment: string): string {
    let ns = BigInt(this.now()) * 1_000_000n + process.hrtime.bigint() % 1_000_000n
    if (ns <= this.lastNs) ns = this.lastNs + 1n
    this.lastNs = ns
    return `mcp-${service}-${peerSegment.slice(0, 8)}-${ns}`
  }

  /** Remember a session for `endpoint` (evicting the least recently used one when full). */
  add (id: string, endpoint: string): void {
    if (this.max <= 0) return
    this.sweep()
    this.map.delete(id)
    this.map.set(id, { endpoint, lastUsed: this.now() })
    while (this.map.size > this.max) this.map.delete(this.map.keys().next().value as string)
  }

  /** True when `id` is live for `endpoint`; refreshes it. */
  touch (id: string, endpoint: string): boolean {
    const s = this.map.get(id)
    if (s === undefined) return false
    const now = this.now()
    if (now - s.lastUsed > this.ttlMs) { this.map.delete(id); return false }
    if (s.endpoint !== endpoint) return false
    s.lastUsed = now
    this.map.delete(id)
    this.map.set(id, s)
    return true
  }

  /** Forget a session (any endpoint). */
  delete (id: string): void { this.map.delete(id) }

  /** Drop every session. */
  clear (): void { this.map.clear() }

  /** Drop expired sessions (oldest first, stopping at the first live one: the map is in use order). */
  sweep (): void {
    const now = this.now()
    for (const [id, s] of this.map) {
      if (now - s.lastUsed <= this.ttlMs) break
      this.map.delete(id)
    }
  }
}
