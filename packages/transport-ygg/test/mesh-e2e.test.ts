/**
 * The whole stack end to end, in separate processes: A — P — B, where A and B each dial only the relay P.
 * createNode({ transport: ygg(...) }) on each; the same suite over tcp:// and ws:// links.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { createHash, randomBytes } from 'node:crypto'
import { fileURLToPath } from 'node:url'
import { Proc } from './helpers/proc.js'

const fixture = fileURLToPath(new URL('./fixtures/ygg-node.ts', import.meta.url))
const MiB = 1024 * 1024

/** The fixture's deterministic payload (same formula as pattern() there). */
function pattern (size: number, tag = 0): Buffer {
  const b = Buffer.allocUnsafe(size)
  for (let i = 0; i < size; i++) b[i] = (i * 31 + tag) & 0xff
  return b
}

let nextId = 1
/** Run one command on `p` and wait for its result event. */
async function cmd (p: Proc, c: Record<string, unknown>, timeoutMs = 30_000): Promise<Record<string, unknown>> {
  const id = nextId++
  p.send({ ...c, id })
  return await p.waitFor(e => e.event === 'result' && e.id === id, timeoutMs, `${String(c.cmd)} #${id}`)
}

interface Net { p: Proc, a: Proc, b: Proc, pKey: string, aKey: string, bKey: string, bSeed: string, pUri: string, procs: Proc[] }

async function startNode (name: string, seed: string, args: string[], procs: Proc[]): Promise<{ proc: Proc, ready: Record<string, unknown> }> {
  const proc = new Proc(name, fixture, ['--seed', seed, ...args])
  procs.push(proc)
  const ready = await proc.waitFor(e => e.event === 'ready', 30_000, `${name} ready`)
  return { proc, ready }
}

async function startNet (scheme: 'tcp' | 'ws'): Promise<Net> {
  const procs: Proc[] = []
  const listen = scheme === 'tcp' ? 'tcp://127.0.0.1:0' : 'ws://127.0.0.1:0/ygg'
  const P = await startNode('P', randomBytes(32).toString('hex'), ['--listen', listen, '--spy'], procs)
  const pUri = (P.ready.listen as string[])[0]
  const bSeed = randomBytes(32).toString('hex')
  const [A, B] = await Promise.all([
    startNode('A', randomBytes(32).toString('hex'), ['--peer', pUri, '--connect-timeout-ms', '4000'], procs),
    startNode('B', bSeed, ['--peer', pUri, '--max-message-size', String(16 * MiB)], procs)
  ])
  return { p: P.proc, a: A.proc, b: B.proc, pKey: P.ready.key as string, aKey: A.ready.key as string, bKey: B.ready.key as string, bSeed, pUri, procs }
}

/** Retry a send until it is accepted (the tree may still be forming right after start), within a deadline. */
async function sendUntilAccepted (from: Proc, c: Record<string, unknown>, deadlineMs: number): Promise<Record<string, unknown>> {
  const end = Date.now() + deadlineMs
  for (;;) {
    const r = await cmd(from, c, deadlineMs)
    if (r.ok === true || Date.now() > end) return r
  }
}

