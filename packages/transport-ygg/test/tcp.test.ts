import { describe, it, expect } from 'vitest'
import { createHash } from 'node:crypto'
import { AbortError, StreamClosedError, TimeoutError, UnreachableError, parseIpv6 } from '@axl/core'
import { VirtualClock } from '../src/clock.js'
import type { TcpConnection } from '../src/tcp/connection.js'
import { TcpStack } from '../src/tcp/stack.js'
import { ConnectionRefusedError, ConnectionResetError, ConnectionTimeoutError, PortInUseError } from '../src/tcp/errors.js'
import { ACK, RST, SYN, newSegment, parseTcp, readU32, writeU32 } from '../src/tcp/segment.js'
import { IPPROTO_TCP, encodeIpv6Header, setIpv6PayloadChecksum, verifyIpv6PayloadChecksum } from '../src/ipv6/ipv6.js'
import { ICMPV6_DEST_UNREACHABLE, ICMPV6_ECHO_REPLY, ICMPV6_ECHO_REQUEST, ICMPV6_PACKET_TOO_BIG, buildIcmpv6 } from '../src/ipv6/icmpv6.js'
import { HostUnreachableError } from '../src/tcp/errors.js'
import { StackPair, Sink, pump, prng, randomBytesSeeded, sha256, ADDR_A, ADDR_B, type LinkOptions } from './fixtures/tcp-link.js'
import type { TcpStackOptions } from '../src/tcp/options.js'

/** Advances virtual time (letting promise callbacks run) until `done` or the limit. */
async function until (p: StackPair, done: () => boolean, limitMs = 120_000, stepMs = 5): Promise<boolean> {
  const end = p.clock.now() + limitMs
  while (!done()) {
    if (p.clock.now() >= end) return false
    p.clock.advance(stepMs)
    await Promise.resolve()
    await Promise.resolve()
  }
  return true
}

async function establish (p: StackPair, port = 7000): Promise<{ client: TcpConnection, server: TcpConnection }> {
  let server: TcpConnection | undefined
  p.b.listen(port, (c) => { server = c })
  let client: TcpConnection | undefined
  let err: unknown
  p.a.connect(ADDR_B, port).then((c) => { client = c }, (e) => { err = e })
  await until(p, () => (client !== undefined && server !== undefined) || err !== undefined, 30_000)
  if (err !== undefined) throw err
  expect(client).toBeDefined()
  expect(server).toBeDefined()
  return { client: client!, server: server! }
}

function pair (link: LinkOptions = {}, a: Partial<TcpStackOptions> = {}, b: Partial<TcpStackOptions> = a): StackPair {
  return new StackPair(new VirtualClock(), { delayMs: 5, ...link }, { timeWaitMs: 1000, ...a }, { timeWaitMs: 1000, ...b })
}

/** A raw TCP segment from `src` to `dst` (checksummed), for crafted-input tests. */
function rawSegment (src: Uint8Array, dst: Uint8Array, sport: number, dport: number, seq: number, ack: number, flags: number, payload = new Uint8Array(0)): Uint8Array {
  const tcpLen = 20 + payload.length
  const p = new Uint8Array(40 + tcpLen)
  encodeIpv6Header(p, 0, src, dst, IPPROTO_TCP, tcpLen)
  p[40] = sport >> 8; p[41] = sport & 0xff; p[42] = dport >> 8; p[43] = dport & 0xff
  writeU32(p, 44, seq); writeU32(p, 48, ack)
  p[52] = 5 << 4; p[53] = flags; p[54] = 0xff; p[55] = 0xff
  p.set(payload, 60)
  setIpv6PayloadChecksum(p, 16)
  return p
}

