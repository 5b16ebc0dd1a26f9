import { describe, expect, expectTypeOf, it, vi } from 'vitest'
import { AbortError, NotStartedError, StreamClosedError, TimeoutError, TruncatedFrameError } from '../src/errors.js'
import { frameHeader } from '../src/framing.js'
import type { InboundMessage } from '../src/inbox.js'
import { createNode, type NodeComponents } from '../src/node.js'
import { MemoryNetwork } from '../src/memory/network.js'
import { deferred, frame, network, node, once, readAll, str, text, timed } from './node-helpers.js'
import { mcpRequest, readReply, mcp } from './envelope-helpers.js'

describe('messages(), recv(), nextMessage()', () => {
  it('recv() is undefined when empty; nextMessage waits for the next one', async () => {
    const net = network()
    const a = await node(net); const b = await node(net)
    expect(b.recv()).toBeUndefined()
    const p = b.nextMessage({ timeoutMs: 1000 })
    await a.send(b.peerId, text('n'))
    expect(str((await p).data)).toBe('n')
  })

  it('nextMessage times out and aborts', async () => {
    const net = network()
    const b = await node(net)
    const r = await timed(b.nextMessage({ timeoutMs: 30 }))
    expect(r.error).toBeInstanceOf(TimeoutError)
    expect(r.ms).toBeLessThan(1000)
    const ac = new AbortController()
    const p = b.nextMessage({ signal: ac.signal })
    ac.abort()
    await expect(p).rejects.toBeInstanceOf(AbortError)
  })

  it('messages() yields in order and ends when the node stops', async () => {
    const net = network()
    const a = await node(net); const b = await node(net)
    const got: string[] = []
    const third = deferred()
    const loop = (async () => {
      for await (const m of b.messages()) { got.push(str(m.data)); if (got.length === 3) third.resolve() }
    })()
    for (const s of ['1', '2', '3']) await a.send(b.peerId, text(s))
    await third.promise
    await b.stop()
    await loop
    expect(got).toEqual(['1', '2', '3'])
  })

  it('messages() ends when its signal fires; a pre-aborted signal yields nothing', async () => {
    const net = network()
    const b = await node(net)
    const ac = new AbortController()
    const it = b.messages({ signal: ac.signal })
    const p = it.next()
    ac.abort()
    expect(await p).toEqual({ done: true, value: undefined })
    const pre = new AbortController(); pre.abort()
    expect(await b.messages({ signal: pre.signal }).next()).toMatchObject({ done: true })
  })

  it('after stop, messages() drains what was queued and then ends', async () => {
    const net = network()
    const a = await node(net); const b = await node(net)
    await a.send(b.peerId, text('left'))
    await b.stop()
    const got: string[] = []
    for await (const m of b.messages()) got.push(str(m.data))
    expect(got).toEqual(['left'])
  })
})

describe('services', () => {
  it('builds services from factories, types them, starts in order and stops in reverse', async () => {
    const net = network()
    const log: string[] = []
    let components: NodeComponents | undefined
    const echo = (c: NodeComponents) => {
      components = c
      log.push('echo:create')
      return {
        start () {
          log.push(`echo:start running=${String(c.node.running)}`)
          c.node.handle('mcp', mcp(async req => ({ response: req.request })))
        },
        stop () { log.push('echo:stop') },
        ping: (x: number) => x + 1
      }
    }
    const counter = () => {
      log.push('counter:create')
      return { start: async () => { log.push('counter:start') }, stop: async () => { log.push('counter:stop') }, count: 0 }
    }
    const b = await createNode({ transport: net.transport(), services: { echo, counter } })
    expectTypeOf(b.services.echo.ping).toEqualTypeOf<(x: number) => number>()
    expectTypeOf(b.services.counter.count).toBeNumber()
    expect(b.services.echo.ping(1)).toBe(2)
    expect(components?.node).toBe(b)
    expect(components?.identity.peerId).toBe(b.peerId)
    expect(components?.limits.maxMessageSize).toBe(b.limits.maxMessageSize)
    const a = await node(net)
    const reply = readReply(await a.request(b.peerId, mcpRequest('echo', { hi: 1 })))
    expect(JSON.parse(reply.response!)).toEqual({ hi: 1 })
    await b.stop()
    await b.stop()
    expect(log).toEqual(['echo:create', 'counter:create', 'echo:start running=true', 'counter:start', 'counter:stop', 'echo:stop'])
  })

  it('a service whose start throws fails createNode and leaves nothing running', async () => {
    const net = new MemoryNetwork()
    const log: string[] = []
    const p = createNode({
      transport: net.transport(),
      services: {
        ok: () => ({ start: () => { log.push('ok:start') }, stop: () => { log.push('ok:stop') } }),
        bad: () => ({ start: () => { throw new Error('no start') } })
      }
    })
    await expect(p).rejects.toThrow('no start')
    expect(log).toEqual(['ok:start', 'ok:stop'])
    expect(net.peers).toEqual([])
  })

  it('a service whose stop throws does not keep the node alive', async () => {
    const net = new MemoryNetwork()
    const n = await createNode({ transport: net.transport(), services: { bad: () => ({ stop: () => { throw new Error('x') } }) } })
    await n.stop()
    expect(n.running).toBe(false)
    expect(net.peers).toEqual([])
  })
})

