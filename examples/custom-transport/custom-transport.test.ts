/**
 * The custom transports of this example on real sockets (127.0.0.1 and unix sockets in a temp dir): directTcp()
 * carrying messages, MCP calls and custom protocols (large, half-closed, reset, pushed back), refusing unknown
 * peers, impostors, forged and stalled handshakes, honouring AbortSignal; and pipeLinkType() carrying the
 * Yggdrasil overlay from A through P to B.
 */
import net from 'node:net'
import { createHash, randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import {
  AbortError, NotStartedError, StreamClosedError, TimeoutError, UnreachableError, createNode, generateIdentity, peerIdToBytes, withDeadline,
  type AxlNode, type MeshStream
} from '@axl/core'
import { LinkDialError, ygg } from '@axl/transport-ygg'
import { mcp } from '@axl/router-mcp'
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js'
import * as z from 'zod'
import { directTcp, parseHostPort, type DirectTcpOptions } from './direct-tcp.js'
import { HELLO_LENGTH, REPLY_LENGTH, encodeFinish, encodeHello } from './handshake.js'
import { pipeLinkType } from './pipe-link.js'

const te = new TextEncoder()
const td = new TextDecoder()
const WAIT = { timeoutMs: 10_000 }

const cleanups: Array<() => Promise<void>> = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

/** A node on directTcp() registered in `directory`, stopped after the test. */
async function tcpNode (directory: Map<string, string>, opts: Omit<DirectTcpOptions, 'directory'> = {}) {
  const node = await createNode({ transport: directTcp({ directory, ...opts }), services: { mcp: mcp() } })
  cleanups.push(async () => { await node.stop() })
  directory.set(node.peerId, node.listenAddresses()[0])
  return node
}

/** Resolves with the detail of the next `type` event of `node`. */
async function nextEvent<T> (node: AxlNode<any>, type: 'link:error' | 'peer:connect', timeoutMs = 10_000): Promise<T> {
  let listener!: (e: Event) => void
  const p = new Promise<T>(resolve => { listener = (e: Event) => { resolve((e as CustomEvent<T>).detail) } })
  node.addEventListener(type, listener)
  try { return await withDeadline(p, { timeoutMs }, `waiting for ${type}`) } finally { node.removeEventListener(type, listener) }
}

/** A raw TCP client to `address` (direct-tcp://host:port), with a helper that reads exact byte counts. */
async function rawClient (address: string): Promise<{ socket: net.Socket, read: (n: number) => Promise<Buffer>, closed: Promise<void> }> {
  const { host, port } = parseHostPort(address)!
  const socket = net.connect({ host, port })
  socket.on('error', () => {}) // the node resets us: expected here, asserted through `closed`
  cleanups.push(async () => { socket.destroy() })
  await withDeadline(new Promise(resolve => socket.once('connect', resolve)), WAIT, 'raw connect')
  let buf = Buffer.alloc(0)
  let wake: (() => void) | undefined
  socket.on('data', (c: Buffer) => { buf = Buffer.concat([buf, c]); wake?.() })
  const closed = new Promise<void>(resolve => socket.once('close', () => { resolve() }))
  const read = async (n: number): Promise<Buffer> => {
    while (buf.length < n) await withDeadline(new Promise<void>(resolve => { wake = resolve }), WAIT, 'raw read')
    const out = buf.subarray(0, n)
    buf = buf.subarray(n)
    return out
  }
  return { socket, read, closed }
}

/** Read a stream to its end (deadline per read). */
async function readAll (s: MeshStream): Promise<Buffer> {
  const parts: Uint8Array[] = []
  for (let c = await s.read(WAIT); c !== null; c = await s.read(WAIT)) parts.push(c)
  return Buffer.concat(parts)
}

describe('directTcp(): a custom Mesh over node:net', () => {
  it('delivers a message with the sender\'s authenticated key, and lists the link in the topology', async () => {
    const directory = new Map<string, string>()
    const alice = await tcpNode(directory)
    const bob = await tcpNode(directory)
    expect(alice.listenAddresses()[0]).toMatch(/^direct-tcp:\/\/127\.0\.0\.1:\d+$/)
    const connected = nextEvent<{ peer: string, inbound: boolean }>(bob, 'peer:connect')
    await alice.send(bob.peerId, te.encode('hi bob'), WAIT)
    const msg = await bob.nextMessage(WAIT)
    expect(td.decode(msg.data)).toBe('hi bob')
    expect(msg.from).toBe(alice.peerId)
    expect(await connected).toMatchObject({ peer: alice.peerId, inbound: true })
    expect(alice.topology().ourPublicKey).toBe(alice.peerId)
  })

  it('carries an MCP tools/call made with the MCP SDK Client', async () => {
    const directory = new Map<string, string>()
    const alice = await tcpNode(directory)
    const bob = await tcpNode(directory)
    const server = new McpServer({ name: 'weather', version: '1.0.0' })
    let caller: string | undefined
    server.registerTool('forecast', { inputSchema: { city: z.string() } }, async ({ city }, extra) => {
      caller = extra.authInfo?.clientId
      return { content: [{ type: 'text', text: `Sunny in ${city}` }] }
    })
    await bob.services.mcp.register('weather', server)
    const client = new Client({ name: 'alice', version: '1.0.0' })
    await client.connect(alice.services.mcp.transport(bob.peerId, 'weather', WAIT))
    cleanups.push(async () => { await client.close() })
    const result = await client.callTool({ name: 'forecast', arguments: { city: 'Lisbon' } })
    expect((result.content as Array<{ text: string }>)[0].text).toBe('Sunny in Lisbon')
    expect(caller).toBe(alice.peerId)
  })

  it('runs a custom protocol with half-close in both directions', async () => {
    const directory = new Map<string, string>()
    const alice = await tcpNode(directory)
    const bob = await tcpNode(directory)
    let sawEof = false
    bob.handle('/echo/1', async (stream, { from }) => {
      const got = await readAll(stream) // ends only on alice's FIN
      sawEof = true
      stream.send(te.encode(`${from === alice.peerId ? 'alice' : '?'}:${td.decode(got)}`))
      stream.closeWrite()
    })
    const s = await alice.dialProtocol(bob.peerId, '/echo/1', WAIT)
    s.send(te.encode('one,'))
    s.send(te.encode('two'))
    s.closeWrite() // our FIN; we keep reading
    expect(td.decode(await readAll(s))).toBe('alice:one,two')
    expect(sawEof).toBe(true)
    await s.closed(WAIT)
    expect(s.status).toBe('closed')
  })

  it('delivers an 8 MiB message intact', async () => {
    const directory = new Map<string, string>()
    const alice = await tcpNode(directory)
    const bob = await tcpNode(directory)
    const big = randomBytes(8 * 1024 * 1024)
    await alice.send(bob.peerId, big, { timeoutMs: 20_000 })
    const msg = await bob.nextMessage(WAIT)
    expect(msg.data.byteLength).toBe(big.byteLength)
    expect(Buffer.from(msg.data).equals(big)).toBe(true)
  })

  it('stalls a writer whose reader does not read, with the receive buffer bounded, then delivers 8 MiB more in order', async () => {
    const directory = new Map<string, string>()
    const streamBufferBytes = 256 * 1024
    const alice = await tcpNode(directory)
    const bob = await tcpNode(directory, { streamBufferBytes })
    const chunk = 64 * 1024
    let open!: () => void
    const gate = new Promise<void>(resolve => { open = resolve })
    let bobStream: MeshStream | undefined
    let maxBuffered = 0
    const received = new Promise<{ bytes: number, digest: string }>((resolve, reject) => {
      bob.handle('/sink/1', async (stream) => {
        bobStream = stream
        await gate
        const h = createHash('sha256')
        let bytes = 0
        try {
          for (let c = await stream.read(WAIT); c !== null; c = await stream.read(WAIT)) {
            maxBuffered = Math.max(maxBuffered, stream.readableLength + c.byteLength)
            h.update(c)
            bytes += c.byteLength
          }
          stream.closeWrite()
          resolve({ bytes, digest: h.digest('hex') })
        } catch (err) { reject(err) }
      })
    })
    const s = await alice.dialProtocol(bob.peerId, '/sink/1', WAIT)
    const sent = createHash('sha256')
    let total = 0
    // Phase 1: bob reads nothing. alice writes, waiting for drain when pushed back, until no drain comes for
    // 500 ms (stalled): that must happen long before 64 MiB, with bob's receive buffer at its bound.
    const cap = 64 * 1024 * 1024
    let stalled = false
    let waits = 0
    while (!stalled && total < cap) {
      const c = randomBytes(chunk)
      sent.update(c)
      total += c.byteLength
      if (s.send(c, true)) continue
      waits++
      stalled = await s.onDrain({ timeoutMs: 500 }).then(() => false, (err: unknown) => { if (err instanceof TimeoutError) return true; throw err })
    }
    expect(stalled).toBe(true)
    expect(total).toBeLessThan(cap)
    // bob paused its socket at its high-water mark: the rest waits in kernel buffers and in TCP's window, not in ours.
    expect(bobStream!.readableFull).toBe(true)
    expect(bobStream!.readableLength).toBeLessThanOrEqual(streamBufferBytes + chunk)
    // Phase 2: bob reads; alice goes on, waiting for drain whenever pushed back, for 8 MiB more.
    open()
    await s.onDrain(WAIT)
    const target = total + 8 * 1024 * 1024
    while (total < target) {
      const c = randomBytes(chunk)
      sent.update(c)
      total += c.byteLength
      if (!s.send(c, true)) { waits++; await s.onDrain(WAIT) }
    }
    s.closeWrite()
    const got = await withDeadline(received, { timeoutMs: 20_000 }, 'bob reading everything')
    expect(got.bytes).toBe(total)
    expect(got.digest).toBe(sent.digest('hex'))
    expect(waits).toBeGreaterThan(1)
    expect(maxBuffered).toBeLessThanOrEqual(streamBufferBytes + 2 * chunk)
    expect(await readAll(s)).toHaveLength(0)
  })

  it('maps a reset to RST: the other side\'s read fails, in both directions', async () => {
    const directory = new Map<string, string>()
    const alice = await tcpNode(directory)
    const bob = await tcpNode(directory)
    // bob's side of each stream, by the first chunk alice sent on it, with the outcome of bob's next read.
    const atBob = new Map<string, { stream: MeshStream, next: Promise<Uint8Array | null> }>()
    let arrived!: () => void
    const bothArrived = new Promise<void>(resolve => { arrived = resolve })
    bob.handle('/hold/1', async (stream) => {
      const first = await stream.read(WAIT)
      const next = stream.read(WAIT)
      next.catch(() => {}) // asserted below
      atBob.set(td.decode(first!), { stream, next })
      if (atBob.size === 2) arrived()
    })
    const s1 = await alice.dialProtocol(bob.peerId, '/hold/1', WAIT)
    const s2 = await alice.dialProtocol(bob.peerId, '/hold/1', WAIT)
    s1.send(te.encode('one'))
    s2.send(te.encode('two'))
    await withDeadline(bothArrived, WAIT, 'both streams at bob')
    // alice resets s1: bob's pending read fails with StreamClosedError, not a clean end of stream.
    s1.abort('alice gives up')
    await expect(atBob.get('one')!.next).rejects.toBeInstanceOf(StreamClosedError)
    // bob resets the other one: alice's read fails the same way.
    atBob.get('two')!.stream.abort('bob gives up')
    await expect(s2.read(WAIT)).rejects.toBeInstanceOf(StreamClosedError)
    expect(s2.status).toBe('aborted')
  })

  it('fails a dial to an unknown peer, or to an address where nothing listens, with UnreachableError within the deadline', async () => {
    const directory = new Map<string, string>()
    const alice = await tcpNode(directory)
    const nobody = generateIdentity().peerId
    const t0 = Date.now()
    await expect(alice.send(nobody, te.encode('x'), { timeoutMs: 2_000 })).rejects.toThrow(/not in the directory/)
    const closed = await freePort()
    directory.set(nobody, `127.0.0.1:${closed}`)
    const err = await alice.send(nobody, te.encode('x'), { timeoutMs: 2_000 }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(UnreachableError)
    expect(String(err)).toMatch(/ECONNREFUSED/)
    expect(Date.now() - t0).toBeLessThan(2_000)
  })

  it('refuses an impostor: a node with another key listening at the directory\'s address', async () => {
    const directory = new Map<string, string>()
    const alice = await tcpNode(directory)
    const bob = await tcpNode(directory)
    const mallory = await tcpNode(new Map())
    directory.set(bob.peerId, mallory.listenAddresses()[0])
    const malloryError = nextEvent<{ error: Error }>(mallory, 'link:error')
    const err = await alice.send(bob.peerId, te.encode('for bob only'), WAIT).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(UnreachableError)
    expect(String(err)).toMatch(new RegExp(`has key ${mallory.peerId}, not the directory's`))
    // alice hung up after mallory's REPLY, before any byte of the message.
    expect((await malloryError).error.message).toMatch(/closed the connection during the handshake/)
    expect(mallory.stats.inbox.accepted).toBe(0)
  })

  it('refuses a dialer that claims a key it cannot sign for, and survives garbage', async () => {
    const directory = new Map<string, string>()
    const alice = await tcpNode(directory)
    const bob = await tcpNode(directory)
    const addr = bob.listenAddresses()[0]

    const forged = await rawClient(addr)
    const rejected = nextEvent<{ error: Error }>(bob, 'link:error')
    forged.socket.write(encodeHello(peerIdToBytes(alice.peerId), randomBytes(32)))
    expect((await forged.read(REPLY_LENGTH)).length).toBe(REPLY_LENGTH)
    forged.socket.write(encodeFinish(randomBytes(64), 'axl'))
    expect((await rejected).error.message).toMatch(/did not prove it holds the key/)
    await withDeadline(forged.closed, WAIT, 'bob hangs up on the forger')

    const junk = await rawClient(addr)
    const badMagic = nextEvent<{ error: Error }>(bob, 'link:error')
    junk.socket.write(randomBytes(HELLO_LENGTH))
    expect((await badMagic).error.message).toMatch(/bad magic/)
    await withDeadline(junk.closed, WAIT, 'bob hangs up on garbage')

    expect(bob.stats.inbox.accepted).toBe(0)
    await alice.send(bob.peerId, te.encode('still here'), WAIT)
    expect(td.decode((await bob.nextMessage(WAIT)).data)).toBe('still here')
  })

  it('drops an inbound connection that stalls in the handshake after handshakeTimeoutMs', async () => {
    const bob = await tcpNode(new Map(), { handshakeTimeoutMs: 300 })
    const silent = await rawClient(bob.listenAddresses()[0])
    const timedOut = nextEvent<{ error: Error }>(bob, 'link:error')
    expect((await timedOut).error).toBeInstanceOf(TimeoutError)
    await withDeadline(silent.closed, WAIT, 'bob hangs up on the silent client')
  })

  it('refuses streams beyond maxConnections with UnreachableError (busy)', async () => {
    const directory = new Map<string, string>()
    const alice = await tcpNode(directory)
    const bob = await tcpNode(directory, { maxConnections: 1 })
    bob.handle('/hold/1', async (stream) => { await readAll(stream); stream.closeWrite() })
    const held = await alice.dialProtocol(bob.peerId, '/hold/1', WAIT)
    await expect(alice.send(bob.peerId, te.encode('x'), WAIT)).rejects.toThrow(/busy/)
    held.closeWrite()
    await held.closed(WAIT)
  })

  it('honours AbortSignal and timeoutMs while the remote stalls, and releases the socket', async () => {
    const directory = new Map<string, string>()
    const alice = await tcpNode(directory)
    const sockets: net.Socket[] = []
    let accepted: (s: net.Socket) => void = () => {}
    const blackhole = net.createServer(s => { sockets.push(s); s.on('error', () => {}); accepted(s) }) // accepts, never answers
    await new Promise<void>(resolve => blackhole.listen(0, '127.0.0.1', resolve))
    cleanups.push(async () => { for (const s of sockets) s.destroy(); await new Promise(resolve => blackhole.close(resolve)) })
    const ghost = generateIdentity().peerId
    directory.set(ghost, `127.0.0.1:${(blackhole.address() as net.AddressInfo).port}`)

    const ac = new AbortController()
    const connected = new Promise<net.Socket>(resolve => { accepted = resolve })
    const sending = alice.send(ghost, te.encode('x'), { signal: ac.signal })
    const remote = await withDeadline(connected, WAIT, 'the dial reaching the black hole')
    const released = new Promise<void>(resolve => remote.once('close', () => { resolve() }))
    ac.abort()
    await expect(sending).rejects.toBeInstanceOf(AbortError)
    await withDeadline(released, WAIT, 'the aborted dial closing its socket')

    const t0 = Date.now()
    await expect(alice.send(ghost, te.encode('x'), { timeoutMs: 300 })).rejects.toBeInstanceOf(TimeoutError)
    expect(Date.now() - t0).toBeLessThan(5_000)
  })

  it('refuses streams to a mesh with no handler, and dials after stop() with NotStartedError', async () => {
    const directory = new Map<string, string>()
    const alice = await tcpNode(directory)
    const identity = generateIdentity()
    const mesh = directTcp({ directory })({ identity }) // a bare Mesh: started, but nobody called handle()
    await mesh.start()
    cleanups.push(async () => { await mesh.stop() })
    directory.set(identity.peerId, mesh.addresses!()[0])
    await expect(alice.send(identity.peerId, te.encode('x'), WAIT)).rejects.toThrow(/not accepting streams/)
    await mesh.stop()
    await expect(mesh.dial(alice.peerId)).rejects.toBeInstanceOf(NotStartedError)
  })
})

describe('pipeLinkType(): a custom link type under ygg()', () => {
  it('carries the overlay: A and B link only to P, and A\'s message reaches B through P', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'axl-pipes-'))
    cleanups.push(async () => { await rm(dir, { recursive: true, force: true }) })
    const pipes = pipeLinkType({ dir })
    const p = await createNode({ transport: ygg({ linkTypes: [pipes], listen: ['pipe://relay'] }) })
    cleanups.push(async () => { await p.stop() })
    expect(p.listenAddresses()).toEqual(['pipe://relay'])
    const [a, b] = await Promise.all([0, 1].map(async () => {
      const node = await createNode({ start: false, transport: ygg({ linkTypes: [pipes], peers: ['pipe://relay'] }) })
      cleanups.push(async () => { await node.stop() })
      const linked = nextEvent<{ peer: string }>(node, 'peer:connect')
      await node.start()
      expect((await linked).peer).toBe(p.peerId)
      return node
    }))
    expect(a.topology().peers.filter(l => l.up).map(l => l.publicKey)).toEqual([p.peerId])
    expect(b.topology().peers.filter(l => l.up).map(l => l.publicKey)).toEqual([p.peerId])
    await a.send(b.peerId, te.encode('via P'), { timeoutMs: 15_000 })
    const msg = await b.nextMessage(WAIT)
    expect(td.decode(msg.data)).toBe('via P')
    expect(msg.from).toBe(a.peerId)
  })

  it('rejects a dial to a name nobody listens on, an aborted dial, a bad name, and a name in use', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'axl-pipes-'))
    cleanups.push(async () => { await rm(dir, { recursive: true, force: true }) })
    const pipes = pipeLinkType({ dir })
    await expect(pipes.dial(new URL('pipe://nobody'), { signal: new AbortController().signal })).rejects.toBeInstanceOf(LinkDialError)
    expect(await pipes.probe!(new URL('pipe://nobody'), { signal: new AbortController().signal })).toBe(false)
    await expect(pipes.dial(new URL('pipe://nobody'), { signal: AbortSignal.abort() })).rejects.toBeInstanceOf(AbortError)
    await expect(pipes.dial(new URL('pipe://a%2Fb'), { signal: new AbortController().signal })).rejects.toThrow(/pipe:\/\/<name>/)
    const l = await pipes.listen(new URL('pipe://x'), raw => { raw.close() })
    cleanups.push(async () => { await l.close() })
    await expect(pipes.listen(new URL('pipe://x'), () => {})).rejects.toThrow(/already in use/)
    expect(await pipes.probe!(new URL('pipe://x'), { signal: new AbortController().signal })).toBe(true)
  })
})

/** A TCP port on 127.0.0.1 nothing listens on (bound once, then released). */
async function freePort (): Promise<number> {
  const s = net.createServer()
  await new Promise<void>(resolve => s.listen(0, '127.0.0.1', resolve))
  const { port } = s.address() as net.AddressInfo
  await new Promise(resolve => s.close(resolve))
  return port
}
