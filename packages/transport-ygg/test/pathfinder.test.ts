import { describe, expect, it } from 'vitest'
import { Sim, graphs } from '../src/testing/sim.js'
import { attachRawPeer } from './helpers/raw-peer.js'
import { VirtualClock } from '../src/clock.js'
import { Overlay } from '../src/network/overlay.js'
import { ed25519Signer, keyStr } from '../src/crypto.js'
import { encodePathNotify, FrameType, pathNotifyPreimage, WATERMARK_MAX } from '../src/network/wire.js'

const seed = (i: number): Uint8Array => { const s = new Uint8Array(32); s[0] = i; s[29] = 5; return s }

function settledLine (n: number, s = 31): Sim {
  const sim = new Sim({ n, seed: s })
  sim.connectGraph(graphs.line(n))
  expect(sim.settle()).toBe(true)
  return sim
}

describe('pathfinder: lookup and notify', () => {
  it('the first packet waits behind a lookup; later packets use the learnt path without new lookups', () => {
    const sim = settledLine(6)
    const a = sim.nodes[0].overlay
    sim.send(0, 5, 'one'); sim.send(0, 5, 'two')
    expect(a.stats.lookupsSent).toBe(1)
    sim.run(1_000)
    expect(sim.got(0, 5, 'one') && sim.got(0, 5, 'two')).toBe(true)
    expect(a.stats.notifiesAccepted).toBe(1)
    expect(a.topology().paths.map(p => p.key)).toEqual([Buffer.from(sim.nodes[5].key).toString('hex')])
    expect(a.topology().paths[0].path).toEqual(sim.nodes[5].overlay.topology().coords)
    sim.send(0, 5, 'three')
    sim.run(1_000)
    expect(sim.got(0, 5, 'three')).toBe(true)
    expect(a.stats.lookupsSent).toBe(1)
    sim.close()
  })

  it('a reply to a first contact uses the sender\'s coordinates at once (no reverse lookup round trip), then a signed path', () => {
    const sim = settledLine(6) // 5 hops, 5 ms each way per hop
    const a = sim.nodes[0].overlay
    const b = sim.nodes[5].overlay
    b.onPacket = (from, payload) => { if (payload[0] === 1) b.sendTo(from, new Uint8Array([2])) } // answer at once
    let answeredAt: number | undefined
    a.onPacket = (_from, payload) => { if (payload[0] === 2) answeredAt = sim.clock.now() }
    const t0 = sim.clock.now()
    a.sendTo(b.publicKey, new Uint8Array([1]))
    sim.run(1_000)
    // lookup + notify (one round trip), then the packet and its answer (one more): 2 round trips of 50 ms.
    expect(answeredAt).toBeDefined()
    expect(answeredAt! - t0).toBeLessThanOrEqual(2 * 50 + 10)
    expect(b.stats.provisionalPaths).toBe(1)
    // B also looked A up in the background: the provisional path is confirmed by A's signed notify.
    expect(b.stats.lookupsSent).toBe(1)
    expect(b.topology().paths.map(p => p.path)).toEqual([a.topology().coords])
    sim.close()
  })

  it('a packet waiting for a key that is not reachable yet is delivered once it is, without new traffic (lookup repeated each tick)', () => {
    const sim = new Sim({ n: 4, seed: 31 })
    sim.connectGraph([[0, 1], [1, 2]]) // node 3 is not connected yet
    sim.run(10_000) // nodes 0–2 form their tree
    const a = sim.nodes[0].overlay
    sim.send(0, 3, 'early')
    sim.run(1_500)
    expect(sim.got(0, 3, 'early')).toBe(false)
    sim.connect(2, 3) // 3 joins; the tree and blooms take a few ticks to include it
    sim.run(6_000)
    expect(sim.got(0, 3, 'early')).toBe(true)
    expect(a.stats.lookupsSent).toBeGreaterThan(1)
    sim.close()
  })

  it('sending to ourselves works through the same lookup', () => {
    const sim = settledLine(2)
    sim.send(0, 0, 'me')
    sim.run(100)
    expect(sim.got(0, 0, 'me')).toBe(true)
    sim.close()
  })

  it('lookups are throttled to one per second per destination', () => {
    const sim = settledLine(3)
    const unknown = ed25519Signer(seed(99)).publicKey
    const a = sim.nodes[0].overlay
    for (let i = 0; i < 10; i++) { a.sendTo(unknown, new Uint8Array([i])); sim.run(50) }
    expect(a.stats.lookupsSent).toBe(1)
    sim.run(600)
    a.sendTo(unknown, new Uint8Array([1]))
    expect(a.stats.lookupsSent).toBe(2)
    sim.close()
  })

  it('buffers at most 32 packets / 64 KiB per pending destination, drops the oldest and counts; expired after 1 min', () => {
    const sim = settledLine(2)
    const a = sim.nodes[0].overlay
    const unknown = ed25519Signer(seed(98)).publicKey
    for (let i = 0; i < 40; i++) a.sendTo(unknown, new Uint8Array(10))
    expect(a.stats.lookupBufferDrops).toBe(8)
    const other = ed25519Signer(seed(97)).publicKey
    for (let i = 0; i < 3; i++) a.sendTo(other, new Uint8Array(30_000))
    expect(a.stats.lookupBufferDrops).toBe(9)
    sim.run(61_000)
    expect(a.stats.lookupBufferExpired).toBe(32 + 2)
    sim.close()
  })

  it('keeps the buffered order: all 32 buffered packets arrive in order once the path is known', () => {
    const sim = settledLine(4)
    for (let i = 0; i < 32; i++) sim.send(0, 3, `p${i}`)
    sim.run(2_000)
    const got = sim.nodes[3].received.map(r => new TextDecoder().decode(r.payload))
    expect(got).toEqual(Array.from({ length: 32 }, (_, i) => `p${i}`))
    sim.close()
  })
})

