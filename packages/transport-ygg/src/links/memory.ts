/**
 * `memory://name` link type: in-process links through a registry of named listeners, no sockets.
 * Bytes are passed by reference (no copy) and delivered on a later macrotask, with a per-direction
 * high-water mark for backpressure, so it behaves like a socket (and never starves timers).
 */
import { AbortError, ConfigError } from '@axl/core'
import { LinkDialError } from './errors.js'
import { noop, type DialOptions, type LinkListener, type LinkType, type RawDuplex } from './link-type.js'

const HIGH_WATER_MARK = 1024 * 1024

type Schedule = (fn: () => void) => void
const schedule: Schedule = typeof globalThis.setImmediate === 'function'
  ? (fn) => { setImmediate(fn) }
  : (fn) => { setTimeout(fn, 0) }

/** One end of an in-process duplex pair. */
class MemoryDuplex implements RawDuplex {
  onData: (data: Uint8Array) => void = noop
  onDrain: () => void = noop
  onClose: (err?: Error) => void = noop
  readonly remoteUri: string
  peer!: MemoryDuplex
  /** Chunks written by this end, not yet delivered to the peer. */
  private queue: Uint8Array[] = []
  private queued = 0
  private flushing = false
  private needDrain = false
  private paused = false
  private closing = false
  private closed = false

  constructor (remoteUri: string) { this.remoteUri = remoteUri }

  write (data: Uint8Array): boolean {
    if (this.closing || this.closed) return false
    if (data.byteLength > 0) {
      this.queue.push(data)
      this.queued += data.byteLength
      this.scheduleFlush()
    }
    if (this.queued >= HIGH_WATER_MARK) { this.needDrain = true; return false }
    return true
  }

  writev (chunks: Uint8Array[]): boolean {
    let ok = true
    for (const c of chunks) ok = this.write(c)
    return ok
  }

  close (err?: Error): void {
    if (this.closing || this.closed) return
    this.closing = true
    if (err !== undefined) {
      this.queue = []
      this.queued = 0
      schedule(() => { this.finish(err); this.peer.finish(err) })
    } else {
      this.scheduleFlush() // flush what is queued, then close both ends
    }
  }

  pause (): void { this.paused = true }
  resume (): void {
    if (!this.paused) return
    this.paused = false
    this.peer.scheduleFlush()
  }

  private scheduleFlush (): void {
    if (this.flushing) return
    this.flushing = true
    schedule(() => { this.flush() })
  }

  private flush (): void {
    this.flushing = false
    if (this.closed) return
    const peer = this.peer
    while (this.queue.length > 0 && !peer.paused && !peer.closed) {
      const batch = this.queue
      this.queue = []
      this.queued = 0
      for (const c of batch) peer.onData(c)
    }
    if (this.needDrain && this.queued < HIGH_WATER_MARK && !this.closing) {
      this.needDrain = false
      this.onDrain()
    }
    if (this.closing && this.queue.length === 0) { this.finish(); peer.finish() }
  }

  private finish (err?: Error): void {
    if (this.closed) return
    this.closed = true
    this.closing = true
    const cb = this.onClose
    this.onData = noop
    this.onDrain = noop
    this.onClose = noop
    cb(err)
  }
}

/** A registry of in-process listeners: `memory://name` URIs resolve within one registry. */
export class MemoryRegistry {
  private readonly listeners = new Map<string, (raw: RawDuplex) => void>()
  private seq = 0

  /** Register a listener; an empty name picks a unique one. */
  bind (name: string, onConnection: (raw: RawDuplex) => void): string {
    const n = name === '' ? `auto-${++this.seq}-${Math.random().toString(36).slice(2, 8)}` : name
    if (this.listeners.has(n)) throw new ConfigError(`memory://${n} is already listening`)
    this.listeners.set(n, onConnection)
    return n
  }

  /** Remove a listener. */
  unbind (name: string): void { this.listeners.delete(name) }

  /** True when something listens on `name`. */
  has (name: string): boolean { return this.listeners.has(name) }

  /** Connect to a listener; returns the dialler's end. */
  connect (name: string): RawDuplex {
    const onConnection = this.listeners.get(name)
    if (onConnection === undefined) throw new LinkDialError(`memory://${name}`, 'no listener')
    const a = new MemoryDuplex(`memory://${name}`)
    const b = new MemoryDuplex(`memory://${name}#${++this.seq}`)
    a.peer = b
    b.peer = a
    onConnection(b)
    return a
  }
}

/** The process-wide default registry used by `memoryLinkType()`. */
export const defaultMemoryRegistry = new MemoryRegistry()

function nameOf (uri: URL): string {
  return decodeURIComponent(uri.host + (uri.pathname === '/' ? '' : uri.pathname))
}

/** The `memory://name` link type (in-process; `memory://` alone listens on a fresh unique name). */
export function memoryLinkType (registry: MemoryRegistry = defaultMemoryRegistry): LinkType {
  return {
    schemes: ['memory'],
    async dial (uri: URL, opts: DialOptions): Promise<RawDuplex> {
      if (opts.signal.aborted) throw new AbortError('dial aborted', { cause: opts.signal.reason })
      return registry.connect(nameOf(uri))
    },
    async probe (uri: URL): Promise<boolean> { return registry.has(nameOf(uri)) },
    async listen (uri: URL, onConnection: (raw: RawDuplex) => void): Promise<LinkListener> {
      const name = registry.bind(nameOf(uri), onConnection)
      return {
        uri: `memory://${name}`,
        close: async () => { registry.unbind(name) }
      }
    }
  }
}
