import { describe, expect, it } from 'vitest'
import { Sim, graphs, prng } from '../src/testing/sim.js'
import { attachRawPeer } from './helpers/raw-peer.js'
import { VirtualClock } from '../src/clock.js'
import { Overlay } from '../src/network/overlay.js'
import { ed25519Signer, ed25519Verifier, keyStr } from '../src/crypto.js'
import { decodeAnnounce, decodeSigRes, encodeAnnounce, encodeSigReq, encodeSigRes, FrameType, sigResPreimage, type Announce } from '../src/network/wire.js'
import { peerConnPair } from '../src/network/peer-conn.js'

const seed = (i: number): Uint8Array => { const s = new Uint8Array(32); s[0] = i; s[31] = 7; return s }

describe('tree: convergence', () => {
  const cases: Array<[string, (n: number, r: () => number) => Array<[number, number]>, number]> = [
    ['line', (n) => graphs.line(n), 8],
    ['star', (n) => graphs.star(n), 10],
    ['ring', (n) => graphs.ring(n), 10],
    ['tree', (n, r) => graphs.tree(n, r), 16],
    ['random', (n, r) => graphs.random(n, n, r), 20]
  ]
  for (const [name, make, n] of cases) {
    it(`${name} (${n} nodes) converges to the lowest key, with consistent coordinates`, () => {
      const sim = new Sim({ n, seed: 11 })
      sim.connectGraph(make(n, prng(5)))
      expect(sim.runUntil(() => sim.treeConverged(), 30_000)).toBe(true)
      const root = sim.nodes[sim.lowestAlive()]
      for (const node of sim.nodes) {
        const t = node.overlay.topology()
        expect(t.root).toBe(Buffer.from(root.key).toString('hex'))
        if (node === root) {
          expect(t.coords).toEqual([])
          expect(t.parent).toBe(t.key)
        } else {
          // Our coords are our parent's coords plus the port our parent gave us.
          const parent = sim.nodes[sim.byKey.get(keyStr(Buffer.from(t.parent, 'hex')))!]
          const pt = parent.overlay.topology()
          const myPortAtParent = pt.peers.find(p => p.key === t.key)!.port
          expect(t.coords).toEqual([...pt.coords, myPortAtParent])
        }
      }
      sim.close()
    })
  }

  it('the tree is shortest-depth (every node at its BFS distance from the root) on a random graph', () => {
    const sim = new Sim({ n: 24, seed: 3 })
    sim.connectGraph(graphs.random(24, 20, prng(9)))
    expect(sim.runUntil(() => sim.treeConverged(), 30_000)).toBe(true)
    const adj = sim.adjacency()
    const root = sim.lowestAlive()
    const dist = new Map<number, number>([[root, 0]])
    const q = [root]
    while (q.length > 0) { const u = q.shift()!; for (const v of adj[u]) if (!dist.has(v)) { dist.set(v, dist.get(u)! + 1); q.push(v) } }
    for (const node of sim.nodes) expect(node.overlay.topology().coords.length).toBe(dist.get(node.index))
    sim.close()
  })

  it('gossip is ancestry-only: a leaf holds its own ancestry and its peers\' ancestries, not the whole tree', () => {
    const sim = new Sim({ n: 30, seed: 4 })
    sim.connectGraph(graphs.line(30))
    expect(sim.runUntil(() => sim.treeConverged(), 60_000)).toBe(true)
    sim.run(5_000)
    const rootIdx = sim.lowestAlive()
    // On a line every node's ancestry is the segment towards the root: a node far from the root on one side
    // never learns nodes on the other side.
    const far = rootIdx < 15 ? 29 : 0
    const infos = sim.nodes[far].overlay.router.tree.infos
    const other = rootIdx < 15 ? 0 : 29
    if (Math.abs(other - rootIdx) > 1) expect(infos.has(sim.nodes[other].keyStr)).toBe(false)
    expect(infos.size).toBeLessThanOrEqual(Math.abs(far - rootIdx) + 2)
    sim.close()
  })
})

