import { AbortError, TimeoutError } from './errors.js'
import { defaultLogger } from '@libp2p/logger'

const log = defaultLogger().forComponent('axl:deadline')

/** The longest delay setTimeout honours (larger ones fire after 1 ms). */
export const MAX_TIMER_MS = 0x7fffffff

/** Options every waiting call accepts: an AbortSignal and/or a deadline in milliseconds. */
export interface WaitOptions {
  /** Abort the wait (rejects with AbortError). */
  signal?: AbortSignal
  /** Give up after this many milliseconds (rejects with TimeoutError). */
  timeoutMs?: number
}

/**
 * Race `promise` against `signal` and a timeout. `what` names the operation in the TimeoutError message.
 * `onCancel` runs when the wait is abandoned, so the caller can release what the promise was holding.
 */
export async function withDeadline<T> (promise: Promise<T>, opts: WaitOptions, what: string, onCancel?: (err: Error) => void): Promise<T> {
  const { signal, timeoutMs } = opts
  if (signal === undefined && timeoutMs === undefined) return await promise
  if (signal?.aborted === true) {
    const err = abortReason(signal)
    onCancel?.(err)
    throw err
  }
  return await new Promise<T>((resolve, reject) => {
    let timer: NodeJS.Timeout | undefined
    const cleanup = (): void => {
      if (timer !== undefined) clearTimeout(timer)
      signal?.removeEventListener('abort', onAbort)
    }
    const fail = (err: Error): void => { cleanup(); onCancel?.(err); reject(err) }
    const onAbort = (): void => { fail(abortReason(signal!)) }
    signal?.addEventListener('abort', onAbort, { once: true })
    if (timeoutMs !== undefined && Number.isFinite(timeoutMs)) {
      // setTimeout fires at once for delays above 2^31-1 ms; such a deadline (≥ 24.8 days) is clamped to it.
      timer = setTimeout(() => { fail(new TimeoutError(`${what} timed out after ${timeoutMs} ms`)) }, Math.min(MAX_TIMER_MS, Math.max(0, timeoutMs)))
    }
    promise.then(v => { cleanup(); resolve(v) }, e => { cleanup(); reject(e) })
  })
}

/**
 * The error to throw for an aborted signal: its reason if that is an Error (a foreign TimeoutError, e.g. from
 * AbortSignal.timeout(), becomes our TimeoutError), else an AbortError.
 */
export function abortReason (signal: AbortSignal): Error {
  const r: unknown = signal.reason
  if (r instanceof Error && r.name !== 'AbortError') return r.name === 'TimeoutError' && !(r instanceof TimeoutError) ? new TimeoutError(r.message) : r
  return new AbortError(undefined, { cause: r })
}

/** A deadline registered with a Sweeper. `at` may be moved later by the owner (the sweep reads it each time). */
export interface SweepEntry {
  /** Absolute expiry time (Date.now() based). */
  at: number
  /** Called once when `at` has passed; the entry is removed first. */
  fire: (now: number) => void
}

/**
 * Many coarse deadlines on one timer: the node's default timeouts (30 s requests, 300 s idle, 60 s reads)
 * cost an object each instead of an AbortController, a listener and a timer per operation. The timer runs
 * only while entries exist and never keeps the process alive. Precision: `granularityMs`.
 */
export class Sweeper {
  private readonly entries = new Set<SweepEntry>()
  private timer: NodeJS.Timeout | undefined

  constructor (private readonly granularityMs: number) {}

  /** Register a deadline; returns the entry (remove it when the operation ends). */
  add (at: number, fire: (now: number) => void): SweepEntry {
    const e = { at, fire }
    this.entries.add(e)
    if (this.timer === undefined) {
      this.timer = setInterval(this.sweep, this.granularityMs)
      this.timer.unref?.()
    }
    return e
  }

  /** Forget an entry (idempotent). */
  remove (e: SweepEntry | undefined): void {
    if (e === undefined) return
    this.entries.delete(e)
    if (this.entries.size === 0) this.stop()
  }

  /** Number of registered deadlines. */
  get size (): number { return this.entries.size }

  /** Stop the timer and drop every entry without firing it. */
  stop (): void {
    if (this.timer !== undefined) clearInterval(this.timer)
    this.timer = undefined
    this.entries.clear()
  }

  private readonly sweep = (): void => {
    const now = Date.now()
    for (const e of this.entries) {
      if (e.at > now) continue
      this.entries.delete(e)
      // An owner's callback must not stop the sweep.
      try { e.fire(now) } catch (err) { log('a deadline callback threw: %s', err instanceof Error ? err.message : String(err)) }
    }
    if (this.entries.size === 0) this.stop()
  }
}
