import { describe, it, expect, afterEach } from 'vitest'
import net from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createHash, randomBytes } from 'node:crypto'
import { WebSocket as NodeWebSocket } from 'ws'
import { AbortError, ConfigError, TimeoutError } from '@axl/core'
import { Links, type LinksOptions } from '../src/links/links.js'
import { VirtualClock } from '../src/clock.js'
import { UnexpectedPeerKeyError, LinkRefusedError, HandshakeError } from '../src/links/errors.js'
import { memoryLinkType, MemoryRegistry } from '../src/links/memory.js'
import { wsLinkType, type WebSocketConstructor } from '../src/links/ws.js'
import type { LinkType } from '../src/links/link-type.js'
import type { PeerConn } from '../src/network/peer-conn.js'
import { ConnQueue, Sink, closedOf, hex, makeIdentity, within } from './fixtures/links-helpers.js'

const running: Links[] = []
const cleanups: Array<() => Promise<void> | void> = []
afterEach(async () => {
  await Promise.all(running.splice(0).map(async l => { await l.stop() }))
  for (const c of cleanups.splice(0)) await c()
})

/** A fresh unix socket path under the OS temp dir (removed by the listener when it closes). */
function tmpSocketPath (): string {
  return join(tmpdir(), `axl-links-${process.pid}-${randomBytes(4).toString('hex')}.sock`)
}

/** The `ws` package client that accepts any server certificate (a wss listener's self-signed one). */
const InsecureWs = class extends NodeWebSocket {
  constructor (url: string, protocols?: string | string[]) { super(url, protocols, { rejectUnauthorized: false }) }
} as unknown as WebSocketConstructor

type TestNode = { links: Links, conns: ConnQueue, id: ReturnType<typeof makeIdentity>, errors: Array<{ err: Error, uri: string, inbound: boolean }>, nextError: (ms?: number) => Promise<{ err: Error, uri: string, inbound: boolean }> }

function node (extra: Partial<LinksOptions> = {}): TestNode {
  const id = extra.identity ?? makeIdentity()
  const conns = new ConnQueue()
  const errors: TestNode['errors'] = []
  let read = 0
  let waiter: (() => void) | undefined
  const links = new Links({ identity: id, onConn: conns.push, onLinkError: (err, info) => { errors.push({ err, ...info }); waiter?.() }, ...extra })
  running.push(links)
  const nextError = async (ms = 5000): Promise<TestNode['errors'][number]> => {
    if (read < errors.length) return errors[read++]
    await within<void>(ms, 'a link error', resolve => { waiter = () => { waiter = undefined; resolve() } })
    return errors[read++]
  }
  return { links, conns, id, errors, nextError }
}

async function exchange (a: PeerConn, b: PeerConn): Promise<void> {
  const sa = new Sink(a)
  const sb = new Sink(b)
  expect(a.write(new TextEncoder().encode('hello from a'))).toBe(true)
  expect(b.write(new TextEncoder().encode('hello from b'))).toBe(true)
  await sb.until(12)
  await sa.until(12)
  expect(sb.text()).toBe('hello from a')
  expect(sa.text()).toBe('hello from b')
}

