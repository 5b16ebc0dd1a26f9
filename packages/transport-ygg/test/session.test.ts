/**
 * SessionManager (ironwood `encrypted` PacketConn) end to end: managers exchange datagrams through a fake
 * lossless wire on a VirtualClock. The wire can hold, reorder, duplicate, tamper with or forge packets.
 */
import { Buffer } from 'node:buffer'
import { randomBytes } from 'node:crypto'
import { afterEach, beforeAll, describe, expect, it } from 'vitest'
import { identityFromSeed, type Identity } from '@axl/core'
import { VirtualClock } from '../src/clock.js'
import { sessionCryptoReady } from '../src/session/crypto.js'
import { SESSION_INIT_SIZE, parseTrafficHeader } from '../src/session/messages.js'
import { SessionManager, type SessionManagerOptions } from '../src/session/session.js'

const EPOCH_MS = 1_790_000_000_000
const te = new TextEncoder()
const td = new TextDecoder()
const hexOf = (b: Uint8Array): string => Buffer.from(b).toString('hex')

interface Packet { from: Uint8Array, to: Uint8Array, payload: Uint8Array }

/** A fake datagram network: `send` queues, `pump` delivers in order until quiet. */
class Wire {
  readonly clock = new VirtualClock()
  readonly nodes = new Map<string, SessionManager>()
  readonly queue: Packet[] = []
  readonly log: Packet[] = []
  /** Return false to swallow a packet (it stays in `held`). */
  filter: (p: Packet) => boolean = () => true
  readonly held: Packet[] = []
  readonly received = new Map<string, Array<{ from: string, text: string }>>()
  managers: SessionManager[] = []

  add (id: Identity, opts: Partial<SessionManagerOptions> = {}): SessionManager {
    const m = new SessionManager({
      identity: id,
      send: (to, payload) => { this.queue.push({ from: id.publicKey, to, payload }) },
      clock: this.clock,
      unixTime: () => EPOCH_MS + this.clock.now(),
      ...opts
    })
    const key = hexOf(id.publicKey)
    this.nodes.set(key, m)
    this.received.set(key, [])
    m.onMessage = (src, pt) => { this.received.get(key)?.push({ from: hexOf(src), text: td.decode(pt) }) }
    this.managers.push(m)
    return m
  }

  deliver (p: Packet): void {
    this.nodes.get(hexOf(p.to))?.handlePacket(p.from, p.payload)
  }

  pump (limit = 10_000): number {
    let n = 0
    while (this.queue.length > 0) {
      if (++n > limit) throw new Error('wire did not settle')
      const p = this.queue.shift() as Packet
      this.log.push(p)
      if (!this.filter(p)) { this.held.push(p); continue }
      this.deliver(p)
    }
    return n
  }

  texts (id: Identity): string[] {
    return (this.received.get(hexOf(id.publicKey)) ?? []).map(r => r.text)
  }

  close (): void { for (const m of this.managers) m.close() }
}

const ids = {
  a: identityFromSeed(new Uint8Array(32).fill(0xa1)),
  b: identityFromSeed(new Uint8Array(32).fill(0xb2)),
  c: identityFromSeed(new Uint8Array(32).fill(0xc3))
}

let wire: Wire
beforeAll(async () => { await sessionCryptoReady() })
afterEach(() => { wire?.close() })

function pair (opts: Partial<SessionManagerOptions> = {}): { w: Wire, A: SessionManager, B: SessionManager } {
  wire = new Wire()
  const A = wire.add(ids.a, opts)
  const B = wire.add(ids.b, opts)
  return { w: wire, A, B }
}

function connect (w: Wire, A: SessionManager, B: SessionManager): void {
  A.sendTo(ids.b.publicKey, te.encode('hello'))
  w.pump()
  B.sendTo(ids.a.publicKey, te.encode('hi'))
  w.pump()
  expect(w.texts(ids.b)).toContain('hello')
  expect(w.texts(ids.a)).toContain('hi')
}

