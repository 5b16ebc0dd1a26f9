import { randomBytes } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import {
  addressForKey, addressStringForKey, formatIpv6, formatSubnet, isAddress, isSubnet, keyForAddress, keyForSubnet,
  parseIpv6, subnetForKey
} from '../src/address.js'
import { InvalidAddressError, InvalidKeyError } from '../src/errors.js'

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex')
const bytes = (h: string): Uint8Array => Uint8Array.from(Buffer.from(h, 'hex'))
const fill = (v: number, n = 32): Uint8Array => new Uint8Array(n).fill(v)

/**
 * Bit-by-bit reference of the algorithm as written in axl-reference.md §1.3-1.4 / ygg-protocol.md §3.5,
 * deliberately naive (arrays of bits) so it shares nothing with the byte-shifting implementation under test.
 */
function bitsOf (b: Uint8Array): number[] {
  const out: number[] = []
  for (const byte of b) for (let i = 7; i >= 0; i--) out.push((byte >> i) & 1)
  return out
}
function bytesOf (bits: number[]): Uint8Array {
  const out = new Uint8Array(bits.length / 8)
  bits.forEach((bit, i) => { out[i >> 3] |= bit << (7 - (i % 8)) })
  return out
}
function refAddress (key: Uint8Array): Uint8Array {
  const inv = bitsOf(key).map(b => 1 - b)
  let ones = 0
  while (ones < inv.length && inv[ones] === 1) ones++
  const rest = inv.slice(ones + 1) // empty when every bit was 1
  const whole = rest.slice(0, Math.floor(rest.length / 8) * 8).slice(0, 112) // only complete bytes are kept
  const addr = new Uint8Array(16)
  addr[0] = 0x02
  addr[1] = ones & 0xff // a byte in Go: 256 wraps to 0
  addr.set(bytesOf(whole), 2)
  return addr
}
function refPartialKey (addr: Uint8Array): Uint8Array {
  const ones = addr[1]
  const bits = new Array<number>(256).fill(0)
  for (let i = 0; i < ones; i++) bits[i] = 1
  bitsOf(addr.subarray(2)).forEach((b, i) => { if (ones + 1 + i < 256) bits[ones + 1 + i] = b })
  return bytesOf(bits.map(b => 1 - b))
}

/** A random key with exactly `zeros` leading zero bits (0..255). */
function keyWithLeadingZeros (zeros: number): Uint8Array {
  const bits = bitsOf(randomBytes(32))
  for (let i = 0; i < zeros; i++) bits[i] = 0
  bits[zeros] = 1
  return bytesOf(bits)
}

