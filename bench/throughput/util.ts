/** Small helpers of the throughput bench: statistics, formatting, and a request/response RPC over the IPC channel. */
import type { ChildProcess } from 'node:child_process'
import { readFileSync } from 'node:fs'

export const MB = 1e6
export const MiB = 2 ** 20
export const GiB = 2 ** 30

/** Runs `one` `warm` times unmeasured, then `n` times; the µs each measured call took. */
export async function timeRoundTrips (one: () => Promise<unknown>, n: number, warm: number): Promise<number[]> {
  for (let i = 0; i < warm; i++) await one()
  const out = new Array<number>(n)
  for (let i = 0; i < n; i++) {
    const t0 = performance.now()
    await one()
    out[i] = (performance.now() - t0) * 1000
  }
  return out
}

export const sleep = async (ms: number): Promise<void> => { await new Promise(resolve => setTimeout(resolve, ms)) }

/** Nearest-rank percentile of an ascending array, p in 0..100. */
export function pct (sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return NaN
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p / 100 * sorted.length) - 1))]
}

export function median (xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  const n = s.length
  if (n === 0) return NaN
  return n % 2 === 1 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2
}

/** 3 significant digits, no exponent for the ranges used here. */
export function fmt (x: number | undefined | null): string {
  if (x === undefined || x === null || !Number.isFinite(x)) return '–'
  const a = Math.abs(x)
  if (a >= 100) return x.toFixed(0)
  if (a >= 10) return x.toFixed(1)
  if (a >= 1) return x.toFixed(2)
  return x.toPrecision(2)
}

/** "median [min..max]" of a list (just the value when there is one). */
export function fmtRange (xs: number[]): string {
  if (xs.length === 0) return '–'
  if (xs.length === 1) return fmt(xs[0])
  return `${fmt(median(xs))} [${fmt(Math.min(...xs))}..${fmt(Math.max(...xs))}]`
}

/** Rounds for the JSON line: 3 significant digits. */
export function r3 (x: number): number | null {
  if (!Number.isFinite(x)) return null
  return Number(x.toPrecision(3))
}

/** Linux CPU pressure (share of time a runnable task waited for a CPU): how noisy the machine was. */
export function cpuPressure (): string | undefined {
  try {
    const m = /some avg10=([\d.]+) avg60=([\d.]+)/.exec(readFileSync('/proc/pressure/cpu', 'utf8'))
    return m === null ? undefined : `avg10=${m[1]}% avg60=${m[2]}%`
  } catch { return undefined }
}

type Handler = (arg: any) => unknown

/** Child side: answer `{id, cmd, arg}` messages with `{id, result}` or `{id, error}`. */
export function serveIpc (handlers: Record<string, Handler>): void {
  process.on('message', (msg: { id?: number, cmd: string, arg: unknown }) => {
    if (msg?.id === undefined) return
    const h = handlers[msg.cmd]
    Promise.resolve().then(() => {
      if (h === undefined) throw new Error(`unknown command ${msg.cmd}`)
      return h(msg.arg)
    }).then(
      result => { process.send!({ id: msg.id, result }) },
      (err: unknown) => { process.send!({ id: msg.id, error: String((err as Error)?.stack ?? err) }) }
    )
  })
}

export type Call = <T = any>(cmd: string, arg?: unknown) => Promise<T>

/** Parent side: a call function for one child. */
export function ipcClient (child: ChildProcess, name: string): Call {
  let next = 1
  const pending = new Map<number, { resolve: (v: any) => void, reject: (e: Error) => void }>()
  child.on('message', (msg: { id: number, result?: unknown, error?: string }) => {
    const p = pending.get(msg?.id)
    if (p === undefined) return
    pending.delete(msg.id)
    if (msg.error !== undefined) p.reject(new Error(`${name}: ${msg.error}`))
    else p.resolve(msg.result)
  })
  child.on('exit', code => {
    for (const p of pending.values()) p.reject(new Error(`${name} exited with code ${String(code)}`))
    pending.clear()
  })
  return async <T>(cmd: string, arg?: unknown): Promise<T> => await new Promise<T>((resolve, reject) => {
    const id = next++
    pending.set(id, { resolve, reject })
    child.send({ id, cmd, arg })
  })
}