/** Session state of one peer inside a manager (white-box, for assertions on the ratchet). */
function state (m: SessionManager, peer: Identity): { localKeySeq: bigint, remoteKeySeq: bigint, sendNonce: bigint } {
  const s = m.sessions().find(x => x.key === hexOf(peer.publicKey))
  if (s === undefined) throw new Error('no session')
  return s
}

describe('SessionManager handshake and traffic', () => {
  it('handshakes with 193-byte init/ack and delivers both ways', () => {
    const { w, A, B } = pair()
    A.sendTo(ids.b.publicKey, te.encode('hello'))
    const first = w.queue[0]
    expect(first.payload.length).toBe(SESSION_INIT_SIZE)
    expect(first.payload[0]).toBe(1)
    w.pump()
    expect(w.texts(ids.b)).toEqual(['hello'])
    const types = w.log.map(p => p.payload[0])
    expect(types.slice(0, 2)).toEqual([1, 2]) // init, ack
    for (const p of w.log) if (p.payload[0] !== 3) expect(p.payload.length).toBe(193)
    B.sendTo(ids.a.publicKey, te.encode('hi back'))
    w.pump()
    expect(w.texts(ids.a)).toEqual(['hi back'])
    expect(A.stats.sessions).toBe(1)
    expect(B.stats.sessions).toBe(1)
    expect(A.stats.initsSent).toBe(1)
    expect(B.stats.initsReceived).toBe(1)
    expect(B.stats.acksSent).toBeGreaterThanOrEqual(1)
    expect(A.stats.acksReceived).toBeGreaterThanOrEqual(1)
    expect(A.stats.handshakes + B.stats.handshakes).toBe(2)
    expect(A.stats.decryptFailures + B.stats.decryptFailures).toBe(0)
  })

  it('delivers many interleaved messages in order both ways, with the traffic layout on the wire', () => {
    const { w, A, B } = pair()
    connect(w, A, B)
    for (let i = 0; i < 200; i++) {
      A.sendTo(ids.b.publicKey, te.encode(`a${i}`))
      if (i % 3 === 0) B.sendTo(ids.a.publicKey, te.encode(`b${i}`))
      if (i % 7 === 0) w.pump()
    }
    w.pump()
    expect(w.texts(ids.b).slice(1)).toEqual(Array.from({ length: 200 }, (_, i) => `a${i}`))
    expect(w.texts(ids.a).slice(1)).toEqual(Array.from({ length: 200 }, (_, i) => `b${i}`).filter((_, i) => i % 3 === 0))
    const traffic = w.log.filter(p => p.payload[0] === 3)
    for (const p of traffic) {
      const h = parseTrafficHeader(p.payload)
      expect(h).toBeDefined()
    }
    // a (localKeySeq, nonce) pair is never reused: each send key is one localKeySeq
    const fromA = traffic.filter(p => hexOf(p.from) === hexOf(ids.a.publicKey)).map(p => parseTrafficHeader(p.payload))
    const pairs = new Set(fromA.map(h => `${String(h?.senderLocalKeySeq)}/${String(h?.nonce)}`))
    expect(pairs.size).toBe(fromA.length)
  })

  it('sendParts delivers the concatenation of its parts, queued before the handshake and sealed directly after', () => {
    const { w, A, B } = pair()
    A.sendParts(ids.b.publicKey, [te.encode('he'), te.encode(''), te.encode('llo')]) // no session yet: queued
    w.pump()
    expect(w.texts(ids.b)).toEqual(['hello'])
    const big = randomBytes(65_000)
    let got: Uint8Array | undefined
    B.onMessage = (_src, pt) => { got = new Uint8Array(pt) }
    A.sendParts(ids.b.publicKey, [Uint8Array.of(0x01), big.subarray(0, 40), big.subarray(40)])
    w.pump()
    expect(got && hexOf(got)).toBe('01' + hexOf(big))
    expect(A.stats.bytesSent).toBe(5 + 65_001)
    expect(() => { A.sendParts(ids.b.publicKey, [new Uint8Array(65_000), new Uint8Array(536)]) }).toThrow(/too large|exceeds|65536/)
  })

  it('handles a large (64 KiB) message on the WASM path and an empty one', () => {
    const { w, A, B } = pair()
    connect(w, A, B)
    const big = randomBytes(65_000)
    let got: Uint8Array | undefined
    B.onMessage = (_src, pt) => { got = new Uint8Array(pt) }
    A.sendTo(ids.b.publicKey, big)
    w.pump()
    expect(got && hexOf(got)).toBe(hexOf(big))
    A.sendTo(ids.b.publicKey, new Uint8Array(0))
    w.pump()
    expect(got?.length).toBe(0)
  })

  it('rotates keys after a minute of two-way traffic, at most once a minute, and keeps delivering', () => {
    const { w, A, B } = pair()
    connect(w, A, B)
    const start = { a: state(A, ids.b).localKeySeq, b: state(B, ids.a).localKeySeq }
    const rot0 = A.stats.rotations + B.stats.rotations
    let sent = 0
    for (let t = 0; t < 5 * 60; t += 5) { // 5 minutes, a message each way every 5 s
      w.clock.advance(5000)
      A.sendTo(ids.b.publicKey, te.encode(`a@${t}`))
      B.sendTo(ids.a.publicKey, te.encode(`b@${t}`))
      sent++
      w.pump()
    }
    expect(w.texts(ids.b).length).toBe(1 + sent)
    expect(w.texts(ids.a).length).toBe(1 + sent)
    const rotations = A.stats.rotations + B.stats.rotations - rot0
    expect(rotations).toBeGreaterThanOrEqual(4) // fresh keys roughly every minute
    expect(A.stats.rotations).toBeLessThanOrEqual(6) // ≤ one per minute per side (+ the first, immediate one)
    expect(B.stats.rotations).toBeLessThanOrEqual(6)
    expect(state(A, ids.b).localKeySeq).toBeGreaterThan(start.a + 2n)
    expect(state(B, ids.a).localKeySeq).toBeGreaterThan(start.b + 2n)
    expect(A.stats.decryptFailures + B.stats.decryptFailures).toBe(0)
  })

  it('expires idle sessions after 1 minute and re-handshakes on the next send', () => {
    const { w, A, B } = pair()
    connect(w, A, B)
    w.clock.advance(59_000)
    expect(A.stats.sessions).toBe(1)
    w.clock.advance(2_000)
    expect(A.stats.sessions).toBe(0)
    expect(B.stats.sessions).toBe(0)
    expect(A.stats.expired).toBe(1)
    const inits = A.stats.initsSent
    A.sendTo(ids.b.publicKey, te.encode('after idle'))
    w.pump()
    expect(A.stats.initsSent).toBe(inits + 1)
    expect(w.texts(ids.b)).toContain('after idle')
    expect(w.clock.pending).toBeGreaterThan(0)
  })

  it('activity keeps a session alive past one minute', () => {
    const { w, A, B } = pair()
    connect(w, A, B)
    for (let i = 0; i < 10; i++) { w.clock.advance(30_000); A.sendTo(ids.b.publicKey, te.encode(`k${i}`)); w.pump() }
    expect(A.stats.expired + B.stats.expired).toBe(0)
    expect(A.stats.initsSent).toBe(1)
  })

  it('recovers after the peer restarts (new manager, same identity) without restarting the other side', () => {
    const { w, A, B } = pair()
    connect(w, A, B)
    B.close()
    const B2 = w.add(ids.b) // replaces B on the wire
    w.received.set(hexOf(ids.b.publicKey), [])
    w.clock.advance(1500)
    let tries = 0
    while (!w.texts(ids.b).includes('after restart') && tries < 20) {
      A.sendTo(ids.b.publicKey, te.encode('after restart'))
      w.pump()
      w.clock.advance(700)
      tries++
    }
    expect(w.texts(ids.b)).toContain('after restart')
    expect(tries).toBeLessThan(10)
    B2.sendTo(ids.a.publicKey, te.encode('b2 says hi'))
    w.pump()
    expect(w.texts(ids.a)).toContain('b2 says hi')
    expect(B2.stats.unknownSessionTraffic).toBeGreaterThan(0) // it answered A's traffic with a throw-away init
  })
})

