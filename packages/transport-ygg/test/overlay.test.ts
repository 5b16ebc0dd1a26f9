import { describe, expect, it } from 'vitest'
import { InvalidKeyError, MessageTooLargeError } from '@axl/core'
import { Sim, graphs, prng } from '../src/testing/sim.js'
import { attachRawPeer } from './helpers/raw-peer.js'
import { VirtualClock } from '../src/clock.js'
import { Overlay } from '../src/network/overlay.js'
import { ed25519Signer, ed25519Verifier, INSECURE_simulationCrypto } from '../src/crypto.js'
import { PacketQueue } from '../src/network/packet-queue.js'
import { encodeBloom, Bloom } from '../src/network/bloom.js'
import { encodeFrame, encodeKeepAlive, encodeSigReq, encodeTraffic, FrameType, WATERMARK_MAX } from '../src/network/wire.js'
import { encodeUvarint } from '../src/network/uvarint.js'

const seed = (i: number): Uint8Array => { const s = new Uint8Array(32); s[0] = i; s[28] = 9; return s }
const cat = (...parts: Uint8Array[]): Uint8Array => { const o = new Uint8Array(parts.reduce((n, p) => n + p.length, 0)); let i = 0; for (const p of parts) { o.set(p, i); i += p.length } return o }

function lone (): { clock: VirtualClock, o: Overlay } {
  const clock = new VirtualClock()
  return { clock, o: new Overlay({ signer: ed25519Signer(seed(1)), clock }) }
}

