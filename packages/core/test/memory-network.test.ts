import { afterEach, describe, expect, it, vi } from 'vitest'
import { AbortError, DuplicatePeerError, NotStartedError, StreamClosedError, TimeoutError, UnreachableError } from '../src/errors.js'
import { generateIdentity } from '../src/identity.js'
import type { Mesh } from '../src/mesh.js'
import type { PeerId } from '../src/peer-id.js'
import { MemoryNetwork } from '../src/memory/network.js'
import type { MeshStream } from '../src/stream.js'

interface TestMesh { mesh: Mesh, id: string, inbound: MeshStream[], next: () => Promise<MeshStream> }

/** A started mesh on `net` whose inbound streams are collected. */
async function join (net: MemoryNetwork): Promise<TestMesh> {
  const identity = generateIdentity()
  const mesh = net.transport()({ identity })
  const inbound: MeshStream[] = []
  let waiter: ((s: MeshStream) => void) | undefined
  mesh.handle(s => { inbound.push(s); const w = waiter; waiter = undefined; w?.(s) })
  await mesh.start()
  const next = async (): Promise<MeshStream> => {
    const s = inbound.shift()
    if (s !== undefined) return s
    return await new Promise<MeshStream>(resolve => { waiter = s2 => { inbound.shift(); resolve(s2) } })
  }
  return { mesh, id: identity.peerId, inbound, next }
}

async function readAll (s: MeshStream): Promise<Uint8Array> {
  const parts: Uint8Array[] = []
  for await (const c of s) parts.push(c)
  return Buffer.concat(parts)
}

afterEach(() => { vi.useRealTimers() })

describe('MemoryNetwork streams', () => {
  it('carries bytes both ways and tells each end the full remote peer id', async () => {
    const net = new MemoryNetwork()
    const a = await join(net); const b = await join(net)
    const s = await a.mesh.dial(b.id as never)
    const r = await b.next()
    expect(s.remotePeer).toBe(b.id)
    expect(r.remotePeer).toBe(a.id)
    expect(s.direction).toBe('outbound')
    expect(r.direction).toBe('inbound')
    s.send(Uint8Array.from([1, 2, 3]))
    s.closeWrite()
    expect(await readAll(r)).toEqual(Buffer.from([1, 2, 3]))
    r.send(Uint8Array.from([4]))
    r.closeWrite()
    expect(await readAll(s)).toEqual(Buffer.from([4]))
    await s.closed({ timeoutMs: 1000 })
    expect(s.status).toBe('closed')
    expect(net.stats.streams).toBe(1)
  })

  it('copies what is sent: the writer may reuse its buffer at once', async () => {
    const net = new MemoryNetwork()
    const a = await join(net); const b = await join(net)
    const s = await a.mesh.dial(b.id as never)
    const buf = Uint8Array.from([1, 2, 3])
    s.send(buf)
    buf.fill(9)
    s.closeWrite()
    expect(await readAll(await b.next())).toEqual(Buffer.from([1, 2, 3]))
  })

  it('a reset reaches the other end', async () => {
    const net = new MemoryNetwork()
    const a = await join(net); const b = await join(net)
    const s = await a.mesh.dial(b.id as never)
    const r = await b.next()
    const pending = r.read()
    s.abort('bye')
    await expect(pending).rejects.toThrow(/bye/)
    expect(r.status).toBe('aborted')
  })

  it('unknown peer → UnreachableError, counted', async () => {
    const net = new MemoryNetwork()
    const a = await join(net)
    await expect(a.mesh.dial(generateIdentity().peerId)).rejects.toBeInstanceOf(UnreachableError)
    expect(net.stats.failedDials).toBe(1)
  })

  it('a stopped mesh cannot dial, is unreachable, and its streams are reset', async () => {
    const net = new MemoryNetwork()
    const a = await join(net); const b = await join(net)
    const s = await a.mesh.dial(b.id as never)
    const r = await b.next()
    await b.mesh.stop()
    await expect(s.read()).rejects.toBeInstanceOf(StreamClosedError)
    await expect(r.read()).rejects.toBeInstanceOf(StreamClosedError)
    await expect(a.mesh.dial(b.id as never)).rejects.toBeInstanceOf(UnreachableError)
    await expect(b.mesh.dial(a.id as never)).rejects.toBeInstanceOf(NotStartedError)
    expect(net.peers).toEqual([a.id])
  })

  it('refuses two meshes with the same key', async () => {
    const net = new MemoryNetwork()
    const identity = generateIdentity()
    await net.transport()({ identity }).start()
    await expect(net.transport()({ identity }).start()).rejects.toThrow(/already on this memory network/)
    await expect(net.transport()({ identity }).start()).rejects.toBeInstanceOf(DuplicatePeerError)
  })

  it('reports its maxMessageSize', () => {
    expect(new MemoryNetwork({ maxMessageSize: 1000 }).transport()({ identity: generateIdentity() }).maxMessageSize).toBe(1000)
    expect(new MemoryNetwork().transport()({ identity: generateIdentity() }).maxMessageSize).toBeUndefined()
  })
})