describe('SessionManager replay window', () => {
  function heldTraffic (w: Wire, A: SessionManager, n: number): Packet[] {
    w.filter = p => p.payload[0] !== 3
    for (let i = 0; i < n; i++) A.sendTo(ids.b.publicKey, te.encode(`m${i}`))
    w.pump()
    w.filter = () => true
    return w.held.splice(0)
  }

  it('accepts reordered packets once and rejects duplicates', () => {
    const { w, A, B } = pair()
    connect(w, A, B)
    const pkts = heldTraffic(w, A, 5)
    expect(pkts.length).toBe(5)
    for (const i of [2, 0, 1, 4, 3]) w.deliver(pkts[i])
    expect(w.texts(ids.b).slice(1)).toEqual(['m2', 'm0', 'm1', 'm4', 'm3'])
    const replays = B.stats.replaysRejected
    w.deliver(pkts[1])
    w.deliver(pkts[4])
    expect(B.stats.replaysRejected).toBe(replays + 2)
    expect(w.texts(ids.b).length).toBe(6)
  })

  it('rejects nonces older than the window', () => {
    const { w, A, B } = pair({ replayWindow: 16 })
    connect(w, A, B)
    const pkts = heldTraffic(w, A, 40)
    w.deliver(pkts[39])
    w.deliver(pkts[0]) // 39 behind: outside a 16-nonce window
    w.deliver(pkts[30]) // 9 behind: inside
    expect(w.texts(ids.b).slice(1)).toEqual(['m39', 'm30'])
    expect(B.stats.replaysRejected).toBe(1)
  })

  it('replayWindow 1 reproduces ironwood strict ordering (reordered packets dropped)', () => {
    const { w, A, B } = pair({ replayWindow: 1 })
    connect(w, A, B)
    const pkts = heldTraffic(w, A, 3)
    for (const i of [1, 0, 2]) w.deliver(pkts[i])
    expect(w.texts(ids.b).slice(1)).toEqual(['m1', 'm2'])
  })
})