describe('inbound stream limits and hostile peers', () => {
  it('maxConcurrentStreams exceeded → the extra stream is refused with a reason frame and counted; freed slots are reused', async () => {
    const net = network()
    const a = await node(net); const b = await node(net, { maxConcurrentStreams: 2 })
    const s1 = await a.dial(b.peerId); const s2 = await a.dial(b.peerId)
    const s3 = await a.dial(b.peerId)
    const answer = await readAll(s3)
    expect(JSON.parse(str(answer.subarray(4)))).toMatchObject({ axl_refused: { code: 'busy', message: expect.stringMatching(/too many concurrent streams/) } })
    expect(b.stats.streamsRejected).toBe(1)
    await expect(a.send(b.peerId, text('x'))).rejects.toThrow(/refused the message: too many concurrent streams/)
    expect(b.stats.streamsRejected).toBe(2)
    for (const s of [s1, s2]) { s.closeWrite(); expect(await s.read({ timeoutMs: 1000 })).toBeNull() }
    await a.send(b.peerId, text('y'))
    expect(str(b.recv()!.data)).toBe('y')
  })

  it('a header claiming 0xffffffff bytes is refused without waiting for them; the node keeps working', async () => {
    const net = network()
    const a = await node(net); const b = await node(net); const c = await node(net)
    const dropped = once(b, 'message:dropped')
    const s = await a.dial(b.peerId)
    s.send(Uint8Array.from([0xff, 0xff, 0xff, 0xff]))
    s.send(text('and some garbage'))
    const answer = await readAll(s) // b answers a refusal frame and closes
    expect(new Uint8Array(answer.subarray(0, 4))).toEqual(frameHeader(answer.byteLength - 4))
    expect(JSON.parse(str(answer.subarray(4)))).toMatchObject({ axl_refused: { code: 'too_large' } })
    expect(b.stats.framesTooLarge).toBe(1)
    await dropped
    expect(b.recv()).toBeUndefined()
    await c.send(b.peerId, text('still here'))
    await a.send(b.peerId, text('me too'))
    expect([str(b.recv()!.data), str(b.recv()!.data)]).toEqual(['still here', 'me too'])
  })

  it('a truncated frame then EOF is a counted stream error, not a crash, not a message', async () => {
    const net = network()
    const a = await node(net); const b = await node(net)
    const errors: Array<{ from: string, error: Error }> = []
    b.addEventListener('stream:error', e => errors.push((e as CustomEvent).detail))
    const cases = [
      Uint8Array.from([0, 0, 0, 10, 1, 2, 3]), // payload cut short
      Uint8Array.from([0, 0, 0, 10]), // header only
      Uint8Array.from([0, 0]) // half a header
    ]
    for (const bytes of cases) {
      const s = await a.dial(b.peerId)
      s.send(bytes)
      s.closeWrite()
      await expect(readAll(s)).rejects.toBeInstanceOf(StreamClosedError)
    }
    expect(b.stats.streamErrors).toBe(3)
    expect(errors).toHaveLength(3)
    expect(errors[0].from).toBe(a.peerId)
    expect(errors.every(e => e.error instanceof TruncatedFrameError)).toBe(true)
    expect(b.recv()).toBeUndefined()
    await a.send(b.peerId, text('ok'))
    expect(str(b.recv()!.data)).toBe('ok')
  })

  it('several frames on one stream are handled in order; envelope replies come back on it', async () => {
    const net = network()
    const a = await node(net); const b = await node(net)
    b.handle('mcp', mcp(async req => ({ response: req.request })))
    const s = await a.dial(b.peerId)
    s.send(frame(text('one')))
    s.send(frame(mcpRequest('svc', 1)))
    s.send(frame(new Uint8Array(0)))
    s.send(frame(mcpRequest('svc', 2)))
    s.closeWrite()
    const answer = await readAll(s)
    const replies: string[] = []
    for (let off = 0; off < answer.byteLength;) {
      const len = new DataView(answer.buffer, answer.byteOffset + off).getUint32(0)
      replies.push(str(answer.subarray(off + 4, off + 4 + len)))
      off += 4 + len
    }
    expect(replies.map(r => JSON.parse(r).response)).toEqual([1, 2])
    expect(str(b.recv()!.data)).toBe('one')
    expect(b.recv()!.data.byteLength).toBe(0)
    expect(b.recv()).toBeUndefined()
  })

  it('an idle inbound stream is reset after idleTimeoutMs', async () => {
    const net = network()
    const a = await node(net); const b = await node(net, { idleTimeoutMs: 30 })
    const s = await a.dial(b.peerId)
    const r = await timed(s.read())
    expect(r.error).toBeInstanceOf(StreamClosedError)
    expect(r.ms).toBeLessThan(1000)
    expect(b.stats.streamErrors).toBe(1)
  })

  it('a frame trickled slower than readTimeoutMs is cut off, even with a long idle timeout', async () => {
    const net = network()
    const a = await node(net); const b = await node(net, { idleTimeoutMs: 60_000, readTimeoutMs: 30 })
    const s = await a.dial(b.peerId)
    s.send(Uint8Array.from([0, 0, 0, 100, 1]))
    const r = await timed(s.read())
    expect(r.error).toBeInstanceOf(StreamClosedError)
    expect(r.ms).toBeLessThan(1000)
    expect(b.stats.streamErrors).toBe(1)
  })
})