describe('addressForKey: vectors', () => {
  // axl-reference.md §1.4: the public key of seed 32×0x01 (PEM vector in identity.test.ts).
  it('key 8a88e3dd…6f5c → 200:eaee:3845:17ec:1cd4:55a:49a5:868b', () => {
    const key = bytes('8a88e3dd7409f195fd52db2d3cba5d72ca6709bf1d94121bf3748801b40f6f5c')
    expect(formatIpv6(addressForKey(key))).toBe('200:eaee:3845:17ec:1cd4:55a:49a5:868b')
    expect(addressStringForKey(key)).toBe('200:eaee:3845:17ec:1cd4:55a:49a5:868b')
    expect(hex(keyForAddress(addressForKey(key)))).toBe('8a88e3dd7409f195fd52db2d3cba7fff' + 'ff'.repeat(16))
  })

  it('key ab×32 → 200:a8a8:…, partial ab×14 + ff×18', () => {
    expect(addressStringForKey(fill(0xab))).toBe('200:a8a8:a8a8:a8a8:a8a8:a8a8:a8a8:a8a8')
    expect(hex(keyForAddress(addressForKey(fill(0xab))))).toBe('ab'.repeat(14) + 'ff'.repeat(18))
  })

  it('key aa×32 → 200:aaaa:…, partial aa×14 + ff×18', () => {
    expect(addressStringForKey(fill(0xaa))).toBe('200:aaaa:aaaa:aaaa:aaaa:aaaa:aaaa:aaaa')
    expect(hex(keyForAddress(addressForKey(fill(0xaa))))).toBe('aa'.repeat(14) + 'ff'.repeat(18))
  })

  // yggdrasil-go src/address/address_test.go (TestAddress_AddrForKey): key and expected address bytes.
  // Subnet text and subnet GetKey from ygg-protocol.md §3.5 (derived from the same key).
  it('yggdrasil-go address_test.go TestAddress_AddrForKey', () => {
    const key = Uint8Array.from([
      189, 186, 207, 216, 34, 64, 222, 61, 205, 18, 57, 36, 203, 181, 82, 86,
      251, 141, 171, 8, 170, 152, 227, 5, 82, 138, 184, 79, 65, 158, 110, 251
    ])
    const expected = Uint8Array.from([2, 0, 132, 138, 96, 79, 187, 126, 67, 132, 101, 219, 141, 182, 104, 149])
    expect(addressForKey(key)).toEqual(expected)
    expect(formatIpv6(expected)).toBe('200:848a:604f:bb7e:4384:65db:8db6:6895')
    expect(formatSubnet(subnetForKey(key))).toBe('300:848a:604f:bb7e::/64')
    expect(hex(keyForSubnet(subnetForKey(key)))).toBe('bdbacfd82240' + 'ff'.repeat(26))
  })

  it('all-zero key: the 256 leading ones wrap to 0 (Go byte) → 200::', () => {
    const a = addressForKey(new Uint8Array(32))
    expect(a).toEqual(bytes('02' + '00'.repeat(15)))
    expect(formatIpv6(a)).toBe('200::')
    expect(hex(keyForAddress(a))).toBe('ff'.repeat(32))
    expect(hex(subnetForKey(new Uint8Array(32)))).toBe('03' + '00'.repeat(7))
  })

  it('all-0xff key → 200::, partial key ff×32', () => {
    expect(addressStringForKey(fill(0xff))).toBe('200::')
    expect(hex(keyForAddress(addressForKey(fill(0xff))))).toBe('ff'.repeat(32))
  })

  it('keys with 0, 1, 8, 9 and 255 leading zero bits', () => {
    expect(addressStringForKey(bytes('80' + '00'.repeat(31)))).toBe('200:ffff:ffff:ffff:ffff:ffff:ffff:ffff')
    expect(addressStringForKey(bytes('40' + '00'.repeat(31)))).toBe('201:ffff:ffff:ffff:ffff:ffff:ffff:ffff')
    expect(addressStringForKey(bytes('0080' + '00'.repeat(30)))).toBe('208:ffff:ffff:ffff:ffff:ffff:ffff:ffff')
    expect(addressStringForKey(bytes('00' + 'ff'.repeat(31)))).toBe('208::')
    expect(addressStringForKey(bytes('0040' + '00'.repeat(30)))).toBe('209:ffff:ffff:ffff:ffff:ffff:ffff:ffff')
    const k255 = bytes('00'.repeat(31) + '01')
    expect(addressStringForKey(k255)).toBe('2ff::')
    expect(hex(keyForAddress(addressForKey(k255)))).toBe('00'.repeat(31) + '01')
  })

  it('keeps only whole bytes when fewer than 112 bits follow (ones > 135)', () => {
    // 140 leading zeros: 256-141 = 115 bits remain → 14 whole bytes; 150 → 105 bits → 13 bytes, byte 15 is 0.
    for (const zeros of [136, 137, 140, 143, 144, 150, 200, 247, 248, 250, 254, 255]) {
      const k = keyWithLeadingZeros(zeros)
      const a = addressForKey(k)
      expect(a[1]).toBe(zeros)
      expect(a).toEqual(refAddress(k))
      const wholeBytes = Math.floor((255 - zeros) / 8)
      for (let i = 2 + wholeBytes; i < 16; i++) expect(a[i]).toBe(0)
    }
  })
})

