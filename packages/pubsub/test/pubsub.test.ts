import { describe, expect, it } from 'vitest'
import { MemoryNetwork, MessageTooLargeError } from '@axl/core'
import { InvalidTopicError, RateLimitedError, type PubSubMessage, type Subscription } from '../src/index.js'
import { eventually, pubsubNode, pubsubNodes, str, text } from './helpers.js'

/** Collect messages of a subscription into an array as they arrive. */
function collect (sub: Subscription): PubSubMessage[] {
  const got: PubSubMessage[] = []
  void (async () => { for await (const m of sub) got.push(m) })()
  return got
}

describe('gossip pub/sub on the in-memory mesh', () => {
  it('delivers a message to every subscriber once, with origin, id and sender', async () => {
    const net = new MemoryNetwork({ latencyMs: 1 })
    const nodes = await pubsubNodes(net, 12)
    const got = nodes.map(n => collect(n.services.pubsub.subscribe('news')))
    await eventually('meshes formed', () => nodes.every(n => n.services.pubsub.meshPeers('news').length >= 2))
    const r = await nodes[0].services.pubsub.publish('news', text('hello'))
    expect(r.id).toMatch(new RegExp(`^${nodes[0].peerId.slice(0, 8)}:[0-9a-f]{16}$`))
    expect(r.peers).toBeGreaterThan(0)
    await eventually('all delivered', () => got.slice(1).every(g => g.length === 1))
    for (const g of got.slice(1)) {
      expect(str(g[0].data)).toBe('hello')
      expect(g[0].from).toBe(nodes[0].peerId)
      expect(g[0].id).toBe(r.id)
      expect(g[0].signed).toBe(true)
      expect(nodes.map(n => n.peerId)).toContain(g[0].receivedFrom)
    }
    expect(got[0]).toEqual([]) // no emitSelf
    // many messages from many publishers: each delivered exactly once to every other node
    const publisher = new Map<string, number>([[r.id, 0]])
    for (let i = 0; i < 30; i++) publisher.set((await nodes[i % nodes.length].services.pubsub.publish('news', text(`m${i}`))).id, i % nodes.length)
    const expected = (i: number): string[] => [...publisher].filter(([, p]) => p !== i).map(([id]) => id).sort()
    await eventually('30 more delivered', () => got.every((g, i) => g.length >= expected(i).length))
    for (let i = 0; i < nodes.length; i++) expect(got[i].map(m => m.id).sort()).toEqual(expected(i))
    const dup = nodes.reduce((s, n) => s + n.services.pubsub.stats.duplicates, 0)
    const recv = nodes.reduce((s, n) => s + n.services.pubsub.stats.messagesReceived, 0)
    expect(dup).toBeLessThan(recv) // dedup happened below the subscriber, not instead of delivery
  })

  it('the other inbox messages still reach messages()', async () => {
    const net = new MemoryNetwork()
    const [a, b] = await pubsubNodes(net, 2)
    const sub = b.services.pubsub.subscribe('t')
    a.services.pubsub.subscribe('t')
    await eventually('mesh', () => a.services.pubsub.meshPeers('t').includes(b.peerId))
    await a.send(b.peerId, text('direct'))
    await a.services.pubsub.publish('t', text('gossip'))
    expect(str((await sub.nextMessage({ timeoutMs: 5000 })).data)).toBe('gossip')
    expect(str((await b.nextMessage({ timeoutMs: 1000 })).data)).toBe('direct')
    expect(b.recv()).toBeUndefined()
  })

  it('unsubscribe and AbortSignal end a subscription; limits throw typed errors', async () => {
    const net = new MemoryNetwork()
    const a = await pubsubNode(net, { topics: { small: { maxMessageSize: 4, rate: 2, burst: 2 } } })
    const s1 = a.services.pubsub.subscribe('x')
    const ac = new AbortController()
    const s2 = a.services.pubsub.subscribe('y', { signal: ac.signal })
    expect(a.services.pubsub.topics().sort()).toEqual(['x', 'y'])
    const pending = s2.next()
    ac.abort()
    expect(await pending).toEqual({ done: true, value: undefined })
    s1.unsubscribe()
    expect(a.services.pubsub.topics()).toEqual([])
    expect(() => a.services.pubsub.subscribe('')).toThrow(InvalidTopicError)
    await expect(a.services.pubsub.publish('small', new Uint8Array(5))).rejects.toBeInstanceOf(MessageTooLargeError)
    await a.services.pubsub.publish('small', new Uint8Array(4))
    await a.services.pubsub.publish('small', new Uint8Array(4))
    await expect(a.services.pubsub.publish('small', new Uint8Array(4))).rejects.toBeInstanceOf(RateLimitedError)
  })
})
