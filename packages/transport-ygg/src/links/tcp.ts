/**
 * `tcp://host:port` link type on node:net (noDelay on, writes corked so a Noise batch is one syscall).
 */
import net from 'node:net'
import { AbortError, ConfigError } from '@axl/core'
import { LinkDialError } from './errors.js'
import { DataInlet, noop, type DialOptions, type LinkListener, type LinkType, type RawDuplex } from './link-type.js'

/** Socket buffer size above which write() asks the writer to wait (Node's default of 16 KiB costs throughput). */
const HIGH_WATER_MARK = 256 * 1024

/** Host of a URL without IPv6 brackets. */
export function urlHost (uri: URL): string {
  const h = uri.hostname
  return h.startsWith('[') && h.endsWith(']') ? h.slice(1, -1) : h
}

/** Port of a URL as a number (0 when missing), or a ConfigError. */
export function urlPort (uri: URL, what = 'port'): number {
  if (uri.port === '') return 0
  const p = Number(uri.port)
  if (!Number.isInteger(p) || p < 0 || p > 65535) throw new ConfigError(`invalid ${what} in ${uri.href}`)
  return p
}

/** Format host:port for a URI (brackets IPv6). */
export function hostPort (host: string, port: number): string {
  return `${host.includes(':') ? `[${host}]` : host}:${port}`
}

/**
 * Resolves with `socket` once it emits `event` (`connect`, or `secureConnect` for TLS); on an error or an abort
 * the socket is destroyed and the promise rejects with LinkDialError or AbortError.
 */
export async function socketReady<S extends net.Socket> (socket: S, event: 'connect' | 'secureConnect', uri: URL, signal: AbortSignal): Promise<S> {
  return await new Promise<S>((resolve, reject) => {
    const onAbort = (): void => {
      socket.destroy()
      reject(new AbortError('dial aborted', { cause: signal.reason }))
    }
    const onError = (err: Error): void => {
      signal.removeEventListener('abort', onAbort)
      socket.destroy()
      reject(new LinkDialError(uri.href, err.message, { cause: err }))
    }
    signal.addEventListener('abort', onAbort, { once: true })
    socket.once('error', onError)
    socket.once(event, () => {
      signal.removeEventListener('abort', onAbort)
      socket.removeListener('error', onError)
      resolve(socket)
    })
  })
}

/** True when a bare connection to `target` (TCP host and port, or a unix socket path) opens; closed at once. */
export async function probeSocket (target: { host: string, port: number } | { path: string }, uri: URL, signal: AbortSignal): Promise<boolean> {
  if (signal.aborted) return false
  return await socketReady(net.connect(target as net.NetConnectOpts), 'connect', uri, signal)
    .then(socket => { socket.destroy(); return true }, () => false) // refused, unreachable or aborted: not back yet
}

/** Host and port of a dial URI (ConfigError without them; AbortError if the dial was already aborted). */
export function dialTarget (uri: URL, signal: AbortSignal): { host: string, port: number } {
  const host = urlHost(uri)
  const port = urlPort(uri)
  if (host === '' || port === 0) throw new ConfigError(`${uri.protocol.slice(0, -1)} link URI needs host and port: ${uri.href}`)
  if (signal.aborted) throw new AbortError('dial aborted', { cause: signal.reason })
  return { host, port }
}

/** A net.Socket (TCP, TLS or unix) as a RawDuplex. */
export class TcpDuplex implements RawDuplex {
  private readonly inlet = new DataInlet()
  get onData (): (data: Uint8Array) => void { return this.inlet.handler }
  set onData (fn: (data: Uint8Array) => void) { this.inlet.set(fn) }
  onDrain: () => void = noop
  onClose: (err?: Error) => void = noop
  readonly remoteUri: string
  readonly certificateKey?: Uint8Array | null
  private readonly socket: net.Socket
  private error: Error | undefined

  /** Wrap a connected socket; `scheme` names the remote URI (`tls` sockets also pass their certificate key). */
  constructor (socket: net.Socket, opts: { scheme?: string, remoteUri?: string, certificateKey?: Uint8Array | null } = {}) {
    this.socket = socket
    this.remoteUri = opts.remoteUri ?? `${opts.scheme ?? 'tcp'}://${hostPort(socket.remoteAddress ?? '0.0.0.0', socket.remotePort ?? 0)}`
    if (opts.certificateKey !== undefined) this.certificateKey = opts.certificateKey
    socket.setNoDelay(true)
    socket.on('data', (buf: Buffer) => { if (!this.inlet.push(buf)) this.close(new Error('too much data before the link consumer was ready')) })
    socket.on('drain', () => { this.onDrain() })
    socket.on('error', (err: Error) => { this.error ??= err })
    socket.once('close', () => {
      const cb = this.onClose
      this.onData = noop
      this.onDrain = noop
      this.onClose = noop
      cb(this.error)
    })
  }

  /** Write one chunk; false when the socket buffer is above its high-water mark. */
  write (data: Uint8Array): boolean {
    if (this.socket.destroyed || this.socket.writableEnded) return false
    return this.socket.write(data)
  }

  /** Write several chunks in one syscall (cork/uncork → writev). */
  writev (chunks: Uint8Array[]): boolean {
    if (this.socket.destroyed || this.socket.writableEnded) return false
    if (chunks.length === 1) return this.socket.write(chunks[0])
    this.socket.cork()
    let ok = true
    for (const c of chunks) ok = this.socket.write(c)
    this.socket.uncork()
    return ok
  }

  /** Graceful end (FIN after queued bytes), or destroy when `err` is given. */
  close (err?: Error): void {
    if (err !== undefined) {
      this.error ??= err
      this.socket.destroy()
    } else if (!this.socket.writableEnded) {
      this.socket.end()
    }
  }

  /** Stop reading from the socket. */
  pause (): void { this.socket.pause() }
  /** Resume reading from the socket. */
  resume (): void { this.socket.resume() }
}

/** The `tcp://host:port` link type. */
export function tcpLinkType (): LinkType {
  return {
    schemes: ['tcp'],
    async dial (uri: URL, opts: DialOptions): Promise<RawDuplex> {
      const { host, port } = dialTarget(uri, opts.signal)
      // highWaterMark is honoured by net.Socket (stream option) but missing from @types/node's NetConnectOpts
      const socket = net.connect({ host, port, highWaterMark: HIGH_WATER_MARK } as net.NetConnectOpts)
      return new TcpDuplex(await socketReady(socket, 'connect', uri, opts.signal))
    },
    async probe (uri: URL, opts: DialOptions): Promise<boolean> {
      return await probeSocket({ host: urlHost(uri), port: urlPort(uri) }, uri, opts.signal)
    },
    async listen (uri: URL, onConnection: (raw: RawDuplex) => void): Promise<LinkListener> {
      const host = urlHost(uri)
      const port = urlPort(uri)
      const server = net.createServer({ noDelay: true, highWaterMark: HIGH_WATER_MARK }, socket => { onConnection(new TcpDuplex(socket)) })
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject)
        server.listen({ host: host === '' ? undefined : host, port }, () => { server.removeListener('error', reject); resolve() })
      })
      server.on('error', noop)
      const addr = server.address() as net.AddressInfo
      return {
        uri: `tcp://${hostPort(host === '' ? addr.address : host, addr.port)}`,
        close: async () => { await new Promise<void>(resolve => { server.close(() => { resolve() }) }) }
      }
    }
  }
}
