/**
 * request() keeps envelope streams open and reuses them (AXL receivers answer frame after frame on one
 * connection): fewer connection setups, and correct recovery when a kept stream went stale.
 */
import { describe, expect, it } from 'vitest'
import { MalformedEnvelopeError } from '../src/errors.js'
import { network, node } from './node-helpers.js'
import { mcpRequest, readReply, mcp } from './envelope-helpers.js'

const echo = mcp(async req => ({ response: req.request }))
const call = (id: number): Uint8Array => mcpRequest('echo', { jsonrpc: '2.0', id, method: 'ping' })

describe('request() stream reuse', () => {
  it('sequential requests to one peer share one stream', async () => {
    const net = network()
    const a = await node(net)
    const b = await node(net)
    b.handle('mcp', echo)
    for (let i = 1; i <= 5; i++) {
      const r = readReply(await a.request(b.peerId, call(i)))
      expect(JSON.parse(r.response!)).toMatchObject({ id: i })
    }
    expect(net.stats.streams).toBe(1)
  })

  it('a raw (non-envelope) frame is refused by request() before anything is sent: MalformedEnvelopeError, use send()', async () => {
    const net = network()
    const a = await node(net)
    const b = await node(net)
    await expect(a.request(b.peerId, new Uint8Array([1, 2, 3]))).rejects.toThrow(MalformedEnvelopeError)
    await expect(a.request(b.peerId, new TextEncoder().encode('{"not":"an envelope"}'))).rejects.toThrow(/for a raw message use send\(\)/)
    expect(net.stats.streams).toBe(0)
    expect(b.stats.inbox.queued).toBe(0)
  })

  it('a kept stream the remote lost (restart) is replaced transparently', async () => {
    const net = network()
    const a = await node(net)
    const b = await node(net)
    b.handle('mcp', echo)
    await a.request(b.peerId, call(1))
    net.kill(b) // resets every stream to b, including the kept one
    net.restart(b)
    const r = readReply(await a.request(b.peerId, call(2)))
    expect(JSON.parse(r.response!)).toMatchObject({ id: 2 })
    expect(net.stats.streams).toBe(2)
  })

  it('a receiver at its stream limit closes an idle kept stream to admit a new caller', async () => {
    const net = network()
    const b = await node(net, { maxConcurrentStreams: 1 })
    b.handle('mcp', echo)
    const a = await node(net)
    const c = await node(net)
    await a.request(b.peerId, call(1)) // a's stream stays open at b, idle
    const r = readReply(await c.request(b.peerId, call(2)))
    expect(JSON.parse(r.response!)).toMatchObject({ id: 2 })
    expect(b.stats.streamsRejected).toBe(0)
    // a's kept stream was closed by b: a's next request reconnects on its own
    const again = readReply(await a.request(b.peerId, call(3)))
    expect(JSON.parse(again.response!)).toMatchObject({ id: 3 })
  })

  it('a deadline still applies to a request on a kept stream', async () => {
    const net = network()
    const a = await node(net)
    const b = await node(net)
    let hang = false
    b.handle('mcp', mcp(async req => {
      if (hang) await new Promise(() => {})
      return { response: req.request }
    }))
    await a.request(b.peerId, call(1))
    hang = true
    await expect(a.request(b.peerId, call(2), { timeoutMs: 50 })).rejects.toMatchObject({ code: 'ERR_TIMEOUT' })
  })
})