describe('TcpStack handshake', () => {
  it('completes the 3-way handshake with MSS 1220 and window scaling', async () => {
    const p = pair()
    const syns: number[] = []
    p.filter = (pkt) => { if ((pkt[53] & SYN) !== 0) syns.push(pkt.length); return true }
    const { client, server } = await establish(p)
    expect(client.state).toBe('ESTABLISHED')
    expect(server.state).toBe('ESTABLISHED')
    expect(client.stats.mss).toBe(1220)
    expect(server.stats.mss).toBe(1220)
    expect(syns).toEqual([68, 68]) // 40 + 20 + MSS(4) + NOP,WS(4)
    expect(client.remotePort).toBe(7000)
    expect(server.localPort).toBe(7000)
    expect(server.remotePort).toBe(client.localPort)
    expect(client.localPort).toBeGreaterThanOrEqual(49152)
    expect(server.stats.sndWnd).toBeGreaterThan(65535) // scaled window in use
    expect(client.stats.srttMs).toBeCloseTo(10, 0)
    // Data right after the handshake is inside the window the SYN-ACK advertised: no retransmission.
    const sink = new Sink(server)
    client.write(new Uint8Array(30_000))
    expect(await until(p, () => sink.bytes === 30_000, 1000)).toBe(true)
    expect(client.stats.retransmits).toBe(0)
    expect(p.clock.now()).toBeLessThan(100)
  })

  it('connect to a closed port fails promptly with ConnectionRefusedError', async () => {
    const p = pair()
    let err: unknown
    const t0 = p.clock.now()
    p.a.connect(ADDR_B, 7001).catch((e) => { err = e })
    await until(p, () => err !== undefined, 5000, 1)
    expect(err).toBeInstanceOf(ConnectionRefusedError)
    expect(err).toBeInstanceOf(UnreachableError)
    expect(p.clock.now() - t0).toBeLessThanOrEqual(12)
    expect(p.b.stats.rstSent).toBe(1)
    expect(p.a.stats.connections).toBe(0)
  })

  it('connect into a black hole times out after the SYN retries, or timeoutMs, or abort', async () => {
    const p = pair({}, { synRetries: 3 })
    p.filter = () => false
    let err: unknown
    const t0 = p.clock.now()
    p.a.connect(ADDR_B, 7000).catch((e) => { err = e })
    await until(p, () => err !== undefined, 60_000, 50)
    expect(err).toBeInstanceOf(ConnectionTimeoutError)
    expect(err).toBeInstanceOf(TimeoutError)
    expect(p.clock.now() - t0).toBeGreaterThanOrEqual(15_000) // 1 + 2 + 4 + 8 s
    expect(p.clock.now() - t0).toBeLessThan(16_000)
    let err2: unknown
    p.a.connect(ADDR_B, 7000, { timeoutMs: 2500 }).catch((e) => { err2 = e })
    const t1 = p.clock.now()
    await until(p, () => err2 !== undefined, 60_000, 50)
    expect(err2).toBeInstanceOf(ConnectionTimeoutError)
    expect(p.clock.now() - t1).toBeLessThanOrEqual(2550)
    const ac = new AbortController()
    let err3: unknown
    p.a.connect(ADDR_B, 7000, { signal: ac.signal }).catch((e) => { err3 = e })
    ac.abort()
    await Promise.resolve(); await Promise.resolve()
    expect(err3).toBeInstanceOf(AbortError)
    expect(p.a.stats.connections).toBe(0)
  })

  it('rejects a second listener on a port', () => {
    const p = pair()
    const l = p.b.listen(7000, () => {})
    expect(() => p.b.listen(7000, () => {})).toThrow(PortInUseError)
    l.close()
    p.b.listen(7000, () => {})
  })

  it('works with a large MSS between two TS stacks, and falls back to 1220 against a 1280 MTU', async () => {
    const big = pair({}, { mtu: 65535 })
    const { client, server } = await establish(big)
    expect(client.stats.mss).toBe(65475)
    const sink = new Sink(server)
    const data = randomBytesSeeded(2_000_000, 7)
    pump(client, data)
    expect(await until(big, () => sink.ended)).toBe(true)
    expect(sink.digest()).toBe(sha256(data))
    expect(client.stats.segmentsSent).toBeLessThan(60)

    const mixed = pair({}, { mtu: 65535 }, { mtu: 1280 })
    const c2 = await establish(mixed)
    expect(c2.client.stats.mss).toBe(1220)
    expect(c2.server.stats.mss).toBe(1220)
    let maxLen = 0
    mixed.filter = (pkt) => { maxLen = Math.max(maxLen, pkt.length); return true }
    const s2 = new Sink(c2.server)
    pump(c2.client, data.subarray(0, 300_000))
    expect(await until(mixed, () => s2.ended)).toBe(true)
    expect(maxLen).toBe(1280)
  })
})

