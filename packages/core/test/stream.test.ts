import { describe, expect, it } from 'vitest'
import { AbortError, StreamClosedError, TimeoutError } from '../src/errors.js'
import type { PeerId } from '../src/peer-id.js'
import { createMeshStream, type MeshStream, type StreamSink } from '../src/stream.js'

const PEER = 'ab'.repeat(32) as PeerId

/** A sink that records what the stream asked of it; `accept` decides send()'s return value. */
function recordingSink (accept: () => boolean = () => true): StreamSink & { written: Uint8Array[], ended: number, resets: string[] } {
  const s = {
    written: [] as Uint8Array[],
    ended: 0,
    resets: [] as string[],
    write: (d: Uint8Array) => { s.written.push(d); return accept() },
    end: () => { s.ended++ },
    reset: (r: string) => { s.resets.push(r) }
  }
  return s
}

/** A stream whose transport side (its StreamController) the test drives, under the old method names. */
type TestStream = MeshStream & { deliver: (d: Uint8Array) => void, deliverEnd: () => void, deliverReset: (r: string) => void, notifyDrain: () => void }

function makeStream (opts: { accept?: () => boolean, hwm?: number } = {}): { stream: TestStream, sink: ReturnType<typeof recordingSink>, consumed: number[] } {
  const sink = recordingSink(opts.accept)
  const consumed: number[] = []
  const { stream, controller } = createMeshStream({ remotePeer: PEER, direction: 'outbound', sink, readableHighWaterMark: opts.hwm, onConsumed: n => { consumed.push(n) } })
  const driven = Object.assign(stream, { deliver: controller.deliver, deliverEnd: controller.end, deliverReset: controller.reset, notifyDrain: controller.drain })
  return { stream: driven, sink, consumed }
}

const bytes = (...b: number[]): Uint8Array => Uint8Array.from(b)

describe('MeshStream reading', () => {
  it('returns delivered chunks in order, then null after the remote ends', async () => {
    const { stream, consumed } = makeStream()
    stream.deliver(bytes(1, 2))
    stream.deliver(bytes(3))
    stream.deliverEnd()
    expect(await stream.read()).toEqual(bytes(1, 2))
    expect(await stream.read()).toEqual(bytes(3))
    expect(await stream.read()).toBeNull()
    expect(await stream.read()).toBeNull()
    expect(consumed).toEqual([2, 1])
  })

  it('a pending read wakes when data arrives later', async () => {
    const { stream } = makeStream()
    const p = stream.read()
    stream.deliver(bytes(9))
    expect(await p).toEqual(bytes(9))
  })

  it('a pending read resolves null on deliverEnd', async () => {
    const { stream } = makeStream()
    const p = stream.read()
    stream.deliverEnd()
    expect(await p).toBeNull()
  })

  it('ignores empty chunks and data after the remote ended', async () => {
    const { stream } = makeStream()
    stream.deliver(new Uint8Array(0))
    expect(stream.readableLength).toBe(0)
    stream.deliverEnd()
    stream.deliver(bytes(1))
    expect(stream.readableLength).toBe(0)
    expect(await stream.read()).toBeNull()
  })

  it('async iteration yields every chunk and ends at FIN', async () => {
    const { stream } = makeStream()
    const got: number[] = []
    const done = (async () => { for await (const c of stream) got.push(...c) })()
    for (let i = 0; i < 5; i++) stream.deliver(bytes(i))
    stream.deliverEnd()
    await done
    expect(got).toEqual([0, 1, 2, 3, 4])
  })

  it('two concurrent reads both get a chunk (neither hangs)', async () => {
    const { stream } = makeStream()
    const a = stream.read({ timeoutMs: 1000 })
    const b = stream.read({ timeoutMs: 1000 })
    stream.deliver(bytes(1))
    stream.deliver(bytes(2))
    const got = await Promise.all([a, b])
    expect(got.map(c => c?.[0]).sort()).toEqual([1, 2])
  })

  it('a remote reset fails pending and later reads with StreamClosedError', async () => {
    const { stream } = makeStream()
    const p = stream.read()
    stream.deliverReset('boom')
    await expect(p).rejects.toBeInstanceOf(StreamClosedError)
    await expect(stream.read()).rejects.toThrow(/boom/)
    expect(stream.status).toBe('aborted')
  })

  it('read() honours timeoutMs and signal, and a later read still works', async () => {
    const { stream } = makeStream()
    await expect(stream.read({ timeoutMs: 5 })).rejects.toBeInstanceOf(TimeoutError)
    const ac = new AbortController()
    const p = stream.read({ signal: ac.signal })
    ac.abort()
    await expect(p).rejects.toBeInstanceOf(AbortError)
    const already = new AbortController(); already.abort()
    await expect(stream.read({ signal: already.signal })).rejects.toBeInstanceOf(AbortError)
    // the cancelled waits must not swallow the next chunk
    const q = stream.read()
    stream.deliver(bytes(7))
    expect(await q).toEqual(bytes(7))
  })

  it('readSync: undefined when empty, chunk, null at end', () => {
    const { stream } = makeStream()
    expect(stream.readSync()).toBeUndefined()
    stream.deliver(bytes(4))
    expect(stream.readSync()).toEqual(bytes(4))
    stream.deliverEnd()
    expect(stream.readSync()).toBeNull()
  })

  it('readableFull turns true at the high-water mark', () => {
    const { stream } = makeStream({ hwm: 4 })
    stream.deliver(bytes(1, 2, 3))
    expect(stream.readableFull).toBe(false)
    stream.deliver(bytes(4))
    expect(stream.readableFull).toBe(true)
    expect(stream.readableLength).toBe(4)
    stream.readSync()
    expect(stream.readableFull).toBe(false)
  })
})