describe('links: handshake and bytes both ways', () => {
  const cases: Array<[string, string, Partial<LinksOptions>?]> = [
    ['tcp (ipv4)', 'tcp://127.0.0.1:0'],
    ['tcp (ipv6)', 'tcp://[::1]:0'],
    ['ws (default client)', 'ws://127.0.0.1:0/axl'],
    ['ws (ws package client)', 'ws://127.0.0.1:0/axl', { linkTypes: [wsLinkType({ WebSocket: NodeWebSocket as unknown as WebSocketConstructor })] }],
    ['memory', 'memory://'],
    ['tls', 'tls://127.0.0.1:0'],
    ['unix', 'unix://'],
    ['wss (ws package client, self-signed certificate accepted)', 'wss://127.0.0.1:0/axl', { linkTypes: [wsLinkType({ WebSocket: InsecureWs })] }],
    ['noise+tcp', 'noise+tcp://127.0.0.1:0'],
    ['noise+ws', 'noise+ws://127.0.0.1:0/axl'],
    ['noise+memory', 'noise+memory://']
  ]
  for (const [name, listenUri, opts] of cases) {
    it(name, async () => {
      const a = node()
      const b = node(opts)
      const bound = await a.links.listen(listenUri === 'unix://' ? `unix://${tmpSocketPath()}` : listenUri)
      expect(bound).not.toMatch(/:0(\/|$)/)
      b.links.addPeer(`${bound}?key=${hex(a.id.publicKey)}`)
      const [ca, cb] = await Promise.all([a.conns.next(), b.conns.next()])
      expect(hex(ca.remoteKey)).toBe(hex(b.id.publicKey))
      expect(hex(cb.remoteKey)).toBe(hex(a.id.publicKey))
      expect(ca.inbound).toBe(true)
      expect(cb.inbound).toBe(false)
      expect(cb.uri).toBe(`${bound}?key=${hex(a.id.publicKey)}`)
      await exchange(ca, cb)
      const peersB = b.links.peers()
      expect(peersB).toHaveLength(1)
      expect(peersB[0]).toMatchObject({ up: true, inbound: false, configured: true })
      expect(a.links.peers()[0]).toMatchObject({ up: true, inbound: true, configured: false })
      expect(a.links.stats).toMatchObject({ handshakesOk: 1, handshakesFailed: 0, inbound: 1, linksUp: 1, bytesIn: 12, bytesOut: 12 })
      expect(b.links.stats).toMatchObject({ handshakesOk: 1, dials: 1, linksUp: 1 })
      // closing one side is seen by the other
      const closedA = closedOf(ca)
      cb.close()
      expect(await closedA).toBeUndefined()
    })
  }
})

/** Send `total` bytes of pseudo-random data in 64 KiB writes, honouring write() === false → onDrain. */
async function pump (conn: PeerConn, total: number, chunkSize = 64 * 1024): Promise<{ digest: string, waits: number }> {
  const block = randomBytes(1024 * 1024)
  const hash = createHash('sha256')
  let sent = 0
  let waits = 0
  while (sent < total) {
    const n = Math.min(chunkSize, total - sent)
    const off = sent % block.byteLength
    const chunk = new Uint8Array(n)
    chunk.set(block.subarray(off, Math.min(off + n, block.byteLength)))
    if (off + n > block.byteLength) chunk.set(block.subarray(0, off + n - block.byteLength), block.byteLength - off)
    hash.update(chunk)
    sent += n
    if (!conn.write(chunk)) {
      waits++
      await within<void>(10_000, 'onDrain', resolve => { conn.onDrain = resolve })
    }
  }
  return { digest: hash.digest('hex'), waits }
}

describe('links: bulk transfer with backpressure', () => {
  for (const uri of ['tcp://127.0.0.1:0', 'ws://127.0.0.1:0/', 'memory://']) {
    it(`20 MB over ${uri.split(':')[0]} arrives byte-identical`, async () => {
      const a = node()
      const b = node()
      const bound = await a.links.listen(uri)
      const cb = await b.links.dial(bound)
      const ca = await a.conns.next()
      const total = 20 * 1024 * 1024
      const sink = new Sink(ca, false)
      const t0 = performance.now()
      const [{ digest, waits }] = await Promise.all([pump(cb, total), sink.until(total, 60_000)])
      const ms = performance.now() - t0
      expect(sink.bytes).toBe(total)
      expect(sink.digest()).toBe(digest)
      expect(waits).toBeGreaterThan(0) // the writer was told to wait at least once
      console.log(`${uri.split(':')[0]}: 20 MB in ${ms.toFixed(0)} ms = ${(20 / (ms / 1000)).toFixed(1)} MB/s, ${waits} drain waits`)
    }, 60_000)
  }
})