describe('MemoryNetwork partition, kill, restart', () => {
  it('partition(a, b) resets streams across the cut only; heal restores dialling', async () => {
    const net = new MemoryNetwork()
    const a = await join(net); const b = await join(net); const c = await join(net)
    const ab = await a.mesh.dial(b.id as never); const abR = await b.next()
    const ac = await a.mesh.dial(c.id as never); await c.next()
    net.partition([a.id], [b.id])
    expect(ab.status).toBe('aborted')
    expect(abR.status).toBe('aborted')
    expect(ac.status).toBe('open')
    expect(net.stats.severed).toBe(1)
    await expect(a.mesh.dial(b.id as never)).rejects.toThrow(/partition/)
    await expect(b.mesh.dial(a.id as never)).rejects.toBeInstanceOf(UnreachableError)
    expect(net.reachable(a.id as never, c.id as never)).toBe(true)
    net.heal()
    const again = await a.mesh.dial(b.id as never)
    again.send(Uint8Array.from([5])); again.closeWrite()
    expect(await readAll(await b.next())).toEqual(Buffer.from([5]))
  })

  it('partition(a) cuts a off from everyone, but not others from each other', async () => {
    const net = new MemoryNetwork()
    const a = await join(net); const b = await join(net); const c = await join(net)
    net.partition([a.id])
    await expect(a.mesh.dial(b.id as never)).rejects.toBeInstanceOf(UnreachableError)
    await expect(c.mesh.dial(a.id as never)).rejects.toBeInstanceOf(UnreachableError)
    await b.mesh.dial(c.id as never)
  })

  it('kill resets the node’s streams and fails dials both ways; restart restores', async () => {
    const net = new MemoryNetwork()
    const a = await join(net); const b = await join(net)
    const s = await a.mesh.dial(b.id as never)
    net.kill(b.id)
    await expect(s.read()).rejects.toBeInstanceOf(StreamClosedError)
    await expect(a.mesh.dial(b.id as never)).rejects.toThrow(/down/)
    await expect(b.mesh.dial(a.id as never)).rejects.toBeInstanceOf(UnreachableError)
    net.restart(b.id)
    await a.mesh.dial(b.id as never)
  })

  it('names are accepted in upper case too', async () => {
    const net = new MemoryNetwork()
    const a = await join(net); const b = await join(net)
    net.kill(b.id.toUpperCase())
    await expect(a.mesh.dial(b.id as never)).rejects.toBeInstanceOf(UnreachableError)
  })
})

