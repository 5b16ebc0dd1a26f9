import { randomBytes } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import {
  AbortError, InvalidPeerIdError, MessageTooLargeError, NotStartedError, RefusedError, TimeoutError, UnreachableError
} from '../src/errors.js'
import { generateIdentity } from '../src/identity.js'
import type { InboundMessage } from '../src/inbox.js'
import { deferred, network, node, once, pattern, str, text, timed } from './node-helpers.js'
import { mcpRequest } from './envelope-helpers.js'

describe('send()', () => {
  it('resolves once the remote queued it; the receiver sees the full sender id', async () => {
    const net = network()
    const a = await node(net); const b = await node(net)
    await a.send(b.peerId, text('hello'))
    const m = b.recv() // synchronously: "accepted" means already queued
    expect(m).toBeDefined()
    expect(str(m!.data)).toBe('hello')
    expect(m!.from).toBe(a.peerId)
    expect(m!.from).toMatch(/^[0-9a-f]{64}$/)
    expect(b.stats.inbox.accepted).toBe(1)
  })

  it('accepts the peer id in upper case and with whitespace; rejects a bad one before dialling', async () => {
    const net = network()
    const a = await node(net); const b = await node(net)
    await a.send(` ${b.peerId.toUpperCase()}\n`, text('x'))
    expect(b.recv()?.from).toBe(a.peerId)
    const streams = net.stats.streams
    await expect(a.send('abcd', text('x'))).rejects.toBeInstanceOf(InvalidPeerIdError)
    expect(net.stats.streams).toBe(streams)
  })

  const sizes: Array<[string, () => Uint8Array]> = [
    ['0 bytes', () => new Uint8Array(0)],
    ['256 bytes 0x00..0xff', () => pattern(256)],
    ['1 MiB random', () => new Uint8Array(randomBytes(1024 * 1024))]
  ]
  for (const [name, make] of sizes) {
    it(`delivers ${name} byte for byte`, async () => {
      const net = network()
      const a = await node(net); const b = await node(net)
      const data = make()
      const copy = data.slice()
      await a.send(b.peerId, data)
      const m = b.recv()!
      expect(m.data.byteLength).toBe(copy.byteLength)
      expect(Buffer.from(m.data).equals(Buffer.from(copy))).toBe(true)
    })
  }

  it('delivers exactly maxMessageSize (default 16 MiB) and refuses one byte more locally', async () => {
    const net = network()
    const a = await node(net); const b = await node(net)
    const max = a.limits.maxMessageSize
    expect(max).toBe(16 * 1024 * 1024)
    const data = pattern(max, 7)
    await a.send(b.peerId, data)
    const m = b.recv()!
    expect(m.data.byteLength).toBe(max)
    expect(Buffer.from(m.data).equals(Buffer.from(data))).toBe(true)
    const streams = net.stats.streams
    await expect(a.send(b.peerId, new Uint8Array(max + 1))).rejects.toBeInstanceOf(MessageTooLargeError)
    expect(net.stats.streams).toBe(streams) // refused before dialling
  })

  it('the queued bytes are the receiver’s own: the sender may reuse its buffer', async () => {
    const net = network()
    const a = await node(net); const b = await node(net)
    const buf = pattern(64)
    await a.send(b.peerId, buf)
    buf.fill(0)
    expect(b.recv()!.data).toEqual(pattern(64))
  })

  it('sequential sends arrive in order', async () => {
    const net = network()
    const a = await node(net); const b = await node(net, { inboxMaxMessages: 500 })
    for (let i = 0; i < 300; i++) await a.send(b.peerId, text(String(i)))
    const got: string[] = []
    for (let m = b.recv(); m !== undefined; m = b.recv()) got.push(str(m.data))
    expect(got).toEqual(Array.from({ length: 300 }, (_, i) => String(i)))
  })

  it('1,000 concurrent sends all arrive (default stream limits)', async () => {
    const net = network()
    const a = await node(net); const b = await node(net, { inboxMaxMessages: 1000 })
    await Promise.all(Array.from({ length: 1000 }, async (_, i) => { await a.send(b.peerId, text(String(i))) }))
    const got = new Set<string>()
    for (let m = b.recv(); m !== undefined; m = b.recv()) got.add(str(m.data))
    expect(got.size).toBe(1000)
    expect(b.stats.streamsRejected).toBe(0)
  })

  it('loops back to itself', async () => {
    const net = network()
    const a = await node(net)
    await a.send(a.peerId, text('me'))
    expect(a.recv()?.from).toBe(a.peerId)
  })

  it('a receiver with a smaller maxMessageSize refuses: MessageTooLargeError(remote), counted, never queued', async () => {
    const net = network()
    const a = await node(net); const b = await node(net, { maxMessageSize: 1000 })
    const dropped = once<{ from: string, bytes: number }>(b, 'message:dropped')
    const err = await a.send(b.peerId, new Uint8Array(1001)).catch(e => e as Error)
    expect(err).toBeInstanceOf(MessageTooLargeError)
    expect((err as Error).message).toMatch(/remote limit of 1000 bytes/)
    expect((err as MessageTooLargeError).limit).toBe(1000)
    expect(b.stats.framesTooLarge).toBe(1)
    expect(b.recv()).toBeUndefined()
    expect(b.stats.inbox.accepted).toBe(0)
    expect(await dropped).toMatchObject({ from: a.peerId, bytes: 1001 })
    // exactly the limit is fine, and b keeps working
    await a.send(b.peerId, new Uint8Array(1000))
    expect(b.recv()?.data.byteLength).toBe(1000)
  })

  it('a receiver refusing a message far above the sender’s window still answers (no stall)', async () => {
    const net = network({ streamWindowBytes: 64 * 1024 })
    const a = await node(net); const b = await node(net, { maxMessageSize: 1024 })
    await expect(a.send(b.peerId, new Uint8Array(4 * 1024 * 1024), { timeoutMs: 2000 })).rejects.toBeInstanceOf(MessageTooLargeError)
  })

  it('the network maxMessageSize applies to both ends', async () => {
    const net = network({ maxMessageSize: 100 })
    const a = await node(net); const b = await node(net)
    await expect(a.send(b.peerId, new Uint8Array(101))).rejects.toBeInstanceOf(MessageTooLargeError)
    await a.send(b.peerId, new Uint8Array(100))
    expect(b.recv()?.data.byteLength).toBe(100)
  })

  it('unknown, killed, partitioned or stopped peers → UnreachableError', async () => {
    const net = network()
    const a = await node(net); const b = await node(net); const c = await node(net)
    await expect(a.send(generateIdentity().peerId, text('x'))).rejects.toBeInstanceOf(UnreachableError)
    net.kill(b)
    await expect(a.send(b.peerId, text('x'))).rejects.toBeInstanceOf(UnreachableError)
    net.restart(b)
    await a.send(b.peerId, text('back'))
    net.partition([a], [c])
    await expect(a.send(c.peerId, text('x'))).rejects.toBeInstanceOf(UnreachableError)
    await expect(c.send(a.peerId, text('x'))).rejects.toBeInstanceOf(UnreachableError)
    await b.send(c.peerId, text('other side unaffected'))
    net.heal()
    await a.send(c.peerId, text('healed'))
    await c.stop()
    await expect(a.send(c.peerId, text('x'))).rejects.toBeInstanceOf(UnreachableError)
  })

  it("inbox full with 'refuse' → RefusedError, and nothing accepted is lost", async () => {
    const net = network()
    const a = await node(net); const b = await node(net, { inboxMaxMessages: 3 })
    const events: unknown[] = []
    b.addEventListener('message:dropped', e => events.push((e as CustomEvent).detail))
    for (let i = 0; i < 3; i++) await a.send(b.peerId, text(String(i)))
    for (let i = 3; i < 5; i++) {
      const err = await a.send(b.peerId, text(String(i))).catch(e => e as Error)
      expect(err).toBeInstanceOf(RefusedError)
      expect((err as RefusedError).peer).toBe(b.peerId)
    }
    expect(b.stats.inbox).toMatchObject({ accepted: 3, refused: 2, dropped: 0, queued: 3 })
    expect(events).toHaveLength(2)
    expect(str(b.recv()!.data)).toBe('0')
    await a.send(b.peerId, text('5'))
    expect([b.recv(), b.recv(), b.recv(), b.recv()].map(m => m === undefined ? undefined : str(m.data))).toEqual(['1', '2', '5', undefined])
  })

  it("'drop-oldest' behaves like AXL: 105 sends into 100 → first remaining is 5, drops counted and announced", async () => {
    const net = network()
    const a = await node(net); const b = await node(net, { inboxOverflow: 'drop-oldest' })
    const dropped: Array<{ from: string, bytes: number, reason: string }> = []
    b.addEventListener('message:dropped', e => dropped.push((e as CustomEvent).detail))
    for (let i = 0; i < 105; i++) await a.send(b.peerId, text(String(i)))
    expect(b.stats.inbox).toMatchObject({ accepted: 105, dropped: 5, queued: 100 })
    expect(dropped).toHaveLength(5)
    expect(dropped[0]).toMatchObject({ from: a.peerId, bytes: 1 })
    expect(str(b.recv()!.data)).toBe('5')
  })

  it("'drop-oldest' announces every message evicted by the byte cap", async () => {
    const net = network()
    const a = await node(net); const b = await node(net, { inboxOverflow: 'drop-oldest', inboxMaxBytes: 10 })
    let events = 0
    b.addEventListener('message:dropped', () => { events++ })
    for (let i = 0; i < 5; i++) await a.send(b.peerId, new Uint8Array(2))
    await a.send(b.peerId, new Uint8Array(5))
    expect(b.stats.inbox.dropped).toBe(3)
    expect(events).toBe(3)
  })

  it("'drop-newest' keeps the first 100 and drops the rest after acknowledging them", async () => {
    const net = network()
    const a = await node(net); const b = await node(net, { inboxOverflow: 'drop-newest' })
    let events = 0; let messages = 0
    b.addEventListener('message:dropped', () => { events++ })
    b.addEventListener('message', () => { messages++ })
    for (let i = 0; i < 105; i++) await a.send(b.peerId, text(String(i)))
    expect(b.stats.inbox).toMatchObject({ accepted: 105, dropped: 5, queued: 100 })
    expect(events).toBe(5)
    expect(messages).toBe(100)
    expect(str(b.recv()!.data)).toBe('0')
  })

  it('emits a message event with the queued message', async () => {
    const net = network()
    const a = await node(net); const b = await node(net)
    const ev = once<InboundMessage>(b, 'message')
    await a.send(b.peerId, text('evt'))
    const m = await ev
    expect(str(m.data)).toBe('evt')
    expect(m.from).toBe(a.peerId)
    expect(b.recv()).toBe(m) // the event does not consume it
  })

  it('JSON that looks like an MCP/A2A envelope still reaches a node with no such service', async () => {
    const net = network()
    const a = await node(net); const b = await node(net, { inboxMaxMessages: 2 })
    const mcp = mcpRequest('svc', { x: 1 })
    const a2a = text('{"a2a":true,"request":{}}')
    await a.send(b.peerId, mcp)
    await a.send(b.peerId, a2a)
    expect(b.recv()!.data).toEqual(mcp)
    expect(b.recv()!.data).toEqual(a2a)
    // and a full inbox refuses it like any other message
    await a.send(b.peerId, text('1')); await a.send(b.peerId, text('2'))
    await expect(a.send(b.peerId, mcp)).rejects.toBeInstanceOf(RefusedError)
  })

  it('timeoutMs: a receiver that never answers → TimeoutError promptly', async () => {
    const net = network()
    const a = await node(net)
    const silent = net.transport()({ identity: generateIdentity() })
    silent.handle(() => {}) // accepts streams, never reads or answers
    await silent.start()
    const r = await timed(a.send(silent.topology().ourPublicKey, text('x'), { timeoutMs: 50 }))
    expect(r.error).toBeInstanceOf(TimeoutError)
    expect(r.ms).toBeLessThan(1000)
    await silent.stop()
  })

  it('signal: aborting a send waiting for its acknowledgement → AbortError promptly', async () => {
    const net = network()
    const a = await node(net)
    const silent = net.transport()({ identity: generateIdentity() })
    const accepted = deferred()
    silent.handle(() => { accepted.resolve() })
    await silent.start()
    const ac = new AbortController()
    const p = timed(a.send(silent.topology().ourPublicKey, text('x'), { signal: ac.signal }))
    await accepted.promise
    ac.abort()
    const r = await p
    expect(r.error).toBeInstanceOf(AbortError)
    expect(r.ms).toBeLessThan(1000)
    await silent.stop()
  })

  it('an already-aborted signal rejects without dialling', async () => {
    const net = network()
    const a = await node(net); const b = await node(net)
    const ac = new AbortController(); ac.abort()
    await expect(a.send(b.peerId, text('x'), { signal: ac.signal })).rejects.toBeInstanceOf(AbortError)
    expect(b.recv()).toBeUndefined()
  })

  it('timeoutMs bounds the whole send, not each step (dial, write, acknowledgement)', async () => {
    const net = network({ latencyMs: 40 })
    const a = await node(net); const b = await node(net)
    // dial 40 ms + frame 40 ms + acknowledgement 40 ms = 120 ms > 100 ms
    const r = await timed(a.send(b.peerId, text('x'), { timeoutMs: 100 }))
    expect(r.error).toBeInstanceOf(TimeoutError) // per-step deadlines would let it succeed at ~120 ms
  })

  it('timeoutMs: undefined falls back to limits.requestTimeoutMs', async () => {
    const net = network()
    const a = await node(net, { requestTimeoutMs: 50 })
    const silent = net.transport()({ identity: generateIdentity() })
    silent.handle(() => {})
    await silent.start()
    const r = await timed(a.send(silent.topology().ourPublicKey, text('x'), { timeoutMs: undefined }))
    expect(r.error).toBeInstanceOf(TimeoutError)
    expect(r.ms).toBeLessThan(1000)
    await silent.stop()
  })

  it('latency (setLatency) delays but delivers; a short deadline fails', async () => {
    const net = network()
    const a = await node(net); const b = await node(net)
    net.setLatency(5)
    await a.send(b.peerId, text('slow'))
    expect(str(b.recv()!.data)).toBe('slow')
    net.setLatency(10_000)
    const r = await timed(a.send(b.peerId, text('x'), { timeoutMs: 30 }))
    expect(r.error).toBeInstanceOf(TimeoutError)
    expect(r.ms).toBeLessThan(1000)
    net.setLatency(0)
  })

  it('stopping the sender rejects its in-flight sends with NotStartedError; later sends too', async () => {
    const net = network()
    const a = await node(net)
    const silent = net.transport()({ identity: generateIdentity() })
    const accepted = deferred()
    silent.handle(() => { accepted.resolve() })
    await silent.start()
    const p = a.send(silent.topology().ourPublicKey, text('x'))
    await accepted.promise
    await a.stop()
    await expect(p).rejects.toBeInstanceOf(NotStartedError)
    await expect(a.send(silent.topology().ourPublicKey, text('x'))).rejects.toBeInstanceOf(NotStartedError)
    await silent.stop()
  })
})