describe('pathfinder: notify acceptance', () => {
  function setup (): { clock: VirtualClock, o: Overlay, raw: ReturnType<typeof attachRawPeer>, src: ReturnType<typeof ed25519Signer>, notify: (seq: bigint, path: number[], bad?: boolean) => Uint8Array } {
    const clock = new VirtualClock()
    const o = new Overlay({ signer: ed25519Signer(seed(1)), clock })
    const peer = ed25519Signer(seed(2))
    const raw = attachRawPeer(o, peer.publicKey, clock)
    const src = ed25519Signer(seed(3))
    const notify = (seq: bigint, path: number[], bad = false): Uint8Array => {
      const sig = src.sign(pathNotifyPreimage(seq, path))
      if (bad) sig[5] ^= 1
      return encodePathNotify({ path: [], watermark: WATERMARK_MAX, source: src.publicKey, dest: o.publicKey, info: { seq, path, sig } })
    }
    clock.advance(100)
    return { clock, o, raw, src, notify }
  }

  it('drops unsolicited notifies (no pending lookup)', () => {
    const { clock, o, raw, notify } = setup()
    raw.write(notify(100n, [1, 2]))
    clock.advance(10)
    expect(o.topology().paths).toEqual([])
    expect(raw.closed()).toBe(false)
    o.close()
  })

  it('drops a notify with a bad signature even with a pending lookup', () => {
    const { clock, o, raw, src, notify } = setup()
    o.sendLookup(src.publicKey)
    raw.write(notify(100n, [1, 2], true))
    clock.advance(10)
    expect(o.topology().paths).toEqual([])
    expect(o.stats.badSignatures).toBe(1)
    o.close()
  })

  it('accepts a solicited notify; then only a newer seq with a different path replaces it', () => {
    const { clock, o, raw, src, notify } = setup()
    const hex = Buffer.from(src.publicKey).toString('hex')
    o.sendLookup(src.publicKey)
    const seen: string[] = []
    o.onPathNotify = (k) => { seen.push(keyStr(k)) }
    raw.write(notify(100n, [1, 2])); clock.advance(10)
    expect(o.topology().paths).toEqual([{ key: hex, path: [1, 2], seq: 100, broken: false }])
    raw.write(notify(100n, [3])); clock.advance(10) // same seq: ignored
    raw.write(notify(99n, [3])); clock.advance(10) // older: ignored
    raw.write(notify(101n, [1, 2])); clock.advance(10) // newer but same path: ignored
    expect(o.topology().paths[0].seq).toBe(100)
    raw.write(notify(102n, [4, 4])); clock.advance(10)
    expect(o.topology().paths).toEqual([{ key: hex, path: [4, 4], seq: 102, broken: false }])
    expect(seen.length).toBe(2)
    o.close()
  })

  it('answers a lookup for our key from an on-tree peer with a notify signed over (seq, coords)', () => {
    const sim = new Sim({ n: 3, seed: 41 })
    sim.connectGraph(graphs.line(3))
    expect(sim.settle()).toBe(true)
    const frames: number[] = []
    sim.nodes[0].overlay.router.onTrafficEvent = undefined
    const before = sim.nodes[2].overlay.stats.framesOut
    sim.nodes[0].overlay.sendLookup(sim.nodes[2].key)
    sim.run(1_000)
    expect(sim.nodes[2].overlay.stats.framesOut).toBeGreaterThan(before)
    expect(sim.nodes[0].overlay.topology().paths[0]?.path).toEqual(sim.nodes[2].overlay.topology().coords)
    void frames; void FrameType
    sim.close()
  })
})