describe('MemoryNetwork latency (virtual time)', () => {
  it('delays stream opening and every chunk by the one-way latency', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] })
    const net = new MemoryNetwork({ latencyMs: 50 })
    const a = await join(net); const b = await join(net)
    let dialled = false
    const dial = a.mesh.dial(b.id as never).then(s => { dialled = true; return s })
    await vi.advanceTimersByTimeAsync(49)
    expect(dialled).toBe(false)
    expect(b.inbound.length).toBe(0)
    await vi.advanceTimersByTimeAsync(1)
    const s = await dial
    const r = await b.next()
    const got: Array<[number, number]> = []
    void (async () => { for await (const c of r) got.push([c[0], Date.now()]) })()
    const t0 = Date.now()
    s.send(Uint8Array.from([1]))
    await vi.advanceTimersByTimeAsync(30)
    s.send(Uint8Array.from([2]))
    await vi.advanceTimersByTimeAsync(19)
    expect(got).toEqual([])
    await vi.advanceTimersByTimeAsync(1)
    expect(got).toEqual([[1, t0 + 50]])
    await vi.advanceTimersByTimeAsync(29)
    expect(got.length).toBe(1) // chunk 2 was sent at t0+30: it must not arrive before t0+80
    await vi.advanceTimersByTimeAsync(1)
    expect(got).toEqual([[1, t0 + 50], [2, t0 + 80]])
  })

  it('lowering the latency never reorders chunks', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] })
    const net = new MemoryNetwork({ latencyMs: 100 })
    const a = await join(net); const b = await join(net)
    const dial = a.mesh.dial(b.id as never)
    await vi.advanceTimersByTimeAsync(100)
    const s = await dial
    const r = await b.next()
    const got: number[] = []
    void (async () => { for await (const c of r) got.push(c[0]) })()
    s.send(Uint8Array.from([1]))
    net.setLatency(0)
    s.send(Uint8Array.from([2]))
    await vi.advanceTimersByTimeAsync(0)
    expect(got).toEqual([])
    await vi.advanceTimersByTimeAsync(100)
    expect(got).toEqual([1, 2])
  })

  it('a latency function sets the delay per pair and direction (sender, receiver)', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] })
    const delays = new Map<string, number>()
    const net = new MemoryNetwork({ latencyMs: (from, to) => delays.get(`${from}>${to}`) ?? 0 })
    const a = await join(net); const b = await join(net); const c = await join(net)
    delays.set(`${a.id}>${b.id}`, 10)
    delays.set(`${b.id}>${a.id}`, 30)
    delays.set(`${a.id}>${c.id}`, 50)
    const opened: string[] = []
    const toB = a.mesh.dial(b.id as never).then(s => { opened.push('b'); return s })
    const toC = a.mesh.dial(c.id as never).then(s => { opened.push('c'); return s })
    await vi.advanceTimersByTimeAsync(9)
    expect(opened).toEqual([])
    await vi.advanceTimersByTimeAsync(1)
    expect(opened).toEqual(['b']) // a → b opens after 10 ms, a → c not yet
    await vi.advanceTimersByTimeAsync(40)
    expect(opened).toEqual(['b', 'c'])
    const ab = await toB; const ba = await b.next()
    const ac = await toC; const ca = await c.next()
    const got: Array<[string, number]> = []
    const t0 = Date.now()
    const collect = (s: MeshStream, name: string): void => { void (async () => { for await (const _ of s) got.push([name, Date.now() - t0]) })() }
    collect(ba, 'at b'); collect(ab, 'at a'); collect(ca, 'at c'); collect(ac, 'at a from c')
    ab.send(Uint8Array.from([1]))
    ba.send(Uint8Array.from([2]))
    ac.send(Uint8Array.from([3]))
    await vi.advanceTimersByTimeAsync(50)
    expect(got).toEqual([['at b', 10], ['at a', 30], ['at c', 50]])
    // a pair the function gives no positive delay for is delivered on the next microtask, as latencyMs 0
    ca.send(Uint8Array.from([4]))
    await vi.advanceTimersByTimeAsync(0)
    expect(got[3]).toEqual(['at a from c', 50])
  })

  it('an aborted or timed-out dial rejects at once and leaves no timer behind', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] })
    const net = new MemoryNetwork({ latencyMs: 10_000 })
    const a = await join(net); const b = await join(net)
    const ac = new AbortController()
    const p = a.mesh.dial(b.id as never, { signal: ac.signal })
    ac.abort()
    await expect(p).rejects.toBeInstanceOf(AbortError)
    const q = a.mesh.dial(b.id as never, { timeoutMs: 5 })
    const settled = expect(q).rejects.toBeInstanceOf(TimeoutError)
    await vi.advanceTimersByTimeAsync(5)
    await settled
    expect(vi.getTimerCount()).toBe(0)
    expect(b.inbound.length).toBe(0)
  })
})

describe('MemoryNetwork severing under latency', () => {
  it('kill and stop drop in-flight chunks and their timers', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] })
    const net = new MemoryNetwork({ latencyMs: 1000 })
    const a = await join(net); const b = await join(net); const c = await join(net)
    const dialB = a.mesh.dial(b.id as never); const dialC = a.mesh.dial(c.id as never)
    await vi.advanceTimersByTimeAsync(1000)
    const sb = await dialB; const sc = await dialC
    sb.send(Uint8Array.from([1])); sc.send(Uint8Array.from([2]))
    expect(vi.getTimerCount()).toBeGreaterThan(0)
    net.kill(b.id)
    await c.mesh.stop()
    expect(sb.status).toBe('aborted')
    expect(sc.status).toBe('aborted')
    expect(vi.getTimerCount()).toBe(0)
    expect(net.stats.severed).toBe(2)
  })
})