describe('SessionManager against bad input', () => {
  it('drops tampered ciphertext (counted), sends a repair init, and keeps working', () => {
    const { w, A, B } = pair()
    connect(w, A, B)
    w.filter = p => p.payload[0] !== 3
    A.sendTo(ids.b.publicKey, te.encode('secret'))
    w.pump()
    w.filter = () => true
    const p = w.held.splice(0)[0]
    const bad = new Uint8Array(p.payload)
    bad[bad.length - 1] ^= 0x01
    const before = B.stats.decryptFailures
    w.deliver({ ...p, payload: bad })
    expect(B.stats.decryptFailures).toBe(before + 1)
    expect(w.texts(ids.b)).not.toContain('secret')
    expect(B.stats.initsSent).toBeGreaterThan(0) // Go's repair path
    w.pump()
    w.deliver(p) // the genuine packet: the keys it was sealed with may have been replaced by the repair
    w.clock.advance(1000)
    A.sendTo(ids.b.publicKey, te.encode('still works'))
    B.sendTo(ids.a.publicKey, te.encode('still works too'))
    w.pump()
    expect(w.texts(ids.b)).toContain('still works')
    expect(w.texts(ids.a)).toContain('still works too')
  })

  it('a third party forging source keys cannot inject or open anything', () => {
    const { w, A, B } = pair()
    const C = w.add(ids.c)
    connect(w, A, B)
    const seenByB = w.texts(ids.b).length
    // 1. C's genuine session traffic to B, re-labelled as coming from A: B opens it with A's keys → fails.
    w.filter = p => p.payload[0] === 3 && hexOf(p.from) === hexOf(ids.c.publicKey) ? false : true
    C.sendTo(ids.b.publicKey, te.encode('from C'))
    w.pump()
    const cTraffic = w.held.splice(0)
    expect(cTraffic.length).toBe(1)
    w.filter = () => true
    w.deliver({ from: ids.a.publicKey, to: ids.b.publicKey, payload: cTraffic[0].payload })
    // 2. An init signed by C but claiming to be from A: the signature check fails.
    const cInit = w.log.find(p => p.payload[0] === 1 && hexOf(p.from) === hexOf(ids.c.publicKey)) as Packet
    const bad = B.stats.badHandshakes
    w.deliver({ from: ids.a.publicKey, to: ids.b.publicKey, payload: cInit.payload })
    expect(B.stats.badHandshakes).toBe(bad + 1)
    // 3. A replay of A's own genuine init: valid but its seq is not newer → ignored.
    const aInit = w.log.find(p => p.payload[0] === 1 && hexOf(p.from) === hexOf(ids.a.publicKey)) as Packet
    const ignored = B.stats.handshakesIgnored
    w.deliver(aInit)
    expect(B.stats.handshakesIgnored).toBe(ignored + 1)
    // 4. Random boxes under A's name.
    for (let i = 0; i < 50; i++) {
      const fake = randomBytes(80)
      fake[0] = 3; fake[1] = 1; fake[2] = 1; fake[3] = i + 2
      w.deliver({ from: ids.a.publicKey, to: ids.b.publicKey, payload: fake })
    }
    w.queue.length = 0 // discard B's repair inits
    const fromB = w.received.get(hexOf(ids.b.publicKey)) ?? []
    expect(fromB.filter(r => r.from === hexOf(ids.a.publicKey)).length).toBe(seenByB)
    expect(fromB.some(r => r.text === 'from C' && r.from === hexOf(ids.a.publicKey))).toBe(false)
  })

  it('bounds the pending queue per peer and counts drops', () => {
    const { w, A } = pair({ maxPendingPerPeer: { packets: 32, bytes: 64 * 1024 } })
    for (let i = 0; i < 40; i++) A.sendTo(ids.b.publicKey, te.encode(`q${i}`))
    expect(A.stats.pending).toBe(1)
    expect(A.stats.pendingDropped).toBe(8)
    expect(A.stats.initsSent).toBe(1) // not one init per write
    w.pump()
    expect(w.texts(ids.b)).toEqual(Array.from({ length: 32 }, (_, i) => `q${i + 8}`))
  })

  it('bounds the pending queue by bytes', () => {
    const { w, A } = pair({ maxPendingPerPeer: { packets: 32, bytes: 64 * 1024 }, maxMessageSize: 200_000 })
    for (let i = 0; i < 3; i++) A.sendTo(ids.b.publicKey, new Uint8Array(30 * 1024).fill(i))
    A.sendTo(ids.b.publicKey, new Uint8Array(65 * 1024)) // larger than the whole bound
    expect(A.stats.pendingDropped).toBe(2)
    let n = 0
    wire.nodes.get(hexOf(ids.b.publicKey))!.onMessage = (_s, pt) => { n++; expect(pt[0]).toBe(n === 1 ? 1 : 2) }
    w.pump()
    expect(n).toBe(2)
  })

  it('retransmits a pending init with backoff and drops the queue after a minute', () => {
    wire = new Wire()
    const A = wire.add(ids.a)
    const blackHole = identityFromSeed(new Uint8Array(32).fill(0xdd)).publicKey
    A.sendTo(blackHole, te.encode('lost'))
    wire.queue.length = 0
    wire.clock.advance(61_000)
    expect(A.stats.initsSent).toBeGreaterThanOrEqual(4) // 0, 1, 3, 7, 15, 31, 47 s
    expect(A.stats.initsSent).toBeLessThanOrEqual(8)
    expect(A.stats.pending).toBe(0)
    expect(A.stats.pendingDropped).toBe(1)
    expect(wire.clock.pending).toBe(0)
  })

  it('wraps the send nonce by rotating keys, and the peer follows', () => {
    const { w, A, B } = pair()
    connect(w, A, B)
    // Let the once-a-minute rotation limit lapse (keeping the session alive), so B can follow A's ratchet at
    // once; within the same minute Go (and we) would first need a repair handshake.
    w.clock.advance(30_000)
    A.sendTo(ids.b.publicKey, te.encode('keepalive'))
    w.pump()
    w.clock.advance(31_000)
    const inner = (A as unknown as { table: Map<string, { sendNonce: bigint, localKeySeq: bigint }> }).table
    const s = [...inner.values()][0]
    s.sendNonce = (1n << 64n) - 2n
    const lks = s.localKeySeq
    A.sendTo(ids.b.publicKey, te.encode('last nonce'))
    A.sendTo(ids.b.publicKey, te.encode('wrapped'))
    const nonces = w.queue.map(p => parseTrafficHeader(p.payload)?.nonce)
    expect(nonces).toEqual([(1n << 64n) - 1n, 1n])
    expect(s.localKeySeq).toBe(lks + 1n)
    w.pump()
    expect(w.texts(ids.b).slice(-2)).toEqual(['last nonce', 'wrapped'])
    B.sendTo(ids.a.publicKey, te.encode('and back'))
    w.pump()
    expect(w.texts(ids.a)).toContain('and back')
  })

  it('thousands of random garbage packets never throw, and the session survives', () => {
    const { w, A, B } = pair()
    connect(w, A, B)
    let seed = 12345
    const rnd = (): number => { seed = (seed * 1103515245 + 12345) >>> 0; return seed / 2 ** 32 }
    const errors: unknown[] = []
    const B2 = w.nodes.get(hexOf(ids.b.publicKey)) as SessionManager
    for (let i = 0; i < 4000; i++) {
      const kind = Math.floor(rnd() * 6)
      const len = kind === 0 ? Math.floor(rnd() * 8) : kind === 1 ? 193 : Math.floor(rnd() * 300)
      const payload = new Uint8Array(randomBytes(len))
      if (len > 0) payload[0] = kind === 1 ? 1 + (i & 1) : kind === 2 ? 3 : kind === 3 ? Math.floor(rnd() * 256) : payload[0]
      if (kind === 4 && len > 4) { payload[0] = 3; payload[1] = 1; payload[2] = 1; payload[3] = 0x80 | (i & 0x7f) }
      const from = rnd() < 0.5 ? ids.a.publicKey : new Uint8Array(randomBytes(32))
      try {
        B2.handlePacket(from, payload)
        if (i % 500 === 0) B2.handlePacket(new Uint8Array(7), payload)
      } catch (err) { errors.push(err) }
      if (i % 100 === 0) w.queue.length = 0
    }
    w.queue.length = 0
    expect(errors).toEqual([])
    expect(B.stats.errors).toBe(0)
    expect(B.stats.malformed + B.stats.badHandshakes + B.stats.decryptFailures + B.stats.keySeqMismatches).toBeGreaterThan(1000)
    // the real session still works (possibly after a repair handshake)
    w.clock.advance(1000)
    for (let i = 0; i < 3 && !w.texts(ids.b).includes('survived'); i++) {
      A.sendTo(ids.b.publicKey, te.encode('survived'))
      w.pump()
      w.clock.advance(1000)
    }
    expect(w.texts(ids.b)).toContain('survived')
  })

  it('rejects misuse with typed errors and goes quiet after close', () => {
    const { A } = pair()
    expect(() => A.sendTo(new Uint8Array(31), te.encode('x'))).toThrow(expect.objectContaining({ code: 'ERR_INVALID_KEY' }))
    expect(() => A.sendTo(ids.b.publicKey, new Uint8Array(70_000))).toThrow(expect.objectContaining({ code: 'ERR_MESSAGE_TOO_LARGE' }))
    A.close()
    expect(() => A.sendTo(ids.b.publicKey, te.encode('x'))).toThrow(expect.objectContaining({ code: 'ERR_SESSION' }))
    expect(() => A.handlePacket(ids.b.publicKey, new Uint8Array(193))).not.toThrow()
    expect(() => new SessionManager({ identity: ids.a, send: () => {}, replayWindow: -1 })).toThrow(expect.objectContaining({ code: 'ERR_SESSION' }))
  })

  it('reports errors thrown by onMessage without throwing from handlePacket', () => {
    const seen: unknown[] = []
    const { w, A, B } = pair({ onError: (e) => seen.push(e) })
    connect(w, A, B)
    B.onMessage = () => { throw new Error('app bug') }
    A.sendTo(ids.b.publicKey, te.encode('boom'))
    expect(() => w.pump()).not.toThrow()
    expect(B.stats.errors).toBe(1)
    expect(seen.length).toBe(1)
  })
})
