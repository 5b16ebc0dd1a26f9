import { describe, it, expect } from 'vitest'
import { parseIpv6 } from '@axl/core'
import {
  IPPROTO_ICMPV6, IPPROTO_TCP, Ipv6Error, buildIpv6Packet, decodeIpv6, encodeIpv6Header, foldChecksum,
  ipv6PayloadChecksum, onesSum, pseudoHeaderSum, setIpv6PayloadChecksum, validateIpv6, verifyIpv6PayloadChecksum
} from '../src/ipv6/ipv6.js'
import { ICMPV6_ECHO_REPLY, ICMPV6_ECHO_REQUEST, ICMPV6_PACKET_TOO_BIG, buildEchoReply, buildIcmpv6, parseIcmpTcpError } from '../src/ipv6/icmpv6.js'
import { prng } from './fixtures/tcp-link.js'

const A = parseIpv6('200:1111:2222::1')
const B = parseIpv6('201:abcd::ffff')

/** The RFC 1071 checksum, written the slow obvious way, as a reference. */
function referenceChecksum (src: Uint8Array, dst: Uint8Array, nh: number, upper: Uint8Array): number {
  const pseudo = new Uint8Array(40 + upper.length + (upper.length & 1))
  pseudo.set(src, 0); pseudo.set(dst, 16)
  new DataView(pseudo.buffer).setUint32(32, upper.length)
  pseudo[39] = nh
  pseudo.set(upper, 40)
  let sum = 0
  for (let i = 0; i < pseudo.length; i += 2) {
    sum += (pseudo[i] << 8) | pseudo[i + 1]
    sum = (sum & 0xffff) + (sum >>> 16)
  }
  return (~sum) & 0xffff
}

describe('IPv6 header', () => {
  it('encodes and decodes a 40-byte header', () => {
    const payload = new Uint8Array([1, 2, 3, 4, 5])
    const p = buildIpv6Packet(A, B, IPPROTO_TCP, payload)
    expect(p.length).toBe(45)
    expect(Array.from(p.subarray(0, 8))).toEqual([0x60, 0, 0, 0, 0, 5, 6, 64])
    const d = decodeIpv6(p, B)
    expect(d.src).toEqual(A)
    expect(d.dst).toEqual(B)
    expect(d.nextHeader).toBe(6)
    expect(d.hopLimit).toBe(64)
    expect(d.trafficClass).toBe(0)
    expect(d.flowLabel).toBe(0)
    expect(Array.from(d.payload)).toEqual([1, 2, 3, 4, 5])
  })

  it('validates strictly and reports typed reasons without throwing', () => {
    const good = buildIpv6Packet(A, B, IPPROTO_TCP, new Uint8Array(20))
    expect(validateIpv6(good, B)).toBeNull()
    expect(validateIpv6(good.subarray(0, 39), B)).toBe('short')
    const v4 = good.slice(); v4[0] = 0x45
    expect(validateIpv6(v4, B)).toBe('version')
    const long = good.slice(); long[5] = 21
    expect(validateIpv6(long, B)).toBe('length')
    const jumbo = good.slice(); jumbo[4] = 0; jumbo[5] = 0
    expect(validateIpv6(jumbo, B)).toBe('length')
    expect(validateIpv6(good, A)).toBe('destination')
    const mc = good.slice(); mc[8] = 0xff
    expect(validateIpv6(mc, B)).toBe('source')
    const unspec = good.slice(); unspec.fill(0, 8, 24)
    expect(validateIpv6(unspec, B)).toBe('source')
    expect(validateIpv6(buildIpv6Packet(B, B, IPPROTO_TCP, new Uint8Array(20)), B)).toBe('source')
    expect(validateIpv6(buildIpv6Packet(A, B, 17, new Uint8Array(8)), B)).toBe('protocol')
    expect(validateIpv6(buildIpv6Packet(A, B, 0, new Uint8Array(8)), B)).toBe('protocol') // no extension headers
    // Trailing bytes beyond the payload length are ignored.
    const padded = new Uint8Array(good.length + 7); padded.set(good)
    expect(validateIpv6(padded, B)).toBeNull()
    expect(() => decodeIpv6(v4)).toThrow(Ipv6Error)
    try { decodeIpv6(v4) } catch (e) { expect((e as Ipv6Error).reason).toBe('version'); expect((e as Ipv6Error).code).toBe('ERR_IPV6') }
    expect(() => buildIpv6Packet(A, B, 6, new Uint8Array(70000))).toThrow(Ipv6Error)
  })
})