describe('links: authentication and refusals', () => {
  it('allowedPublicKeys refuses an unknown key and admits a listed one', async () => {
    const friend = makeIdentity()
    const a = node({ allowedPublicKeys: [hex(friend.publicKey)] })
    const stranger = node()
    const pal = node({ identity: friend })
    const bound = await a.links.listen('tcp://127.0.0.1:0')
    const cs = await stranger.links.dial(bound) // the dialler's handshake succeeds, then the listener hangs up
    await closedOf(cs)
    expect(a.links.stats.refused).toBe(1)
    expect(a.errors[0].err).toBeInstanceOf(LinkRefusedError)
    expect(a.conns.all).toHaveLength(0)
    await pal.links.dial(bound)
    const ca = await a.conns.next()
    expect(hex(ca.remoteKey)).toBe(hex(friend.publicKey))
    expect(a.links.stats.refused).toBe(1)
  })

  it('noise: a wrong expected key fails the dialler with a typed error, and the listener closes too', async () => {
    const a = node()
    const b = node()
    const listenerFailed = within<Error>(5000, 'listener handshake failure', resolve => {
      const la = new Links({ identity: a.id, onConn: a.conns.push, onLinkError: (err) => { resolve(err) } })
      running.push(la)
      void la.listen('noise+tcp://127.0.0.1:0').then(async bound => {
        const wrong = makeIdentity().publicKey
        const err = await b.links.dial(`${bound}?key=${hex(wrong)}`).catch((e: Error) => e)
        expect(err).toBeInstanceOf(UnexpectedPeerKeyError)
        expect((err as UnexpectedPeerKeyError).code).toBe('ERR_UNEXPECTED_PEER_KEY')
      })
    })
    const err = await listenerFailed
    expect(err).toBeInstanceOf(HandshakeError)
    expect(b.links.stats).toMatchObject({ handshakesFailed: 1, dialFailures: 1, linksUp: 0 })
    expect(a.conns.all).toHaveLength(0)
  })

  it('a link to self is refused on both ends', async () => {
    const a = node()
    const bound = await a.links.listen('memory://')
    const err = await a.links.dial(bound).catch((e: Error) => e)
    expect(err).toBeInstanceOf(LinkRefusedError)
    const inboundErr = await a.nextError()
    expect(inboundErr.err).toBeInstanceOf(LinkRefusedError)
    expect(inboundErr.inbound).toBe(true)
    expect(a.links.stats.refused).toBe(2)
    expect(a.conns.all).toHaveLength(0)
  })
})

describe('links: handshake deadlines', () => {
  it('dialling a silent TCP server fails within the deadline and closes the socket', async () => {
    const serverSockets: net.Socket[] = []
    let serverSawClose!: () => void
    const serverClosed = new Promise<void>(resolve => { serverSawClose = resolve })
    const srv = net.createServer(s => { serverSockets.push(s); s.resume(); s.on('close', () => { serverSawClose() }) })
    cleanups.push(async () => { for (const s of serverSockets) s.destroy(); await new Promise(r => srv.close(r)) })
    await new Promise<void>(resolve => srv.listen(0, '127.0.0.1', resolve))
    const port = (srv.address() as net.AddressInfo).port
    const b = node({ handshakeTimeoutMs: 300 })
    const t0 = performance.now()
    const err = await b.links.dial(`tcp://127.0.0.1:${port}`).catch((e: Error) => e)
    expect(err).toBeInstanceOf(TimeoutError)
    expect(performance.now() - t0).toBeLessThan(3000)
    expect(b.links.stats.handshakeTimeouts).toBe(1)
    await within<void>(5000, 'the silent server to see its socket closed', resolve => { void serverClosed.then(resolve) })
  })

  for (const [name, garbage] of [
    ['an incomplete frame', Buffer.from([0xff, 0xff, 1, 2, 3])],
    ['a bogus first message', randomBytes(34).fill(0, 0, 1).fill(32, 1, 2)],
    ['an oversized stream of junk', randomBytes(200_000)]
  ] as Array<[string, Buffer]>) {
    it(`a listener receiving ${name} fails within the deadline and closes the socket`, async () => {
      const a = node({ handshakeTimeoutMs: 300 })
      const bound = await a.links.listen('tcp://127.0.0.1:0')
      const port = Number(new URL(bound).port)
      const t0 = performance.now()
      const sock = net.connect(port, '127.0.0.1')
      sock.on('error', () => {})
      sock.on('data', () => {})
      sock.on('connect', () => { sock.write(garbage) })
      await within<void>(5000, 'the listener to close the garbage socket', resolve => { sock.on('close', () => { resolve() }) })
      expect(performance.now() - t0).toBeLessThan(3000)
      const { err, inbound } = await a.nextError()
      expect(inbound).toBe(true)
      expect(err instanceof TimeoutError || err instanceof HandshakeError).toBe(true)
      expect(a.links.stats.handshakesFailed).toBe(1)
      expect(a.conns.all).toHaveLength(0)
    })
  }
})

