/**
 * `ws://host:port/path` and `wss://` link types: binary WebSocket messages used as a byte stream, with the
 * `ygg-ws` subprotocol yggdrasil-go asks for (`link_ws.go`; a yggdrasil-go listener refuses clients without it).
 * Server: the `ws` package on a node:http server (`GET /health` and `/healthz` answer 200); `wss://` listeners
 * (yggdrasil-go has none: it expects a reverse proxy) serve TLS with the node's self-signed certificate.
 * `wss://` clients verify the server's certificate like any HTTPS client, as yggdrasil-go does.
 * Client: `globalThis.WebSocket` when present (browsers, Node 22), else the `ws` client; the client code uses
 * only the browser WebSocket API (binaryType 'arraybuffer', send, onmessage, onclose, bufferedAmount).
 */
import http from 'node:http'
import https from 'node:https'
import type { Duplex } from 'node:stream'
import { WebSocketServer, WebSocket as NodeWebSocket } from 'ws'
import { AbortError, ConfigError } from '@axl/core'
import { concatBytes } from '@axl/core/wire'
import { defaultLogger } from '@libp2p/logger'
import { LinkDialError } from './errors.js'
import { DataInlet, noop, type DialOptions, type LinkListener, type LinkType, type RawDuplex } from './link-type.js'
import { hostPort, probeSocket, urlHost, urlPort } from './tcp.js'
import { selfSignedCertificate } from './certificate.js'
import type { LinkIdentity } from './secured-link.js'

const log = defaultLogger().forComponent('axl:links:ws')

/** The WebSocket subprotocol of Yggdrasil links. */
export const YGG_WS_SUBPROTOCOL = 'ygg-ws'

/** Bytes buffered in a WebSocket above which `write()` returns false. */
const HIGH_WATER_MARK = 1024 * 1024
/** Largest single ws message we send (writev batches are split at this size). */
const MAX_MESSAGE = 256 * 1024
/** Interval of the bufferedAmount poll (the browser API has no drain event). */
const DRAIN_POLL_MS = 2

/** The subset of the browser WebSocket API the client uses. */
export interface BrowserWebSocketLike {
  binaryType: string
  readonly bufferedAmount: number
  readonly readyState: number
  onopen: ((ev: unknown) => void) | null
  onmessage: ((ev: { data: unknown }) => void) | null
  onclose: ((ev: { code: number, reason: string }) => void) | null
  onerror: ((ev: unknown) => void) | null
  send (data: Uint8Array | ArrayBuffer): void
  close (code?: number, reason?: string): void
}

/** A WebSocket constructor with the browser signature. */
export type WebSocketConstructor = new (url: string, protocols?: string | string[]) => BrowserWebSocketLike

/** Options of `wsLinkType`. */
export interface WsLinkTypeOptions {
  /** The client WebSocket class; default `globalThis.WebSocket`, else the `ws` package. */
  WebSocket?: WebSocketConstructor
  /** Our identity: `wss://` listeners present a certificate made from it (needed only to listen on wss). */
  identity?: LinkIdentity
}

function batches (chunks: Uint8Array[]): Uint8Array[] {
  const out: Uint8Array[] = []
  let group: Uint8Array[] = []
  let size = 0
  const emit = (): void => {
    if (group.length === 1) out.push(group[0])
    else if (group.length > 1) {
      const buf = new Uint8Array(size)
      let o = 0
      for (const g of group) { buf.set(g, o); o += g.byteLength }
      out.push(buf)
    }
    group = []
    size = 0
  }
  for (const c of chunks) {
    if (size > 0 && size + c.byteLength > MAX_MESSAGE) emit()
    group.push(c)
    size += c.byteLength
  }
  emit()
  return out
}

function toBytes (data: unknown): Uint8Array | undefined {
  if (data instanceof ArrayBuffer) return new Uint8Array(data)
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
  if (Array.isArray(data)) return concatBytes(data as Uint8Array[]) // ws 'nodebuffer' fragments
  return undefined
}

/** A browser-API WebSocket (client side) as a RawDuplex; backpressure by polling bufferedAmount. */
class BrowserWsDuplex implements RawDuplex {
  private readonly inlet = new DataInlet()
  get onData (): (data: Uint8Array) => void { return this.inlet.handler }
  set onData (fn: (data: Uint8Array) => void) { this.inlet.set(fn) }
  onDrain: () => void = noop
  onClose: (err?: Error) => void = noop
  readonly remoteUri: string
  private readonly ws: BrowserWebSocketLike
  private pollTimer: ReturnType<typeof setTimeout> | undefined
  private error: Error | undefined
  private closed = false

