/**
 * The Yggdrasil v0.5 address scheme (yggdrasil-go `src/address`, unchanged since v0.4.7): a node's IPv6
 * address in 200::/7 and its /64 subnet in 300::/8 are derived from its ed25519 public key, and a
 * *partial* key can be recovered from either (see axl-reference.md §1.3–1.4, ygg-protocol.md §3.5).
 * Also IPv6 text formatting/parsing with the exact output of Go's `net.IP.String()`.
 */
import { InvalidAddressError, InvalidKeyError } from './errors.js'

/** Length of an IPv6 address in bytes. */
export const ADDRESS_LENGTH = 16
/** Length of a Yggdrasil /64 subnet prefix in bytes. */
export const SUBNET_LENGTH = 8
/** First byte of every Yggdrasil node address (200::/7 with the last prefix bit 0). */
export const ADDRESS_PREFIX = 0x02
/** First byte of every Yggdrasil subnet (the address prefix with its last bit set to 1). */
export const SUBNET_PREFIX = 0x03

const KEY_LENGTH = 32
const KEY_BITS = KEY_LENGTH * 8

/** Throws InvalidKeyError unless `key` is a 32-byte Uint8Array. */
function checkKey (key: Uint8Array): void {
  if (!(key instanceof Uint8Array)) {
    throw new InvalidKeyError(`public key must be a Uint8Array of ${KEY_LENGTH} bytes, got ${key === null ? 'null' : typeof key}`)
  }
  if (key.length !== KEY_LENGTH) {
    throw new InvalidKeyError(`public key must be ${KEY_LENGTH} bytes, got ${key.length} bytes`)
  }
}

/** Throws InvalidAddressError unless `b` is a Uint8Array of one of the allowed lengths. */
function checkBytes (b: Uint8Array, what: string, ...lengths: number[]): void {
  if (!(b instanceof Uint8Array)) {
    throw new InvalidAddressError(`${what} must be a Uint8Array, got ${b === null ? 'null' : typeof b}`)
  }
  if (!lengths.includes(b.length)) {
    throw new InvalidAddressError(`${what} must be ${lengths.join(' or ')} bytes, got ${b.length} bytes`)
  }
}

/** Hex of a few bytes, for error messages. */
function hex (b: Uint8Array): string {
  let s = ''
  for (let i = 0; i < b.length; i++) s += b[i].toString(16).padStart(2, '0')
  return s
}

/** Returns the 16-byte Yggdrasil address (200::/7) of a 32-byte ed25519 public key, as Go's `AddrForKey`. */
export function addressForKey (key: Uint8Array): Uint8Array {
  checkKey(key)
  const out = new Uint8Array(ADDRESS_LENGTH)
  out[0] = ADDRESS_PREFIX
  // Leading 1-bits of ~key == leading 0-bits of key.
  let i = 0
  while (i < KEY_LENGTH && key[i] === 0) i++
  // An all-zero key has 256 leading ones; Go stores the count in a byte, so it wraps to 0 and no bits follow.
  if (i === KEY_LENGTH) return out
  const ones = i * 8 + Math.clz32(key[i]) - 24
  out[1] = ones
  // Skip the ones and the first 0-bit, then copy the next 112 bits of ~key. Go appends whole bytes only,
  // so when fewer than 8 bits remain the rest of the address stays zero.
  const start = ones + 1
  for (let j = 0; j < ADDRESS_LENGTH - 2; j++) {
    const bit = start + 8 * j
    if (bit + 8 > KEY_BITS) break
    const idx = bit >> 3
    const sh = bit & 7
    const hi = ~key[idx] & 0xff
    const lo = sh === 0 ? 0 : ~key[idx + 1] & 0xff
    out[2 + j] = ((hi << sh) | (lo >> (8 - sh))) & 0xff
  }
  return out
}

/** Returns the 8-byte Yggdrasil /64 subnet (300::/8) of a 32-byte ed25519 public key, as Go's `SubnetForKey`. */
export function subnetForKey (key: Uint8Array): Uint8Array {
  const out = addressForKey(key).slice(0, SUBNET_LENGTH)
  out[0] |= 0x01
  return out
}

/** Returns the IPv6 text of the Yggdrasil address of a public key, e.g. `200:eaee:3845:17ec:1cd4:55a:49a5:868b`. */
export function addressStringForKey (key: Uint8Array): string {
  return formatIpv6(addressForKey(key))
}