describe.each(['tcp', 'ws'] as const)('ygg mesh end to end over %s:// (A — P — B, separate processes)', scheme => {
  let net: Net
  beforeAll(async () => { net = await startNet(scheme) }, 60_000)
  afterAll(async () => { await Promise.all((net?.procs ?? []).map(async p => { await p.stop() })) })

  it('send: B receives A\'s message with A\'s full key, and answers', async () => {
    const r = await sendUntilAccepted(net.a, { cmd: 'send', to: net.bKey, text: 'hello B' }, 30_000)
    expect(r).toMatchObject({ ok: true })
    const m = await net.b.waitFor(e => e.event === 'message' && e.head === 'hello B', 10_000, 'hello B')
    expect(m.from).toBe(net.aKey)
    const back = await cmd(net.b, { cmd: 'send', to: net.aKey, text: 'hello A' })
    expect(back).toMatchObject({ ok: true })
    expect((await net.a.waitFor(e => e.event === 'message' && e.head === 'hello A', 10_000, 'hello A')).from).toBe(net.bKey)
  }, 60_000)

  it('request/response round trip to B\'s MCP handler', async () => {
    const body = { jsonrpc: '2.0', id: 12345678901234567890n.toString(), method: 'tools/list' }
    const r = await cmd(net.a, { cmd: 'request', to: net.bKey, service: 'echo', body })
    expect(r).toMatchObject({ ok: true })
    expect(JSON.parse(r.response as string)).toEqual(body)
  }, 30_000)

  it('100 concurrent streams all arrive', async () => {
    const before = net.b.events.filter(e => e.event === 'message' && e.size === 1000).length
    const r = await cmd(net.a, { cmd: 'sendMany', to: net.bKey, count: 100, size: 1000 }, 60_000)
    expect(r).toMatchObject({ ok: true, sent: 100, failed: [] })
    // Accepted means queued in B's inbox; B's reader prints them a moment later.
    const got = (): number => net.b.events.filter(e => e.event === 'message' && e.size === 1000).length - before
    await vi.waitFor(() => { expect(got()).toBe(100) }, { timeout: 10_000, interval: 20 })
  }, 60_000)

  it('a 16 MiB message arrives byte-identical (and P forwards its big frames without copying them)', async () => {
    const size = 16 * MiB
    net.p.events.length = 0
    net.p.send({ cmd: 'spy' })
    const before = await net.p.waitFor(e => e.event === 'spy', 5000, 'spy before')
    const r = await cmd(net.a, { cmd: 'send', to: net.bKey, size, tag: 7 }, 120_000)
    expect(r).toMatchObject({ ok: true })
    const digest = createHash('sha256').update(pattern(size, 7)).digest('hex')
    const m = await net.b.waitFor(e => e.event === 'message' && e.size === size, 30_000, '16 MiB message')
    expect(m.sha256).toBe(digest)
    net.p.events.length = 0
    net.p.send({ cmd: 'spy' })
    const after = await net.p.waitFor(e => e.event === 'spy', 5000, 'spy after')
    // At least a quarter of the ~260 full-size packets: the rest were split across reads and assembled.
    expect((after.framedInPlace as number) - (before.framedInPlace as number)).toBeGreaterThan(64)
  }, 180_000)

  it('an oversize message is refused at the sender with a clear error', async () => {
    const local = await cmd(net.a, { cmd: 'send', to: net.bKey, size: 16 * MiB + 1 })
    expect(local).toMatchObject({ ok: false, code: 'ERR_MESSAGE_TOO_LARGE' })
    expect(local.message).toMatch(/exceeds the local limit of 16777216 bytes/)
  }, 30_000)

  it('an unreachable key fails within a bounded time with a typed error', async () => {
    const t0 = Date.now()
    const r = await cmd(net.a, { cmd: 'send', to: randomBytes(32).toString('hex'), text: 'anyone?' }, 20_000)
    expect(r).toMatchObject({ ok: false, code: 'ERR_UNREACHABLE' })
    expect(Date.now() - t0).toBeLessThan(10_000)
  }, 30_000)

  it('the relay P forwards only ciphertext', async () => {
    const marker = 'AXL-PLAINTEXT-MARKER'
    net.p.send({ cmd: 'spy' })
    const before = await net.p.waitFor(e => e.event === 'spy', 5000, 'spy before')
    const r = await cmd(net.a, { cmd: 'send', to: net.bKey, text: `${marker} ${marker} secret` })
    expect(r).toMatchObject({ ok: true })
    await net.b.waitFor(e => e.event === 'message' && String(e.head).startsWith(marker), 10_000, 'marker message')
    net.p.events.length = 0
    net.p.send({ cmd: 'spy' })
    const after = await net.p.waitFor(e => e.event === 'spy', 5000, 'spy after')
    expect(after.forwarded as number).toBeGreaterThan(before.forwarded as number) // it did go through P
    expect(after.plaintextSeen).toBe(0)
  }, 30_000)

  it('B restarting mid-conversation recovers without A restarting', async () => {
    await net.b.kill()
    const B2 = await startNode('B2', net.bSeed, ['--peer', net.pUri], net.procs)
    const r = await sendUntilAccepted(net.a, { cmd: 'send', to: net.bKey, text: 'after restart' }, 45_000)
    expect(r).toMatchObject({ ok: true })
    const m = await B2.proc.waitFor(e => e.event === 'message' && e.head === 'after restart', 10_000, 'after restart')
    expect(m.from).toBe(net.aKey)
    net.b = B2.proc
  }, 90_000)
})
