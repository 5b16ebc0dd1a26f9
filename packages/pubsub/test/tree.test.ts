/** The spanning tree of eager links (TREE frames), proximity in mesh choice (PING/PONG, PEERS), and their wire forms. */
import { describe, expect, it } from 'vitest'
import { MemoryNetwork, type PeerId } from '@axl/core'
import { decodeFrame, encodeFrame, MalformedGossipError, type PubSubMessage, type Subscription, type WireControl } from '../src/index.js'
import { eventually, pubsubNodes, text, type PubSubNode } from './helpers.js'

function collect (sub: Subscription): PubSubMessage[] {
  const got: PubSubMessage[] = []
  void (async () => { for await (const m of sub) got.push(m) })()
  return got
}

/** Why the parent pointers of `nodes` on `topic` are not one tree yet (undefined when they are). */
function notOneTree (nodes: PubSubNode[], topic: string): string | undefined {
  const byId = new Map(nodes.map(n => [n.peerId, n]))
  const trees = new Map(nodes.map(n => [n.peerId, n.services.pubsub.treeOf(topic)!]))
  const roots = new Set([...trees.values()].map(t => t.root))
  if (roots.size !== 1) return `${roots.size} roots`
  const [root] = roots
  for (const [id, t] of trees) {
    if (id === root) { if (t.parent !== undefined) return 'the root has a parent'; continue }
    if (t.parent === undefined) return `${id.slice(0, 8)} has no parent`
    if (!byId.get(id)!.services.pubsub.meshPeers(topic).includes(t.parent)) return `${id.slice(0, 8)}'s parent is not a mesh peer`
    if (!trees.get(t.parent)!.children.includes(id)) return `${t.parent.slice(0, 8)} does not list its child ${id.slice(0, 8)}`
    let x: PeerId = id
    for (let steps = 0; x !== root; steps++) {
      if (steps > nodes.length) return 'a parent loop'
      x = trees.get(x)!.parent!
    }
  }
  return undefined
}

describe('the spanning tree of eager links', () => {
  it('forms one tree rooted at the lowest peer id, and messages travel it: about one copy per node', async () => {
    const net = new MemoryNetwork({ latencyMs: 1 })
    const nodes = await pubsubNodes(net, 16)
    const got = nodes.map(n => collect(n.services.pubsub.subscribe('t')))
    // one tree, and no parent changed for 3 heartbeats (round trips are measured as it forms, and move it)
    const parentChanges = (): number => nodes.reduce((s, n) => s + n.services.pubsub.stats.parentChanges, 0)
    let last = -1; let since = Date.now()
    await eventually(() => `one stable tree: ${notOneTree(nodes, 't') ?? 'yes'}`, () => {
      const c = parentChanges()
      if (c !== last) { last = c; since = Date.now() }
      return notOneTree(nodes, 't') === undefined && Date.now() - since >= 300
    })
    const lowest = nodes.map(n => n.peerId).sort()[0]
    expect(nodes[5].services.pubsub.treeOf('t')!.root).toBe(lowest)
    expect(nodes.find(n => n.peerId === lowest)!.services.pubsub.treeOf('t')).toMatchObject({ parent: undefined, depth: 0, dist: 0 })
    const received = (): number => nodes.reduce((s, n) => s + n.services.pubsub.stats.messagesReceived, 0)
    const before = received()
    const publisher = Array.from({ length: 20 }, (_, i) => (i * 7) % nodes.length)
    for (let i = 0; i < 20; i++) await nodes[publisher[i]].services.pubsub.publish('t', text(`m${i}`))
    const expected = (j: number): number => publisher.filter(p => p !== j).length
    await eventually('all delivered', () => got.every((g, j) => g.length === expected(j)))
    const deliveries = got.reduce((s, g) => s + g.length, 0)
    // flooding the mesh would bring ~(mesh degree − 1) copies per delivery; the tree brings one (a few more while it moves)
    expect(received() - before).toBeLessThanOrEqual(1.2 * deliveries)
    for (const g of got) expect(new Set(g.map(m => m.id)).size).toBe(g.length)
  })

  it('when the root crashes, delivery goes on and the living form one tree under the next lowest id', async () => {
    const net = new MemoryNetwork({ latencyMs: 1 })
    const nodes = await pubsubNodes(net, 10)
    const got = nodes.map(n => collect(n.services.pubsub.subscribe('t')))
    await eventually(() => `one tree: ${notOneTree(nodes, 't') ?? 'yes'}`, () => notOneTree(nodes, 't') === undefined)
    const root = nodes.find(n => n.services.pubsub.treeOf('t')!.parent === undefined)!
    net.kill(root)
    const alive = nodes.filter(n => n !== root)
    const ids: string[] = []
    for (let i = 0; i < 5; i++) ids.push((await alive[i].services.pubsub.publish('t', text(`after ${i}`))).id)
    await eventually(() => `delivered among the living: ${alive.map(n => got[nodes.indexOf(n)].length).join(',')}`, () =>
      alive.every((n, i) => ids.every((id, k) => k === i || got[nodes.indexOf(n)].some(m => m.id === id))), 15_000)
    // the dead root's counter stops; after rootTimeoutMs (10 heartbeats) the next lowest id is the root of one tree
    const next = alive.map(n => n.peerId).sort()[0]
    await eventually(() => `one tree among the living: ${notOneTree(alive, 't') ?? 'yes'}`, () =>
      notOneTree(alive, 't') === undefined && alive[0].services.pubsub.treeOf('t')!.root === next, 15_000)
    for (const g of got) expect(new Set(g.map(m => m.id)).size).toBe(g.length)
  })

  it('with tree: false, Plumtree alone still delivers every message once to every node', async () => {
    const net = new MemoryNetwork({ latencyMs: 1 })
    const nodes = await pubsubNodes(net, 10, { tree: false })
    const got = nodes.map(n => collect(n.services.pubsub.subscribe('t')))
    await eventually('meshes', () => nodes.every(n => n.services.pubsub.meshPeers('t').length >= 2))
    for (let i = 0; i < 10; i++) await nodes[i].services.pubsub.publish('t', text(`m${i}`))
    await eventually('all delivered', () => got.every(g => g.length === 9))
    expect(nodes[0].services.pubsub.treeOf('t')).toMatchObject({ root: nodes[0].peerId, parent: undefined, children: [] })
    expect(nodes.reduce((s, n) => s + n.services.pubsub.stats.parentChanges, 0)).toBe(0)
  })
})

