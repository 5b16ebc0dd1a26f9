import { describe, expect, it } from 'vitest'
import { AbortError, TimeoutError } from '../src/errors.js'
import { Inbox, type InboundMessage } from '../src/inbox.js'
import type { PeerId } from '../src/peer-id.js'

const A = 'aa'.repeat(32) as PeerId
const msg = (i: number, size = 1): InboundMessage => ({ from: A, data: new Uint8Array(size).fill(i & 0xff), receivedAt: i })

describe('Inbox', () => {
  it('is a FIFO with counters', () => {
    const box = new Inbox(10, 1000, 'refuse')
    for (let i = 0; i < 3; i++) expect(box.push(msg(i, 2))).toEqual({ ok: true })
    expect(box.length).toBe(3)
    expect(box.stats).toEqual({ accepted: 3, refused: 0, dropped: 0, queued: 3, queuedBytes: 6 })
    expect(box.shift()?.receivedAt).toBe(0)
    expect(box.shift()?.receivedAt).toBe(1)
    expect(box.stats.queued).toBe(1)
    expect(box.stats.queuedBytes).toBe(2)
    expect(box.shift()?.receivedAt).toBe(2)
    expect(box.shift()).toBeUndefined()
    expect(box.stats.queuedBytes).toBe(0)
  })

  it("'refuse' rejects when the message count is reached and keeps everything queued", () => {
    const box = new Inbox(2, 1000, 'refuse')
    box.push(msg(0)); box.push(msg(1))
    const r = box.push(msg(2))
    expect(r.ok).toBe(false)
    if (!r.ok) expect(r.reason).toMatch(/inbox full/)
    expect(box.stats).toMatchObject({ accepted: 2, refused: 1, dropped: 0, queued: 2 })
    expect([box.shift()?.receivedAt, box.shift()?.receivedAt]).toEqual([0, 1])
  })

  it("'refuse' rejects when the byte cap would be exceeded", () => {
    const box = new Inbox(100, 10, 'refuse')
    expect(box.push(msg(0, 6)).ok).toBe(true)
    expect(box.push(msg(1, 5)).ok).toBe(false)
    expect(box.push(msg(2, 4)).ok).toBe(true)
    expect(box.stats.queuedBytes).toBe(10)
  })

  it('a message bigger than the whole byte cap is refused under every policy', () => {
    for (const policy of ['refuse', 'drop-oldest', 'drop-newest'] as const) {
      const box = new Inbox(100, 10, policy)
      box.push(msg(0, 1))
      const r = box.push(msg(1, 11))
      expect(r.ok).toBe(false)
      expect(box.length).toBe(1)
      expect(box.stats.refused).toBe(1)
    }
  })

  it("'drop-oldest' behaves like AXL: 105 into 100 leaves 5..104", () => {
    const box = new Inbox(100, 1 << 30, 'drop-oldest')
    const evicted: number[] = []
    for (let i = 0; i < 105; i++) {
      const r = box.push(msg(i))
      expect(r.ok).toBe(true)
      if (r.ok && r.dropped !== undefined) evicted.push(r.dropped.receivedAt)
    }
    expect(evicted).toEqual([0, 1, 2, 3, 4])
    expect(box.stats).toMatchObject({ accepted: 105, dropped: 5, refused: 0, queued: 100 })
    const order: number[] = []
    for (let m = box.shift(); m !== undefined; m = box.shift()) order.push(m.receivedAt)
    expect(order).toEqual(Array.from({ length: 100 }, (_, i) => i + 5))
  })

  it("'drop-oldest' evicts as many as needed to fit the byte cap", () => {
    const box = new Inbox(100, 10, 'drop-oldest')
    for (let i = 0; i < 5; i++) box.push(msg(i, 2))
    const r = box.push(msg(5, 5))
    expect(r.ok).toBe(true)
    if (r.ok) expect(r.evicted?.map(m => m.receivedAt)).toEqual([0, 1, 2])
    if (r.ok) expect(r.dropped?.receivedAt).toBe(2)
    expect(box.stats.dropped).toBe(3)
    expect(box.stats.queuedBytes).toBe(9)
    expect(box.shift()?.receivedAt).toBe(3)
  })

  it("'drop-newest' keeps the old ones and reports the new one as dropped", () => {
    const box = new Inbox(2, 1000, 'drop-newest')
    box.push(msg(0)); box.push(msg(1))
    const m = msg(2)
    const r = box.push(m)
    expect(r).toEqual({ ok: true, dropped: m })
    expect(box.stats).toMatchObject({ accepted: 3, dropped: 1, queued: 2 })
    expect([box.shift()?.receivedAt, box.shift()?.receivedAt]).toEqual([0, 1])
  })

  it('a zero-message inbox refuses everything', () => {
    const box = new Inbox(0, 1000, 'drop-oldest')
    expect(box.push(msg(0)).ok).toBe(false)
  })

  it('zero-length messages are queued', () => {
    const box = new Inbox(2, 0, 'refuse')
    expect(box.push(msg(0, 0)).ok).toBe(true)
    expect(box.shift()?.data.byteLength).toBe(0)
  })

  it('stays FIFO through compaction of a long-lived queue', () => {
    const box = new Inbox(5000, 1 << 30, 'refuse')
    let next = 0
    let expected = 0
    for (let round = 0; round < 20; round++) {
      for (let i = 0; i < 300; i++) box.push(msg(next++))
      for (let i = 0; i < 250; i++) expect(box.shift()?.receivedAt).toBe(expected++)
    }
    expect(box.length).toBe(next - expected)
    expect(box.stats.queued).toBe(next - expected)
  })
})

