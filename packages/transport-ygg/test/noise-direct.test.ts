// The direct Noise transport phase (handshake cipher states used on the raw duplex) against libp2p-noise's own
// message stream: same bytes on the wire, any chunking, bytes that arrive with the last handshake message,
// and tampering that must close the link instead of delivering garbage.
import { describe, it, expect } from 'vitest'
import { randomBytes } from 'node:crypto'
import { NoiseSecurer, type NoisePeerConn } from '../src/links/noise-link.js'
import type { RawDuplex } from '../src/links/link-type.js'
import { HandshakeError } from '../src/links/errors.js'
import { makeIdentity, Sink, within } from './fixtures/links-helpers.js'

interface PairOptions {
  /** Deliver everything written during one macrotask as one chunk (as a socket read often does). */
  coalesce?: boolean
  /** Deliver byte by byte (every length prefix and message split across chunks). */
  byteByByte?: boolean
}

/** Two RawDuplex ends joined in memory, with a hook to rewrite bytes travelling a → b. */
function rawPair (opts: PairOptions = {}): { a: RawDuplex, b: RawDuplex, tamperAtoB: { fn?: (chunk: Uint8Array) => Uint8Array } } {
  const tamperAtoB: { fn?: (chunk: Uint8Array) => Uint8Array } = {}
  let closed = false
  const ends: RawDuplex[] = []
  const make = (idx: 0 | 1): RawDuplex => {
    let queued: Uint8Array[] = []
    let scheduled = false
    const flush = (): void => {
      scheduled = false
      const q = queued
      queued = []
      if (closed) return
      const peer = ends[1 - idx]
      let chunks = q
      if (opts.coalesce === true) chunks = [Buffer.concat(q)]
      if (opts.byteByByte === true) chunks = q.flatMap(c => Array.from(c, x => Uint8Array.of(x)))
      for (const c of chunks) peer.onData(idx === 0 && tamperAtoB.fn !== undefined ? tamperAtoB.fn(c) : c)
    }
    const end: RawDuplex = {
      write (data) {
        if (closed) return false
        queued.push(new Uint8Array(data))
        if (!scheduled) { scheduled = true; setImmediate(flush) }
        return true
      },
      writev (chunks) { for (const c of chunks) end.write(c); return !closed },
      close (err) {
        if (closed) return
        setImmediate(() => {
          if (closed) return
          closed = true
          ends[0].onClose(err)
          ends[1].onClose(err)
        })
      },
      onData: () => {},
      onDrain: () => {},
      onClose: () => {}
    }
    return end
  }
  ends.push(make(0), make(1))
  return { a: ends[0], b: ends[1], tamperAtoB }
}

async function securePair (directA: boolean, directB: boolean, opts: PairOptions = {}): Promise<{ a: NoisePeerConn, b: NoisePeerConn, tamperAtoB: { fn?: (chunk: Uint8Array) => Uint8Array } }> {
  const idA = makeIdentity()
  const idB = makeIdentity()
  const sa = await NoiseSecurer.create(idA, { directTransport: directA })
  const sb = await NoiseSecurer.create(idB, { directTransport: directB })
  const { a, b, tamperAtoB } = rawPair(opts)
  const [ca, cb] = await Promise.all([
    sa.secure(a, { inbound: false, uri: 'test://b', expectedKey: idB.publicKey }),
    sb.secure(b, { inbound: true, uri: 'test://a' })
  ])
  expect(ca.direct).toBe(directA)
  expect(cb.direct).toBe(directB)
  return { a: ca, b: cb, tamperAtoB }
}

const SIZES = [1, 2, 15, 16, 17, 100, 1199, 1200, 65518, 65519, 65520, 131038, 131039, 200_000]

describe('noise direct transport', () => {
  for (const [directA, directB] of [[true, true], [true, false], [false, true]] as const) {
    for (const mode of ['as written', 'coalesced', 'byte by byte'] as const) {
      it(`A ${directA ? 'direct' : 'libp2p stream'} ↔ B ${directB ? 'direct' : 'libp2p stream'}, chunks ${mode}: every size arrives intact both ways`, async () => {
        const sizes = mode === 'byte by byte' ? [1, 17, 1200, 65520] : SIZES
        const { a, b } = await securePair(directA, directB, { coalesce: mode === 'coalesced', byteByByte: mode === 'byte by byte' })
        const sinkA = new Sink(a)
        const sinkB = new Sink(b)
        const sentAB: Uint8Array[] = []
        const sentBA: Uint8Array[] = []
        for (const n of sizes) {
          const x = randomBytes(n); sentAB.push(x); a.write(x)
          const y = randomBytes(n); sentBA.push(y); b.write(y)
        }
        const total = sizes.reduce((s, n) => s + n, 0)
        await Promise.all([sinkB.until(total, 20_000), sinkA.until(total, 20_000)])
        expect(Buffer.compare(Buffer.concat(sinkB.data()), Buffer.concat(sentAB))).toBe(0)
        expect(Buffer.compare(Buffer.concat(sinkA.data()), Buffer.concat(sentBA))).toBe(0)
        a.close(); b.close()
        await Promise.all([a.closed, b.closed])
      })
    }
  }

  it('bytes written right after the handshake, arriving in the same chunk as its last message, are delivered', async () => {
    for (const directB of [true, false]) {
      const idA = makeIdentity()
      const idB = makeIdentity()
      const sa = await NoiseSecurer.create(idA)
      const sb = await NoiseSecurer.create(idB, { directTransport: directB })
      const { a, b } = rawPair({ coalesce: true })
      const first = randomBytes(70_000)
      const pa = sa.secure(a, { inbound: false, uri: 'test://b' }).then(c => { c.write(first); return c })
      const cb = await sb.secure(b, { inbound: true, uri: 'test://a' })
      const ca = await pa
      const sink = new Sink(cb)
      await sink.until(first.byteLength)
      expect(Buffer.compare(Buffer.concat(sink.data()), first)).toBe(0)
      ca.close(); cb.close()
      await Promise.all([ca.closed, cb.closed])
    }
  })

  it('a flipped ciphertext byte closes the link with HandshakeError and delivers nothing of that message', async () => {
    const { a, b, tamperAtoB } = await securePair(true, true)
    const sink = new Sink(b)
    a.write(Buffer.from('before'))
    await sink.until(6)
    tamperAtoB.fn = (c) => { if (c.length <= 2) return c; const x = new Uint8Array(c); x[x.length - 1] ^= 1; return x } // the tag, not the length
    a.write(Buffer.from('tampered'))
    const err = await within<Error | undefined>(5000, 'the tampered link to close', resolve => { void b.closed.then(resolve) })
    expect(err).toBeInstanceOf(HandshakeError)
    expect(err?.message).toMatch(/noise decryption failed/)
    expect(sink.bytes).toBe(6)
  })

  it('a Noise message shorter than its tag closes the link', async () => {
    const { a, b, tamperAtoB } = await securePair(true, true)
    tamperAtoB.fn = () => Uint8Array.of(0, 5, 1, 2, 3, 4, 5)
    a.write(Buffer.from('x'))
    const err = await within<Error | undefined>(5000, 'the link to close', resolve => { void b.closed.then(resolve) })
    expect(err).toBeInstanceOf(HandshakeError)
    expect(err?.message).toMatch(/shorter than its tag/)
  })
})