describe('tree: single node and timers', () => {
  it('a lone node is its own root immediately; it re-signs its info every 4 minutes', () => {
    const clock = new VirtualClock()
    const o = new Overlay({ signer: ed25519Signer(seed(1)), clock })
    const t0 = o.topology()
    expect(t0.root).toBe(t0.key)
    expect(t0.tree).toEqual([{ key: t0.key, parent: t0.key, seq: 1 }])
    clock.advance(4 * 60_000 + 1_500)
    expect(o.topology().tree[0].seq).toBe(2)
    o.close()
  })

  it('ports: lowest free >= 1, shared by all links to one key, freed when its last link closes', () => {
    const clock = new VirtualClock()
    const o = new Overlay({ signer: ed25519Signer(seed(1)), clock })
    const k = [2, 3, 4].map(i => ed25519Signer(seed(i)).publicKey)
    const a = attachRawPeer(o, k[0], clock)
    const b1 = attachRawPeer(o, k[1], clock)
    const b2 = attachRawPeer(o, k[1], clock)
    const ports = (): Record<string, number[]> => {
      const out: Record<string, number[]> = {}
      for (const p of o.topology().peers) (out[p.key.slice(0, 4)] ??= []).push(p.port)
      return out
    }
    const hx = (u: Uint8Array): string => Buffer.from(u).toString('hex').slice(0, 4)
    expect(ports()).toEqual({ [hx(k[0])]: [1], [hx(k[1])]: [2, 2] })
    a.conn.close(); clock.advance(10)
    const c = attachRawPeer(o, k[2], clock)
    expect(ports()).toEqual({ [hx(k[1])]: [2, 2], [hx(k[2])]: [1] })
    b1.conn.close(); clock.advance(10)
    expect(ports()[hx(k[1])]).toEqual([2])
    b2.conn.close(); clock.advance(10)
    expect(Object.keys(ports())).toEqual([hx(k[2])])
    void c
    o.close()
  })

  it('answers a SigReq with a SigRes countersigned for (requester, us, seq, nonce, port)', () => {
    const clock = new VirtualClock()
    const me = ed25519Signer(seed(1))
    const o = new Overlay({ signer: me, clock })
    const peer = ed25519Signer(seed(9))
    const raw = attachRawPeer(o, peer.publicKey, clock)
    raw.write(encodeSigReq({ seq: 5n, nonce: 0xdeadbeefcafef00dn }))
    clock.advance(20)
    const resFrame = raw.frames.find(f => f.type === FrameType.SigRes)!
    const res = decodeSigRes(resFrame.body)
    expect(res.seq).toBe(5n)
    expect(res.nonce).toBe(0xdeadbeefcafef00dn)
    expect(res.port).toBe(1)
    expect(ed25519Verifier()(me.publicKey, sigResPreimage(peer.publicKey, me.publicKey, 5n, 0xdeadbeefcafef00dn, 1), res.psig)).toBe(true)
    // The first frames are our SigReq and our (empty) bloom, as in ironwood.
    expect(raw.frames[0].type).toBe(FrameType.SigReq)
    expect(raw.frames[1].type).toBe(FrameType.Bloom)
    o.close()
  })

  it('joins a lower-key peer as child: signs an Announce from the peer\'s SigRes and sends it', () => {
    const clock = new VirtualClock()
    // Find two seeds so that the raw peer has the lower key.
    let me = ed25519Signer(seed(1)); let peer = ed25519Signer(seed(2))
    if (keyStr(peer.publicKey) > keyStr(me.publicKey)) [me, peer] = [peer, me]
    const o = new Overlay({ signer: me, clock })
    const raw = attachRawPeer(o, peer.publicKey, clock)
    clock.advance(5)
    // The peer presents itself as root.
    const rootRes = { seq: 1n, nonce: 1n, port: 0, psig: peer.sign(sigResPreimage(peer.publicKey, peer.publicKey, 1n, 1n, 0)) }
    raw.write(encodeAnnounce({ key: peer.publicKey, parent: peer.publicKey, res: rootRes, sig: rootRes.psig }))
    // Answer the node's SigReq.
    const req = raw.frames.find(f => f.type === FrameType.SigReq)!
    const { seq, nonce } = (() => { const b = req.body; let o2 = 0; const rd = (): bigint => { let v = 0n; let s = 0n; for (;;) { const x = b[o2++]; v |= BigInt(x & 0x7f) << s; s += 7n; if ((x & 0x80) === 0) return v } }; return { seq: rd(), nonce: rd() } })()
    raw.write(encodeSigRes({ seq, nonce, port: 3, psig: peer.sign(sigResPreimage(me.publicKey, peer.publicKey, seq, nonce, 3)) }))
    clock.advance(2_500)
    const t = o.topology()
    expect(t.root).toBe(Buffer.from(peer.publicKey).toString('hex'))
    expect(t.coords).toEqual([3])
    const anns = raw.frames.filter(f => f.type === FrameType.Announce).map(f => decodeAnnounce(f.body))
    const mine = anns.find((a: Announce) => keyStr(a.key) === keyStr(me.publicKey) && keyStr(a.parent) === keyStr(peer.publicKey))!
    expect(mine.res.port).toBe(3)
    const bs = sigResPreimage(me.publicKey, peer.publicKey, seq, nonce, 3)
    expect(ed25519Verifier()(me.publicKey, bs, mine.sig)).toBe(true)
    expect(ed25519Verifier()(peer.publicKey, bs, mine.res.psig)).toBe(true)
    o.close()
  })

  it('_update rule: higher seq wins; equal seq → lower parent; equal parent → lower nonce; worse info is answered with ours', () => {
    const clock = new VirtualClock()
    const me = ed25519Signer(seed(1))
    const o = new Overlay({ signer: me, clock })
    const x = ed25519Signer(seed(20))
    const pa = ed25519Signer(seed(21)); const pb = ed25519Signer(seed(22))
    const [lowP, highP] = keyStr(pa.publicKey) < keyStr(pb.publicKey) ? [pa, pb] : [pb, pa]
    const raw = attachRawPeer(o, x.publicKey, clock)
    const ann = (parent: typeof pa, seqN: bigint, nonce: bigint): Uint8Array => {
      const bs = sigResPreimage(x.publicKey, parent.publicKey, seqN, nonce, 1)
      return encodeAnnounce({ key: x.publicKey, parent: parent.publicKey, res: { seq: seqN, nonce, port: 1, psig: parent.sign(bs) }, sig: x.sign(bs) })
    }
    const info = (): { parent: string, seq: bigint, nonce: bigint } => {
      const i = o.router.tree.infos.get(keyStr(x.publicKey))!
      return { parent: i.parent, seq: i.seq, nonce: i.nonce }
    }
    raw.write(ann(highP, 5n, 50n)); clock.advance(5)
    expect(info()).toEqual({ parent: keyStr(highP.publicKey), seq: 5n, nonce: 50n })
    raw.write(ann(highP, 5n, 40n)); clock.advance(5) // lower nonce wins
    expect(info().nonce).toBe(40n)
    raw.write(ann(lowP, 5n, 99n)); clock.advance(5) // lower parent wins
    expect(info()).toEqual({ parent: keyStr(lowP.publicKey), seq: 5n, nonce: 99n })
    const before = raw.frames.length
    raw.write(ann(highP, 5n, 1n)); clock.advance(5) // higher parent loses; we send ours back
    expect(info().parent).toBe(keyStr(lowP.publicKey))
    const back = raw.frames.slice(before).filter(f => f.type === FrameType.Announce).map(f => decodeAnnounce(f.body))
    expect(back.some(a => keyStr(a.key) === keyStr(x.publicKey) && keyStr(a.parent) === keyStr(lowP.publicKey))).toBe(true)
    raw.write(ann(highP, 4n, 1n)); clock.advance(5) // older seq loses
    expect(info().seq).toBe(5n)
    raw.write(ann(highP, 6n, 77n)); clock.advance(5) // newer seq wins
    expect(info()).toEqual({ parent: keyStr(highP.publicKey), seq: 6n, nonce: 77n })
    expect(raw.closed()).toBe(false)
    o.close()
  })

  it('forgets another node\'s info 5 minutes after its last update', () => {
    const clock = new VirtualClock()
    const o = new Overlay({ signer: ed25519Signer(seed(1)), clock })
    const x = ed25519Signer(seed(30))
    const raw = attachRawPeer(o, x.publicKey, clock)
    const bs = sigResPreimage(x.publicKey, x.publicKey, 1n, 1n, 0)
    const s = x.sign(bs)
    raw.write(encodeAnnounce({ key: x.publicKey, parent: x.publicKey, res: { seq: 1n, nonce: 1n, port: 0, psig: s }, sig: s }))
    clock.advance(10)
    expect(o.router.tree.infos.has(keyStr(x.publicKey))).toBe(true)
    raw.conn.close(); clock.advance(10)
    clock.advance(5 * 60_000 - 2_000)
    expect(o.router.tree.infos.has(keyStr(x.publicKey))).toBe(true)
    clock.advance(3_000)
    expect(o.router.tree.infos.has(keyStr(x.publicKey))).toBe(false)
    o.close()
  })

  it('rejects an Announce with port 0 from a non-root, and a bad signature, by closing that link', () => {
    const clock = new VirtualClock()
    const o = new Overlay({ signer: ed25519Signer(seed(1)), clock })
    const x = ed25519Signer(seed(40)); const y = ed25519Signer(seed(41))
    const raw = attachRawPeer(o, x.publicKey, clock)
    const bs = sigResPreimage(x.publicKey, y.publicKey, 1n, 1n, 0)
    raw.write(encodeAnnounce({ key: x.publicKey, parent: y.publicKey, res: { seq: 1n, nonce: 1n, port: 0, psig: y.sign(bs) }, sig: x.sign(bs) }))
    clock.advance(10)
    expect(raw.closed()).toBe(true)
    const raw2 = attachRawPeer(o, y.publicKey, clock)
    const bs2 = sigResPreimage(y.publicKey, y.publicKey, 1n, 1n, 0)
    const bad = y.sign(bs2); bad[0] ^= 1
    raw2.write(encodeAnnounce({ key: y.publicKey, parent: y.publicKey, res: { seq: 1n, nonce: 1n, port: 0, psig: bad }, sig: bad }))
    clock.advance(10)
    expect(raw2.closed()).toBe(true)
    expect(o.stats.badSignatures).toBe(1)
    expect(o.stats.badFrames).toBe(1)
    o.close()
  })

  it('two links to the same key behave as one peer; the tree survives losing one of them', () => {
    const clock = new VirtualClock()
    const a = new Overlay({ signer: ed25519Signer(seed(1)), clock })
    const b = new Overlay({ signer: ed25519Signer(seed(2)), clock })
    const defer = (fn: () => void): void => { clock.setTimeout(fn, 3) }
    const [a1, b1] = peerConnPair(a.publicKey, b.publicKey, { defer })
    const [a2, b2] = peerConnPair(a.publicKey, b.publicKey, { defer })
    a.addPeer(a1); b.addPeer(b1); a.addPeer(a2); b.addPeer(b2)
    clock.advance(5_000)
    expect(a.topology().root).toBe(b.topology().root)
    a1.close(); clock.advance(5_000)
    expect(a.topology().root).toBe(b.topology().root)
    expect(a.topology().peers.length).toBe(1)
    let got = 0
    b.onPacket = () => { got++ }
    a.sendTo(b.publicKey, new Uint8Array([1]))
    clock.advance(2_000)
    expect(got).toBe(1)
    a.close(); b.close()
  })
})