  constructor (ws: BrowserWebSocketLike, remoteUri: string) {
    this.ws = ws
    this.remoteUri = remoteUri
    ws.onmessage = (ev) => {
      const b = toBytes(ev.data)
      if (b === undefined) { this.close(new Error('text message on a binary link')); return }
      if (!this.inlet.push(b)) this.close(new Error('too much data before the link consumer was ready'))
    }
    ws.onerror = () => { this.error ??= new Error('websocket error') }
    ws.onclose = (ev) => {
      if (this.closed) return
      this.closed = true
      if (this.pollTimer !== undefined) clearTimeout(this.pollTimer)
      if (this.error === undefined && ev.code !== 1000 && ev.code !== 1005) this.error = new Error(`websocket closed with code ${ev.code}${ev.reason !== '' ? `: ${ev.reason}` : ''}`)
      const cb = this.onClose
      this.onData = noop
      this.onDrain = noop
      this.onClose = noop
      cb(this.error)
    }
  }

  write (data: Uint8Array): boolean { return this.writev([data]) }

  writev (chunks: Uint8Array[]): boolean {
    if (this.closed || this.ws.readyState !== 1) return false
    for (const b of batches(chunks)) this.ws.send(b)
    if (this.ws.bufferedAmount < HIGH_WATER_MARK) return true
    this.poll()
    return false
  }

  private poll (): void {
    if (this.pollTimer !== undefined) return
    const tick = (): void => {
      this.pollTimer = undefined
      if (this.closed) return
      if (this.ws.bufferedAmount < HIGH_WATER_MARK / 2) this.onDrain()
      else this.pollTimer = setTimeout(tick, DRAIN_POLL_MS)
    }
    this.pollTimer = setTimeout(tick, DRAIN_POLL_MS)
  }

  close (err?: Error): void {
    if (this.closed) return
    if (err !== undefined) this.error ??= err
    try {
      if (err === undefined) this.ws.close(1000)
      else this.ws.close(4000, err.message.slice(0, 100))
    } catch {
      this.ws.close()
    }
  }
}

/** A server-side `ws` socket as a RawDuplex; backpressure from the underlying TCP socket's drain. */
class ServerWsDuplex implements RawDuplex {
  private readonly inlet = new DataInlet()
  get onData (): (data: Uint8Array) => void { return this.inlet.handler }
  set onData (fn: (data: Uint8Array) => void) { this.inlet.set(fn) }
  onDrain: () => void = noop
  onClose: (err?: Error) => void = noop
  readonly remoteUri: string
  private readonly ws: NodeWebSocket
  private needDrain = false
  private error: Error | undefined
  private closed = false
  private closeTimer: ReturnType<typeof setTimeout> | undefined

  constructor (ws: NodeWebSocket, socket: Duplex, remoteUri: string) {
    this.ws = ws
    this.remoteUri = remoteUri
    ws.binaryType = 'nodebuffer'
    ws.on('message', (data, isBinary) => {
      if (!isBinary) { this.close(new Error('text message on a binary link')); return }
      const b = toBytes(data)
      if (b !== undefined && !this.inlet.push(b)) this.close(new Error('too much data before the link consumer was ready'))
    })
    socket.on('drain', () => {
      if (this.needDrain && this.ws.bufferedAmount < HIGH_WATER_MARK) { this.needDrain = false; this.onDrain() }
    })
    ws.on('error', (err) => { this.error ??= err })
    ws.once('close', (code: number, reason: Buffer) => {
      this.closed = true
      if (this.closeTimer !== undefined) clearTimeout(this.closeTimer)
      if (this.error === undefined && code !== 1000 && code !== 1005) this.error = new Error(`websocket closed with code ${code}${reason.length > 0 ? `: ${reason.toString()}` : ''}`)
      const cb = this.onClose
      this.onData = noop
      this.onDrain = noop
      this.onClose = noop
      cb(this.error)
    })
  }

  write (data: Uint8Array): boolean { return this.writev([data]) }

  writev (chunks: Uint8Array[]): boolean {
    if (this.closed || this.ws.readyState !== NodeWebSocket.OPEN) return false
    for (const b of batches(chunks)) this.ws.send(b, { binary: true })
    if (this.ws.bufferedAmount < HIGH_WATER_MARK) return true
    this.needDrain = true
    return false
  }

  close (err?: Error): void {
    if (this.closed) return
    if (err !== undefined) {
      this.error ??= err
      this.ws.terminate()
    } else if (this.closeTimer === undefined) {
      this.ws.close(1000)
      // a peer that never answers the close frame is cut after 2 s
      this.closeTimer = setTimeout(() => { this.ws.terminate() }, 2000)
      this.closeTimer.unref?.()
    }
  }

  pause (): void { this.ws.pause() }
  resume (): void { this.ws.resume() }
}