describe('TcpConnection data transfer', () => {
  it('moves several MB each way byte-identical and closes in order both ways', async () => {
    const p = pair({ bytesPerMs: 10_000 })
    const { client, server } = await establish(p)
    const up = randomBytesSeeded(4_000_000, 2)
    const down = randomBytesSeeded(3_000_001, 3)
    const atServer = new Sink(server)
    const atClient = new Sink(client)
    pump(client, up, 100_000)
    pump(server, down, 65_536)
    expect(await until(p, () => atServer.closed && atClient.closed)).toBe(true)
    expect(atServer.digest()).toBe(sha256(up))
    expect(atClient.digest()).toBe(sha256(down))
    expect(atServer.ended && atClient.ended).toBe(true)
    expect(atServer.error).toBeUndefined()
    expect(atClient.error).toBeUndefined()
    // Exactly one side holds TIME_WAIT, then everything is released.
    expect(p.a.stats.timeWait + p.b.stats.timeWait).toBeGreaterThanOrEqual(1)
    expect(await until(p, () => p.a.stats.timeWait + p.b.stats.timeWait === 0, 5000)).toBe(true)
    expect(p.a.stats.connections + p.b.stats.connections).toBe(0)
    expect(client.state).toBe('CLOSED')
    expect(server.state).toBe('CLOSED')
    expect(client.stats.retransmits).toBe(0)
  })

  it('half-close: the client ends, the server keeps sending until it ends too', async () => {
    const p = pair()
    const { client, server } = await establish(p)
    const atServer = new Sink(server)
    const atClient = new Sink(client)
    client.write(new TextEncoder().encode('request'))
    client.end()
    expect(client.state).toBe('FIN_WAIT_1')
    expect(() => client.write(new Uint8Array(1))).toThrow(StreamClosedError)
    expect(await until(p, () => atServer.ended)).toBe(true)
    expect(server.state).toBe('CLOSE_WAIT')
    expect(await until(p, () => client.state === 'FIN_WAIT_2')).toBe(true)
    const reply = randomBytesSeeded(500_000, 9)
    pump(server, reply)
    expect(await until(p, () => atClient.closed && atServer.closed)).toBe(true)
    expect(atClient.digest()).toBe(sha256(reply))
    expect(atServer.bytes).toBe(7)
    expect(client.state).toBe('TIME_WAIT')
    expect(server.state).toBe('CLOSED')
  })

  it('a reset mid-stream reaches the other side as ConnectionResetError', async () => {
    const p = pair()
    const { client, server } = await establish(p)
    const atServer = new Sink(server)
    const atClient = new Sink(client)
    pump(client, randomBytesSeeded(5_000_000, 4))
    expect(await until(p, () => atServer.bytes > 1_000_000)).toBe(true)
    server.reset()
    expect(server.state).toBe('CLOSED')
    expect(atServer.closed).toBe(true)
    expect(atServer.error).toBeUndefined()
    expect(await until(p, () => atClient.closed, 5000)).toBe(true)
    expect(atClient.error).toBeInstanceOf(ConnectionResetError)
    expect(atClient.error).toBeInstanceOf(StreamClosedError)
    expect(client.state).toBe('CLOSED')
    expect(() => client.write(new Uint8Array(1))).toThrow(StreamClosedError)
    expect(p.a.stats.connections + p.b.stats.connections).toBe(0)
  })

  it('an exception in onData resets that connection instead of escaping input()', async () => {
    const p = pair()
    const { client, server } = await establish(p)
    const atClient = new Sink(client)
    let serverErr: Error | undefined
    server.onData = () => { throw new Error('app bug') }
    server.onClose = (e) => { serverErr = e }
    client.write(new Uint8Array(10))
    expect(await until(p, () => atClient.closed, 5000)).toBe(true)
    expect(serverErr?.message).toBe('app bug')
    expect(atClient.error).toBeInstanceOf(ConnectionResetError)
  })

  it('runs 100 concurrent connections (echo)', async () => {
    const p = pair({ jitterMs: 3 })
    p.b.listen(7000, (c) => {
      c.onData = (d) => { c.write(d.slice()) }
      c.onEnd = () => { c.end() }
    })
    const results: Array<{ ok: boolean }> = []
    for (let i = 0; i < 100; i++) {
      const data = randomBytesSeeded(20_000 + i, 100 + i)
      const r = { ok: false }
      results.push(r)
      p.a.connect(ADDR_B, 7000).then((c) => {
        const s = new Sink(c)
        c.onClose = () => { r.ok = s.digest() === sha256(data) }
        pump(c, data, 4096)
      }, () => {})
    }
    expect(await until(p, () => results.every((r) => r.ok), 60_000)).toBe(true)
    expect(p.a.stats.connections).toBe(0)
    expect(p.a.stats.timeWait).toBe(100)
    expect(await until(p, () => p.a.stats.timeWait === 0 && p.b.stats.connections === 0, 5000)).toBe(true)
  })

  it('flow control: a paused reader bounds the receive buffer, stalls the sender, and resumes', async () => {
    const recvBuffer = 256 * 1024
    const p = pair({}, { recvBuffer, sendBuffer: 128 * 1024 })
    const { client, server } = await establish(p)
    const atServer = new Sink(server)
    server.pause()
    const data = randomBytesSeeded(3_000_000, 5)
    const w = pump(client, data, 32 * 1024)
    await until(p, () => false, 5_000, 20)
    const before = client.stats.segmentsSent
    await until(p, () => false, 90_000, 20) // longer than the 60 s user timeout: answered probes keep it alive
    expect(client.stats.segmentsSent - before).toBeGreaterThanOrEqual(2) // zero-window probes went out
    // The receiver holds at most its buffer; the sender is stuck with a full queue.
    expect(server.readableLength).toBeGreaterThan(recvBuffer - 2 * 1220)
    expect(server.readableLength).toBeLessThanOrEqual(recvBuffer + 64)
    expect(atServer.bytes).toBe(0)
    expect(w.done()).toBe(false)
    expect(client.stats.sndWnd).toBe(0)
    expect(client.state).toBe('ESTABLISHED') // zero-window probing keeps it alive well past the RTO
    expect(client.writableLength).toBeLessThanOrEqual(128 * 1024 + 32 * 1024)
    server.resume()
    expect(await until(p, () => atServer.ended, 60_000)).toBe(true)
    expect(atServer.digest()).toBe(sha256(data))

    // Stop-and-go reader: pause again whenever more than 100 kB arrived since the last resume.
    const q = pair({ delayMs: 2 }, { recvBuffer: 64 * 1024 })
    const c2 = await establish(q)
    let since = 0
    let total = 0
    const h = createHash('sha256')
    let ended = false
    c2.server.onData = (d) => { h.update(d); total += d.length; since += d.length; if (since > 100_000) { c2.server.pause(); since = 0; q.clock.setTimeout(() => { c2.server.resume() }, 300) } }
    c2.server.onEnd = () => { ended = true }
    const d2 = randomBytesSeeded(1_500_000, 6)
    pump(c2.client, d2)
    expect(await until(q, () => ended, 120_000)).toBe(true)
    expect(total).toBe(d2.length)
    expect(h.digest('hex')).toBe(sha256(d2))
  })

  for (const seed of [11, 12, 13]) {
    it(`survives 5% loss + reordering + duplication (seed ${seed}): every acknowledged byte arrives once, in order`, async () => {
      const p = pair({ loss: 0.05, reorder: 0.05, reorderDelayMs: 7, duplicate: 0.03, jitterMs: 2, seed, bytesPerMs: 5000 })
      const { client, server } = await establish(p)
      const up = randomBytesSeeded(1_500_000, seed)
      const down = randomBytesSeeded(700_000, seed + 50)
      const atServer = new Sink(server, true)
      const atClient = new Sink(client)
      pump(client, up)
      pump(server, down)
      // Midway: everything the client saw acknowledged has arrived, in order, at the server.
      await until(p, () => client.stats.bytesAcked > 600_000, 120_000)
      const acked = client.stats.bytesAcked
      const got = Buffer.concat(atServer.chunks)
      expect(got.length).toBeGreaterThanOrEqual(acked)
      expect(sha256(got.subarray(0, acked))).toBe(sha256(up.subarray(0, acked)))
      expect(await until(p, () => atServer.closed && atClient.closed, 300_000)).toBe(true)
      expect(atServer.error).toBeUndefined()
      expect(atClient.error).toBeUndefined()
      expect(sha256(Buffer.concat(atServer.chunks))).toBe(sha256(up))
      expect(atClient.digest()).toBe(sha256(down))
      expect(client.stats.retransmits).toBeGreaterThan(0)
      expect(client.stats.fastRetransmits).toBeGreaterThan(0)
    })
  }

  it('drops segments with a bad checksum and recovers by retransmission', async () => {
    const p = pair()
    const { client, server } = await establish(p)
    const atServer = new Sink(server)
    let n = 0
    p.filter = (pkt, dir) => {
      if (dir === 'ab' && pkt.length > 100 && n++ % 7 === 3) {
        const bad = pkt.slice()
        bad[bad.length - 1] ^= 0x40
        p.b.input(bad)
        return false
      }
      return true
    }
    const data = randomBytesSeeded(400_000, 8)
    pump(client, data)
    expect(await until(p, () => atServer.ended)).toBe(true)
    expect(atServer.digest()).toBe(sha256(data))
    expect(p.b.stats.droppedBy.checksum).toBeGreaterThan(5)
  })

  it('skipInboundChecksum (for authenticated input, as ygg uses it): a segment with a wrong checksum is accepted; outgoing checksums stay valid', async () => {
    const p = pair({}, {}, { skipInboundChecksum: true })
    const { client, server } = await establish(p)
    const atServer = new Sink(server)
    let zeroed = 0
    let badOut = 0
    p.filter = (pkt, dir) => {
      if (!verifyIpv6PayloadChecksum(pkt)) badOut++ // b still checksums what it sends
      if (dir === 'ab' && pkt.length > 100) {
        const z = pkt.slice()
        z[56] = 0; z[57] = 0 // checksum field cleared: the payload itself is intact
        zeroed++
        p.b.input(z)
        return false
      }
      return true
    }
    const data = randomBytesSeeded(200_000, 9)
    pump(client, data)
    expect(await until(p, () => atServer.ended)).toBe(true)
    expect(atServer.digest()).toBe(sha256(data))
    expect(zeroed).toBeGreaterThan(100)
    expect(badOut).toBe(0)
    expect(client.stats.retransmits).toBe(0)
    expect(p.b.stats.droppedBy.checksum).toBeUndefined()
  })
})

