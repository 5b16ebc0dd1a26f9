/**
 * Which full key owns which 200::/7 address. An IPv6 address carries only part of its owner's key, so the
 * IPv6 glue needs the full key to hand a packet to the session layer: it is learnt from every dial (the
 * caller names the key) and from every authenticated inbound session. Bounded (least recently used out).
 */
import { addressForKey } from '@axl/core'
import { keyStr } from '../crypto.js'

/** A bounded map from 16-byte addresses to the 32-byte keys that own them. */
export class AddressBook {
  private readonly byAddress = new Map<string, Uint8Array>()
  private readonly addressOf = new Map<string, Uint8Array>()

  constructor (private readonly capacity = 16_384) {}

  /** Number of known keys. */
  get size (): number { return this.byAddress.size }

  /** Remember `key` (and return its address). */
  learn (key: Uint8Array): Uint8Array {
    const k = keyStr(key)
    let addr = this.addressOf.get(k)
    if (addr === undefined) {
      addr = addressForKey(key)
      this.addressOf.set(k, addr)
      if (this.addressOf.size > this.capacity) this.addressOf.delete(this.addressOf.keys().next().value as string)
    }
    const a = addrStr(addr, 0)
    this.byAddress.delete(a) // refresh recency
    this.byAddress.set(a, key)
    if (this.byAddress.size > this.capacity) this.byAddress.delete(this.byAddress.keys().next().value as string)
    return addr
  }

  /** The address of `key` (cached). */
  addressOfKey (key: Uint8Array): Uint8Array {
    return this.addressOf.get(keyStr(key)) ?? this.learn(key)
  }

  /** The full key owning the address at `packet[offset .. offset+16]`, if known. */
  keyAt (packet: Uint8Array, offset: number): Uint8Array | undefined {
    if (offset < 0 || packet.length < offset + 16) return undefined
    return this.byAddress.get(addrStr(packet, offset))
  }
}

const fromCharCode = String.fromCharCode

/** The 16 bytes at `b[o..o+16]` as a latin1 map key (built without a Buffer: this runs per packet). */
function addrStr (b: Uint8Array, o: number): string {
  return fromCharCode(b[o], b[o + 1], b[o + 2], b[o + 3], b[o + 4], b[o + 5], b[o + 6], b[o + 7],
    b[o + 8], b[o + 9], b[o + 10], b[o + 11], b[o + 12], b[o + 13], b[o + 14], b[o + 15])
}
