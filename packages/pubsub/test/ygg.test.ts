/** Gossip and convergecast over real ygg() tcp:// links on loopback: A — R — B, peers found by probing the topology. */
import { describe, expect, it } from 'vitest'
import { createNode, type AxlNode } from '@axl/core'
import { ygg } from '@axl/transport-ygg'
import { convergecast, gossip, type Convergecast, type GossipSub } from '../src/index.js'
import { eventually, str, text, track } from './helpers.js'

type N = AxlNode<{ pubsub: GossipSub, cc: Convergecast }>

async function yggNode (opts: { listen?: string[], peers?: string[] }): Promise<N> {
  return track(await createNode({
    transport: ygg(opts),
    services: { pubsub: gossip({ heartbeatMs: 200, ihaveTimeoutMs: 100, D: 2, Dlo: 1, Dhi: 4 }), cc: convergecast({ hopMarginMs: 1000 }) }
  }))
}

describe('pub/sub over ygg() tcp:// on loopback', () => {
  it('a relay and two leaves find each other in the topology and exchange signed messages; convergecast reaches the root', async () => {
    const r = await yggNode({ listen: ['tcp://127.0.0.1:0'] })
    const [uri] = r.listenAddresses()
    const a = await yggNode({ peers: [uri] })
    const b = await yggNode({ peers: [uri] })
    const subs = [r, a, b].map(n => n.services.pubsub.subscribe('t'))
    // no explicit peers: the leaves learn the relay from their links (a probe on the protocol channel)
    await eventually('meshes over ygg', () => [a, b].every(n => n.services.pubsub.meshPeers('t').includes(r.peerId)), 20_000, 50)
    const { id } = await a.services.pubsub.publish('t', text('over yggdrasil'))
    const atB = await subs[2].nextMessage({ timeoutMs: 10_000 })
    expect(atB).toMatchObject({ id, from: a.peerId, signed: true })
    expect(str(atB.data)).toBe('over yggdrasil')
    expect((await subs[0].nextMessage({ timeoutMs: 10_000 })).id).toBe(id)
    // convergecast on the overlay's own spanning tree, from node.topology()
    await eventually('one tree', () => [r, a, b].every(n => n.topology().root === [r, a, b].map(x => x.peerId).sort()[0]), 20_000, 50)
    const results = await Promise.all([r, a, b].map(async n => await n.services.cc.run({ [n.peerId.slice(0, 8)]: 1 }, { session: 'ygg', timeoutMs: 8000, broadcast: true })))
    for (const res of results) expect(Object.keys(res.value as object).length).toBe(3)
    expect(results.filter(x => x.isRoot)).toHaveLength(1)
  })
})