describe('TcpConnection failure detection', () => {
  it('detects a peer that vanishes mid-transfer within the user timeout', async () => {
    const p = pair({}, { userTimeoutMs: 20_000 })
    const { client, server } = await establish(p)
    const atClient = new Sink(client)
    new Sink(server) // eslint-disable-line no-new
    pump(client, randomBytesSeeded(2_000_000, 9))
    await until(p, () => client.stats.bytesAcked > 100_000)
    p.filter = () => false
    const t0 = p.clock.now()
    expect(await until(p, () => atClient.closed, 120_000, 50)).toBe(true)
    expect(atClient.error).toBeInstanceOf(ConnectionTimeoutError)
    expect(p.clock.now() - t0).toBeGreaterThanOrEqual(20_000)
    expect(p.clock.now() - t0).toBeLessThan(20_000 + 60_000)
    expect(p.a.stats.connections).toBe(0)
  })

  it('detects a vanished peer on an idle connection with keepalive', async () => {
    const p = pair({}, { keepAliveIdleMs: 5000, keepAliveIntervalMs: 1000, keepAliveProbes: 3 })
    const { client, server } = await establish(p)
    const atClient = new Sink(client)
    const atServer = new Sink(server)
    // Keepalives answered: idle for a long time is fine.
    await until(p, () => false, 30_000, 100)
    expect(atClient.closed || atServer.closed).toBe(false)
    p.filter = () => false
    const t0 = p.clock.now()
    expect(await until(p, () => atClient.closed && atServer.closed, 60_000, 50)).toBe(true)
    expect(atClient.error).toBeInstanceOf(ConnectionTimeoutError)
    expect(p.clock.now() - t0).toBeLessThanOrEqual(5000 + 4 * 1000 + 100)
  })

  it('FIN_WAIT_2 gives up when the peer never closes', async () => {
    const p = pair({}, { finWait2TimeoutMs: 3000 })
    const { client, server } = await establish(p)
    const atClient = new Sink(client)
    new Sink(server) // eslint-disable-line no-new
    client.end()
    expect(await until(p, () => client.state === 'FIN_WAIT_2')).toBe(true)
    expect(await until(p, () => atClient.closed, 10_000)).toBe(true)
    expect(atClient.error).toBeInstanceOf(ConnectionTimeoutError)
    expect(await until(p, () => server.state === 'CLOSED', 5000)).toBe(true) // our RST reached it
  })
})