describe('addressForKey / keyForAddress against the bit-level reference', () => {
  it('matches for 2000 random keys, and AddrForKey(partial) == AddrForKey(full)', () => {
    for (let i = 0; i < 2000; i++) {
      const key = Uint8Array.from(randomBytes(32))
      const addr = addressForKey(key)
      expect(addr).toEqual(refAddress(key))
      const partial = keyForAddress(addr)
      expect(partial).toEqual(refPartialKey(addr))
      expect(addressForKey(partial)).toEqual(addr)
      // the partial key agrees with the real key in its first ones+1+112 bits, then is all ones
      const known = Math.min(256, addr[1] + 1 + 112)
      const kb = bitsOf(key)
      const pb = bitsOf(partial)
      expect(pb.slice(0, known)).toEqual(kb.slice(0, known))
      expect(pb.slice(known).every(b => b === 1)).toBe(true)
      // the subnet is the address's first 8 bytes with the prefix bit set
      const snet = subnetForKey(key)
      expect(snet[0]).toBe(0x03)
      expect(snet.subarray(1)).toEqual(addr.subarray(1, 8))
      expect(subnetForKey(keyForSubnet(snet))).toEqual(snet)
    }
  })

  it('matches for every leading-zero count 0..255 (random tails)', () => {
    for (let zeros = 0; zeros < 256; zeros++) {
      for (let rep = 0; rep < 8; rep++) {
        const key = keyWithLeadingZeros(zeros)
        const addr = addressForKey(key)
        expect(addr[1]).toBe(zeros)
        expect(addr).toEqual(refAddress(key))
        expect(keyForAddress(addr)).toEqual(refPartialKey(addr))
        expect(addressForKey(keyForAddress(addr))).toEqual(addr)
        expect(subnetForKey(keyForSubnet(subnetForKey(key)))).toEqual(subnetForKey(key))
      }
    }
  })

  it('keyForAddress never throws for any ones byte (Go panics for ones > 143; extra bits are dropped)', () => {
    for (let ones = 0; ones < 256; ones++) {
      const addr = Uint8Array.from(randomBytes(16))
      addr[0] = 0x02
      addr[1] = ones
      const k = keyForAddress(addr)
      expect(k.length).toBe(32)
      expect(k).toEqual(refPartialKey(addr))
    }
  })

  it('returns fresh plain Uint8Arrays', () => {
    const key = Uint8Array.from(randomBytes(32))
    const a1 = addressForKey(key)
    const a2 = addressForKey(key)
    expect(a1).not.toBe(a2)
    expect(Object.getPrototypeOf(a1)).toBe(Uint8Array.prototype)
    expect(Object.getPrototypeOf(keyForAddress(a1))).toBe(Uint8Array.prototype)
    expect(subnetForKey(key).length).toBe(8)
    expect(subnetForKey(key).buffer.byteLength).toBe(8)
  })

  it('works on subarray views', () => {
    const big = new Uint8Array(64)
    const key = Uint8Array.from(randomBytes(32))
    big.set(key, 5)
    expect(addressForKey(big.subarray(5, 37))).toEqual(addressForKey(key))
  })
})

describe('isAddress / isSubnet', () => {
  // yggdrasil-go src/address/address_test.go TestAddress_Address_IsValid / TestAddress_Subnet_IsValid
  it('address valid only with first byte 0x02', () => {
    const a = Uint8Array.from(randomBytes(16))
    a[0] = 0
    expect(isAddress(a)).toBe(false)
    a[0] = 0x03
    expect(isAddress(a)).toBe(false)
    a[0] = 0x02
    expect(isAddress(a)).toBe(true)
  })

  it('subnet valid only with first byte 0x03', () => {
    const s = Uint8Array.from(randomBytes(8))
    s[0] = 0
    expect(isSubnet(s)).toBe(false)
    s[0] = 0x02
    expect(isSubnet(s)).toBe(false)
    s[0] = 0x03
    expect(isSubnet(s)).toBe(true)
  })

  it('checks lengths and types', () => {
    expect(isAddress(new Uint8Array(15).fill(2))).toBe(false)
    expect(isAddress(new Uint8Array(17).fill(2))).toBe(false)
    expect(isAddress('200::')).toBe(false)
    expect(isAddress(null)).toBe(false)
    expect(isSubnet(parseIpv6('300:1:2:3::1'))).toBe(true) // a 16-byte destination inside a subnet
    expect(isSubnet(new Uint8Array(7).fill(3))).toBe(false)
    expect(isSubnet(undefined)).toBe(false)
    expect(isAddress(addressForKey(randomBytes(32)))).toBe(true)
    expect(isSubnet(subnetForKey(randomBytes(32)))).toBe(true)
  })
})

