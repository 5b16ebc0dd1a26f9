/** Convergecast on the in-memory mesh (explicit trees), including a child that vanished, and its wire format. */
import { describe, expect, it } from 'vitest'
import { decode, encode } from '@msgpack/msgpack'
import { createNode, MemoryNetwork, type AxlNode, type PeerId } from '@axl/core'
import { convergecast, isConvergecastFrame, treeFromTopology, type Convergecast, type ConvergecastResult, type TreePosition } from '../src/index.js'
import { track } from './helpers.js'

type CcNode = AxlNode<{ cc: Convergecast }>

async function ccNodes (net: MemoryNetwork, n: number): Promise<CcNode[]> {
  const out: CcNode[] = []
  for (let i = 0; i < n; i++) out.push(track(await createNode({ transport: net.transport(), services: { cc: convergecast({ hopMarginMs: 300 }) } })))
  return out
}

/** A binary tree over `nodes` (index 0 the root). */
function binaryTree (nodes: CcNode[], i: number): TreePosition {
  const kids = [2 * i + 1, 2 * i + 2].filter(k => k < nodes.length).map(k => nodes[k].peerId)
  return { parent: i === 0 ? undefined : nodes[Math.floor((i - 1) / 2)].peerId, children: kids, depth: Math.floor(Math.log2(i + 1)) }
}

describe('convergecast', () => {
  it('the root gets every value merged (AXL dict merge by default) and broadcast brings it back down', async () => {
    const net = new MemoryNetwork({ latencyMs: 1 })
    const nodes = await ccNodes(net, 7)
    const t0 = Date.now()
    const results = await Promise.all(nodes.map(async (n, i) =>
      await n.services.cc.run({ [n.peerId.slice(0, 8)]: 1 }, { session: 's1', timeoutMs: 5000, tree: binaryTree(nodes, i), broadcast: true })))
    expect(Date.now() - t0).toBeLessThan(2000) // nobody waited for a deadline
    for (const r of results) {
      expect(Object.keys(r.value as object).sort()).toEqual(nodes.map(n => n.peerId.slice(0, 8)).sort())
      expect(r.complete).toBe(true)
      expect(r.contributors.sort()).toEqual(nodes.map(n => n.peerId).sort())
    }
    expect(results.map(r => r.isRoot)).toEqual([true, false, false, false, false, false, false])
  })

  it('a vanished child: its parent stops waiting at its deadline, the root gets the partial sum and who is missing', async () => {
    const net = new MemoryNetwork({ latencyMs: 1 })
    const nodes = await ccNodes(net, 7)
    const gone = nodes[4] // a leaf under node 1
    net.kill(gone)
    const sum = (a: number, b: number): number => a + b
    const t0 = Date.now()
    const runs = nodes.filter(n => n !== gone).map(async n =>
      await n.services.cc.run(10, { session: 's2', timeoutMs: 1500, merge: sum, tree: binaryTree(nodes, nodes.indexOf(n)) }))
    const results = await Promise.all(runs) as Array<ConvergecastResult<number>>
    const root = results[0]
    expect(root).toMatchObject({ isRoot: true, value: 60, complete: false, missing: [gone.peerId] })
    expect(root.contributors).toHaveLength(6)
    // node 1 (depth 1) gave up at 1500 - 300 ms; the root (depth 0) had its result before its own deadline
    const elapsed = Date.now() - t0
    expect(elapsed).toBeGreaterThanOrEqual(1100)
    expect(elapsed).toBeLessThan(1500 + 500)
    expect(results[1]).toMatchObject({ value: 20, missing: [gone.peerId], receivedFrom: [nodes[3].peerId] })
  })

  it('speaks convergecast.py\'s msgpack format: a Python child\'s report counts; an abort rejects', async () => {
    const net = new MemoryNetwork()
    const [root, child] = await ccNodes(net, 2)
    const py = track(await createNode({ transport: net.transport() }))
    const frame = encode({ type: 'convergecast_data', session_id: 'default', from: py.peerId, data: { [py.peerId.slice(0, 8)]: 1 } })
    expect(isConvergecastFrame(frame)).toBe(true)
    expect(isConvergecastFrame(encode({ kind: 'x', type: 'convergecast_data' }))).toBe(false)
    // the report arrives before run() starts: it is buffered
    await py.send(root.peerId, frame)
    // a forged `from` is refused
    await py.send(root.peerId, encode({ type: 'convergecast_data', session_id: 'default', from: child.peerId, data: { evil: 1 } }))
    expect(root.services.cc.stats.forged).toBe(1)
    const childRun = child.services.cc.run({ c: 2 }, { tree: { parent: root.peerId, children: [], depth: 1 }, timeoutMs: 3000 })
    const r = await root.services.cc.run({ r: 3 }, { tree: { children: [py.peerId, child.peerId] as PeerId[], depth: 0 }, timeoutMs: 3000 })
    expect(r.value).toEqual({ r: 3, [py.peerId.slice(0, 8)]: 1, c: 2 })
    expect(r.complete).toBe(true)
    const sent = await childRun
    expect(sent.isRoot).toBe(false)
    // what our child sends a parent is what convergecast.py reads (type, session_id, from, data), plus our fields
    await child.services.cc.run({ c: 5 }, { session: 'p', tree: { parent: py.peerId, children: [], depth: 1 }, timeoutMs: 3000 })
    const got = decode((await py.nextMessage({ timeoutMs: 2000 })).data) as Record<string, unknown>
    expect(got).toEqual({ type: 'convergecast_data', session_id: 'p', from: child.peerId, data: { c: 5 }, contributors: [child.peerId], missing: [] })
    const ac = new AbortController()
    const pending = root.services.cc.run({}, { session: 'z', tree: { children: [py.peerId], depth: 0 }, signal: ac.signal })
    ac.abort()
    await expect(pending).rejects.toThrow()
  })

  it('derives the tree from node.topology() like convergecast.py', () => {
    const me = 'b'.repeat(64) as PeerId; const root = 'a'.repeat(64) as PeerId; const kid = 'c'.repeat(64) as PeerId
    const pos = treeFromTopology({ ourPublicKey: me, ourIpv6: '', root, parent: root, coords: [3], peers: [],
      tree: [{ publicKey: root, parent: root, sequence: 1 }, { publicKey: me, parent: root, sequence: 1 }, { publicKey: kid, parent: me, sequence: 1 }] })
    expect(pos).toEqual({ parent: root, children: [kid], depth: 1 })
    expect(treeFromTopology({ ourPublicKey: root, ourIpv6: '', root, parent: root, coords: [], peers: [], tree: [] })).toEqual({ parent: undefined, children: [], depth: 0 })
  })
})
