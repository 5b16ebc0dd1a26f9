/** Nodes leaving and rejoining, and a partition that heals and catches up through IHAVE/IWANT. */
import { describe, expect, it } from 'vitest'
import { MemoryNetwork } from '@axl/core'
import type { PubSubMessage, Subscription } from '../src/index.js'
import { eventually, pubsubNodes, text } from './helpers.js'

function collect (sub: Subscription): PubSubMessage[] {
  const got: PubSubMessage[] = []
  void (async () => { for await (const m of sub) got.push(m) })()
  return got
}

describe('churn and partitions', () => {
  it('a partition heals and both sides catch up on what they missed', async () => {
    const net = new MemoryNetwork({ latencyMs: 1 })
    const nodes = await pubsubNodes(net, 10)
    const got = nodes.map(n => collect(n.services.pubsub.subscribe('t')))
    await eventually('meshes', () => nodes.every(n => n.services.pubsub.meshPeers('t').length >= 2))
    const left = nodes.slice(0, 5); const right = nodes.slice(5)
    net.partition(left, right)
    // each side publishes while cut off; its own side gets it
    const idL = (await left[0].services.pubsub.publish('t', text('left'))).id
    const idR = (await right[0].services.pubsub.publish('t', text('right'))).id
    await eventually('each side has its own message', () =>
      left.slice(1).every((_, i) => got[i + 1].some(m => m.id === idL)) && right.slice(1).every((_, i) => got[i + 6].some(m => m.id === idR)))
    expect(got.slice(0, 5).some(g => g.some(m => m.id === idR))).toBe(false)
    net.heal()
    // after the heal nobody republishes: IHAVE gossip and GRAFT catch-up bring the other side's message
    await eventually(() => `catch-up after heal: ${got.map(g => g.length).join(',')}`, () =>
      got.every((g, i) => (i === 0 || g.some(m => m.id === idL)) && (i === 5 || g.some(m => m.id === idR))), 15_000)
    const iwants = nodes.reduce((s, n) => s + n.services.pubsub.stats.iwantServed, 0)
    expect(iwants).toBeGreaterThan(0)
    for (const g of got) expect(new Set(g.map(m => m.id)).size).toBe(g.length)
  })

  it('nodes that crash are dropped from meshes; delivery goes on; they rejoin after a restart', async () => {
    const net = new MemoryNetwork({ latencyMs: 1 })
    const nodes = await pubsubNodes(net, 10)
    const got = nodes.map(n => collect(n.services.pubsub.subscribe('t')))
    await eventually('meshes', () => nodes.every(n => n.services.pubsub.meshPeers('t').length >= 2))
    const dead = nodes.slice(7)
    for (const d of dead) net.kill(d)
    const alive = nodes.slice(0, 7)
    for (let i = 0; i < 5; i++) await alive[i].services.pubsub.publish('t', text(`during ${i}`))
    await eventually(() => `delivered among the living: ${got.slice(0, 7).map(g => g.length).join(',')}`, () =>
      got.slice(0, 7).every((g, i) => g.length === (i < 5 ? 4 : 5)))
    await eventually('dead nodes left the meshes', () => alive.every(n => dead.every(d => !n.services.pubsub.meshPeers('t').includes(d.peerId))))
    for (const d of dead) net.restart(d)
    const { id } = await alive[0].services.pubsub.publish('t', text('after restart'))
    await eventually('restarted nodes get new messages', () => got.slice(7).every(g => g.some(m => m.id === id)), 15_000)
    for (const g of got) expect(new Set(g.map(m => m.id)).size).toBe(g.length)
  })
})