/** Rebuilds the partial key carried by a 16-byte address image (Go's `Address.GetKey`; byte 0 is ignored). */
function partialKey (addr: Uint8Array): Uint8Array {
  // Build ~key: `ones` 1-bits, a 0-bit, the 112 address bits, zeros; then invert, so unknown bits become 1.
  const k = new Uint8Array(KEY_LENGTH)
  const ones = addr[1]
  const full = ones >> 3
  k.fill(0xff, 0, full)
  if ((ones & 7) !== 0) k[full] = (0xff00 >> (ones & 7)) & 0xff
  const off = ones + 1
  for (let j = 0; j < ADDRESS_LENGTH - 2; j++) {
    const v = addr[2 + j]
    const bit = off + 8 * j
    const idx = bit >> 3
    const sh = bit & 7
    // Go's GetKey indexes past the key (and panics) when ones > 143; bits beyond 256 are dropped here.
    if (idx < KEY_LENGTH) k[idx] |= v >> sh
    if (sh !== 0 && idx + 1 < KEY_LENGTH) k[idx + 1] |= (v << (8 - sh)) & 0xff
  }
  for (let i = 0; i < KEY_LENGTH; i++) k[i] = ~k[i] & 0xff
  return k
}

/**
 * Returns the 32-byte partial key recovered from a Yggdrasil address (Go's `Address.GetKey`): the known
 * leading bits of the key followed by 1-bits. `addressForKey(keyForAddress(addressForKey(k)))` equals
 * `addressForKey(k)`. Throws InvalidAddressError unless `addr` is a 16-byte address in 200::/7 (byte 0 = 0x02).
 */
export function keyForAddress (addr: Uint8Array): Uint8Array {
  checkBytes(addr, 'address', ADDRESS_LENGTH)
  if (addr[0] !== ADDRESS_PREFIX) {
    throw new InvalidAddressError(`not a Yggdrasil node address: first byte is 0x${hex(addr.subarray(0, 1))}, expected 0x02 (200::/7)`)
  }
  return partialKey(addr)
}

/**
 * Returns the 32-byte partial key recovered from a Yggdrasil subnet (Go's `Subnet.GetKey`): only the bits the
 * /64 prefix carries are known, the rest are 1. Accepts the 8-byte subnet or a 16-byte address inside it
 * (only its first 8 bytes are used). Throws InvalidAddressError unless byte 0 is 0x03 (300::/8).
 */
export function keyForSubnet (subnet: Uint8Array): Uint8Array {
  checkBytes(subnet, 'subnet', SUBNET_LENGTH, ADDRESS_LENGTH)
  if (subnet[0] !== SUBNET_PREFIX) {
    throw new InvalidAddressError(`not a Yggdrasil subnet: first byte is 0x${hex(subnet.subarray(0, 1))}, expected 0x03 (300::/8)`)
  }
  const addr = new Uint8Array(ADDRESS_LENGTH)
  addr.set(subnet.subarray(0, SUBNET_LENGTH))
  return partialKey(addr)
}

/** True iff `addr` is a 16-byte Yggdrasil node address (first byte 0x02, i.e. in 200::/8 of 200::/7), as Go's `Address.IsValid`. */
export function isAddress (addr: unknown): addr is Uint8Array {
  return addr instanceof Uint8Array && addr.length === ADDRESS_LENGTH && addr[0] === ADDRESS_PREFIX
}

/** True iff `subnet` is an 8-byte Yggdrasil subnet or a 16-byte address inside one (first byte 0x03), as Go's `Subnet.IsValid`. */
export function isSubnet (subnet: unknown): subnet is Uint8Array {
  return subnet instanceof Uint8Array &&
    (subnet.length === SUBNET_LENGTH || subnet.length === ADDRESS_LENGTH) &&
    subnet[0] === SUBNET_PREFIX
}

/**
 * Formats a 16-byte IPv6 address exactly as Go's `net.IP.String()`: lowercase, leading zeros dropped, the
 * longest run of two or more zero groups (the first on ties) written `::`. Like Go, an IPv4-mapped address
 * (`::ffff:a.b.c.d`) is written as plain dotted IPv4.
 */
export function formatIpv6 (addr: Uint8Array): string {
  checkBytes(addr, 'IPv6 address', ADDRESS_LENGTH)
  let mapped = addr[10] === 0xff && addr[11] === 0xff
  for (let i = 0; mapped && i < 10; i++) if (addr[i] !== 0) mapped = false
  if (mapped) return `${addr[12]}.${addr[13]}.${addr[14]}.${addr[15]}`
  // Longest run of zero groups; strict '>' keeps the first run on ties.
  let bestStart = -1
  let bestLen = 0
  for (let g = 0; g < 8;) {
    if (addr[2 * g] !== 0 || addr[2 * g + 1] !== 0) { g++; continue }
    let e = g
    while (e < 8 && addr[2 * e] === 0 && addr[2 * e + 1] === 0) e++
    if (e - g > bestLen) { bestStart = g; bestLen = e - g }
    g = e
  }
  if (bestLen < 2) bestStart = -1 // "::" must not shorten a single zero group (RFC 5952 §4.2.2)
  let s = ''
  for (let g = 0; g < 8; g++) {
    if (g === bestStart) {
      s += '::'
      g += bestLen - 1
      continue
    }
    if (g > 0 && g !== bestStart + bestLen) s += ':'
    s += ((addr[2 * g] << 8) | addr[2 * g + 1]).toString(16)
  }
  return s
}

