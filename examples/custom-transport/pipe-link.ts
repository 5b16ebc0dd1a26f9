/**
 * `pipeLinkType()`: a custom link type for ygg(). `pipe://<name>` names a rendezvous point in a directory
 * (default `$TMPDIR/axl-pipes`): the listener binds a unix-domain socket `<dir>/<name>.sock`, a dialler connects
 * to it. Processes of one machine (or one container) link by name, without ports and without touching the network.
 *
 * ```ts
 * const pipes = pipeLinkType({ dir: '/run/my-agents' })
 * const relay = await createNode({ transport: ygg({ linkTypes: [pipes], listen: ['pipe://relay'] }) })
 * const agent = await createNode({ transport: ygg({ linkTypes: [pipes], peers: ['pipe://relay'] }) })
 * ```
 *
 * A link type only moves bytes: ygg() runs Yggdrasil's `meta` handshake over it (keys, `?key=` pinning,
 * `?password=`), redials configured peers, and routes, so `pipe://` links carry the whole overlay (multi-hop
 * routing, end-to-end sessions) like `tcp://` does.
 */
import net from 'node:net'
import { mkdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { AbortError, ConfigError } from '@axl/core'
import { LinkDialError, type DialOptions, type LinkListener, type LinkType, type RawDuplex } from '@axl/transport-ygg'

/** Options of pipeLinkType(). */
export interface PipeLinkOptions {
  /** Directory of the rendezvous sockets; created when missing. @default join(os.tmpdir(), 'axl-pipes') */
  dir?: string
  /** Bytes a link's socket queues before write() returns false. @default 256 KiB */
  highWaterMark?: number
  /** Where listener errors and stale-socket removals are reported. @default console.error */
  onError?: (message: string) => void
}

/** Pipe names: a file name without separators. */
const NAME = /^[A-Za-z0-9._-]{1,64}$/

/** The `pipe://<name>` link type for `ygg({ linkTypes: [pipeLinkType()] })`. */
export function pipeLinkType (opts: PipeLinkOptions = {}): LinkType {
  const dir = opts.dir ?? join(tmpdir(), 'axl-pipes')
  const highWaterMark = opts.highWaterMark ?? 256 * 1024
  const report = opts.onError ?? ((message: string) => { console.error(`axl:pipe-link ${message}`) })
  const pathOf = (uri: URL): { name: string, path: string } => {
    const name = uri.host
    if (!NAME.test(name) || (uri.pathname !== '' && uri.pathname !== '/')) throw new ConfigError(`pipe link URI must be pipe://<name> (letters, digits, . _ -), got ${uri.href}`)
    return { name, path: join(dir, `${name}.sock`) }
  }

  return {
    schemes: ['pipe'],

    async dial (uri: URL, { signal }: DialOptions): Promise<RawDuplex> {
      const { name, path } = pathOf(uri)
      if (signal.aborted) throw new AbortError('dial aborted', { cause: signal.reason })
      const socket = net.connect({ path, highWaterMark } as net.NetConnectOpts)
      await new Promise<void>((resolve, reject) => {
        const done = (): void => { signal.removeEventListener('abort', onAbort); socket.removeListener('error', onError) }
        const onAbort = (): void => { done(); socket.destroy(); reject(new AbortError('dial aborted', { cause: signal.reason })) }
        const onError = (err: Error): void => { done(); socket.destroy(); reject(new LinkDialError(uri.href, `no pipe named ${name} (${err.message})`, { cause: err })) }
        signal.addEventListener('abort', onAbort, { once: true })
        socket.once('error', onError)
        socket.once('connect', () => { done(); resolve() })
      })
      return new PipeDuplex(socket, `pipe://${name}`)
    },

    async listen (uri: URL, onConnection: (raw: RawDuplex) => void): Promise<LinkListener> {
      const { name, path } = pathOf(uri)
      await mkdir(dir, { recursive: true, mode: 0o700 })
      const server = net.createServer({ highWaterMark }, socket => { onConnection(new PipeDuplex(socket, `pipe://${name}`)) })
      const bind = async (): Promise<void> => {
        await new Promise<void>((resolve, reject) => {
          server.once('error', reject)
          server.listen({ path }, () => { server.removeListener('error', reject); resolve() })
        })
      }
      try {
        await bind()
      } catch (err) {
        // A socket file left by a crashed process: take it over if nothing answers there, else the name is taken.
        if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE' || await answers(path)) throw new ConfigError(`pipe://${name} is already in use (${path})`)
        report(`removing the stale socket ${path}`)
        await rm(path, { force: true })
        await bind()
      }
      server.on('error', (err: Error) => { report(`listener pipe://${name}: ${err.message}`) })
      return {
        uri: `pipe://${name}`,
        close: async () => {
          await new Promise<void>(resolve => { server.close(() => { resolve() }) })
          await rm(path, { force: true }).catch((err: Error) => { report(`removing ${path}: ${err.message}`) })
        }
      }
    },

    async probe (uri: URL): Promise<boolean> {
      return await answers(pathOf(uri).path)
    }
  }
}

/** True when something accepts connections on the unix socket at `path` (checked with a bare connect). */
async function answers (path: string): Promise<boolean> {
  return await new Promise<boolean>(resolve => {
    const s = net.connect({ path })
    s.once('connect', () => { s.destroy(); resolve(true) })
    s.once('error', () => { s.destroy(); resolve(false) }) // refused or missing: nobody there
  })
}

function noop (): void {}

/**
 * A connected socket as a RawDuplex. The socket stays paused until the consumer sets `onData`, so bytes that
 * arrive before (both ends of a Yggdrasil link speak first) wait in the kernel instead of in a buffer of ours.
 */
class PipeDuplex implements RawDuplex {
  readonly remoteUri: string
  onDrain: () => void = noop
  onClose: (err?: Error) => void = noop
  private receive: (data: Uint8Array) => void = noop
  private consumerPaused = false
  private error: Error | undefined

  constructor (private readonly socket: net.Socket, remoteUri: string) {
    this.remoteUri = remoteUri
    socket.pause()
    socket.on('data', (chunk: Buffer) => { this.receive(chunk) }) // a fresh Buffer per chunk: handed over as the contract asks
    socket.on('drain', () => { this.onDrain() })
    socket.on('error', (err: Error) => { this.error ??= err })
    socket.once('close', () => {
      const cb = this.onClose
      this.receive = noop
      this.onDrain = noop
      this.onClose = noop
      cb(this.error)
    })
  }

  get onData (): (data: Uint8Array) => void { return this.receive }
  set onData (fn: (data: Uint8Array) => void) {
    this.receive = fn
    if (fn !== noop && !this.consumerPaused) this.socket.resume()
  }

  /** Queue bytes; false when the socket holds more than its high-water mark (wait for onDrain). */
  write (data: Uint8Array): boolean {
    if (this.socket.destroyed || this.socket.writableEnded) return false
    return this.socket.write(data)
  }

  /** Several chunks in one syscall. */
  writev (chunks: Uint8Array[]): boolean {
    if (this.socket.destroyed || this.socket.writableEnded) return false
    this.socket.cork()
    let ok = true
    for (const c of chunks) ok = this.socket.write(c)
    this.socket.uncork()
    return ok
  }

  /** Without `err`: flush and end; with `err`: drop the connection now. Idempotent. */
  close (err?: Error): void {
    if (err !== undefined) { this.error ??= err; this.socket.destroy(); return }
    if (!this.socket.writableEnded) this.socket.end()
  }

  /** Stop delivering onData (read backpressure). */
  pause (): void { this.consumerPaused = true; this.socket.pause() }
  /** Resume delivering onData. */
  resume (): void {
    this.consumerPaused = false
    if (this.receive !== noop) this.socket.resume()
  }
}
