/** Forged, altered, stale and replayed messages are dropped; caches stay bounded and count what they drop. */
import { describe, expect, it } from 'vitest'
import { createNode, generateIdentity, MemoryNetwork, type AxlNode } from '@axl/core'
import { encodeFrame, signMessage, verifyMessage, type WireMessage } from '../src/index.js'
import { VerifiedSignatures } from '../src/verified-signatures.js'
import { BoundedMap } from '../src/bounded-map.js'
import { eventually, pubsubNode, text, track } from './helpers.js'

/** A signed MESSAGE from `origin` (an identity), as our publisher builds it. */
function signed (origin = generateIdentity(), data = 'payload', ts = Date.now(), topic = 't'): WireMessage {
  const m: WireMessage = {
    type: 'gossipsub', msg_type: 'MESSAGE', topic, msg_id: `${origin.peerId.slice(0, 8)}:${Math.random().toString(16).slice(2)}`,
    origin: origin.peerId, from: origin.peerId, hop: 0, data: Buffer.from(data).toString('base64')
  }
  signMessage(m, origin, ts)
  return m
}

async function setup (opts = {}): Promise<{ relay: AxlNode, target: Awaited<ReturnType<typeof pubsubNode>> }> {
  const net = new MemoryNetwork()
  const relay = track(await createNode({ transport: net.transport() })) // a raw node: it sends whatever it likes
  const target = await pubsubNode(net, { discover: false, peers: [relay.peerId], ...opts })
  return { relay, target }
}

describe('signatures and replays', () => {
  it('a relay cannot alter data, topic or id, nor forge an origin; the genuine message still gets through', async () => {
    const { relay, target } = await setup()
    const sub = target.services.pubsub.subscribe('t')
    const good = signed()
    const forgeries: WireMessage[] = [
      { ...good, data: Buffer.from('tampered').toString('base64') },
      { ...good, topic: 't', msg_id: `${good.msg_id}x` },
      { ...good, origin: generateIdentity().peerId },
      { ...good, timestamp_ms: good.timestamp_ms! - 1 },
      { ...good, signature: Buffer.alloc(64).toString('base64') }
    ]
    for (const f of forgeries) await relay.send(target.peerId, encodeFrame(f))
    expect(target.services.pubsub.stats.invalidSignature).toBe(forgeries.length)
    expect(sub.queued).toBe(0)
    // forged copies with the real id did not poison the seen-set: the genuine one is delivered
    await relay.send(target.peerId, encodeFrame({ ...good, from: relay.peerId, hop: 7 })) // relays may change from/hop
    const m = await sub.nextMessage({ timeoutMs: 2000 })
    expect(m).toMatchObject({ id: good.msg_id, signed: true, hops: 8, receivedFrom: relay.peerId })
  })

  it('replays are dropped: the same id while remembered, and stale timestamps after', async () => {
    const { relay, target } = await setup({ maxAgeMs: 1000, seenTtlMs: 2000 })
    const sub = target.services.pubsub.subscribe('t')
    const m = signed()
    await relay.send(target.peerId, encodeFrame(m))
    await relay.send(target.peerId, encodeFrame(m))
    expect((await sub.nextMessage({ timeoutMs: 1000 })).id).toBe(m.msg_id)
    expect(target.services.pubsub.stats.duplicates).toBe(1)
    // a message signed 5 s ago (past maxAgeMs): refused even though no one remembers its id
    await relay.send(target.peerId, encodeFrame(signed(undefined, 'old', Date.now() - 5000)))
    await relay.send(target.peerId, encodeFrame(signed(undefined, 'future', Date.now() + 5000)))
    expect(target.services.pubsub.stats.stale).toBe(2)
    expect(sub.queued).toBe(0)
  })

  it('a full seen-set raises the replay floor: an evicted id cannot be replayed', async () => {
    const { relay, target } = await setup({ maxSeen: 3 })
    const sub = target.services.pubsub.subscribe('t')
    const base = Date.now() - 100
    const ms = [0, 1, 2, 3, 4].map(i => signed(undefined, `m${i}`, base + i))
    for (const m of ms) await relay.send(target.peerId, encodeFrame(m))
    expect(target.services.pubsub.stats.delivered).toBe(5)
    expect(target.services.pubsub.stats.seenEvicted).toBe(2)
    await relay.send(target.peerId, encodeFrame(ms[0])) // forgotten id, but at or below the floor
    expect(target.services.pubsub.stats.stale).toBe(1)
    expect(target.services.pubsub.stats.delivered).toBe(5)
    expect(sub.queued).toBe(5)
  })

  it('bad input gets counted, never crashes: malformed JSON, wrong types, oversized data, huge id lists', async () => {
    const { relay, target } = await setup({ topicDefaults: { maxMessageSize: 16 }, maxIhaveLength: 10 })
    target.services.pubsub.subscribe('t')
    const bad = [
      '{"type":"gossipsub", not json',
      '{"type":"gossipsub","msg_type":"MESSAGE","topic":"t","msg_id":1,"origin":"x","data":""}',
      '{"type":"gossipsub","msg_type":"BOGUS"}',
      JSON.stringify({ type: 'gossipsub', msg_type: 'IHAVE', topic: 't', msg_ids: Array.from({ length: 11 }, (_, i) => `id${i}`) }),
      JSON.stringify({ ...signed(undefined, 'x'.repeat(100)) })
    ]
    for (const b of bad) await relay.send(target.peerId, text(b))
    expect(target.services.pubsub.stats.malformed).toBe(5) // the 100-byte data exceeds the decode bound for 16-byte topics
    expect(target.running).toBe(true)
    await relay.send(target.peerId, encodeFrame(signed(undefined, 'x'.repeat(17))))
    expect(target.services.pubsub.stats.tooLarge).toBe(1)
  })

  it('a topic rate limit drops (and counts) the excess from the network', async () => {
    const { relay, target } = await setup({ topicDefaults: { rate: 1, burst: 3 } })
    const sub = target.services.pubsub.subscribe('t')
    for (let i = 0; i < 6; i++) await relay.send(target.peerId, encodeFrame(signed(undefined, `m${i}`)))
    expect(sub.queued).toBe(3)
    expect(target.services.pubsub.stats.rateLimited).toBe(3)
  })
})

