/**
 * Interop with AXL's Python GossipSub example, through a stand-in written from its wire format
 * (python-peer.ts): TS and "Python" nodes on one swarm.
 */
import { describe, expect, it } from 'vitest'
import { createNode, MemoryNetwork } from '@axl/core'
import { isGossipFrame } from '../src/index.js'
import { PythonGossipPeer, pyDumps } from './python-peer.js'
import { eventually, pubsubNode, str, text, track } from './helpers.js'

async function pythonPeer (net: MemoryNetwork): Promise<PythonGossipPeer> {
  return track(new PythonGossipPeer(await createNode({ transport: net.transport() })))
}

describe('wire compatibility with the Python GossipSub example', () => {
  it('our matcher takes json.dumps output and leaves other JSON alone', () => {
    expect(isGossipFrame(text(pyDumps({ type: 'gossipsub', msg_type: 'GRAFT', topic: 't' })))).toBe(true)
    expect(isGossipFrame(text('{"type":"gossipsub","msg_type":"GRAFT","topic":"t"}'))).toBe(true)
    expect(isGossipFrame(text('{"kind":"x","type":"gossipsub","topic":"t"}'))).toBe(false)
    expect(isGossipFrame(text('{"type": "chat", "text": "gossipsub gossipsub"}'))).toBe(false)
  })

  it('TS → Python relay → TS: the signature survives the Python hop; Python nodes get our messages', async () => {
    const net = new MemoryNetwork({ latencyMs: 1 })
    const py = await pythonPeer(net)
    const a = await pubsubNode(net, { discover: false })
    const b = await pubsubNode(net, { discover: false })
    a.services.pubsub.addPeer(py.id); b.services.pubsub.addPeer(py.id)
    py.addPeer(a.peerId); py.addPeer(b.peerId)
    py.subscribe('t')
    const subA = a.services.pubsub.subscribe('t')
    const subB = b.services.pubsub.subscribe('t')
    await eventually('meshes with the Python peer', () =>
      a.services.pubsub.meshPeers('t').includes(py.id as never) && b.services.pubsub.meshPeers('t').includes(py.id as never) && (py.mesh.get('t')?.size ?? 0) === 2)
    const { id } = await a.services.pubsub.publish('t', text('from TS'))
    const m = await subB.nextMessage({ timeoutMs: 5000 })
    expect(m).toMatchObject({ id, from: a.peerId, receivedFrom: py.id, signed: true, hops: 2 })
    expect(str(m.data)).toBe('from TS')
    // the Python peer took our frame as its own format: delivered, extra fields kept, nothing else consumed
    expect(py.received.map(r => r.msg_id)).toEqual([id])
    expect(py.received[0]).toMatchObject({ origin: a.peerId, data: Buffer.from('from TS').toString('base64') })
    expect(typeof py.received[0].signature).toBe('string')
    expect(py.ignored).toBe(0)
    expect(a.services.pubsub.stats.malformed + b.services.pubsub.stats.malformed).toBe(0)
    expect(subA.queued).toBe(0)
  })

  it('unsigned Python messages: dropped by default, delivered with signed: false when accepted', async () => {
    const net = new MemoryNetwork({ latencyMs: 1 })
    const py = await pythonPeer(net)
    const strict = await pubsubNode(net, { discover: false, peers: [py.id] })
    const open = await pubsubNode(net, { discover: false, peers: [py.id], unsignedMessages: 'accept' })
    py.addPeer(strict.peerId); py.addPeer(open.peerId)
    py.subscribe('t')
    const sStrict = strict.services.pubsub.subscribe('t')
    const sOpen = open.services.pubsub.subscribe('t')
    await eventually('Python mesh has both', () => (py.mesh.get('t')?.size ?? 0) === 2)
    const id = py.publish('t', text('from Python'))
    const m = await sOpen.nextMessage({ timeoutMs: 5000 })
    expect(m).toMatchObject({ id, from: py.id, receivedFrom: py.id, signed: false, hops: 1 })
    expect(m.timestamp).toBeUndefined()
    await eventually('strict node dropped it', () => strict.services.pubsub.stats.unsignedDropped >= 1)
    expect(sStrict.queued).toBe(0)
    expect(strict.services.pubsub.stats.delivered).toBe(0)
  })

  it('a Python peer that missed a message catches up with IHAVE/IWANT, and we take its messages', async () => {
    const net = new MemoryNetwork({ latencyMs: 1 })
    const py = await pythonPeer(net)
    const a = await pubsubNode(net, { discover: false, unsignedMessages: 'accept' })
    py.addPeer(a.peerId)
    py.subscribe('t')
    const sub = a.services.pubsub.subscribe('t')
    // published while a knows no peer: nobody gets it now
    const { id, peers } = await a.services.pubsub.publish('t', text('early'))
    expect(peers).toBe(0)
    expect(py.received).toEqual([])
    // a learns of the Python peer: GRAFT, and an IHAVE of what it has; the Python peer pulls it with IWANT
    a.services.pubsub.addPeer(py.id)
    await eventually('Python fetched it', () => py.received.some(r => r.msg_id === id))
    expect(a.services.pubsub.stats.iwantServed).toBe(1)
    expect(py.received[0]).toMatchObject({ msg_id: id, from: a.peerId })
    const pid = py.publish('t', text('reply'))
    expect((await sub.nextMessage({ timeoutMs: 5000 })).id).toBe(pid)
  })
})