describe('Inbox.next', () => {
  it('returns a queued message at once, else waits for the next push', async () => {
    const box = new Inbox(10, 1000, 'refuse')
    box.push(msg(1))
    expect((await box.next()).receivedAt).toBe(1)
    const p = box.next()
    box.push(msg(2))
    expect((await p).receivedAt).toBe(2)
  })

  it('several waiters each get a distinct message, in order', async () => {
    const box = new Inbox(10, 1000, 'refuse')
    const ps = [box.next(), box.next(), box.next()]
    for (let i = 0; i < 3; i++) box.push(msg(i))
    expect((await Promise.all(ps)).map(m => m.receivedAt)).toEqual([0, 1, 2])
  })

  it('a message taken by shift() before the woken waiter runs does not end that wait', async () => {
    const box = new Inbox(10, 1000, 'refuse')
    const p = box.next({ timeoutMs: 1000 })
    box.push(msg(1))
    expect(box.shift()?.receivedAt).toBe(1)
    box.push(msg(2))
    expect((await p).receivedAt).toBe(2)
  })

  it('times out and aborts; a cancelled waiter does not consume messages', async () => {
    const box = new Inbox(10, 1000, 'refuse')
    await expect(box.next({ timeoutMs: 5 })).rejects.toBeInstanceOf(TimeoutError)
    const ac = new AbortController()
    const p = box.next({ signal: ac.signal })
    ac.abort()
    await expect(p).rejects.toBeInstanceOf(AbortError)
    box.push(msg(3))
    expect(box.length).toBe(1)
    expect((await box.next()).receivedAt).toBe(3)
  })

  it('close() rejects waiters, later next() rejects, queued messages stay readable', async () => {
    const box = new Inbox(10, 1000, 'refuse')
    const p = box.next()
    box.close()
    await expect(p).rejects.toBeInstanceOf(AbortError)
    const box2 = new Inbox(10, 1000, 'refuse')
    box2.push(msg(7))
    box2.close()
    expect((await box2.next()).receivedAt).toBe(7)
    await expect(box2.next()).rejects.toBeInstanceOf(AbortError)
  })
})
