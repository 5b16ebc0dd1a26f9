/**
 * Custom protocols: `node.handle('/name/1.0', handler, { allow })` and `node.dialProtocol(peer, name)`, negotiated
 * on the mesh's protocol channel (never on the AXL channel), on the in-memory mesh. The Yggdrasil mesh and the
 * Go-compatibility case (a real yggdrasil-go node refusing the protocol port) are in transport-ygg's tests.
 */
import { afterEach, describe, expect, it } from 'vitest'
import {
  AxlError, createNode, MemoryNetwork, ProtocolRefusedError, UnsupportedProtocolError, type AxlNode, type Mesh, type MeshStream,
  type TransportFactory
} from '../src/index.js'

const nodes: AxlNode[] = []
afterEach(async () => { await Promise.all(nodes.splice(0).map(async n => { await n.stop() })) })

async function pair (net = new MemoryNetwork()): Promise<[AxlNode, AxlNode, AxlNode]> {
  const made = await Promise.all([0, 1, 2].map(async () => await createNode({ transport: net.transport() })))
  nodes.push(...made)
  return made as unknown as [AxlNode, AxlNode, AxlNode]
}

async function readAll (s: MeshStream): Promise<string> {
  let out = ''
  for await (const c of s) out += new TextDecoder().decode(c)
  return out
}

describe('custom protocols', () => {
  it('two protocols on one node, each with its own handler; bytes sent right after the negotiation arrive intact', async () => {
    const [a, b] = await pair()
    b.handle('/echo/1.0.0', async (stream, ctx) => {
      expect(ctx.from).toBe(a.peerId)
      expect(ctx.protocol).toBe('/echo/1.0.0')
      for await (const chunk of stream) stream.send(chunk)
      stream.closeWrite()
    })
    b.handle('/upper/1.0.0', async (stream) => {
      const text = await readAll(stream)
      stream.send(new TextEncoder().encode(text.toUpperCase()))
      stream.closeWrite()
    })
    expect(b.protocols().sort()).toEqual(['/echo/1.0.0', '/upper/1.0.0'])
    const e = await a.dialProtocol(b.peerId, '/echo/1.0.0')
    e.send(new TextEncoder().encode('hello '))
    e.send(new TextEncoder().encode('echo'))
    e.closeWrite()
    const u = await a.dialProtocol(b.peerId, '/upper/1.0.0')
    u.send(new TextEncoder().encode('shout'))
    u.closeWrite()
    expect(await readAll(e)).toBe('hello echo')
    expect(await readAll(u)).toBe('SHOUT')
    // nothing of it reached the AXL side of b
    expect(b.recv()).toBeUndefined()
    expect(b.stats.inbox.accepted).toBe(0)
  })

  it('the listener may write first, and data that came with the negotiation answer is not lost', async () => {
    const [a, b] = await pair()
    b.handle('/greet/1', (stream) => { stream.send(new TextEncoder().encode('welcome')); stream.closeWrite() })
    const s = await a.dialProtocol(b.peerId, '/greet/1')
    s.closeWrite()
    expect(await readAll(s)).toBe('welcome')
  })

  it('an unknown protocol is refused with UnsupportedProtocolError naming it; no AXL message is queued', async () => {
    const [a, b] = await pair()
    b.handle('/known/1', () => {})
    const err = await a.dialProtocol(b.peerId, '/unknown/1').catch((e: Error) => e)
    expect(err).toBeInstanceOf(UnsupportedProtocolError)
    expect((err as UnsupportedProtocolError).code).toBe('ERR_UNSUPPORTED_PROTOCOL')
    expect((err as Error).message).toBe(`peer ${b.peerId} does not speak /unknown/1: no handler for /unknown/1`)
    expect(b.recv()).toBeUndefined()
    // unregistering makes a known protocol unknown
    const off = b.handle('/temp/1', () => {})
    off()
    await expect(a.dialProtocol(b.peerId, '/temp/1')).rejects.toBeInstanceOf(UnsupportedProtocolError)
  })

  it('the access check admits some peers and refuses others with its reason', async () => {
    const [a, b, c] = await pair()
    const seen: string[] = []
    b.handle('/private/1', (stream) => { stream.send(new TextEncoder().encode('secret')); stream.closeWrite() }, {
      allow: async (peer) => { seen.push(peer); return peer === a.peerId ? true : 'friends only' }
    })
    const ok = await a.dialProtocol(b.peerId, '/private/1')
    ok.closeWrite()
    expect(await readAll(ok)).toBe('secret')
    const err = await c.dialProtocol(b.peerId, '/private/1').catch((e: Error) => e)
    expect(err).toBeInstanceOf(ProtocolRefusedError)
    expect((err as Error).message).toBe(`peer ${b.peerId} refused /private/1: friends only`)
    expect(seen).toEqual([a.peerId, c.peerId])
  })

  it('maxStreams bounds the open streams of a protocol (busy), and frees the slot when a handler ends', async () => {
    const [a, b] = await pair()
    let release!: () => void
    const held = new Promise<void>(resolve => { release = resolve })
    b.handle('/slow/1', async (stream) => { await held; stream.closeWrite() }, { maxStreams: 1 })
    const first = await a.dialProtocol(b.peerId, '/slow/1')
    await expect(a.dialProtocol(b.peerId, '/slow/1')).rejects.toThrow(/refused \/slow\/1: too many \/slow\/1 streams/)
    release()
    first.closeWrite()
    await first.closed({ timeoutMs: 5000 })
    const again = await a.dialProtocol(b.peerId, '/slow/1')
    again.closeWrite()
  })

  it('a handler that throws resets its stream and reports stream:error', async () => {
    const [a, b] = await pair()
    const errors: Error[] = []
    b.addEventListener('stream:error', (e) => { errors.push((e as CustomEvent<{ error: Error }>).detail.error) })
    b.handle('/boom/1', () => { throw new Error('handler exploded') })
    const s = await a.dialProtocol(b.peerId, '/boom/1')
    await expect(readAll(s)).rejects.toThrow(/handler exploded/)
    expect(errors.map(e => e.message)).toEqual(['handler exploded'])
  })

  it('protocol names are checked; a transport without a protocol channel says so', async () => {
    const [a, b] = await pair()
    for (const bad of ['noslash', '/', '/has space', `/${'x'.repeat(300)}`]) {
      expect(() => b.handle(bad as `/${string}`, () => {})).toThrow(AxlError)
      await expect(a.dialProtocol(b.peerId, bad)).rejects.toThrow(/protocol name/)
    }
    // A Mesh written before channels existed: only AXL streams.
    const net = new MemoryNetwork()
    const plain: TransportFactory = (c) => {
      const m = net.transport()(c) as Mesh & { channels?: unknown }
      return {
        start: async () => { await m.start() },
        stop: async () => { await m.stop() },
        dial: async (peer, opts) => await m.dial(peer, opts),
        handle: (h) => { m.handle(h) },
        topology: () => m.topology()
      }
    }
    const x = await createNode({ transport: plain })
    const y = await createNode({ transport: plain })
    nodes.push(x, y)
    const err = await x.dialProtocol(y.peerId, '/any/1').catch((e: Error) => e)
    expect(err).toBeInstanceOf(UnsupportedProtocolError)
    expect((err as Error).message).toMatch(/transport has no protocol channel/)
  })
})
