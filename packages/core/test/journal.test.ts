// The durable inbox (createNode({ inbox: { dir } })): replay after a restart, corruption cut off and reported,
// the journal's disk bound, and its size staying small as messages are read. The kill -9 case runs against real
// axl-node processes in packages/bridge/test/durable-inbox.test.ts.
import { afterEach, describe, expect, it } from 'vitest'
import { mkdtemp, readFile, rm, stat, writeFile, appendFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createNode, generateIdentity, MemoryNetwork, RefusedError, type AxlNode, type Identity } from '../src/index.js'
import { str, text } from './node-helpers.js'

const dirs: string[] = []
const nodes: AxlNode[] = []
afterEach(async () => {
  await Promise.all(nodes.splice(0).map(async n => { await n.stop() }))
  await Promise.all(dirs.splice(0).map(async d => { await rm(d, { recursive: true, force: true }) }))
})

async function tempDir (): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'axl-journal-'))
  dirs.push(d)
  return d
}

/** A node with a durable inbox in `dir`; resolves with the inbox:recovered detail of its start. */
async function durable (net: MemoryNetwork, identity: Identity, dir: string, extra: { maxBytes?: number } = {}): Promise<{ node: AxlNode, recovered: { messages: number, corruptBytes: number, corruptReason?: string } }> {
  const node = await createNode({ identity, transport: net.transport(), inbox: { dir, ...extra }, start: false })
  let recovered: { messages: number, corruptBytes: number, corruptReason?: string } | undefined
  node.addEventListener('inbox:recovered', e => { recovered = e.detail })
  await node.start()
  nodes.push(node)
  if (recovered === undefined) throw new Error('no inbox:recovered event')
  return { node, recovered }
}

describe('durable inbox', () => {
  it('messages not yet read when the node stopped are delivered after the restart, in order; read ones are not', async () => {
    const net = new MemoryNetwork()
    const dir = await tempDir()
    const id = generateIdentity()
    const { node: b, recovered } = await durable(net, id, dir)
    expect(recovered).toEqual({ messages: 0, corruptBytes: 0 })
    const a = await createNode({ transport: net.transport() }); nodes.push(a)
    for (const t of ['one', 'two', 'three']) await a.send(b.peerId, text(t))
    expect(str(b.recv()!.data)).toBe('one')
    await b.stop()
    net.restart(b) // the memory network forgets a stopped node's registration only on restart
    const again = await durable(net, id, dir)
    expect(again.recovered.messages).toBe(2)
    const m1 = again.node.recv()!; const m2 = again.node.recv()!
    expect([str(m1.data), str(m2.data)]).toEqual(['two', 'three'])
    expect(m1.from).toBe(a.peerId)
    expect(again.node.recv()).toBeUndefined()
    expect(again.node.stats.journal?.live).toBe(0)
  })

  it('a flipped byte is detected by the CRC: the valid records before it are replayed, the rest is cut off and reported', async () => {
    const net = new MemoryNetwork()
    const dir = await tempDir()
    const id = generateIdentity()
    const { node: b } = await durable(net, id, dir)
    const a = await createNode({ transport: net.transport() }); nodes.push(a)
    for (let i = 0; i < 5; i++) await a.send(b.peerId, text(`message ${i} `.repeat(20)))
    await b.stop()
    const file = join(dir, 'inbox.journal')
    const bytes = await readFile(file)
    const third = bytes.indexOf(Buffer.from('message 2 '))
    bytes[third + 3] ^= 0xff
    await writeFile(file, bytes)
    net.restart(b)
    const again = await durable(net, id, dir)
    expect(again.recovered.messages).toBe(2)
    expect(again.recovered.corruptBytes).toBeGreaterThan(0)
    expect(again.recovered.corruptReason).toMatch(/fails its CRC/)
    expect(str(again.node.recv()!.data)).toMatch(/^message 0 /)
    expect(str(again.node.recv()!.data)).toMatch(/^message 1 /)
    // The file was cut at the bad record: new messages are journaled after it and survive the next restart.
    await a.send(b.peerId, text('after the cut'))
    await again.node.stop()
    net.restart(again.node)
    const third2 = await durable(net, id, dir)
    expect(third2.recovered).toEqual({ messages: 1, corruptBytes: 0 })
    expect(str(third2.node.recv()!.data)).toBe('after the cut')
  })

  it('a torn tail (a crash mid-write) is cut off and reported; everything before it is kept', async () => {
    const net = new MemoryNetwork()
    const dir = await tempDir()
    const id = generateIdentity()
    const { node: b } = await durable(net, id, dir)
    const a = await createNode({ transport: net.transport() }); nodes.push(a)
    await a.send(b.peerId, text('kept'))
    await b.stop()
    await appendFile(join(dir, 'inbox.journal'), Buffer.from([0, 0, 0x10, 0, 1, 2, 3]))
    net.restart(b)
    const again = await durable(net, id, dir)
    expect(again.recovered).toMatchObject({ messages: 1, corruptBytes: 7 })
    expect(again.recovered.corruptReason).toMatch(/torn|claims/)
    expect(str(again.node.recv()!.data)).toBe('kept')
  })

  it('a file that is not a journal is reported and started over', async () => {
    const net = new MemoryNetwork()
    const dir = await tempDir()
    await writeFile(join(dir, 'inbox.journal'), 'hello, not a journal')
    const { recovered } = await durable(net, generateIdentity(), dir)
    expect(recovered).toMatchObject({ messages: 0, corruptBytes: 20, corruptReason: 'not an inbox journal (bad header)' })
  })

  it('bounded on disk: past maxBytes the sender is refused (RefusedError, "journal is full"); reading makes room again', async () => {
    const net = new MemoryNetwork()
    const dir = await tempDir()
    const { node: b } = await durable(net, generateIdentity(), dir, { maxBytes: 1024 * 1024 + 16 * 1024 })
    const a = await createNode({ transport: net.transport() }); nodes.push(a)
    const chunk = new Uint8Array(100 * 1024)
    let accepted = 0
    let refused: unknown
    for (let i = 0; i < 30 && refused === undefined; i++) {
      try { await a.send(b.peerId, chunk); accepted++ } catch (e) { refused = e }
    }
    expect(refused).toBeInstanceOf(RefusedError)
    expect((refused as Error).message).toMatch(/journal is full/)
    expect(accepted).toBeGreaterThan(3)
    expect(b.stats.journal!.refusedFull).toBeGreaterThan(0)
    while (b.recv() !== undefined) { /* read everything */ }
    await a.send(b.peerId, chunk)
    expect(b.recv()?.data.byteLength).toBe(chunk.byteLength)
  })

  it('the file stays small: once everything is read it is cut back to its header', async () => {
    const net = new MemoryNetwork()
    const dir = await tempDir()
    const { node: b } = await durable(net, generateIdentity(), dir)
    const a = await createNode({ transport: net.transport() }); nodes.push(a)
    for (let round = 0; round < 20; round++) {
      for (let i = 0; i < 10; i++) await a.send(b.peerId, new Uint8Array(10_000))
      for (let i = 0; i < 10; i++) expect(b.recv()).toBeDefined()
    }
    // The done records of the last reads go out with the next batch; one more message flushes them.
    await a.send(b.peerId, text('last'))
    b.recv()
    await a.send(b.peerId, text('flush'))
    const size = (await stat(join(dir, 'inbox.journal'))).size
    expect(size).toBeLessThan(200_000) // 2 MB went through it
    expect(b.stats.journal!.live).toBe(1)
  })
})