function defaultWebSocket (): WebSocketConstructor {
  const g = (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket
  return g ?? (NodeWebSocket as unknown as WebSocketConstructor)
}

/** The `ws://host:port/path` and `wss://host:port/path` link types. */
export function wsLinkType (opts: WsLinkTypeOptions = {}): LinkType {
  return {
    schemes: ['ws', 'wss'],
    async dial (uri: URL, dialOpts: DialOptions): Promise<RawDuplex> {
      if (dialOpts.signal.aborted) throw new AbortError('dial aborted', { cause: dialOpts.signal.reason })
      const WS = opts.WebSocket ?? defaultWebSocket()
      const url = new URL(uri.href)
      url.search = '' // link options (key=, priority=) are ours, not the server's
      url.hash = ''
      return await new Promise<RawDuplex>((resolve, reject) => {
        let ws: BrowserWebSocketLike
        try {
          ws = new WS(url.href, [YGG_WS_SUBPROTOCOL])
        } catch (err) {
          reject(new LinkDialError(uri.href, (err as Error).message, { cause: err })); return
        }
        ws.binaryType = 'arraybuffer'
        let settled = false
        const fail = (err: Error): void => {
          if (settled) return
          settled = true
          dialOpts.signal.removeEventListener('abort', onAbort)
          ws.onopen = ws.onclose = ws.onerror = null
          try { ws.close() } catch (e) { log('closing a failed websocket threw: %s', (e as Error).message) }
          reject(err)
        }
        const onAbort = (): void => { fail(new AbortError('dial aborted', { cause: dialOpts.signal.reason })) }
        dialOpts.signal.addEventListener('abort', onAbort, { once: true })
        ws.onerror = () => { fail(new LinkDialError(uri.href, 'websocket connection failed')) }
        ws.onclose = (ev) => { fail(new LinkDialError(uri.href, `websocket closed during connect (code ${ev.code})`)) }
        ws.onopen = () => {
          if (settled) return
          settled = true
          dialOpts.signal.removeEventListener('abort', onAbort)
          ws.onopen = null
          resolve(new BrowserWsDuplex(ws, `${url.protocol}//${url.host}${url.pathname}`))
        }
      })
    },
    async probe (uri: URL, dialOpts: DialOptions): Promise<boolean> {
      const port = uri.port !== '' ? Number(uri.port) : uri.protocol === 'wss:' ? 443 : 80
      return await probeSocket({ host: urlHost(uri), port }, uri, dialOpts.signal)
    },
    async listen (uri: URL, onConnection: (raw: RawDuplex) => void): Promise<LinkListener> {
      const host = urlHost(uri)
      const port = urlPort(uri)
      const path = uri.pathname === '' ? '/' : uri.pathname
      if (uri.search !== '') throw new ConfigError(`ws listen URI takes no query: ${uri.href}`)
      const secure = uri.protocol === 'wss:'
      const scheme = secure ? 'wss' : 'ws'
      const onRequest = (req: http.IncomingMessage, res: http.ServerResponse): void => {
        const p = new URL(req.url ?? '/', 'http://x').pathname
        if (p === '/health' || p === '/healthz') { res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n'); return }
        res.writeHead(426, { 'content-type': 'text/plain' }).end('websocket upgrade required\n')
      }
      let server: http.Server
      if (secure) {
        if (opts.identity === undefined) throw new ConfigError(`listening on ${uri.href} needs the node identity (wsLinkType({ identity }))`)
        server = https.createServer({ ...selfSignedCertificate(opts.identity.seed), minVersion: 'TLSv1.3' }, onRequest)
      } else {
        server = http.createServer(onRequest)
      }
      const wss = new WebSocketServer({
        noServer: true,
        maxPayload: 4 * 1024 * 1024,
        perMessageDeflate: false,
        handleProtocols: (protocols) => protocols.has(YGG_WS_SUBPROTOCOL) ? YGG_WS_SUBPROTOCOL : false
      })
      server.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
        const p = new URL(req.url ?? '/', 'http://x').pathname
        if (path !== '/' && p !== path) {
          socket.end('HTTP/1.1 404 Not Found\r\nconnection: close\r\ncontent-length: 0\r\n\r\n')
          return
        }
        socket.on('error', noop)
        const remote = `${scheme}://${hostPort(req.socket.remoteAddress ?? '0.0.0.0', req.socket.remotePort ?? 0)}`
        wss.handleUpgrade(req, socket, head, (ws) => { onConnection(new ServerWsDuplex(ws, socket, remote)) })
      })
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject)
        server.listen({ host: host === '' ? undefined : host, port }, () => { server.removeListener('error', reject); resolve() })
      })
      server.on('error', noop)
      const addr = server.address() as { address: string, port: number }
      return {
        uri: `${scheme}://${hostPort(host === '' ? addr.address : host, addr.port)}${path}`,
        close: async () => {
          wss.close()
          await new Promise<void>(resolve => {
            server.close(() => { resolve() })
            server.closeIdleConnections()
          })
        }
      }
    }
  }
}
