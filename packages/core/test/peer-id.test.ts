import { randomBytes } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { InvalidKeyError, InvalidPeerIdError } from '../src/errors.js'
import { isPeerId, parsePeerId, peerIdFromBytes, peerIdToBytes, type PeerId } from '../src/peer-id.js'

const KEY_HEX = '8a88e3dd7409f195fd52db2d3cba5d72ca6709bf1d94121bf3748801b40f6f5c'

describe('parsePeerId', () => {
  it('accepts lowercase hex unchanged', () => {
    expect(parsePeerId(KEY_HEX)).toBe(KEY_HEX)
  })

  it('accepts upper and mixed case and returns lowercase', () => {
    expect(parsePeerId(KEY_HEX.toUpperCase())).toBe(KEY_HEX)
    expect(parsePeerId('8A88e3DD' + KEY_HEX.slice(8))).toBe(KEY_HEX)
  })

  it('trims surrounding whitespace', () => {
    expect(parsePeerId(`  ${KEY_HEX}\n`)).toBe(KEY_HEX)
    expect(parsePeerId(`\t${KEY_HEX.toUpperCase()} `)).toBe(KEY_HEX)
  })

  it('rejects a short string, saying what was wrong', () => {
    expect(() => parsePeerId('abcd')).toThrow(InvalidPeerIdError)
    expect(() => parsePeerId('abcd')).toThrow('invalid peer id "abcd": expected 64 hex characters (32 bytes), got 4 characters')
  })

  it('names non-hex characters when the length is also wrong', () => {
    expect(() => parsePeerId('zzzz')).toThrow(
      'invalid peer id "zzzz": expected 64 hex characters (32 bytes), got 4 characters; non-hex character "z" at position 0'
    )
  })

  it('names the first non-hex character of a 64-character string', () => {
    const s = KEY_HEX.slice(0, 10) + 'g' + KEY_HEX.slice(11)
    expect(() => parsePeerId(s)).toThrow(`invalid peer id "${s}": non-hex character "g" at position 10`)
    const spaced = KEY_HEX.slice(0, 20) + ' ' + KEY_HEX.slice(21)
    expect(() => parsePeerId(spaced)).toThrow('non-hex character " " at position 20')
  })

  it('rejects the empty string and whitespace', () => {
    expect(() => parsePeerId('')).toThrow('invalid peer id "": expected 64 hex characters (32 bytes), got 0 characters')
    expect(() => parsePeerId('   ')).toThrow('got 0 characters')
  })

  it('rejects 63, 65 and 128 hex characters (not exactly 32 bytes)', () => {
    expect(() => parsePeerId(KEY_HEX.slice(1))).toThrow('expected 64 hex characters (32 bytes), got 63 characters')
    expect(() => parsePeerId(KEY_HEX + 'a')).toThrow('got 65 characters')
    expect(() => parsePeerId(KEY_HEX + KEY_HEX)).toThrow('got 128 characters')
  })

  it('hints at a 0x prefix', () => {
    expect(() => parsePeerId('0x' + KEY_HEX)).toThrow('got 66 characters (remove the "0x" prefix)')
  })

  it('shortens very long input in the message', () => {
    let msg = ''
    try { parsePeerId('a'.repeat(10_000)) } catch (err) { msg = (err as Error).message }
    expect(msg).toContain('got 10000 characters')
    expect(msg.length).toBeLessThan(250)
  })

  it('rejects non-strings with a typed error', () => {
    expect(() => parsePeerId(42 as unknown as string)).toThrow('invalid peer id: expected a string, got number')
    expect(() => parsePeerId(null as unknown as string)).toThrow('invalid peer id: expected a string, got null')
  })

  it('has a stable error code', () => {
    try {
      parsePeerId('x')
      expect.unreachable()
    } catch (err) {
      expect((err as InvalidPeerIdError).code).toBe('ERR_INVALID_PEER_ID')
      expect((err as Error).name).toBe('InvalidPeerIdError')
    }
  })
})

describe('isPeerId', () => {
  it('is true only for 64 lowercase hex characters', () => {
    expect(isPeerId(KEY_HEX)).toBe(true)
    expect(isPeerId(KEY_HEX.toUpperCase())).toBe(false)
    expect(isPeerId(` ${KEY_HEX}`)).toBe(false)
    expect(isPeerId(KEY_HEX.slice(1))).toBe(false)
    expect(isPeerId(KEY_HEX.slice(0, 63) + 'g')).toBe(false)
    expect(isPeerId(`${KEY_HEX}\n`)).toBe(false)
  })

  it('is false for non-strings', () => {
    expect(isPeerId(undefined)).toBe(false)
    expect(isPeerId(null)).toBe(false)
    expect(isPeerId(123)).toBe(false)
    expect(isPeerId(Buffer.from(KEY_HEX, 'hex'))).toBe(false)
  })

  it('narrows the type', () => {
    const v: unknown = KEY_HEX
    if (isPeerId(v)) {
      const id: PeerId = v
      expect(id).toBe(KEY_HEX)
    } else {
      expect.unreachable()
    }
  })
})

describe('peerIdFromBytes / peerIdToBytes', () => {
  it('converts the reference key both ways', () => {
    const bytes = Uint8Array.from(Buffer.from(KEY_HEX, 'hex'))
    expect(peerIdFromBytes(bytes)).toBe(KEY_HEX)
    expect(peerIdToBytes(KEY_HEX)).toEqual(bytes)
  })

  it('returns a plain, unshared Uint8Array', () => {
    const b = peerIdToBytes(KEY_HEX)
    expect(Object.getPrototypeOf(b)).toBe(Uint8Array.prototype)
    expect(b.byteOffset).toBe(0)
    expect(b.buffer.byteLength).toBe(32)
  })

  it('accepts upper-case and padded strings in peerIdToBytes', () => {
    expect(peerIdToBytes(` ${KEY_HEX.toUpperCase()} `)).toEqual(peerIdToBytes(KEY_HEX))
  })

  it('rejects bad strings in peerIdToBytes', () => {
    expect(() => peerIdToBytes('nope')).toThrow(InvalidPeerIdError)
  })

  it('works on a subarray view (byteOffset != 0)', () => {
    const big = new Uint8Array(100)
    big.set(Buffer.from(KEY_HEX, 'hex'), 7)
    expect(peerIdFromBytes(big.subarray(7, 39))).toBe(KEY_HEX)
  })

  it('round-trips random keys, all-zero and all-ff', () => {
    for (let i = 0; i < 200; i++) {
      const k = Uint8Array.from(randomBytes(32))
      const id = peerIdFromBytes(k)
      expect(isPeerId(id)).toBe(true)
      expect(peerIdToBytes(id)).toEqual(k)
    }
    expect(peerIdFromBytes(new Uint8Array(32))).toBe('0'.repeat(64))
    expect(peerIdFromBytes(new Uint8Array(32).fill(0xff))).toBe('f'.repeat(64))
  })

  it('rejects keys that are not 32 bytes with InvalidKeyError', () => {
    expect(() => peerIdFromBytes(new Uint8Array(31))).toThrow(InvalidKeyError)
    expect(() => peerIdFromBytes(new Uint8Array(31))).toThrow('public key must be 32 bytes, got 31 bytes')
    expect(() => peerIdFromBytes(new Uint8Array(33))).toThrow('public key must be 32 bytes, got 33 bytes')
    expect(() => peerIdFromBytes(new Uint8Array(0))).toThrow('got 0 bytes')
    expect(() => peerIdFromBytes('abc' as unknown as Uint8Array)).toThrow('public key must be a Uint8Array of 32 bytes, got string')
  })
})