describe('typed errors', () => {
  it('rejects keys that are not 32 bytes', () => {
    expect(() => addressForKey(new Uint8Array(31))).toThrow(InvalidKeyError)
    expect(() => addressForKey(new Uint8Array(31))).toThrow('public key must be 32 bytes, got 31 bytes')
    expect(() => subnetForKey(new Uint8Array(64))).toThrow('public key must be 32 bytes, got 64 bytes')
    expect(() => addressStringForKey('ab' as unknown as Uint8Array)).toThrow('public key must be a Uint8Array of 32 bytes, got string')
  })

  it('keyForAddress needs 16 bytes in 200::/7', () => {
    expect(() => keyForAddress(new Uint8Array(8))).toThrow(InvalidAddressError)
    expect(() => keyForAddress(new Uint8Array(8))).toThrow('address must be 16 bytes, got 8 bytes')
    expect(() => keyForAddress(parseIpv6('300::1'))).toThrow('not a Yggdrasil node address: first byte is 0x03, expected 0x02 (200::/7)')
    expect(() => keyForAddress(parseIpv6('::1'))).toThrow('first byte is 0x00')
  })

  it('keyForSubnet needs 8 (or 16) bytes in 300::/8', () => {
    expect(() => keyForSubnet(new Uint8Array(9))).toThrow('subnet must be 8 or 16 bytes, got 9 bytes')
    expect(() => keyForSubnet(addressForKey(randomBytes(32)))).toThrow('not a Yggdrasil subnet: first byte is 0x02, expected 0x03 (300::/8)')
    const key = Uint8Array.from(randomBytes(32))
    const inSubnet = new Uint8Array(16)
    inSubnet.set(subnetForKey(key))
    inSubnet[15] = 1
    expect(keyForSubnet(inSubnet)).toEqual(keyForSubnet(subnetForKey(key)))
  })

  it('formatIpv6 / formatSubnet check lengths', () => {
    expect(() => formatIpv6(new Uint8Array(4))).toThrow('IPv6 address must be 16 bytes, got 4 bytes')
    expect(() => formatSubnet(new Uint8Array(16))).toThrow('subnet must be 8 bytes, got 16 bytes')
    try {
      formatIpv6(new Uint8Array(1))
      expect.unreachable()
    } catch (err) {
      expect((err as InvalidAddressError).code).toBe('ERR_INVALID_ADDRESS')
    }
  })
})

describe('formatIpv6 (Go net.IP.String)', () => {
  const f = (groups: number[]): string => {
    const b = new Uint8Array(16)
    groups.forEach((g, i) => { b[2 * i] = g >> 8; b[2 * i + 1] = g & 0xff })
    return formatIpv6(b)
  }

  it('formats the special cases', () => {
    expect(f([0, 0, 0, 0, 0, 0, 0, 0])).toBe('::')
    expect(f([0, 0, 0, 0, 0, 0, 0, 1])).toBe('::1')
    expect(f([1, 0, 0, 0, 0, 0, 0, 0])).toBe('1::')
    expect(f([0x200, 0, 0, 0, 0, 0, 0, 0])).toBe('200::')
    expect(f([0xfe80, 0, 0, 0, 0, 0, 0, 1])).toBe('fe80::1')
    expect(f([0xff02, 0, 0, 0, 0, 0, 0, 0x114])).toBe('ff02::114')
  })

  it('drops leading zeros and writes lowercase', () => {
    expect(f([0x2001, 0x0db8, 0x000a, 0x00bc, 0x0def, 0xabcd, 0x0001, 0x0010])).toBe('2001:db8:a:bc:def:abcd:1:10')
  })

  it('does not compress a single zero group', () => {
    expect(f([1, 0, 2, 3, 4, 5, 6, 7])).toBe('1:0:2:3:4:5:6:7')
    expect(f([0, 1, 2, 3, 4, 5, 6, 7])).toBe('0:1:2:3:4:5:6:7')
    expect(f([1, 2, 3, 4, 5, 6, 7, 0])).toBe('1:2:3:4:5:6:7:0')
    expect(f([1, 0, 2, 0, 3, 0, 4, 0])).toBe('1:0:2:0:3:0:4:0')
  })

  it('compresses the longest run, the first one on ties', () => {
    expect(f([1, 0, 0, 2, 0, 0, 3, 4])).toBe('1::2:0:0:3:4')
    expect(f([1, 0, 0, 2, 0, 0, 0, 3])).toBe('1:0:0:2::3')
    expect(f([0, 0, 1, 0, 0, 0, 2, 3])).toBe('0:0:1::2:3')
    expect(f([0, 0, 1, 2, 3, 4, 0, 0])).toBe('::1:2:3:4:0:0')
    expect(f([1, 2, 3, 4, 5, 6, 0, 0])).toBe('1:2:3:4:5:6::')
    expect(f([0x2001, 0xdb8, 0, 0, 1, 0, 0, 1])).toBe('2001:db8::1:0:0:1')
  })

  it('writes IPv4-mapped addresses as dotted IPv4, like Go', () => {
    expect(f([0, 0, 0, 0, 0, 0xffff, 0x0102, 0x0304])).toBe('1.2.3.4')
    expect(f([0, 0, 0, 0, 0, 0, 0x0102, 0x0304])).toBe('::102:304') // IPv4-compatible is plain IPv6 in Go
  })

  it('agrees with the WHATWG URL serializer (also RFC 5952) on 5000 zero-heavy random addresses', () => {
    for (let i = 0; i < 5000; i++) {
      const b = Uint8Array.from(randomBytes(16))
      for (let g = 0; g < 8; g++) {
        const r = Math.random()
        if (r < 0.5) { b[2 * g] = 0; b[2 * g + 1] = 0 } else if (r < 0.6) b[2 * g] = 0
      }
      const s = formatIpv6(b)
      if (!s.includes('.')) expect(new URL(`http://[${s}]/`).hostname).toBe(`[${s}]`)
      expect(parseIpv6(s)).toEqual(b)
    }
  })
})