describe('stop()', () => {
  it('is idempotent (also concurrently) and makes later calls fail with NotStartedError', async () => {
    const net = network()
    const a = await node(net); const b = await node(net)
    expect(a.running).toBe(true)
    await Promise.all([a.stop(), a.stop()])
    await a.stop()
    expect(a.running).toBe(false)
    await expect(a.send(b.peerId, text('x'))).rejects.toBeInstanceOf(NotStartedError)
    await expect(a.request(b.peerId, mcpRequest('s', {}))).rejects.toBeInstanceOf(NotStartedError)
    await expect(a.dial(b.peerId)).rejects.toBeInstanceOf(NotStartedError)
    await expect(b.send(a.peerId, text('x'))).rejects.toThrow(/unreachable/)
  })

  it('rejects pending waits with NotStartedError', async () => {
    const net = network()
    const a = await node(net); const b = await node(net)
    b.handle('mcp', mcp(async () => await new Promise(() => {})))
    const wait = a.nextMessage()
    const req = a.request(b.peerId, mcpRequest('s', {}))
    await Promise.resolve()
    await a.stop()
    await expect(wait).rejects.toBeInstanceOf(NotStartedError)
    await expect(req).rejects.toBeInstanceOf(NotStartedError)
  })

  it('resets open inbound and outbound streams', async () => {
    const net = network()
    const a = await node(net); const b = await node(net)
    const out = await a.dial(b.peerId)
    const stopped = timed(out.read())
    await b.stop()
    const r = await stopped
    expect(r.error).toBeInstanceOf(StreamClosedError)
    expect(b.stats.streamErrors).toBe(0) // our own stop is not a stream failure
    const out2 = await a.dial(await (async () => { const c = await node(net); return c.peerId })())
    await a.stop()
    await expect(out2.read()).rejects.toBeInstanceOf(StreamClosedError)
  })

  it('leaves no timers behind (virtual time)', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'] })
    try {
      const net = new MemoryNetwork()
      const a = await createNode({ transport: net.transport() })
      const b = await createNode({ transport: net.transport(), limits: { requestTimeoutMs: 1000 } })
      b.handle('mcp', mcp(async () => ({ response: '1' })))
      await a.send(b.peerId, text('x'))
      await a.request(b.peerId, mcpRequest('s', {}))
      const s = await a.dial(b.peerId) // an idle inbound stream on b holds an idle timer
      const pending: Array<Promise<unknown>> = [
        a.nextMessage({ timeoutMs: 10_000 }).catch(e => e),
        s.read().catch(e => e)
      ]
      await a.stop(); await b.stop()
      const outcomes = await Promise.all(pending)
      expect(outcomes[0]).toBeInstanceOf(NotStartedError)
      expect(outcomes[1]).toBeInstanceOf(StreamClosedError)
      expect(vi.getTimerCount()).toBe(0)
    } finally { vi.useRealTimers() }
  })

  it('stopping from inside a message listener is safe: the send settles promptly and the message is kept', async () => {
    const net = network()
    const a = await node(net); const b = await node(net)
    const got = deferred<InboundMessage>()
    b.addEventListener('message', e => { got.resolve((e as CustomEvent<InboundMessage>).detail); void b.stop() })
    // KNOWN ISSUE: the message was queued but b stopped before its implicit acknowledgement (EOF) went out,
    // so the sender sees an error although the message was delivered (at-least-once on retry).
    const r = await timed(a.send(b.peerId, text('bye')))
    expect(r.ms).toBeLessThan(1000)
    expect((await got.promise).from).toBe(a.peerId)
    expect(str(b.recv()!.data)).toBe('bye')
  })
})