describe('MemoryNetwork flow control', () => {
  it('a reader that does not read stalls the writer at about the window; reading resumes it', async () => {
    const window = 64 * 1024
    const net = new MemoryNetwork({ streamWindowBytes: window })
    const a = await join(net); const b = await join(net)
    const s = await a.mesh.dial(b.id as never)
    const r = await b.next()
    const chunk = new Uint8Array(4096)
    let sent = 0
    while (s.send(chunk)) sent += chunk.byteLength
    sent += chunk.byteLength
    expect(sent).toBeGreaterThanOrEqual(window)
    expect(sent).toBeLessThan(window + 2 * chunk.byteLength)
    let drained = false
    const drain = s.onDrain({ timeoutMs: 2000 }).then(() => { drained = true })
    // let every chunk arrive: the writer stays stalled while nobody reads
    await new Promise(resolve => setImmediate(resolve))
    expect(r.readableLength).toBe(sent)
    expect(drained).toBe(false)
    let read = 0
    while (read < sent) read += (await r.read())!.byteLength
    await drain
    expect(drained).toBe(true)
    // and it flows again
    s.send(Uint8Array.from([7])); s.closeWrite()
    expect(await readAll(r)).toEqual(Buffer.from([7]))
  })

  it('close() on the reader releases a stalled writer', async () => {
    const net = new MemoryNetwork({ streamWindowBytes: 1024 })
    const a = await join(net); const b = await join(net)
    const s = await a.mesh.dial(b.id as never)
    const r = await b.next()
    expect(s.send(new Uint8Array(2048))).toBe(false)
    const drain = s.onDrain({ timeoutMs: 2000 })
    await new Promise(resolve => setImmediate(resolve))
    r.close()
    await drain
  })

  it('a reset on the reader side fails a stalled writer', async () => {
    const net = new MemoryNetwork({ streamWindowBytes: 1024 })
    const a = await join(net); const b = await join(net)
    const s = await a.mesh.dial(b.id as never)
    const r = await b.next()
    expect(s.send(new Uint8Array(2048))).toBe(false)
    const drain = s.onDrain({ timeoutMs: 2000 })
    r.abort('no thanks')
    await expect(drain).rejects.toBeInstanceOf(StreamClosedError)
  })
})

describe('MemoryNetwork topology', () => {
  it('has array lists, itself in the tree, and marks cut peers down', async () => {
    const net = new MemoryNetwork()
    const solo = await join(net)
    const t0 = solo.mesh.topology()
    expect(t0.peers).toEqual([])
    expect(t0.tree).toEqual([{ publicKey: solo.id, parent: solo.id, sequence: 0 }])
    expect(t0.root).toBe(solo.id)
    expect(t0.parent).toBe(solo.id)
    expect(t0.coords).toEqual([])
    const b = await join(net); const c = await join(net)
    const t = solo.mesh.topology()
    expect(t.ourPublicKey).toBe(solo.id)
    expect(t.ourIpv6).toMatch(/^2[0-9a-f]{2}:/)
    expect(Array.isArray(t.peers)).toBe(true)
    expect(t.peers.map(p => p.publicKey).sort()).toEqual([b.id, c.id].sort())
    expect(t.tree.some(e => e.publicKey === solo.id)).toBe(true)
    const rootEntry = t.tree.find(e => e.publicKey === t.root)
    expect(rootEntry?.parent).toBe(t.root)
    for (const p of t.peers) {
      expect(p.up).toBe(true)
      expect(p.uri).toMatch(/^memory:\/\//)
      expect(p.port).toBeGreaterThan(0)
    }
    net.kill(b.id)
    const down = solo.mesh.topology().peers.find(p => p.uri.endsWith(b.id))!
    expect(down).toMatchObject({ up: false, publicKey: '', root: '', port: 0 })
  })

  it('a topology function rewrites what each node reports (e.g. a simulated overlay’s links and tree)', async () => {
    const seen: string[] = []
    const order: PeerId[] = [] // a line order[0] - order[1] - order[2], rooted at order[0]
    const net = new MemoryNetwork({
      topology: (self, base) => {
        seen.push(self)
        const i = order.indexOf(self)
        return { ...base, root: order[0], parent: order[Math.max(0, i - 1)], peers: base.peers.filter(p => Math.abs(order.indexOf(p.publicKey as PeerId) - i) === 1) }
      }
    })
    const a = await join(net); order.push(a.id as PeerId)
    const b = await join(net); order.push(b.id as PeerId)
    const c = await join(net); order.push(c.id as PeerId)
    const tb = b.mesh.topology()
    expect(seen).toEqual([b.id])
    expect(tb.peers.map(p => p.publicKey).sort()).toEqual([a.id, c.id].sort())
    expect(tb.parent).toBe(a.id)
    expect(tb.ourPublicKey).toBe(b.id) // the rest of the default view is kept
    expect(c.mesh.topology().peers.map(p => p.publicKey)).toEqual([b.id])
    expect(a.mesh.topology().root).toBe(a.id)
  })
})