describe('parseIpv6', () => {
  it('parses the usual forms', () => {
    expect(hex(parseIpv6('::'))).toBe('00'.repeat(16))
    expect(hex(parseIpv6('::1'))).toBe('00'.repeat(15) + '01')
    expect(hex(parseIpv6('1::'))).toBe('0001' + '00'.repeat(14))
    expect(hex(parseIpv6('200:eaee:3845:17ec:1cd4:55a:49a5:868b'))).toBe('0200eaee384517ec1cd4055a49a5868b')
    expect(hex(parseIpv6('0200:EAEE:3845:17EC:1CD4:055A:49A5:868B'))).toBe('0200eaee384517ec1cd4055a49a5868b')
    expect(hex(parseIpv6('  300:848a:604f:bb7e::\n'))).toBe('0300848a604fbb7e' + '00'.repeat(8))
    expect(hex(parseIpv6('1:2:3:4:5:6:7:8'))).toBe('00010002000300040005000600070008')
    expect(hex(parseIpv6('1::8'))).toBe('0001' + '00'.repeat(12) + '0008')
    expect(hex(parseIpv6('1:2:3:4:5:6:7::'))).toBe('0001000200030004000500060007' + '0000')
  })

  it('parses embedded and plain IPv4 like Go net.ParseIP', () => {
    expect(hex(parseIpv6('::ffff:1.2.3.4'))).toBe('00'.repeat(10) + 'ffff01020304')
    expect(hex(parseIpv6('1.2.3.4'))).toBe('00'.repeat(10) + 'ffff01020304')
    expect(hex(parseIpv6('1:2:3:4:5:6:10.0.0.1'))).toBe('0001000200030004000500060a000001')
    expect(formatIpv6(parseIpv6('::ffff:192.168.0.1'))).toBe('192.168.0.1')
  })

  it('round-trips addresses of random keys', () => {
    for (let i = 0; i < 500; i++) {
      const a = addressForKey(randomBytes(32))
      expect(parseIpv6(formatIpv6(a))).toEqual(a)
    }
  })

  it('rejects bad input with clear messages', () => {
    const cases: Array<[string, string]> = [
      ['', 'invalid IPv6 address "": empty string'],
      [':::', 'invalid IPv6 address ":::": empty group (stray ":")'],
      ['1::2::3', '"::" may appear only once'],
      ['1:2:3:4:5:6:7', 'invalid IPv6 address "1:2:3:4:5:6:7": expected 8 groups, got 7'],
      ['1:2:3:4:5:6:7:8:9', 'expected 8 groups, got 9'],
      ['1:2:3:4::5:6:7:8', '"::" must stand for at least one zero group'],
      ['12345::', 'bad group "12345" (expected 1 to 4 hex digits)'],
      ['g::1', 'bad group "g"'],
      [':1:2:3:4:5:6:7', 'empty group'],
      ['1:2:3:4:5:6:7:', 'empty group'],
      ['[::1]', 'remove the brackets'],
      ['fe80::1%eth0', 'zones ("%...") are not supported'],
      ['::1.2.3', 'IPv4 part "1.2.3" must have 4 octets'],
      ['::256.1.1.1', 'bad IPv4 octet "256"'],
      ['::01.1.1.1', 'bad IPv4 octet "01"'],
      ['1.2.3.4::', 'bad group "1.2.3.4"'],
      ['1.2.3', 'must have 4 octets'],
      ['hello', 'must have 4 octets'],
      ['1:2:3:4:5:6:7:1.2.3.4', 'expected 8 groups, got 9'],
      ['a'.repeat(100), 'too long (100 characters)']
    ]
    for (const [input, msg] of cases) {
      expect(() => parseIpv6(input), input).toThrow(InvalidAddressError)
      expect(() => parseIpv6(input), input).toThrow(msg)
    }
    expect(() => parseIpv6(7 as unknown as string)).toThrow('invalid IPv6 address: expected a string, got number')
  })
})