describe('MeshStream writing', () => {
  it('send passes bytes to the sink and returns its verdict', () => {
    let ok = true
    const { stream, sink } = makeStream({ accept: () => ok })
    expect(stream.send(bytes(1))).toBe(true)
    ok = false
    expect(stream.send(bytes(2))).toBe(false)
    expect(sink.written).toEqual([bytes(1), bytes(2)])
  })

  it('onDrain waits for notifyDrain after send() returned false', async () => {
    const { stream } = makeStream({ accept: () => false })
    expect(stream.send(bytes(1))).toBe(false)
    let drained = false
    const p = stream.onDrain().then(() => { drained = true })
    await Promise.resolve()
    expect(drained).toBe(false)
    stream.notifyDrain()
    await p
    expect(drained).toBe(true)
  })

  it('onDrain does not lose a drain that happened before it was called', async () => {
    const { stream } = makeStream({ accept: () => false })
    expect(stream.send(bytes(1))).toBe(false)
    stream.notifyDrain()
    await stream.onDrain({ timeoutMs: 1000 })
  })

  it('onDrain resolves at once when the sink never pushed back', async () => {
    const { stream } = makeStream()
    stream.send(bytes(1))
    await stream.onDrain({ timeoutMs: 1000 })
  })

  it('onDrain honours timeoutMs and signal', async () => {
    const { stream } = makeStream({ accept: () => false })
    stream.send(bytes(1))
    await expect(stream.onDrain({ timeoutMs: 5 })).rejects.toBeInstanceOf(TimeoutError)
    const ac = new AbortController()
    const p = stream.onDrain({ signal: ac.signal })
    ac.abort()
    await expect(p).rejects.toBeInstanceOf(AbortError)
  })

  it('a reset wakes a writer waiting for drain with StreamClosedError', async () => {
    const { stream } = makeStream({ accept: () => false })
    stream.send(bytes(1))
    const p = stream.onDrain()
    stream.deliverReset('gone')
    await expect(p).rejects.toBeInstanceOf(StreamClosedError)
    expect(() => stream.send(bytes(2))).toThrow(StreamClosedError)
    await expect(stream.onDrain()).rejects.toBeInstanceOf(StreamClosedError)
  })

  it('closeWrite sends FIN once and forbids further sends', () => {
    const { stream, sink } = makeStream()
    stream.closeWrite()
    stream.closeWrite()
    expect(sink.ended).toBe(1)
    expect(stream.writableEnded).toBe(true)
    expect(stream.status).toBe('open')
    expect(() => stream.send(bytes(1))).toThrow(StreamClosedError)
  })

  it('status becomes closed when both sides ended, and closed() resolves', async () => {
    const { stream } = makeStream()
    const closed = stream.closed()
    stream.closeWrite()
    stream.deliverEnd()
    await closed
    expect(stream.status).toBe('closed')
    await stream.closed()
  })

  it('closed() honours a deadline', async () => {
    const { stream } = makeStream()
    await expect(stream.closed({ timeoutMs: 5 })).rejects.toBeInstanceOf(TimeoutError)
  })

  it('close() half-closes and discards buffered and later data, reporting it consumed', async () => {
    const { stream, sink, consumed } = makeStream()
    stream.deliver(bytes(1, 2, 3))
    stream.close()
    expect(sink.ended).toBe(1)
    expect(stream.readableLength).toBe(0)
    stream.deliver(bytes(4, 5))
    expect(stream.readableLength).toBe(0)
    expect(consumed).toEqual([3, 2])
  })

  it('abort resets the sink once, fails reads and writes, resolves closed()', async () => {
    const { stream, sink } = makeStream()
    const r = stream.read()
    const c = stream.closed()
    stream.abort(new Error('nope'))
    stream.abort('again')
    expect(sink.resets).toEqual(['nope'])
    await expect(r).rejects.toBeInstanceOf(StreamClosedError)
    await c
    expect(stream.status).toBe('aborted')
    expect(stream.writableEnded).toBe(true)
    expect(() => stream.send(bytes(1))).toThrow(StreamClosedError)
    stream.closeWrite() // no-op after abort
    expect(sink.ended).toBe(0)
  })

  it('abort discards buffered data: reads fail at once', async () => {
    const { stream } = makeStream()
    stream.deliver(bytes(1))
    stream.abort()
    expect(() => stream.readSync()).toThrow(StreamClosedError)
    expect(stream.readableLength).toBe(0)
  })

  it('ids are unique', () => {
    expect(makeStream().stream.id).not.toBe(makeStream().stream.id)
  })
})