describe('pathfinder: broken paths and timeouts', () => {
  it('PathBroken makes the source look up again, and the cached packet is re-sent on the new path', () => {
    // 0-1-2-3 line plus a spare link 0-4; then move node 3 from 2 to 4: its coordinates change.
    const sim = new Sim({ n: 5, seed: 51 })
    sim.connectGraph([[0, 1], [1, 2], [2, 3], [0, 4]])
    expect(sim.settle()).toBe(true)
    sim.send(0, 3, 'first')
    sim.run(2_000)
    expect(sim.got(0, 3, 'first')).toBe(true)
    sim.cut(2, 3)
    sim.connect(3, 4)
    expect(sim.settle()).toBe(true)
    const a = sim.nodes[0].overlay
    const lookups = a.stats.lookupsSent
    sim.send(0, 3, 'second')
    sim.run(3_000)
    expect(sim.got(0, 3, 'second')).toBe(true)
    const brokenSent = sim.nodes.reduce((s, n) => s + n.overlay.stats.brokenSent, 0)
    if (brokenSent > 0) {
      expect(a.stats.brokenReceived).toBeGreaterThan(0)
      expect(a.stats.lookupsSent).toBeGreaterThan(lookups)
    }
    sim.close()
  })

  it('a stale path to an unreachable destination gets PathBroken back to the source', () => {
    const sim = new Sim({ n: 4, seed: 52 })
    sim.connectGraph(graphs.line(4))
    expect(sim.settle()).toBe(true)
    const root = sim.lowestAlive()
    // Pick a source and destination on the same side of the root, dest at the far end.
    sim.send(0, 3, 'a')
    sim.run(2_000)
    expect(sim.got(0, 3, 'a')).toBe(true)
    sim.kill(3)
    sim.run(100)
    sim.send(0, 3, 'b')
    sim.run(2_000)
    if (root !== 3) {
      expect(sim.nodes.reduce((s, n) => s + n.overlay.stats.brokenSent, 0)).toBeGreaterThan(0)
      expect(sim.nodes[0].overlay.stats.brokenReceived).toBeGreaterThan(0)
      expect(sim.nodes[0].overlay.topology().paths[0].broken).toBe(true)
    }
    sim.close()
  })

  it('forgets a path 1 min after traffic last arrived from it; traffic from the destination keeps it alive', () => {
    const sim = settledLine(3)
    sim.send(0, 2, 'x'); sim.send(2, 0, 'y')
    sim.run(2_000)
    expect(sim.nodes[0].overlay.topology().paths.length).toBe(1)
    // 2 keeps sending to 0 every 20 s: 0's path to 2 stays (reset when traffic from 2 arrives), while 2's
    // path to 0 expires (0 is silent, and sending does not reset it), so 2 has to look 0 up again.
    const lookups2 = sim.nodes[2].overlay.stats.lookupsSent
    for (let t = 0; t < 5; t++) { sim.send(2, 0, `k${t}`); sim.run(20_000) }
    expect(sim.nodes[0].overlay.topology().paths.length).toBe(1)
    expect(sim.nodes[2].overlay.stats.lookupsSent).toBe(lookups2 + 1)
    expect(sim.got(2, 0, 'k4')).toBe(true)
    // Now nobody sends: both paths are gone a minute later.
    sim.run(61_000)
    expect(sim.nodes[0].overlay.topology().paths).toEqual([])
    expect(sim.nodes[2].overlay.topology().paths).toEqual([])
    sim.close()
  })
})
