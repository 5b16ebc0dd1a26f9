/**
 * Node events from the Yggdrasil mesh, typed without casts: `peer:connect` / `peer:disconnect` for links,
 * `root:change` for the spanning tree's root, and the listen addresses with their real ports.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { createNode, type AxlNode, type NodeEvents } from '@axl/core'
import { ygg } from '../src/index.js'

const nodes: AxlNode[] = []
afterEach(async () => { await Promise.all(nodes.splice(0).map(async n => { await n.stop() })) })

/** Resolves with the detail of the next `type` event whose detail passes `match` (with a deadline). */
async function next<K extends keyof NodeEvents> (node: AxlNode, type: K, match: (d: NodeEvents[K]['detail']) => boolean, ms = 10_000): Promise<NodeEvents[K]['detail']> {
  return await new Promise((resolve, reject) => {
    const timer = setTimeout(() => { reject(new Error(`no ${type} event within ${ms} ms`)) }, ms)
    const on = (e: NodeEvents[K]): void => {
      if (!match(e.detail)) return
      clearTimeout(timer)
      node.removeEventListener(type, on)
      resolve(e.detail)
    }
    node.addEventListener(type, on)
  })
}

describe('node events and listen addresses (ygg over tcp:// on loopback)', () => {
  it('links up and down, the root change, and the real listen port', async () => {
    const a = await createNode({ transport: ygg({ listen: ['tcp://127.0.0.1:0'] }) })
    nodes.push(a)
    const [addr] = a.listenAddresses()
    expect(addr).toMatch(/^tcp:\/\/127\.0\.0\.1:\d+$/)
    expect(addr).not.toBe('tcp://127.0.0.1:0')
    const aSeesB = next(a, 'peer:connect', () => true)
    const b = await createNode({ transport: ygg({ peers: [addr] }) })
    nodes.push(b)
    expect(b.listenAddresses()).toEqual([])
    const bSeesA = next(b, 'peer:connect', d => d.peer === a.peerId)
    expect(await aSeesB).toMatchObject({ peer: b.peerId, inbound: true })
    expect(await bSeesA).toMatchObject({ peer: a.peerId, inbound: false, uri: addr })
    // the node with the larger key sees the root move to the smaller one
    const [low, high] = a.peerId < b.peerId ? [a, b] : [b, a]
    const change = await next(high, 'root:change', d => d.root === low.peerId)
    expect(change.previous).toBe(high.peerId)
    expect(high.topology().root).toBe(low.peerId)
    // B goes away: A sees the link go down
    const down = next(a, 'peer:disconnect', d => d.peer === b.peerId)
    await b.stop()
    expect(await down).toMatchObject({ peer: b.peerId, inbound: true })
  })

  it('the in-memory mesh listens on nothing', async () => {
    const { MemoryNetwork } = await import('@axl/core')
    const n = await createNode({ transport: new MemoryNetwork().transport() })
    nodes.push(n)
    expect(n.listenAddresses()).toEqual([])
  })
})
