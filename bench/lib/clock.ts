/**
 * The time a benchmark runs on: the wall clock, or a virtual clock (@sinonjs/fake-timers) on which CPU time does
 * not count — only timers advance time. Under the virtual clock, setTimeout/setInterval/setImmediate (and their
 * clear*) and Date are faked for everything in the process (the in-memory mesh's delays, the services' timers,
 * deadlines); process.nextTick, promises and performance stay real, so `performance` still measures the wall.
 *
 * Driving: virtual time moves only inside `sleep`, `runUntil` and `wait`, one timer at a time, and after each
 * timer the driver yields one real macrotask (fake-timers' tickAsync/nextAsync use the real setImmediate), so every
 * promise chain a timer started settles before the next timer fires. Nothing in the driven code may wait on real
 * I/O (the in-memory mesh does none): work that is not a timer takes no virtual time at all.
 */
import { install } from '@sinonjs/fake-timers'

export interface BenchClock {
  readonly kind: 'virtual' | 'wall'
  /** ms: virtual time, or performance.now(). */
  now: () => number
  /** Let `ms` of (virtual or real) time pass. */
  sleep: (ms: number) => Promise<void>
  /** Run until `done()` (checked every `stepMs`) or `limitMs` passed; whether done() held. */
  runUntil: (done: () => boolean, limitMs: number, stepMs: number) => Promise<boolean>
  /** Await `p`, running the clock while it is pending (at most `limitMs` of clock time). */
  wait: <T>(p: Promise<T>, limitMs?: number) => Promise<T>
  /** Timers fired so far (virtual clock only; 0 on the wall clock). */
  timersFired: () => number
  /** Put the real timers back. */
  uninstall: () => void
}

const realSetImmediate = setImmediate
const realSetTimeout = setTimeout
const macrotask = async (): Promise<void> => { await new Promise<void>(resolve => { realSetImmediate(resolve) }) }

/** The wall clock: real timers. */
export function wallClock (): BenchClock {
  const sleep = async (ms: number): Promise<void> => { await new Promise<void>(resolve => { realSetTimeout(resolve, ms) }) }
  return {
    kind: 'wall',
    now: () => performance.now(),
    sleep,
    runUntil: async (done, limitMs, stepMs) => {
      const end = performance.now() + limitMs
      for (;;) {
        if (done()) return true
        if (performance.now() > end) return false
        await sleep(stepMs)
      }
    },
    wait: async p => await p,
    timersFired: () => 0,
    uninstall: () => {}
  }
}

/** Install the virtual clock (from the current wall time on) and return its driver. */
export function virtualClock (): BenchClock {
  const clock = install({
    now: Date.now(),
    toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'setImmediate', 'clearImmediate', 'Date'],
    loopLimit: 1e9
  })
  let fired = 0
  // Count timers: wrap the faked scheduling functions (the count is a cost figure for the report).
  const g = globalThis as unknown as Record<string, (...a: unknown[]) => unknown>
  for (const name of ['setTimeout', 'setInterval', 'setImmediate']) {
    const fake = g[name]
    g[name] = (fn: unknown, ...rest: unknown[]) => fake(typeof fn === 'function'
      ? (...a: unknown[]) => { fired++; return (fn as (...b: unknown[]) => unknown)(...a) }
      : fn, ...rest)
  }
  const runUntil = async (done: () => boolean, limitMs: number, stepMs: number): Promise<boolean> => {
    const end = clock.now + limitMs
    for (;;) {
      await macrotask()
      if (done()) return true
      if (clock.now >= end) return false
      await clock.tickAsync(Math.min(stepMs, end - clock.now))
    }
  }
  return {
    kind: 'virtual',
    now: () => clock.now,
    sleep: async ms => { await clock.tickAsync(ms) },
    runUntil,
    wait: async <T>(p: Promise<T>, limitMs = 600_000): Promise<T> => {
      let settled = false
      p.then(() => { settled = true }, () => { settled = true })
      const end = clock.now + limitMs
      await macrotask()
      // one timer at a time (nextAsync), so the promise is seen settled at the virtual instant it settled
      while (!settled && clock.now < end && clock.countTimers() > 0) await clock.nextAsync()
      if (!settled) await macrotask()
      if (!settled) throw new Error(clock.countTimers() === 0 ? 'virtual clock: waiting on something that is not a timer' : `virtual clock: not settled within ${limitMs} ms`)
      return await p
    },
    timersFired: () => fired,
    uninstall: () => { clock.uninstall() }
  }
}
