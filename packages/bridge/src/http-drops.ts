/**
 * What the local HTTP API refused or dropped to protect itself (issue #14): one counter per cause in
 * BridgeStats, and a log line per cause at most every `intervalMs`, saying how many more were dropped
 * since, so an attack cannot flood the log.
 */

/** Counters of refusals and drops, by cause. */
export interface HttpDropStats {
  /** Requests answered 408 and closed: the body did not arrive within `bodyTimeoutMs`. */
  bodyTimeouts: number
  /** Requests answered 503: the body bytes received did not fit `maxBodyBytesInFlight`. */
  bodyBudgetRefusals: number
  /** Requests answered 413: the body was over `maxBodyBytes`. */
  bodiesTooLarge: number
  /** Connections answered 408 and closed: no complete request header within `headersTimeoutMs`. */
  headerTimeouts: number
  /** Idle keep-alive connections closed after `keepAliveTimeoutMs`. */
  idleTimeouts: number
  /** Idle connections closed to make room for a new one at `maxConnections`. */
  connectionsEvicted: number
  /** New connections answered 503 and closed: all `maxConnections` had a request in flight. */
  connectionsRefused: number
  /** Requests answered 403 by the local-API guard (Host header, absolute-form target, Origin). */
  guardRefusals: number
}

/** A fresh set of zero counters. */
export function zeroDropStats (): HttpDropStats {
  return { bodyTimeouts: 0, bodyBudgetRefusals: 0, bodiesTooLarge: 0, headerTimeouts: 0, idleTimeouts: 0, connectionsEvicted: 0, connectionsRefused: 0, guardRefusals: 0 }
}

/** Counts drops into `stats` and reports them on `log`, rate-limited per cause. */
export class DropLog {
  private readonly last = new Map<keyof HttpDropStats, { at: number, more: number }>()
  constructor (
    private readonly stats: HttpDropStats,
    private readonly log: ((line: string) => void) | undefined,
    private readonly intervalMs = 10_000,
    private readonly now: () => number = Date.now
  ) {}

  /** One drop of `cause`; `what` says what happened, for the log. */
  record (cause: keyof HttpDropStats, what: string): void {
    this.stats[cause]++
    if (this.log === undefined) return
    const t = this.now()
    const l = this.last.get(cause)
    if (l !== undefined && t - l.at < this.intervalMs) { l.more++; return }
    const more = l !== undefined && l.more > 0 ? ` (and ${l.more} more since the last report)` : ''
    this.last.set(cause, { at: t, more: 0 })
    this.log(`HTTP API: ${what}${more}`)
  }
}