describe('TcpStack robustness', () => {
  it('bounds state under a SYN flood and still accepts a real client', async () => {
    const p = pair({}, {}, { maxSynBacklog: 64, synAckRetries: 2 })
    let accepted = 0
    p.b.listen(7000, (c) => { accepted++; new Sink(c) }) // eslint-disable-line no-new
    const r = prng(99)
    const src = new Uint8Array(16)
    src[0] = 2
    for (let i = 0; i < 20_000; i++) {
      for (let j = 1; j < 16; j++) src[j] = Math.floor(r() * 256)
      p.b.input(rawSegment(src, ADDR_B, 1024 + (i % 60000), 7000, Math.floor(r() * 2 ** 32), 0, SYN))
      if (i % 1000 === 0) expect(p.b.stats.halfOpen).toBeLessThanOrEqual(64)
    }
    expect(p.b.stats.halfOpen).toBe(64)
    expect(p.b.stats.connections).toBe(64)
    expect(p.b.stats.synEvicted).toBe(20_000 - 64)
    // A legitimate client gets in during the flood (its entry is the newest, not evicted while it completes).
    let client: TcpConnection | undefined
    p.a.connect(ADDR_B, 7000).then((c) => { client = c }, () => {})
    expect(await until(p, () => client !== undefined && accepted === 1, 5000)).toBe(true)
    // Half-open entries expire after their SYN-ACK retries.
    expect(await until(p, () => p.b.stats.halfOpen === 0, 30_000, 100)).toBe(true)
    expect(p.b.stats.connections).toBe(1)
  })

  it('random garbage and stray segments cost no state and never throw', () => {
    const clock = new VirtualClock()
    const out: Uint8Array[] = []
    const s = new TcpStack({ address: ADDR_B, output: (x) => { out.push(x) }, clock, random: () => 42 })
    s.listen(7000, () => { throw new Error('no connection expected') })
    const r = prng(5)
    const src = parseIpv6('200:1234::9')
    for (let i = 0; i < 20_000; i++) {
      const kind = i % 4
      let pkt: Uint8Array
      if (kind === 0) {
        pkt = new Uint8Array(Math.floor(r() * 200))
        for (let j = 0; j < pkt.length; j++) pkt[j] = Math.floor(r() * 256)
      } else {
        // A valid IPv6 header to us, TCP with random header bits; kind 1 has a valid checksum.
        const body = new Uint8Array(20 + Math.floor(r() * 60))
        for (let j = 0; j < body.length; j++) body[j] = Math.floor(r() * 256)
        if (kind === 3) body[13] &= ~SYN // never a SYN: only RSTs or drops
        pkt = new Uint8Array(40 + body.length)
        encodeIpv6Header(pkt, 0, src, ADDR_B, IPPROTO_TCP, body.length)
        pkt.set(body, 40)
        if (kind !== 2) setIpv6PayloadChecksum(pkt, 16)
      }
      s.input(pkt)
    }
    const st = s.stats
    expect(st.connections).toBeLessThanOrEqual(256) // only SYNs to :7000 (with valid checksum) create half-open state
    expect(st.halfOpen).toBe(st.connections)
    expect(st.dropped).toBeGreaterThan(5000)
    expect(st.droppedBy.checksum).toBeGreaterThan(4000)
    clock.advance(200_000)
    expect(s.stats.connections).toBe(0)
    // No RST answers an RST.
    const seg = newSegment()
    for (const o of out) {
      if (o[6] !== IPPROTO_TCP) continue
      expect(parseTcp(o, 40, o.length - 40, seg)).toBeNull()
    }
  })

  it('answers stray segments with a correct RST (RFC 9293 §3.10.7.1)', () => {
    const out: Uint8Array[] = []
    const s = new TcpStack({ address: ADDR_B, output: (x) => { out.push(x) }, clock: new VirtualClock() })
    s.input(rawSegment(ADDR_A, ADDR_B, 5555, 80, 1000, 777_777, ACK, new Uint8Array(10)))
    s.input(rawSegment(ADDR_A, ADDR_B, 5555, 80, 1000, 0, SYN))
    s.input(rawSegment(ADDR_A, ADDR_B, 5555, 80, 1000, 0, RST))
    expect(out.length).toBe(2)
    const seg = newSegment()
    expect(parseTcp(out[0], 40, out[0].length - 40, seg)).toBeNull()
    expect(seg.flags).toBe(RST)
    expect(seg.seq).toBe(777_777)
    expect(parseTcp(out[1], 40, out[1].length - 40, seg)).toBeNull()
    expect(seg.flags).toBe(RST | ACK)
    expect(seg.ack).toBe(1001)
    expect(readU32(out[1], 44)).toBe(0)
  })

  it('bounds TIME_WAIT and lets a new SYN reuse a TIME_WAIT tuple', async () => {
    const p = pair({}, { maxTimeWait: 5, timeWaitMs: 60_000 })
    p.b.listen(7000, (c) => { c.onData = () => {}; c.onEnd = () => { c.end() } })
    for (let i = 0; i < 12; i++) {
      let c: TcpConnection | undefined
      p.a.connect(ADDR_B, 7000).then((x) => { c = x }, () => {})
      await until(p, () => c !== undefined)
      let closed = false
      c!.onClose = () => { closed = true }
      c!.end()
      await until(p, () => closed)
    }
    expect(p.a.stats.timeWait).toBe(5)
    expect(p.a.stats.timeWaitEvicted).toBe(7)
    expect(await until(p, () => p.b.stats.connections === 0)).toBe(true)
  })

  it('close() resets everything and rejects later calls', async () => {
    const p = pair()
    const { client, server } = await establish(p)
    const atServer = new Sink(server)
    const atClient = new Sink(client)
    p.a.close()
    expect(atClient.closed).toBe(true)
    expect(atClient.error).toBeInstanceOf(StreamClosedError)
    expect(await until(p, () => atServer.closed, 1000)).toBe(true)
    expect(atServer.error).toBeInstanceOf(ConnectionResetError)
    await expect(p.a.connect(ADDR_B, 7000)).rejects.toBeInstanceOf(StreamClosedError)
  })
})