describe('the shared verification memo', () => {
  it('remembers only exact valid (key, bytes, signature) triples: a tampered copy with the same id and signature is refused', () => {
    const memo = new VerifiedSignatures(2)
    const good = signed()
    expect(verifyMessage(good, memo)).toBe(true)
    expect(verifyMessage({ ...good }, memo)).toBe(true)
    expect(memo.stats).toMatchObject({ hits: 1, misses: 1, size: 1 })
    for (const bad of [
      { ...good, data: Buffer.from('tampered').toString('base64') },
      { ...good, topic: 'other' },
      { ...good, timestamp_ms: good.timestamp_ms! + 1 },
      { ...good, origin: generateIdentity().peerId }
    ]) expect(verifyMessage(bad, memo)).toBe(false)
    expect(memo.stats).toMatchObject({ hits: 1, misses: 5, size: 1 })
    // bounded: the oldest entry goes first, counted
    expect(verifyMessage(signed(), memo) && verifyMessage(signed(), memo)).toBe(true)
    expect(memo.stats).toMatchObject({ size: 2, evicted: 1 })
    expect(verifyMessage(good, memo)).toBe(true)
    expect(memo.stats.hits).toBe(1)
  })

  it('nodes of one process share it: the second node does not verify again, and still refuses a forgery', async () => {
    const memo = new VerifiedSignatures()
    const net = new MemoryNetwork()
    const relay = track(await createNode({ transport: net.transport() }))
    const a = await pubsubNode(net, { discover: false, peers: [relay.peerId], verifiedSignatures: memo })
    const b = await pubsubNode(net, { discover: false, peers: [relay.peerId], verifiedSignatures: memo })
    const subA = a.services.pubsub.subscribe('t'); const subB = b.services.pubsub.subscribe('t')
    const good = signed()
    await relay.send(a.peerId, encodeFrame(good))
    await relay.send(b.peerId, encodeFrame({ ...good, data: Buffer.from('forged').toString('base64') }))
    await relay.send(b.peerId, encodeFrame(good))
    expect((await subA.nextMessage({ timeoutMs: 2000 })).id).toBe(good.msg_id)
    expect(Buffer.from((await subB.nextMessage({ timeoutMs: 2000 })).data).toString()).toBe('payload')
    expect(b.services.pubsub.stats).toMatchObject({ invalidSignature: 1, signatureMemoHits: 1, delivered: 1 })
    expect(a.services.pubsub.stats.signatureMemoHits).toBe(0)
  })
})

describe('bounded structures', () => {
  it('BoundedMap evicts the oldest past maxSize or maxWeight and expires by TTL, counting each', () => {
    const evicted: string[] = []
    const m = new BoundedMap<string, number>(3, 1000, { onEvict: k => evicted.push(k), weight: v => v, maxWeight: 10 })
    m.set('a', 1, 0); m.set('b', 1, 1); m.set('c', 1, 2); m.set('d', 1, 3)
    expect(evicted).toEqual(['a'])
    m.set('e', 9, 4) // weight 12 > 10: evicts b, c
    expect(evicted).toEqual(['a', 'b', 'c'])
    expect(m.stats).toMatchObject({ evicted: 3, size: 2, weight: 10 })
    m.prune(2000)
    expect(m.stats).toMatchObject({ expired: 2, size: 0, weight: 0 })
    expect(m.get('e', 2000)).toBeUndefined()
  })

  it('the message cache holds at most maxCached messages; evictions are counted', async () => {
    const net = new MemoryNetwork()
    const a = await pubsubNode(net, { maxCached: 5 })
    for (let i = 0; i < 8; i++) await a.services.pubsub.publish('t', text(`m${i}`))
    expect(a.services.pubsub.stats.cacheEvicted).toBe(3)
  })

  it('a full subscriber queue drops and counts', async () => {
    const { relay, target } = await setup()
    const sub = target.services.pubsub.subscribe('t', { maxQueued: 2 })
    for (let i = 0; i < 4; i++) await relay.send(target.peerId, encodeFrame(signed(undefined, `m${i}`)))
    await eventually('dropped counted', () => sub.dropped === 2)
    expect(target.services.pubsub.stats.subscriberDropped).toBe(2)
  })
})
