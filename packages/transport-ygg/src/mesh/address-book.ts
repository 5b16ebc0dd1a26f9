/**
 * Which full key owns which 200::/7 address. An IPv6 address carries only part of its owner's key, so the
 * IPv6 glue needs the full key to hand a packet to the session layer: it is learnt from every dial (the
 * caller names the key) and from every authenticated inbound session. Bounded (least recently used out).
 */
import { addressForKey } from '@axl/core'

/** A bounded map from 16-byte addresses to the 32-byte keys that own them. */
export class AddressBook {
  private readonly byAddress = new Map<string, Uint8Array>()
  private readonly addressOf = new Map<string, Uint8Array>()

  constructor (private readonly capacity = 16_384) {}

  /** Number of known keys. */
  get size (): number { return this.byAddress.size }

  /** Remember `key` (and return its address). */
  learn (key: Uint8Array): Uint8Array {
    const keyHex = hex(key)
    let addr = this.addressOf.get(keyHex)
    if (addr === undefined) {
      addr = addressForKey(key)
      this.addressOf.set(keyHex, addr)
      if (this.addressOf.size > this.capacity) this.addressOf.delete(this.addressOf.keys().next().value as string)
    }
    const a = hex(addr)
    this.byAddress.delete(a) // refresh recency
    this.byAddress.set(a, key)
    if (this.byAddress.size > this.capacity) this.byAddress.delete(this.byAddress.keys().next().value as string)
    return addr
  }

  /** The address of `key` (cached). */
  addressOfKey (key: Uint8Array): Uint8Array {
    return this.addressOf.get(hex(key)) ?? this.learn(key)
  }

  /** The full key owning the address at `packet[offset .. offset+16]`, if known. */
  keyAt (packet: Uint8Array, offset: number): Uint8Array | undefined {
    return this.byAddress.get(hex(packet.subarray(offset, offset + 16)))
  }
}

function hex (b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex')
}