describe('TcpConnection edge cases', () => {
  it('re-acknowledges a retransmitted FIN from TIME_WAIT when the last ACK is lost', async () => {
    const p = pair({}, { timeWaitMs: 30_000 })
    const { client, server } = await establish(p)
    const atServer = new Sink(server)
    const atClient = new Sink(client)
    let lostLastAck = false
    p.filter = (pkt, dir) => {
      // Drop the client's ACK of the server's FIN.
      if (dir === 'ab' && !lostLastAck && server.state === 'LAST_ACK' && pkt.length === 60) { lostLastAck = true; return false }
      return true
    }
    client.end()
    await until(p, () => atServer.ended)
    server.end()
    expect(await until(p, () => atServer.closed && atClient.closed, 10_000)).toBe(true)
    expect(lostLastAck).toBe(true)
    expect(atServer.error).toBeUndefined()
    expect(server.stats.retransmits).toBeGreaterThanOrEqual(1)
    expect(client.state).toBe('TIME_WAIT')
  })

  it('simultaneous close goes through CLOSING on both sides', async () => {
    const p = pair()
    const { client, server } = await establish(p)
    const atServer = new Sink(server)
    const atClient = new Sink(client)
    const states: string[] = []
    client.end()
    server.end()
    states.push(client.state, server.state)
    expect(await until(p, () => atServer.closed && atClient.closed, 10_000)).toBe(true)
    expect(states).toEqual(['FIN_WAIT_1', 'FIN_WAIT_1'])
    expect(client.state).toBe('TIME_WAIT')
    expect(server.state).toBe('TIME_WAIT')
    expect(atServer.error ?? atClient.error).toBeUndefined()
  })

  it('transfers across the 2^32 sequence wrap', async () => {
    const p = new StackPair(new VirtualClock(), { delayMs: 3, loss: 0.02, seed: 77 }, { random: () => 0xffffffff - 300_000 }, { random: () => 0xfffffff0 })
    const { client, server } = await establish(p)
    const atServer = new Sink(server)
    const atClient = new Sink(client)
    const up = randomBytesSeeded(1_000_000, 21)
    const down = randomBytesSeeded(1_000_000, 22)
    pump(client, up)
    pump(server, down)
    expect(await until(p, () => atServer.closed && atClient.closed)).toBe(true)
    expect(atServer.digest()).toBe(sha256(up))
    expect(atClient.digest()).toBe(sha256(down))
  })

  it('answers a 1-byte zero-window probe (the gVisor/RFC 9293 style) with its window', async () => {
    const p = pair({}, { recvBuffer: 16 * 1024 })
    const { client, server } = await establish(p)
    server.pause()
    pump(client, randomBytesSeeded(100_000, 31), 4096, false)
    await until(p, () => false, 3000, 10)
    expect(client.stats.sndWnd).toBe(0)
    // Forge a probe from the client: 1 byte at the server's RCV.NXT, with the client's current ACK.
    const seq = server.rcvNxt
    const ack = (client as unknown as { rcvNxt: number }).rcvNxt
    const replies: Uint8Array[] = []
    p.filter = (pkt, dir) => { if (dir === 'ba') replies.push(pkt); return true }
    p.b.input(rawSegment(ADDR_A, ADDR_B, client.localPort, 7000, seq, ack, ACK, new Uint8Array([0x55])))
    expect(replies.length).toBe(1)
    const seg = newSegment()
    parseTcp(replies[0], 40, replies[0].length - 40, seg)
    expect(seg.flags & ACK).toBe(ACK)
    expect(seg.ack).toBe(seq) // the byte was not taken
    expect(seg.window).toBe(0)
  })

  it('answers ICMPv6 echo requests', () => {
    const out: Uint8Array[] = []
    const s = new TcpStack({ address: ADDR_B, output: (x) => { out.push(x) }, clock: new VirtualClock() })
    s.input(buildIcmpv6(ADDR_A, ADDR_B, ICMPV6_ECHO_REQUEST, 0, 0x00010002, new Uint8Array([1, 2, 3])))
    expect(out.length).toBe(1)
    expect(out[0][40]).toBe(ICMPV6_ECHO_REPLY)
    expect(verifyIpv6PayloadChecksum(out[0])).toBe(true)
    expect(s.stats.icmpEchoReplies).toBe(1)
  })

  it('fails connect() on ICMPv6 destination unreachable, and lowers the MSS on Packet Too Big', async () => {
    const p = pair({}, { mtu: 9000 }, { mtu: 9000 })
    // The B side never sees the SYN; instead an ICMPv6 unreachable quoting it comes back.
    p.filter = (pkt, dir) => {
      if (dir === 'ab' && (pkt[53] & SYN) !== 0) {
        p.clock.setTimeout(() => { p.a.input(buildIcmpv6(ADDR_B, ADDR_A, ICMPV6_DEST_UNREACHABLE, 4, 0, pkt.slice(0, 48))) }, 2)
        return false
      }
      return true
    }
    let err: unknown
    p.a.connect(ADDR_B, 7000).catch((e) => { err = e })
    await until(p, () => err !== undefined, 1000, 1)
    expect(err).toBeInstanceOf(HostUnreachableError)
    expect(err).toBeInstanceOf(UnreachableError)

    p.filter = undefined
    const { client, server } = await establish(p)
    expect(client.stats.mss).toBe(8940)
    const atServer = new Sink(server)
    let ptbSent = false
    let maxAfter = 0
    p.filter = (pkt, dir) => {
      if (dir === 'ab' && pkt.length > 1280) {
        if (!ptbSent) {
          ptbSent = true
          p.clock.setTimeout(() => { p.a.input(buildIcmpv6(ADDR_B, ADDR_A, ICMPV6_PACKET_TOO_BIG, 0, 1280, pkt.slice(0, 1232))) }, 1)
        } else if (client.stats.mss === 1220) maxAfter = Math.max(maxAfter, pkt.length)
        return false
      }
      if (dir === 'ab') maxAfter = Math.max(maxAfter, pkt.length)
      return true
    }
    const data = randomBytesSeeded(200_000, 23)
    pump(client, data)
    expect(await until(p, () => atServer.ended, 60_000)).toBe(true)
    expect(atServer.digest()).toBe(sha256(data))
    expect(client.stats.mss).toBe(1220)
    expect(maxAfter).toBeLessThanOrEqual(1280)
  })

  it('keeps working when the application writes many tiny chunks (no Nagle, cork available)', async () => {
    const p = pair()
    const { client, server } = await establish(p)
    const atServer = new Sink(server)
    const data = randomBytesSeeded(50_000, 24)
    client.cork()
    for (let i = 0; i < data.length; i += 7) client.write(data.subarray(i, Math.min(i + 7, data.length)))
    const sentCorked = client.stats.segmentsSent
    client.uncork()
    client.end()
    expect(await until(p, () => atServer.ended)).toBe(true)
    expect(atServer.digest()).toBe(sha256(data))
    expect(sentCorked).toBeLessThan(50) // full segments only while corked
  })
})
