// Issue #14's stream-slot and buffer attacks on the in-memory mesh: one sender cannot take every inbound stream
// slot or the node's memory for partial frames; an honest sender still gets through, and a refused one is told why.
import { describe, expect, it } from 'vitest'
import { frameHeader } from '../src/framing.js'
import { RefusedError } from '../src/errors.js'
import type { MeshStream } from '../src/stream.js'
import { network, node, readAll, str, text } from './node-helpers.js'

/** Opens `n` raw streams from `from` to `to`, each holding the first 5 bytes of a frame (a slot, never a message). */
async function holdSlots (from: Awaited<ReturnType<typeof node>>, to: string, n: number): Promise<MeshStream[]> {
  const out: MeshStream[] = []
  for (let i = 0; i < n; i++) {
    const s = await from.dial(to)
    s.send(Uint8Array.from([0, 0, 0, 10, 0x41]))
    out.push(s)
  }
  return out
}

describe('inbound stream slots: per-peer share and fair share', () => {
  it('one peer holding 64 streams (its share) cannot open a 65th: it is told why; an honest peer still sends', async () => {
    const net = network()
    const b = await node(net)
    const attacker = await node(net)
    const a = await node(net)
    await holdSlots(attacker, b.peerId, 64)
    const extra = await attacker.dial(b.peerId)
    const answer = await readAll(extra)
    expect(JSON.parse(str(answer.subarray(4)))).toMatchObject({ axl_refused: { code: 'busy', message: expect.stringMatching(/too many streams from you: 64 open at once \(maxStreamsPerPeer 64\)/) } })
    const err = await attacker.send(b.peerId, text('one more')).then(() => undefined, (e: unknown) => e)
    expect(err).toBeInstanceOf(RefusedError)
    expect((err as Error).message).toMatch(/too many streams from you/)
    await a.send(b.peerId, text('honest'))
    expect(str(b.recv()!.data)).toBe('honest')
  })

  it('two peers filling all 128 slots: an honest peer takes one from the peer holding the most (fair share)', async () => {
    const net = network()
    const b = await node(net)
    const [m1, m2, a] = [await node(net), await node(net), await node(net)]
    await holdSlots(m1, b.peerId, 64)
    await holdSlots(m2, b.peerId, 64)
    await a.send(b.peerId, text('honest'))
    expect(str(b.recv()!.data)).toBe('honest')
    expect(b.stats.streamsEvicted).toBeGreaterThanOrEqual(1)
  })
})

describe('inbound buffer budget for partial frames', () => {
  const limits = { maxMessageSize: 1024 * 1024, inboundBufferBytes: 8 * 1024 * 1024 }

  it('a peer trickling large partial frames on many streams is refused past its share (2 MiB here), told why; memory stays bounded', async () => {
    const net = network()
    const b = await node(net, limits)
    const attacker = await node(net)
    const a = await node(net)
    const streams: MeshStream[] = []
    for (let i = 0; i < 6; i++) {
      const s = await attacker.dial(b.peerId)
      s.send(frameHeader(1024 * 1024))
      s.send(new Uint8Array(900 * 1024)) // 900 KiB of a 1 MiB frame, never finished (accepted ones time out below: no answer)
      streams.push(s)
    }
    const answers = await Promise.all(streams.map(async s => { try { return str((await readAll(s, 1000)).subarray(4)) } catch (e) { return `reset: ${(e as Error).message}` } }))
    const refused = answers.filter(t => t.includes('too many bytes of partial messages from you'))
    expect(refused.length).toBeGreaterThanOrEqual(3) // 2 fit in a 2 MiB share (900 KiB each), the rest are refused
    expect(b.stats.budgetRefusals).toBe(refused.length)
    // An honest 512 KiB message in parallel still arrives.
    await a.send(b.peerId, new Uint8Array(512 * 1024))
    expect(b.recv()?.data.byteLength).toBe(512 * 1024)
  })

  it('several peers together cannot pass the node-wide budget: the one that would is refused with "node busy"', async () => {
    const net = network()
    const b = await node(net, limits)
    const peers = [await node(net), await node(net), await node(net), await node(net), await node(net)]
    const answers: string[] = []
    for (const p of peers) {
      for (let i = 0; i < 2; i++) {
        const s = await p.dial(b.peerId)
        s.send(frameHeader(1024 * 1024))
        s.send(new Uint8Array(900 * 1024))
        void readAll(s, 5000).then(x => { answers.push(str(x.subarray(4))) }, (e: Error) => { answers.push(`reset: ${e.message}`) })
      }
    }
    // 10 partial frames of 900 KiB against an 8 MiB budget: at least one is refused as "node busy".
    await expect.poll(() => answers.filter(t => t.includes('node busy')).length, { timeout: 5000 }).toBeGreaterThanOrEqual(1)
  })
})