describe('Overlay API', () => {
  it('a fresh node: topology with empty lists, itself as root', () => {
    const { o } = lone()
    const t = o.topology()
    expect(t.key).toBe(Buffer.from(o.publicKey).toString('hex'))
    expect(t.root).toBe(t.key)
    expect(t.parent).toBe(t.key)
    expect(t.coords).toEqual([])
    expect(t.peers).toEqual([])
    expect(t.paths).toEqual([])
    expect(t.tree).toEqual([{ key: t.key, parent: t.key, seq: 1 }])
    expect(JSON.parse(JSON.stringify(t))).toEqual(t)
    o.close()
  })

  it('validates arguments with typed errors and is non-blocking', () => {
    const { o } = lone()
    expect(() => o.sendTo(new Uint8Array(31), new Uint8Array(1))).toThrow(InvalidKeyError)
    expect(() => o.sendTo(new Uint8Array(32), new Uint8Array(o.mtu + 1))).toThrow(MessageTooLargeError)
    expect(() => o.sendLookup(new Uint8Array(3))).toThrow(InvalidKeyError)
    expect(o.mtu).toBe(131_070 - 77)
    expect(o.sendTo(new Uint8Array(32).fill(7), new Uint8Array(10))).toBe(true)
    o.close()
    expect(o.closed).toBe(true)
    expect(o.sendTo(new Uint8Array(32).fill(7), new Uint8Array(10))).toBe(false)
    o.close()
  })

  it('refuses a link to itself and a link after close', () => {
    const { clock, o } = lone()
    const raw = attachRawPeer(o, o.publicKey, clock)
    clock.advance(5)
    expect(raw.closed()).toBe(true)
    expect(o.stats.linksRejected).toBe(1)
    o.close()
    const raw2 = attachRawPeer(o, ed25519Signer(seed(2)).publicKey, clock)
    clock.advance(5)
    expect(raw2.closed()).toBe(true)
  })

  it('topology lists peers with port, uri, direction, rtt and root', () => {
    const sim = new Sim({ n: 3, seed: 61 })
    sim.connectGraph(graphs.line(3))
    expect(sim.settle()).toBe(true)
    const t = sim.nodes[1].overlay.topology()
    expect(t.peers.map(p => p.port).sort()).toEqual([1, 2])
    for (const p of t.peers) {
      expect(p.up).toBe(true)
      expect(p.uri).toMatch(/^memory:\/\//)
      expect(p.root).toBe(t.root)
      expect(p.rttMs).toBe(2 * sim.latencyMs)
      expect(p.onTree).toBe(true)
    }
    expect(t.peers.map(p => p.inbound).sort()).toEqual([false, true])
    sim.close()
  })

  it('user callback errors are swallowed and counted', () => {
    const sim = new Sim({ n: 2, seed: 62 })
    sim.connect(0, 1)
    expect(sim.settle()).toBe(true)
    sim.nodes[1].overlay.onPacket = () => { throw new Error('boom') }
    sim.send(0, 1, 'x')
    sim.run(1_000)
    expect(sim.nodes[1].overlay.stats.callbackErrors).toBe(1)
    sim.close()
  })
})

describe('strict frame handling: a bad frame closes that link only', () => {
  const bad: Array<[string, (max: number) => Uint8Array]> = [
    ['an oversized length prefix', (max) => cat(encodeUvarint(max + 1), new Uint8Array(10))],
    ['an unknown frame type', () => Uint8Array.of(0x01, 0x0a)],
    ['an empty frame', () => Uint8Array.of(0x00)],
    ['a SigReq with trailing bytes', () => encodeFrame(FrameType.SigReq, Uint8Array.of(1, 2, 3))],
    ['a truncated Announce', () => encodeFrame(FrameType.Announce, new Uint8Array(40))],
    ['a malformed bloom', () => encodeFrame(FrameType.Bloom, new Uint8Array(5))],
    ['a traffic frame with a bad path', () => encodeFrame(FrameType.Traffic, Uint8Array.of(0x80))],
    ['a length uvarint overflowing 64 bits', () => new Uint8Array(11).fill(0xff)]
  ]
  for (const [name, make] of bad) {
    it(`${name}`, () => {
      const { clock, o } = lone()
      const good = attachRawPeer(o, ed25519Signer(seed(2)).publicKey, clock)
      const evil = attachRawPeer(o, ed25519Signer(seed(3)).publicKey, clock)
      clock.advance(5)
      // Valid frames in front of the bad one in the same chunk are still processed.
      evil.write(cat(encodeKeepAlive(), encodeSigReq({ seq: 1n, nonce: 2n }), make(o.router.maxFrameSize)))
      clock.advance(5)
      expect(evil.closed()).toBe(true)
      expect(o.stats.framesIn).toBeGreaterThanOrEqual(2)
      expect(o.stats.badFrames).toBe(1)
      expect(good.closed()).toBe(false)
      expect(o.topology().peers.length).toBe(1)
      o.close()
    })
  }

  it('random garbage from one peer (20 seeds) never throws and never disturbs the rest of the network', () => {
    const sim = new Sim({ n: 5, seed: 63 })
    sim.connectGraph(graphs.ring(5))
    expect(sim.settle()).toBe(true)
    const victim = sim.nodes[2].overlay
    const rand = prng(77)
    for (let s = 0; s < 20; s++) {
      const evil = attachRawPeer(victim, ed25519Signer(seed(100 + s)).publicKey, sim.clock)
      const junk = new Uint8Array(64 + Math.floor(rand() * 4096))
      for (let i = 0; i < junk.length; i++) junk[i] = Math.floor(rand() * 256)
      evil.write(junk)
      sim.run(4_000) // a frame that is merely incomplete is ended by the 3 s peer timeout
      expect(evil.closed()).toBe(true)
    }
    expect(victim.stats.badFrames + victim.stats.timeouts).toBe(20)
    // The real links of the victim are untouched and every pair still delivers.
    expect(victim.topology().peers.length).toBe(2)
    for (let a = 0; a < 5; a++) for (let b = 0; b < 5; b++) if (a !== b) sim.send(a, b, `${a}-${b}`)
    expect(sim.runUntil(() => {
      for (let a = 0; a < 5; a++) for (let b = 0; b < 5; b++) if (a !== b && !sim.got(a, b, `${a}-${b}`)) return false
      return true
    }, 10_000)).toBe(true)
    sim.close()
  })

  it('unexpected but well-formed frames (traffic from nowhere, lookups from off-tree) are ignored, not fatal', () => {
    const { clock, o } = lone()
    const raw = attachRawPeer(o, ed25519Signer(seed(4)).publicKey, clock)
    raw.write(encodeTraffic({ path: [7, 7], from: [], source: new Uint8Array(32).fill(1), dest: new Uint8Array(32).fill(2), watermark: WATERMARK_MAX, payload: new Uint8Array(3) }))
    raw.write(encodeBloom(new Bloom().add(new Uint8Array(32).fill(5))))
    clock.advance(10)
    expect(raw.closed()).toBe(false)
    expect(o.stats.badFrames).toBe(0)
    o.close()
  })
})

describe('keepalive rule (ironwood peerKeepAliveDelay 1 s / peerTimeout 3 s)', () => {
  it('answers a non-keepalive frame with a keepalive after 1 s when it has nothing else to send', () => {
    const { clock, o } = lone()
    const raw = attachRawPeer(o, ed25519Signer(seed(2)).publicKey, clock, 0)
    clock.advance(1_500) // past the first tick, which announces our info to the new peer
    const t0 = clock.now()
    raw.write(encodeBloom(new Bloom()))
    const n0 = raw.frames.length
    clock.advance(990)
    expect(raw.frames.slice(n0).some(f => f.type === FrameType.KeepAlive)).toBe(false)
    clock.advance(20)
    const ka = raw.frames.slice(n0).filter(f => f.type === FrameType.KeepAlive)
    expect(ka.length).toBe(1)
    expect(clock.now() - t0).toBeLessThanOrEqual(1_010)
    // A keepalive is not answered with a keepalive.
    raw.write(encodeKeepAlive())
    const n1 = raw.frames.length
    clock.advance(2_000)
    expect(raw.frames.slice(n1).filter(f => f.type === FrameType.KeepAlive).length).toBe(0)
    o.close()
  })

  it('closes a link 3 s after sending if nothing comes back; a peer that answers stays up', () => {
    const { clock, o } = lone()
    const silent = attachRawPeer(o, ed25519Signer(seed(2)).publicKey, clock, 0)
    const polite = attachRawPeer(o, ed25519Signer(seed(3)).publicKey, clock, 0)
    // The polite peer answers every frame it gets with a keepalive.
    const origOnData = polite.conn.onData
    polite.conn.onData = (d) => { origOnData(d); polite.conn.write(encodeKeepAlive()) }
    clock.advance(2_900)
    expect(silent.closed()).toBe(false)
    clock.advance(200)
    expect(silent.closed()).toBe(true)
    expect(o.stats.timeouts).toBe(1)
    clock.advance(10 * 60_000)
    expect(polite.closed()).toBe(false)
    o.close()
  })

  it('idle links exchange nothing between refreshes', () => {
    const sim = new Sim({ n: 2, seed: 64 })
    sim.connect(0, 1)
    expect(sim.settle()).toBe(true)
    const f0 = sim.framesOut()
    sim.run(60_000)
    expect(sim.framesOut()).toBe(f0)
    sim.run(4 * 60_000) // the refresh re-signs and re-announces
    expect(sim.framesOut()).toBeGreaterThan(f0)
    expect(sim.nodes[0].overlay.topology().peers.length).toBe(1)
    sim.close()
  })
})

describe('per-link queue and backpressure', () => {
  it('while a link is not writable, droppable frames queue up to the byte cap (drops counted); tree frames go through', () => {
    const clock = new VirtualClock()
    const o = new Overlay({ signer: ed25519Signer(seed(1)), clock, queueBytes: 2_000 })
    let writable = true
    const raw = attachRawPeer(o, ed25519Signer(seed(2)).publicKey, clock, 0, { writeResult: () => writable })
    clock.advance(100)
    writable = false
    raw.write(encodeSigReq({ seq: 1n, nonce: 1n })) // makes the next write return false
    clock.advance(1)
    expect(o.router.peers.values().next().value!.links[0].ready).toBe(false)
    // Make the raw peer our next hop for a destination and flood traffic towards it.
    const link = o.router.peers.values().next().value!.links[0]
    for (let i = 0; i < 50; i++) {
      o.router.sendQueued(link, encodeTraffic({ path: [1], from: [], source: o.publicKey, dest: new Uint8Array(32).fill(i % 3), watermark: 5n, payload: new Uint8Array(100) }), FrameType.Traffic, `d${i % 3}`)
    }
    expect(o.stats.queueDrops).toBeGreaterThan(0)
    expect(link.queue!.bytes).toBeLessThanOrEqual(2_000)
    const queued = link.queue!.length
    // Tree frames are never queued: a SigReq is still answered at once.
    const n0 = raw.frames.length
    raw.write(encodeSigReq({ seq: 2n, nonce: 2n }))
    clock.advance(1)
    expect(raw.frames.slice(n0).some(f => f.type === FrameType.SigRes)).toBe(true)
    // Drain flushes the queue in order.
    writable = true
    const n1 = raw.frames.length
    raw.remote.onDrain()
    clock.advance(1)
    expect(raw.frames.slice(n1).filter(f => f.type === FrameType.Traffic).length).toBe(queued)
    expect(link.queue!.length).toBe(0)
    o.close()
  })
})

describe('PacketQueue', () => {
  it('pops the globally oldest frame, drops the oldest of the largest flow, respects the byte cap', () => {
    const q = new PacketQueue(100)
    const f = (n: number, tag: number): Uint8Array => new Uint8Array(n).fill(tag)
    expect(q.push('a', f(30, 1))).toBe(0)
    expect(q.push('b', f(10, 2))).toBe(0)
    expect(q.push('a', f(30, 3))).toBe(0)
    expect(q.bytes).toBe(70)
    // Over the cap: the oldest frame of the largest flow ('a') goes.
    expect(q.push('b', f(40, 4))).toBe(1)
    expect(q.bytes).toBe(80)
    expect([q.pop()![0], q.pop()![0], q.pop()![0]]).toEqual([2, 3, 4])
    expect(q.pop()).toBeUndefined()
    expect(q.length).toBe(0)
  })
})

describe('crypto adapter', () => {
  it('real ed25519 by default; the fake is opt-in and clearly insecure', () => {
    const s = ed25519Signer(seed(5))
    const v = ed25519Verifier()
    const msg = new TextEncoder().encode('hello')
    const sig = s.sign(msg)
    expect(sig.length).toBe(64)
    expect(v(s.publicKey, msg, sig)).toBe(true)
    sig[0] ^= 1
    expect(v(s.publicKey, msg, sig)).toBe(false)
    expect(v(new Uint8Array(5), msg, sig)).toBe(false)
    const fake = INSECURE_simulationCrypto(s.publicKey)
    expect(fake.verify(s.publicKey, msg, new Uint8Array(64))).toBe(true)
    // A real node rejects a fake-signed announce: the link is closed.
    const clock = new VirtualClock()
    const o = new Overlay({ signer: ed25519Signer(seed(6)), clock })
    const raw = attachRawPeer(o, s.publicKey, clock)
    const zero = new Uint8Array(64)
    raw.write(encodeFrame(FrameType.Announce, cat(s.publicKey, s.publicKey, Uint8Array.of(1, 1, 0), zero, zero)))
    clock.advance(5)
    expect(raw.closed()).toBe(true)
    expect(o.stats.badSignatures).toBe(1)
    o.close()
  })
})
