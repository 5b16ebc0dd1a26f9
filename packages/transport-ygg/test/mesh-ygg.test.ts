/**
 * ygg() in one process over memory:// links: A — P — B with the whole stack (Yggdrasil links, ironwood,
 * sessions, IPv6, userspace TCP) under createNode().
 */
import { afterEach, describe, expect, it, vi } from 'vitest'
import { randomBytes } from 'node:crypto'
import { addressForKey, createNode, peerIdToBytes, UnreachableError, type AxlNode } from '@axl/core'
import { ygg, type YggMesh } from '../src/index.js'
import { mcpHandler } from './helpers/mcp-envelope.js'

const nodes: AxlNode[] = []
afterEach(async () => { await Promise.all(nodes.splice(0).map(async n => { await n.stop() })) })

async function start (name: string, opts: Parameters<typeof ygg>[0]): Promise<{ node: AxlNode, mesh: YggMesh }> {
  let mesh: YggMesh | undefined
  const factory = ygg(opts)
  const node = await createNode({ transport: c => (mesh = factory(c) as YggMesh) })
  nodes.push(node)
  return { node, mesh: mesh! }
}

describe('ygg() over memory links', () => {
  it('A and B exchange messages and requests through P', async () => {
    const relay = `memory://relay-${randomBytes(4).toString('hex')}`
    const p = await start('P', { listen: [relay] })
    const a = await start('A', { peers: [relay] })
    const b = await start('B', { peers: [relay] })
    b.node.handle('mcp', mcpHandler(req => req.request))
    // The first send may race the tree forming: retry until accepted (bounded).
    const deadline = Date.now() + 20_000
    for (;;) {
      try { await a.node.send(b.node.peerId, new TextEncoder().encode('hi B')); break } catch (err) {
        if (Date.now() > deadline) throw err
      }
    }
    const m = await b.node.nextMessage({ timeoutMs: 5000 })
    expect(m.from).toBe(a.node.peerId)
    expect(new TextDecoder().decode(m.data)).toBe('hi B')
    const big = randomBytes(3 * 1024 * 1024)
    await a.node.send(b.node.peerId, big)
    expect(Buffer.from((await b.node.nextMessage({ timeoutMs: 10_000 })).data).equals(big)).toBe(true)
    expect(p.mesh.stats.spoofedDropped).toBe(0)
    expect(a.node.topology().peers.map(x => x.publicKey)).toEqual([p.node.peerId])
  }, 60_000)

  it('an unknown key fails with UnreachableError within the connect timeout', async () => {
    const a = await start('A', { connectTimeoutMs: 1500 })
    const t0 = Date.now()
    await expect(a.node.send(randomBytes(32).toString('hex'), new Uint8Array(1))).rejects.toBeInstanceOf(UnreachableError)
    expect(Date.now() - t0).toBeLessThan(5000)
  }, 20_000)

  it('with the relay down, send() with a short deadline fails with UnreachableError saying no link is up (not a bare TimeoutError)', async () => {
    const relay = `memory://relay-${randomBytes(4).toString('hex')}`
    const p = await start('P', { listen: [relay] })
    const a = await start('A', { peers: [relay] })
    const b = await start('B', { peers: [relay] })
    await p.node.stop()
    // A's link to P is down once P stopped; B's key is known to A only as a peer id.
    const err = await a.node.send(b.node.peerId, new Uint8Array(1), { timeoutMs: 1000 }).then(() => undefined, (e: unknown) => e)
    expect(err).toBeInstanceOf(UnreachableError)
    expect((err as Error).message).toMatch(/no link up \(its configured peers are down\)/)
  }, 20_000)

  it('drops (and counts) IPv6 packets whose source address is not the sending session\'s key', async () => {
    const relay = `memory://relay-${randomBytes(4).toString('hex')}`
    await start('P', { listen: [relay] })
    const a = await start('A', { peers: [relay] })
    const b = await start('B', { peers: [relay] })
    const deadline = Date.now() + 20_000
    for (;;) { // a real exchange first, so A and B have a session
      try { await a.node.send(b.node.peerId, new Uint8Array([1])); break } catch (err) { if (Date.now() > deadline) throw err }
    }
    const bKey = peerIdToBytes(b.node.peerId)
    /** A minimal IPv6 packet (TCP next header, empty payload) from `src` to B. */
    const packet = (src: Uint8Array): Uint8Array => {
      const p = new Uint8Array(1 + 40)
      p[0] = 0x01 // Yggdrasil's IPv6 payload type
      p[1] = 0x60 // version 6
      p[7] = 6 // next header: TCP
      p[8] = 64 // hop limit
      p.set(src, 9)
      p.set(addressForKey(bKey), 25)
      return p
    }
    // A claims to be someone else: B must drop it, whatever A's session is.
    a.mesh.sessions.sendTo(bKey, packet(addressForKey(randomBytes(32))))
    await vi.waitFor(() => { expect(b.mesh.stats.spoofedDropped).toBe(1) }, { timeout: 5000, interval: 10 })
    // With A's true address the same packet passes the check (and TCP answers it with a RST, as to any stray segment).
    const before = b.mesh.tcp.stats.packetsIn
    a.mesh.sessions.sendTo(bKey, packet(addressForKey(peerIdToBytes(a.node.peerId))))
    await vi.waitFor(() => { expect(b.mesh.tcp.stats.packetsIn).toBeGreaterThan(before) }, { timeout: 5000, interval: 10 })
    expect(b.mesh.stats.spoofedDropped).toBe(1)
  }, 60_000)

  it('custom protocols cross the overlay on their own port (7100): A opens /chat/1 to B through P', async () => {
    const relay = `memory://relay-${randomBytes(4).toString('hex')}`
    await start('P', { listen: [relay] })
    const a = await start('A', { peers: [relay] })
    const b = await start('B', { peers: [relay] })
    b.node.handle('/chat/1', async (stream, ctx) => {
      const parts: string[] = []
      for await (const c of stream) parts.push(new TextDecoder().decode(c))
      stream.send(new TextEncoder().encode(`${ctx.from.slice(0, 8)} said ${parts.join('')}`))
      stream.closeWrite()
    })
    const s = await a.node.dialProtocol(b.node.peerId, '/chat/1', { timeoutMs: 20_000 })
    s.send(new TextEncoder().encode('hello over ygg'))
    s.closeWrite()
    let answer = ''
    for await (const c of s) answer += new TextDecoder().decode(c)
    expect(answer).toBe(`${a.node.peerId.slice(0, 8)} said hello over ygg`)
    await expect(a.node.dialProtocol(b.node.peerId, '/nope/1')).rejects.toThrow(/does not speak \/nope\/1: no handler/)
    expect(b.node.recv()).toBeUndefined()
  })
})
