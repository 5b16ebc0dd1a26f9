/**
 * Injectable time. Every timer of the overlay goes through a Clock, so tests and simulations of thousands of
 * nodes run on virtual time (no real waiting, fully deterministic).
 */

/** A handle returned by Clock.setTimeout. */
export interface TimerHandle { readonly id: number }

/** The source of time and timers used by the overlay. */
export interface Clock {
  /** Milliseconds since an arbitrary epoch (monotonic). */
  now (): number
  /** Run `fn` once after `ms` milliseconds. */
  setTimeout (fn: () => void, ms: number): TimerHandle
  /** Cancel a timer; unknown or fired handles are ignored. */
  clearTimeout (handle: TimerHandle | undefined): void
}

/** The real clock: performance.now() and unref'd Node timers (they never keep the process alive). */
export function systemClock (): Clock {
  const timers = new Map<number, NodeJS.Timeout>()
  let next = 1
  return {
    now: () => performance.now(),
    setTimeout (fn, ms) {
      const id = next++
      const t = setTimeout(() => { timers.delete(id); fn() }, Math.max(0, ms))
      t.unref?.()
      timers.set(id, t)
      return { id }
    },
    clearTimeout (h) {
      if (h === undefined) return
      const t = timers.get(h.id)
      if (t !== undefined) { clearTimeout(t); timers.delete(h.id) }
    }
  }
}

interface VirtualTimer { id: number, at: number, seq: number, fn: () => void }

/**
 * Virtual time: timers fire only when the test advances the clock. Ties fire in scheduling order.
 * Uses a binary heap, so simulations with many thousands of timers stay fast.
 */
export class VirtualClock implements Clock {
  private t = 0
  private seq = 0
  private nextId = 1
  private readonly heap: VirtualTimer[] = []
  private readonly live = new Set<number>()

  /** Current virtual time in milliseconds. */
  now (): number { return this.t }

  /** Schedule `fn` at now + ms. */
  setTimeout (fn: () => void, ms: number): TimerHandle {
    const id = this.nextId++
    this.push({ id, at: this.t + Math.max(0, ms), seq: this.seq++, fn })
    this.live.add(id)
    return { id }
  }

  /** Cancel a timer. */
  clearTimeout (h: TimerHandle | undefined): void {
    if (h !== undefined) this.live.delete(h.id)
  }

  /** Number of pending (not cancelled) timers. */
  get pending (): number { return this.live.size }

  /** Time of the next pending timer, or undefined. */
  nextAt (): number | undefined {
    while (this.heap.length > 0 && !this.live.has(this.heap[0].id)) this.pop()
    return this.heap[0]?.at
  }

  /** Advance time by `ms`, firing every timer due on the way (including timers they schedule). */
  advance (ms: number): void { this.advanceTo(this.t + ms) }

  /** Advance to absolute time `at`, firing due timers in order. */
  advanceTo (at: number): void {
    for (;;) {
      const next = this.nextAt()
      if (next === undefined || next > at) break
      const timer = this.pop()!
      this.live.delete(timer.id)
      this.t = Math.max(this.t, timer.at)
      timer.fn()
    }
    this.t = Math.max(this.t, at)
  }

  /** Fire timers until `done()` is true or `limitMs` of virtual time has passed; returns whether done() held. */
  runUntil (done: () => boolean, limitMs: number, stepMs = 10): boolean {
    const end = this.t + limitMs
    while (!done()) {
      if (this.t >= end) return false
      this.advanceTo(Math.min(end, this.t + stepMs))
    }
    return true
  }

  private push (x: VirtualTimer): void {
    const h = this.heap
    h.push(x)
    let i = h.length - 1
    while (i > 0) {
      const p = (i - 1) >> 1
      if (less(h[p], h[i])) break
      ;[h[p], h[i]] = [h[i], h[p]]
      i = p
    }
  }

  private pop (): VirtualTimer | undefined {
    const h = this.heap
    const top = h[0]
    const last = h.pop()
    if (h.length > 0 && last !== undefined) {
      h[0] = last
      let i = 0
      for (;;) {
        const l = 2 * i + 1
        const r = l + 1
        let m = i
        if (l < h.length && less(h[l], h[m])) m = l
        if (r < h.length && less(h[r], h[m])) m = r
        if (m === i) break
        ;[h[m], h[i]] = [h[i], h[m]]
        i = m
      }
    }
    return top
  }
}

function less (a: VirtualTimer, b: VirtualTimer): boolean {
  return a.at < b.at || (a.at === b.at && a.seq < b.seq)
}