describe('links: configured peers, backoff and reconnect', () => {
  async function freePort (): Promise<number> {
    const srv = net.createServer()
    await new Promise<void>(resolve => srv.listen(0, '127.0.0.1', resolve))
    const port = (srv.address() as net.AddressInfo).port
    await new Promise(resolve => srv.close(resolve))
    return port
  }

  it('a configured peer whose listener starts later gets connected via backoff (tcp, real time)', async () => {
    const port = await freePort()
    const a = node()
    const b = node({ backoff: { initialMs: 20, maxMs: 80 } })
    const uri = `tcp://127.0.0.1:${port}?key=${hex(a.id.publicKey)}`
    b.links.addPeer(uri)
    const first = await b.nextError()
    expect(first.uri).toBe(uri)
    const down = b.links.peers()
    expect(down).toHaveLength(1)
    expect(down[0]).toMatchObject({ uri, up: false, configured: true })
    expect(down[0].lastError).toMatch(/ECONNREFUSED|cannot dial/)
    await b.nextError() // a second failed attempt: the redial is running
    await a.links.listen(`tcp://127.0.0.1:${port}`)
    const cb = await b.conns.next(5000)
    const ca = await a.conns.next()
    expect(hex(cb.remoteKey)).toBe(hex(a.id.publicKey))
    await exchange(ca, cb)
    expect(b.links.peers()[0]).toMatchObject({ up: true })
    expect(b.links.stats.dials).toBeGreaterThanOrEqual(3)
  })

  it('a peer waiting out a long backoff is redialled as soon as its listener answers a probe (VirtualClock, memory link)', async () => {
    const clock = new VirtualClock()
    const a = node()
    const b = node({ clock, backoff: { initialMs: 1000, maxMs: 60_000, jitter: 0 } })
    const name = `probe-${Math.random().toString(36).slice(2)}`
    b.links.addPeer(`memory://${name}`)
    for (let i = 0; i < 5; i++) { await b.nextError(); clock.advanceTo(b.links.peers()[0].nextDialAt!) }
    await b.nextError()
    const wait = b.links.peers()[0].nextDialAt! - clock.now()
    expect(wait).toBe(32_000) // the backoff has grown
    await a.links.listen(`memory://${name}`)
    clock.advance(1000) // one probe interval, not 32 s
    const cb = await b.conns.next()
    expect(hex(cb.remoteKey)).toBe(hex(a.id.publicKey))
    expect(b.links.stats.probeHits).toBe(1)
    expect(b.links.stats.probes).toBeGreaterThanOrEqual(1)
  })

  it('probes find a tcp:// listener that came back long before the backoff would (real sockets)', async () => {
    const port = await freePortFor()
    const a = node()
    const b = node({ backoff: { initialMs: 8000, maxMs: 60_000, jitter: 0 }, probeIntervalMs: 200 })
    const uri = `tcp://127.0.0.1:${port}`
    b.links.addPeer(uri)
    await b.nextError()
    const t0 = performance.now()
    // the next redial is 8 s after that failure: only a probe can bring the link up within 5 s
    await a.links.listen(uri)
    const cb = await b.conns.next(5000)
    expect(performance.now() - t0).toBeLessThan(5000)
    expect(hex(cb.remoteKey)).toBe(hex(a.id.publicKey))
    expect(b.links.stats.probeHits).toBe(1)
  })

  it('redials follow capped exponential backoff on a VirtualClock (memory link)', async () => {
    const clock = new VirtualClock()
    const a = node()
    const b = node({ clock, backoff: { initialMs: 1000, maxMs: 4000, jitter: 0 } })
    const name = `later-${Math.random().toString(36).slice(2)}`
    b.links.addPeer(`memory://${name}`)
    const waits: number[] = []
    for (let i = 0; i < 5; i++) {
      await b.nextError()
      const next = b.links.peers()[0].nextDialAt!
      waits.push(next - clock.now())
      clock.advanceTo(next)
    }
    expect(waits).toEqual([1000, 2000, 4000, 4000, 4000])
    await b.nextError()
    await a.links.listen(`memory://${name}`)
    const next = b.links.peers()[0].nextDialAt!
    expect(b.conns.all).toHaveLength(0) // nothing happens until the clock says so
    clock.advanceTo(next)
    const cb = await b.conns.next()
    expect(hex(cb.remoteKey)).toBe(hex(a.id.publicKey))
    // the link drops: the backoff was reset, so the redial comes after initialMs
    const dropped = b.nextError()
    ;(await a.conns.next()).close(new Error('kick'))
    await dropped
    expect(b.links.peers()[0].nextDialAt! - clock.now()).toBe(1000)
    clock.advance(1000)
    await b.conns.next()
    // removePeer stops the redials and closes the link
    expect(b.links.removePeer(`memory://${name}`)).toBe(true)
    expect(b.links.peers().filter(p => p.configured)).toHaveLength(0)
  })

  it('the link reconnects after the remote restarts', async () => {
    const idA = makeIdentity()
    const a1 = node({ identity: idA })
    const b = node({ backoff: { initialMs: 20, maxMs: 100 } })
    const bound = await a1.links.listen('tcp://127.0.0.1:0')
    b.links.addPeer(`${bound}?key=${hex(idA.publicKey)}`)
    const cb1 = await b.conns.next()
    const closed = closedOf(cb1)
    await a1.links.stop()
    await closed
    expect(b.links.peers()[0].up).toBe(false)
    const a2 = node({ identity: idA })
    await a2.links.listen(bound)
    const cb2 = await b.conns.next(10_000, 'the reconnected link')
    const ca2 = await a2.conns.next()
    expect(hex(cb2.remoteKey)).toBe(hex(idA.publicKey))
    await exchange(ca2, cb2)
  })
})