describe('tree: a node joining a converged network (early pass between ticks)', () => {
  // The joiner has the highest key, so it attaches below the existing root instead of becoming the new one.
  const setup = (earlyPassMs: number): { sim: Sim, joiner: number, root: number } => {
    const sim = new Sim({ n: 16, seed: 21, overlay: { earlyPassMs } })
    let joiner = 0
    for (const n of sim.nodes) if (n.keyStr > sim.nodes[joiner].keyStr) joiner = n.index
    const others = sim.nodes.filter(n => n.index !== joiner).map(n => n.index)
    for (const [a, b] of graphs.random(others.length, 10, prng(3))) sim.connect(others[a], others[b])
    let root = others[0]
    for (const i of others) if (sim.nodes[i].keyStr < sim.nodes[root].keyStr) root = i
    const converged = (): boolean => others.every(i => sim.nodes[i].overlay.router.tree.root() === sim.nodes[root].keyStr)
    expect(sim.runUntil(converged, 60_000)).toBe(true)
    sim.run(5_000) // let the tree settle (no more parent changes)
    return { sim, joiner, root }
  }
  const joinAndSend = (sim: Sim, joiner: number, root: number): number => {
    const far = sim.nodes.filter(n => n.index !== joiner && n.index !== root).at(-1)!.index
    const t0 = sim.clock.now()
    sim.connect(joiner, root === 0 ? 1 : 0)
    sim.nodes[joiner].overlay.sendTo(sim.nodes[far].key, Uint8Array.of(42))
    expect(sim.runUntil(() => sim.nodes[far].received.length > 0, 10_000, 10)).toBe(true)
    expect(sim.nodes[joiner].overlay.router.tree.root()).toBe(sim.nodes[root].keyStr)
    const ms = sim.clock.now() - t0
    console.log(`joined and delivered after ${ms} ms of virtual time (5 ms links)`)
    return ms
  }

  it('attaches and delivers its first packet within a few round trips, not after a tick or two', () => {
    const { sim, joiner, root } = setup(50)
    const ms = joinAndSend(sim, joiner, root)
    expect(ms).toBeLessThan(500) // measured ≈ 0.2–0.3 s of virtual time with 5 ms links
    sim.close()
  })

  it('with earlyPassMs 0 everything waits for the tick, as in ironwood', () => {
    const { sim, joiner, root } = setup(0)
    const ms = joinAndSend(sim, joiner, root)
    expect(ms).toBeGreaterThanOrEqual(1000)
    sim.close()
  })
})