describe('proximity', () => {
  it('measures round trips and keeps near peers in the mesh: two clusters, few links between them', async () => {
    const cluster = new Map<PeerId, number>()
    // 1 ms within a cluster, 25 ms across
    const net = new MemoryNetwork({ latencyMs: (a, b) => cluster.get(a) === cluster.get(b) ? 1 : 25 })
    const nodes = await pubsubNodes(net, 12, { D: 4, Dlo: 3, Dhi: 8, Drandom: 1 })
    nodes.forEach((n, i) => cluster.set(n.peerId, i % 2))
    for (const n of nodes) n.services.pubsub.subscribe('t')
    const same = (n: PubSubNode): PeerId[] => n.services.pubsub.meshPeers('t').filter(p => cluster.get(p) === cluster.get(n.peerId))
    // D − Drandom = 3 near links each: all of them in the node's own cluster
    await eventually(() => `near meshes: ${nodes.map(n => same(n).length).join(',')}`, () => nodes.every(n => same(n).length >= 3), 15_000)
    const a = nodes[0]; const near = nodes[2]; const far = nodes[1]
    await eventually('round trips measured', () => a.services.pubsub.rttOf(near.peerId) !== undefined && a.services.pubsub.rttOf(far.peerId) !== undefined)
    expect(a.services.pubsub.rttOf(far.peerId)!).toBeGreaterThanOrEqual(50)
    expect(a.services.pubsub.rttOf(near.peerId)!).toBeLessThan(a.services.pubsub.rttOf(far.peerId)!)
  })
})

describe('wire form of TREE, PING, PONG and PEERS', () => {
  const bounds = { maxIds: 10, maxDataChars: 1000 }
  const id = 'ab'.repeat(32)
  it('round-trips, and refuses malformed frames with MalformedGossipError', () => {
    const tree: WireControl = { type: 'gossipsub', msg_type: 'TREE', topic: 't', root: id, seq: 3, dist: 12.5, path: ['abababababababab'], t: 1000, echo: 990, hold: 4 }
    expect(decodeFrame(encodeFrame(tree), bounds)).toEqual(tree)
    expect(decodeFrame(encodeFrame({ type: 'gossipsub', msg_type: 'PING', t: 5 }), bounds)).toEqual({ type: 'gossipsub', msg_type: 'PING', t: 5 })
    expect(decodeFrame(encodeFrame({ type: 'gossipsub', msg_type: 'PONG', echo: 5, hold: 0 }), bounds)).toEqual({ type: 'gossipsub', msg_type: 'PONG', echo: 5, hold: 0 })
    const peers: WireControl = { type: 'gossipsub', msg_type: 'PEERS', peers: [id], rtts: [2] }
    expect(decodeFrame(encodeFrame(peers), bounds)).toEqual(peers)
    const bad = (o: object): void => { expect(() => decodeFrame(new TextEncoder().encode(JSON.stringify(o)), bounds)).toThrow(MalformedGossipError) }
    bad({ ...tree, root: 'not a peer id' })
    bad({ ...tree, seq: -1 })
    bad({ ...tree, dist: 'far' })
    bad({ ...tree, path: Array.from({ length: 65 }, () => 'abababababababab') })
    bad({ ...tree, path: ['x'.repeat(17)] })
    bad({ type: 'gossipsub', msg_type: 'PING' })
    bad({ type: 'gossipsub', msg_type: 'PONG', echo: 1 })
    bad({ ...peers, peers: ['nope'] })
    bad({ ...peers, rtts: [1, 2] })
    bad({ ...peers, peers: Array.from({ length: 33 }, () => id) })
  })
})