describe('links: custom link types and shutdown', () => {
  it('a custom link type registered by the user works', async () => {
    const registry = new MemoryRegistry()
    const inner = memoryLinkType(registry)
    let dials = 0
    const pipe: LinkType = {
      schemes: ['pipe'],
      dial: async (uri, opts) => { dials++; return await inner.dial(new URL(`memory://${uri.host}`), opts) },
      listen: async (uri, onConnection) => {
        const l = await inner.listen(new URL(`memory://${uri.host}`), onConnection)
        return { uri: `pipe://${l.uri.slice('memory://'.length)}`, close: l.close }
      }
    }
    const a = node({ linkTypes: [pipe] })
    const b = node({ linkTypes: [pipe] })
    const bound = await a.links.listen('pipe://custom')
    expect(bound).toBe('pipe://custom')
    const cb = await b.links.dial(bound)
    const ca = await a.conns.next()
    expect(dials).toBe(1)
    expect(hex(ca.remoteKey)).toBe(hex(b.id.publicKey))
    await exchange(ca, cb)
    expect(() => { b.links.addPeer('quic://127.0.0.1:1') }).toThrow(/no link type/)
  })

  it('stop() closes every listener, link and socket (no handles left)', async () => {
    const count = (): number => process.getActiveResourcesInfo().filter(r => r === 'TCPSocketWrap' || r === 'TCPServerWrap').length
    const before = count()
    const a = node()
    const b = node({ backoff: { initialMs: 20, maxMs: 50 } })
    const tcp = await a.links.listen('tcp://127.0.0.1:0')
    const ws = await a.links.listen('ws://127.0.0.1:0/x')
    await a.links.listen('memory://')
    b.links.addPeer(tcp)
    b.links.addPeer(ws)
    b.links.addPeer(`tcp://127.0.0.1:${await freePortFor()}`) // a peer that is down
    await Promise.all([b.conns.next(), b.conns.next(), a.conns.next(), a.conns.next()])
    // a raw client in the middle of a handshake
    const half = net.connect(Number(new URL(tcp).port), '127.0.0.1')
    half.on('error', () => {})
    await within<void>(5000, 'the half-open client to connect', resolve => { half.on('connect', () => { resolve() }) })
    const halfClosed = within<void>(5000, 'the half-open client to be closed', resolve => { half.on('close', () => { resolve() }) })
    half.resume()
    expect(count()).toBeGreaterThan(before)
    await Promise.all([a.links.stop(), b.links.stop()])
    await halfClosed
    expect(count()).toBe(before)
    expect(b.links.peers()).toHaveLength(0)
    await expect(a.links.listen('memory://')).rejects.toThrow(/stopped/)
  })

  it('a process that stops its Links exits on its own', async () => {
    const { spawn } = await import('node:child_process')
    const { fileURLToPath } = await import('node:url')
    const fixture = fileURLToPath(new URL('./fixtures/links-exit.ts', import.meta.url))
    const child = spawn(process.execPath, ['--import', 'tsx', fixture], { stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    child.stdout.on('data', (d: Buffer) => { out += d.toString() })
    child.stderr.on('data', (d: Buffer) => { out += d.toString() })
    const code = await within<number | null>(20_000, `the fixture process to exit (output so far: ${out})`, resolve => { child.on('exit', (c) => { resolve(c) }) })
      .catch((err: Error) => { child.kill('SIGKILL'); throw err })
    expect(out).toContain('links-exit: stopped')
    expect(code).toBe(0)
  })
})

async function freePortFor (): Promise<number> {
  const srv = net.createServer()
  await new Promise<void>(resolve => srv.listen(0, '127.0.0.1', resolve))
  const port = (srv.address() as net.AddressInfo).port
  await new Promise(resolve => srv.close(resolve))
  return port
}

describe('links: options and cancellation', () => {
  it('rejects bad configuration with ConfigError', async () => {
    const id = makeIdentity()
    expect(() => new Links({ identity: id, onConn: () => {}, allowedPublicKeys: ['abc'] })).toThrow(ConfigError)
    expect(() => new Links({ identity: id, onConn: () => {}, backoff: { initialMs: 0 } })).toThrow(ConfigError)
    const a = node()
    expect(() => { a.links.addPeer('not a uri') }).toThrow(ConfigError)
    expect(() => { a.links.addPeer('tcp://127.0.0.1:1?key=zz') }).toThrow(ConfigError)
    expect(() => new Links({ identity: { seed: id.seed, publicKey: makeIdentity().publicKey }, onConn: () => {} })).toThrow(ConfigError)
    expect(() => { a.links.addPeer('tcp://127.0.0.1:1?priority=256') }).toThrow(/priority/)
    expect(() => { a.links.addPeer('tcp://127.0.0.1:1?priority=-1') }).toThrow(/priority/)
    expect(() => { a.links.addPeer(`tcp://127.0.0.1:1?password=${'x'.repeat(65)}`) }).toThrow(/at most 64/)
    expect(() => { a.links.addPeer('noise+tcp://127.0.0.1:1?password=x') }).toThrow(/Yggdrasil links only/)
    expect(() => { a.links.addPeer('tcp://127.0.0.1:1?maxbackoff=soon') }).toThrow(/maxbackoff/)
    await expect(a.links.listen(`tcp://127.0.0.1:0?key=${hex(id.publicKey)}`)).rejects.toThrow(/listen URI/)
  })

  it('dial() honours its AbortSignal during the handshake, and removePeer cancels redials', async () => {
    const serverSockets: net.Socket[] = []
    const srv = net.createServer(s => { serverSockets.push(s); s.resume() })
    cleanups.push(async () => { for (const s of serverSockets) s.destroy(); await new Promise(r => srv.close(r)) })
    await new Promise<void>(resolve => srv.listen(0, '127.0.0.1', resolve))
    const port = (srv.address() as net.AddressInfo).port
    const b = node({ clock: new VirtualClock() }) // deadlines never fire on their own here
    const ac = new AbortController()
    const dialing = b.links.dial(`tcp://127.0.0.1:${port}`, { signal: ac.signal })
    await within<void>(5000, 'the server to accept', resolve => { srv.once('connection', () => { resolve() }) })
    ac.abort()
    await expect(dialing).rejects.toBeInstanceOf(AbortError)
    b.links.addPeer(`tcp://127.0.0.1:${port}`)
    expect(b.links.peers()).toHaveLength(1)
    expect(b.links.removePeer(`tcp://127.0.0.1:${port}`)).toBe(true)
    expect(b.links.removePeer(`tcp://127.0.0.1:${port}`)).toBe(false)
    expect(b.links.peers()).toHaveLength(0)
  })
})