describe('Internet checksum over the IPv6 pseudo-header', () => {
  it('matches a reference implementation for random data of every small length, odd and even', () => {
    const r = prng(3)
    for (let len = 1; len < 300; len++) {
      const upper = new Uint8Array(len)
      for (let i = 0; i < len; i++) upper[i] = Math.floor(r() * 256)
      const p = buildIpv6Packet(A, B, IPPROTO_TCP, upper)
      const off = len >= 18 ? 16 : len >= 2 ? (len - 2) & ~1 : -1
      if (off < 0) continue
      p[40 + off] = 0; p[41 + off] = 0
      const want = referenceChecksum(A, B, IPPROTO_TCP, p.subarray(40))
      expect(ipv6PayloadChecksum(p)).toBe(want)
      setIpv6PayloadChecksum(p, off)
      expect(verifyIpv6PayloadChecksum(p)).toBe(true)
      p[40 + Math.floor(r() * len)] ^= 1 + Math.floor(r() * 255)
      expect(verifyIpv6PayloadChecksum(p)).toBe(false)
    }
  })

  it('handles large payloads and unaligned views', () => {
    const r = prng(4)
    const upper = new Uint8Array(65535)
    for (let i = 0; i < upper.length; i++) upper[i] = r() < 0.5 ? 0xff : Math.floor(r() * 256)
    const p = buildIpv6Packet(A, B, IPPROTO_TCP, upper)
    p[56] = 0; p[57] = 0
    expect(ipv6PayloadChecksum(p)).toBe(referenceChecksum(A, B, IPPROTO_TCP, p.subarray(40)))
    const backing = new Uint8Array(p.length + 3)
    backing.set(p, 3)
    expect(ipv6PayloadChecksum(backing.subarray(3))).toBe(ipv6PayloadChecksum(p))
  })

  it('onesSum: the aligned fast path (32-bit words after at most one 16-bit step) equals the byte-wise sum (all offsets, odd lengths, all-zero and all-0xff data)', () => {
    const r = prng(5)
    const byteWise = (d: Uint8Array, s: number, e: number, acc: number): number => {
      for (let i = s; i < e; i += 2) acc += (d[i] << 8) | (i + 1 < e ? d[i + 1] : 0)
      return acc
    }
    const backing = new Uint8Array(70_000 + 16)
    for (let t = 0; t < 200; t++) {
      const fill = t % 10
      for (let i = 0; i < backing.length; i++) backing[i] = fill === 0 ? 0 : fill === 1 ? 0xff : Math.floor(r() * 256)
      const off = t % 5
      const start = t % 3
      const len = t < 20 ? 250 + t : Math.floor(r() * 70_000)
      const d = backing.subarray(off, off + start + len + 1)
      const acc = Math.floor(r() * 0x40000)
      expect(foldChecksum(onesSum(d, start, start + len, acc))).toBe(foldChecksum(byteWise(d, start, start + len, acc)))
    }
  })

  it('pseudoHeaderSum + onesSum compose to the same value', () => {
    const data = new Uint8Array([0x12, 0x34, 0x56, 0x78, 0x9a])
    const c = (~foldChecksum(onesSum(data, 0, data.length, pseudoHeaderSum(A, B, data.length, IPPROTO_TCP)))) & 0xffff
    expect(c).toBe(referenceChecksum(A, B, IPPROTO_TCP, data))
  })

  it('agrees with a SYN checksummed by the Linux kernel (captured from the TUN interop test)', () => {
    // fd00:a71::1 → fd00:a71::2 port 7000, flow label 0xe0ca2, MSS 1220, SACK-permitted, timestamps, WS 10.
    const hex = '600e0ca200280640fd000a71000000000000000000000001fd000a71000000000000000000000002' +
      '8e701b58de521cec00000000a002fc94a7af0000020404c40402080a1a28d692000000000103030a'
    const p = Uint8Array.from(Buffer.from(hex, 'hex'))
    expect(validateIpv6(p, parseIpv6('fd00:a71::2'))).toBeNull()
    expect(verifyIpv6PayloadChecksum(p)).toBe(true)
    const stored = (p[56] << 8) | p[57]
    expect(stored).toBe(0xa7af)
    setIpv6PayloadChecksum(p, 16)
    expect((p[56] << 8) | p[57]).toBe(stored)
    expect(decodeIpv6(p).flowLabel).toBe(0xe0ca2)
  })
})

describe('ICMPv6', () => {
  it('answers an echo request with a checksummed echo reply', () => {
    const req = buildIcmpv6(A, B, ICMPV6_ECHO_REQUEST, 0, 0x12340001, new Uint8Array([9, 8, 7]))
    expect(verifyIpv6PayloadChecksum(req)).toBe(true)
    expect(validateIpv6(req, B)).toBeNull()
    const rep = buildEchoReply(req, B)!
    expect(rep[6]).toBe(IPPROTO_ICMPV6)
    expect(rep[40]).toBe(ICMPV6_ECHO_REPLY)
    expect(rep.subarray(24, 40)).toEqual(A)
    expect(Array.from(rep.subarray(44))).toEqual([0x12, 0x34, 0, 1, 9, 8, 7])
    expect(verifyIpv6PayloadChecksum(rep)).toBe(true)
    expect(buildEchoReply(rep, A)).toBeUndefined()
  })

  it('parses errors quoting a TCP segment, and ignores short quotes', () => {
    const inner = new Uint8Array(60)
    encodeIpv6Header(inner, 0, B, A, IPPROTO_TCP, 20)
    inner.set([0xc0, 0x01, 0x1b, 0x58, 0xde, 0xad, 0xbe, 0xef], 40)
    const ptb = buildIcmpv6(A, B, ICMPV6_PACKET_TOO_BIG, 0, 1280, inner)
    const e = parseIcmpTcpError(ptb)!
    expect(e.type).toBe(2)
    expect(e.mtu).toBe(1280)
    expect(e.localPort).toBe(0xc001)
    expect(e.remotePort).toBe(7000)
    expect(e.seq).toBe(0xdeadbeef)
    expect(e.remote).toEqual(A)
    expect(parseIcmpTcpError(buildIcmpv6(A, B, 1, 4, 0, inner.subarray(0, 44)))).toBeUndefined()
    expect(parseIcmpTcpError(buildIcmpv6(A, B, ICMPV6_ECHO_REQUEST, 0, 0, inner))).toBeUndefined()
  })
})