/** Formats a Yggdrasil subnet (8 bytes) as CIDR text, e.g. `300:848a:604f:bb7e::/64`. */
export function formatSubnet (subnet: Uint8Array): string {
  checkBytes(subnet, 'subnet', SUBNET_LENGTH)
  const addr = new Uint8Array(ADDRESS_LENGTH)
  addr.set(subnet)
  return `${formatIpv6(addr)}/64`
}

const HEX_GROUP = /^[0-9a-fA-F]{1,4}$/
const IPV4_OCTET = /^(?:0|[1-9][0-9]{0,2})$/

/** Parses dotted-quad IPv4 into 4 bytes, or returns a reason string. */
function parseIpv4 (s: string): Uint8Array | string {
  const parts = s.split('.')
  if (parts.length !== 4) return `IPv4 part ${JSON.stringify(s)} must have 4 octets`
  const out = new Uint8Array(4)
  for (let i = 0; i < 4; i++) {
    const p = parts[i]
    if (!IPV4_OCTET.test(p) || Number(p) > 255) return `bad IPv4 octet ${JSON.stringify(p)}`
    out[i] = Number(p)
  }
  return out
}

/**
 * Parses IPv6 text (any RFC 4291 form: `::` compression, upper or lower case, an embedded dotted IPv4 tail)
 * into 16 bytes, accepting what Go's `net.ParseIP` accepts (plain IPv4 gives the IPv4-mapped address).
 * Surrounding whitespace is ignored; brackets and zones (`%eth0`) are rejected. Throws InvalidAddressError.
 */
export function parseIpv6 (s: string): Uint8Array {
  if (typeof s !== 'string') {
    throw new InvalidAddressError(`invalid IPv6 address: expected a string, got ${s === null ? 'null' : typeof s}`)
  }
  const text = s.trim()
  const shown = JSON.stringify(text.length > 80 ? `${text.slice(0, 80)}…` : text)
  const fail = (reason: string): never => { throw new InvalidAddressError(`invalid IPv6 address ${shown}: ${reason}`) }
  if (text.length === 0) fail('empty string')
  if (text.length > 64) fail(`too long (${text.length} characters)`)
  if (text.startsWith('[')) fail('remove the brackets')
  if (text.includes('%')) fail('zones ("%...") are not supported')
  const out = new Uint8Array(ADDRESS_LENGTH)
  if (!text.includes(':')) {
    const v4 = parseIpv4(text)
    if (typeof v4 === 'string') fail(v4)
    out[10] = 0xff
    out[11] = 0xff
    out.set(v4 as Uint8Array, 12)
    return out
  }
  const halves = text.split('::')
  if (halves.length > 2) fail('"::" may appear only once')
  const toGroups = (part: string, last: boolean): number[] => {
    if (part === '') return []
    const fields = part.split(':')
    const groups: number[] = []
    for (let i = 0; i < fields.length; i++) {
      const f = fields[i]
      if (last && i === fields.length - 1 && f.includes('.')) {
        const v4 = parseIpv4(f)
        if (typeof v4 === 'string') fail(v4)
        const b = v4 as Uint8Array
        groups.push((b[0] << 8) | b[1], (b[2] << 8) | b[3])
        continue
      }
      if (f === '') fail('empty group (stray ":")')
      if (!HEX_GROUP.test(f)) fail(`bad group ${JSON.stringify(f)} (expected 1 to 4 hex digits)`)
      groups.push(parseInt(f, 16))
    }
    return groups
  }
  const compressed = halves.length === 2
  const head = toGroups(halves[0], !compressed)
  const tail = compressed ? toGroups(halves[1], true) : []
  const n = head.length + tail.length
  if (!compressed && n !== 8) fail(`expected 8 groups, got ${n}`)
  if (compressed && n > 7) fail('"::" must stand for at least one zero group')
  for (let i = 0; i < head.length; i++) { out[2 * i] = head[i] >> 8; out[2 * i + 1] = head[i] & 0xff }
  const base = 8 - tail.length
  for (let i = 0; i < tail.length; i++) { out[2 * (base + i)] = tail[i] >> 8; out[2 * (base + i) + 1] = tail[i] & 0xff }
  return out
}
