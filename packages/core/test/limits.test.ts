import { describe, expect, it } from 'vitest'
import { abortReason, withDeadline } from '../src/deadline.js'
import { AbortError, ConfigError, TimeoutError } from '../src/errors.js'
import { DEFAULT_LIMITS, resolveLimits, type Limits } from '../src/limits.js'
import { MemoryNetwork } from '../src/memory/network.js'
import { createNode } from '../src/node.js'

describe('resolveLimits', () => {
  it('returns the AXL defaults', () => {
    expect(resolveLimits()).toEqual({
      maxMessageSize: 16 * 1024 * 1024,
      inboxMaxMessages: 100,
      inboxMaxBytes: 64 * 1024 * 1024,
      inboxOverflow: 'refuse',
      maxConcurrentStreams: 128,
      maxStreamsPerPeer: 64,
      inboundBufferBytes: 256 * 1024 * 1024,
      requestTimeoutMs: 30_000,
      readTimeoutMs: 60_000,
      idleTimeoutMs: 300_000,
      maxConcurrentRequests: 64
    })
    expect(Object.isFrozen(DEFAULT_LIMITS)).toBe(true)
  })

  it('merges overrides and ignores undefined values, without touching the defaults', () => {
    const l = resolveLimits({ inboxMaxMessages: 5, inboxOverflow: 'drop-oldest', requestTimeoutMs: undefined })
    expect(l.inboxMaxMessages).toBe(5)
    expect(l.inboxOverflow).toBe('drop-oldest')
    expect(l.requestTimeoutMs).toBe(30_000)
    expect(DEFAULT_LIMITS.inboxMaxMessages).toBe(100)
    l.maxMessageSize = 1
    expect(resolveLimits().maxMessageSize).toBe(16 * 1024 * 1024)
  })

  const numericKeys = Object.keys(DEFAULT_LIMITS).filter(k => k !== 'inboxOverflow') as Array<keyof Limits>
  for (const key of numericKeys) {
    it(`rejects bad values of ${key} with a ConfigError naming the key`, () => {
      for (const bad of [-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, '10', null, true, 2 ** 60]) {
        if (bad === 2 ** 60 && key !== 'maxMessageSize') continue
        let err: unknown
        try { resolveLimits({ [key]: bad } as unknown as Partial<Limits>) } catch (e) { err = e }
        expect(err, `${key}=${String(bad)}`).toBeInstanceOf(ConfigError)
        expect((err as Error).message).toContain(key)
      }
    })
  }

  it('accepts the largest frame length and rejects one above it', () => {
    expect(resolveLimits({ maxMessageSize: 0xffffffff }).maxMessageSize).toBe(0xffffffff)
    expect(() => resolveLimits({ maxMessageSize: 0x100000000 })).toThrow(/maxMessageSize/)
  })

  it('rejects a bad overflow policy naming the key', () => {
    expect(() => resolveLimits({ inboxOverflow: 'drop-all' as never })).toThrow(ConfigError)
    expect(() => resolveLimits({ inboxOverflow: 'drop-all' as never })).toThrow(/inboxOverflow/)
  })

  it('rejects unknown keys, including inherited Object.prototype names', () => {
    expect(() => resolveLimits({ maxMesageSize: 1 } as never)).toThrow(/maxMesageSize/)
    for (const key of ['toString', 'constructor', 'hasOwnProperty', '__proto__']) {
      const partial = JSON.parse(`{"${key}": 5}`) as Partial<Limits>
      expect(() => resolveLimits(partial), key).toThrow(ConfigError)
    }
  })

  it('createNode rejects bad limits with a ConfigError before touching the network', async () => {
    const net = new MemoryNetwork()
    await expect(createNode({ transport: net.transport(), limits: { maxConcurrentStreams: -3 } })).rejects.toThrow(/maxConcurrentStreams/)
    expect(net.peers).toEqual([])
  })
})

describe('withDeadline', () => {
  it('passes the value through without options', async () => {
    expect(await withDeadline(Promise.resolve(3), {}, 'x')).toBe(3)
  })

  it('times out with a TimeoutError naming the operation and calls onCancel', async () => {
    const cancelled: Error[] = []
    await expect(withDeadline(new Promise(() => {}), { timeoutMs: 5 }, 'the frob', e => cancelled.push(e)))
      .rejects.toThrow(/the frob timed out after 5 ms/)
    expect(cancelled[0]).toBeInstanceOf(TimeoutError)
  })

  it('rejects with AbortError on an aborted signal, already or later', async () => {
    const ac = new AbortController(); ac.abort()
    await expect(withDeadline(new Promise(() => {}), { signal: ac.signal }, 'x')).rejects.toBeInstanceOf(AbortError)
    const ac2 = new AbortController()
    const p = withDeadline(new Promise(() => {}), { signal: ac2.signal }, 'x')
    ac2.abort()
    await expect(p).rejects.toBeInstanceOf(AbortError)
  })

  it('maps AbortSignal.timeout() to TimeoutError and keeps Error reasons', async () => {
    await expect(withDeadline(new Promise(() => {}), { signal: AbortSignal.timeout(1) }, 'x')).rejects.toBeInstanceOf(TimeoutError)
    const ac = new AbortController(); ac.abort(new ConfigError('why'))
    await expect(withDeadline(new Promise(() => {}), { signal: ac.signal }, 'x')).rejects.toBeInstanceOf(ConfigError)
  })

  it('abortReason keeps our own errors as they are (a TimeoutError reason is not copied)', () => {
    const t = new TimeoutError('ours')
    const ac = new AbortController(); ac.abort(t)
    expect(abortReason(ac.signal)).toBe(t)
    const plain = new AbortController(); plain.abort('because')
    const e = abortReason(plain.signal)
    expect(e).toBeInstanceOf(AbortError)
    expect(e.cause).toBe('because')
    const foreign = new AbortController(); foreign.abort(new DOMException('late', 'TimeoutError'))
    expect(abortReason(foreign.signal)).toMatchObject({ code: 'ERR_TIMEOUT', message: 'late' })
  })

  it('a timeout beyond the 32-bit timer range does not fire at once', async () => {
    const ac = new AbortController()
    const p = withDeadline(new Promise(() => {}), { timeoutMs: 2 ** 40, signal: ac.signal }, 'x')
    const first = await Promise.race([p.then(() => 'resolved', (e: Error) => e.name), new Promise(resolve => setTimeout(resolve, 20, 'pending'))])
    ac.abort()
    await expect(p).rejects.toBeInstanceOf(AbortError)
    expect(first).toBe('pending')
  })

  it('removes its abort listener once settled', async () => {
    const ac = new AbortController()
    let added = 0; let removed = 0
    const add = ac.signal.addEventListener.bind(ac.signal)
    const rem = ac.signal.removeEventListener.bind(ac.signal)
    ac.signal.addEventListener = ((...a: Parameters<typeof add>) => { added++; add(...a) }) as typeof add
    ac.signal.removeEventListener = ((...a: Parameters<typeof rem>) => { removed++; rem(...a) }) as typeof rem
    for (let i = 0; i < 10; i++) await withDeadline(Promise.resolve(i), { signal: ac.signal, timeoutMs: 1000 }, 'x')
    expect(added).toBe(10)
    expect(removed).toBe(10)
  })
})
