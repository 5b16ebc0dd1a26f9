/**
 * Yggdrasil's `meta` link handshake (yggdrasil-go v0.5.12 `src/core/version.go`): the byte layout, strict
 * decoding, passwords, version checks, the 6 s deadline, priorities, key pinning, and the TLS certificate-key
 * check that closes the relayed-handshake hole (yggdrasil-go issue #1333). Interop with the real Go code is in
 * go-interop.test.ts.
 */
import { afterEach, describe, expect, it } from 'vitest'
import net from 'node:net'
import tls from 'node:tls'
import { X509Certificate, createHash, createPrivateKey } from 'node:crypto'
import { TimeoutError, verify } from '@axl/core'
import { VirtualClock } from '../src/clock.js'
import { ed25519Signer } from '../src/crypto.js'
import {
  decodeMeta, encodeMeta, metaBodyLength, metaDigest, META_SIZE, IncorrectPasswordError, IncompatibleVersionError,
  HandshakeError, UnexpectedPeerKeyError, MetaSecurer, memoryLinkType, MemoryRegistry, Links, selfSignedCertificate,
  certificateEd25519Key, type LinksOptions, type RawDuplex
} from '../src/links/index.js'
import { ConnQueue, hex, makeIdentity, within } from './fixtures/links-helpers.js'

const running: Links[] = []
const cleanups: Array<() => Promise<void> | void> = []
afterEach(async () => {
  await Promise.all(running.splice(0).map(async l => { await l.stop() }))
  for (const c of cleanups.splice(0)) await c()
})

function links (extra: Partial<LinksOptions> = {}): { links: Links, conns: ConnQueue, id: ReturnType<typeof makeIdentity>, errors: Error[] } {
  const id = extra.identity ?? makeIdentity()
  const conns = new ConnQueue()
  const errors: Error[] = []
  const l = new Links({ identity: id, onConn: conns.push, onLinkError: (err) => { errors.push(err) }, ...extra })
  running.push(l)
  return { links: l, conns, id, errors }
}

const seed = new Uint8Array(32).map((_, i) => i + 1)
const signer = ed25519Signer(seed)

describe('meta: wire format', () => {
  it('is 123 bytes: "meta", length 117, TLVs major 0, minor 5, key, priority, then the signature', () => {
    const m = encodeMeta({ publicKey: signer.publicKey, sign: d => signer.sign(d), priority: 7 })
    expect(m.byteLength).toBe(META_SIZE)
    const head = Buffer.from(m.subarray(0, 59)).toString('hex')
    expect(head).toBe('6d657461' + '0075' + '000000020000' + '000100020005' + '00020020' + hex(signer.publicKey) + '00030001' + '07')
    // the signature is over BLAKE2b-512 of the key (unkeyed without a password)
    const digest = createHash('blake2b512').update(signer.publicKey).digest()
    expect(Buffer.from(metaDigest(signer.publicKey)).equals(digest)).toBe(true)
    expect(verify(signer.publicKey, digest, m.subarray(59))).toBe(true)
    expect(metaBodyLength(m.subarray(0, 6))).toBe(117)
    expect(decodeMeta(m.subarray(6))).toEqual({ majorVersion: 0, minorVersion: 5, publicKey: signer.publicKey, priority: 7 })
  })

  it('a password keys the BLAKE2b hash: the other side sees a signature that does not verify', () => {
    const pw = new TextEncoder().encode('correct horse')
    const m = encodeMeta({ publicKey: signer.publicKey, sign: d => signer.sign(d), password: pw })
    expect(decodeMeta(m.subarray(6), pw).publicKey).toEqual(signer.publicKey)
    expect(() => decodeMeta(m.subarray(6))).toThrow(IncorrectPasswordError)
    expect(() => decodeMeta(m.subarray(6), new TextEncoder().encode('wrong'))).toThrow(/password does not match/)
    expect(Buffer.from(metaDigest(signer.publicKey, pw)).equals(Buffer.from(metaDigest(signer.publicKey)))).toBe(false)
  })

  it('refuses what is not Yggdrasil, short lengths, broken TLVs and other versions; skips unknown TLVs', () => {
    expect(() => metaBodyLength(Buffer.from('GET / '))).toThrow(/not Yggdrasil/)
    expect(() => metaBodyLength(Buffer.from('meta\x00\x04'))).toThrow(/length 4/) // yggdrasil 0.4's handshake
    const m = encodeMeta({ publicKey: signer.publicKey, sign: d => signer.sign(d) })
    const body = Buffer.from(m.subarray(6))
    const bad = Buffer.from(body); bad.writeUInt16BE(200, 2) // major's length runs past the end
    expect(() => decodeMeta(bad)).toThrow(HandshakeError)
    const wrongSize = Buffer.from(body); wrongSize.writeUInt16BE(3, 2)
    expect(() => decodeMeta(wrongSize)).toThrow(/expected 2/)
    const v4 = Buffer.from(body); v4.writeUInt16BE(4, 10) // minor version 4
    expect(() => decodeMeta(v4)).toThrow(IncompatibleVersionError)
    // an unknown TLV (type 9, 3 bytes) before the signature is skipped; the signature covers only the key
    const tlvs = body.subarray(0, body.length - 64)
    const extended = Buffer.concat([tlvs, Buffer.from('000900030a0b0c', 'hex'), body.subarray(body.length - 64)])
    expect(decodeMeta(extended).priority).toBe(0)
    const trailing = Buffer.concat([tlvs, Buffer.from('0009', 'hex'), body.subarray(body.length - 64)])
    expect(() => decodeMeta(trailing)).toThrow(/trailing bytes/)
    const forged = Buffer.from(body); forged[body.length - 1] ^= 1
    expect(() => decodeMeta(forged)).toThrow(IncorrectPasswordError)
  })
})

describe('meta: the handshake on a link', () => {
  it('times out after 6 s by default (yggdrasil-go\'s deadline) and closes the duplex', async () => {
    const clock = new VirtualClock()
    const registry = new MemoryRegistry()
    const mem = memoryLinkType(registry)
    let server: RawDuplex | undefined
    await mem.listen(new URL('memory://silent'), raw => { server = raw; raw.onData = () => {} }) // reads, never answers
    const raw = await mem.dial(new URL('memory://silent'), { signal: new AbortController().signal })
    const id = makeIdentity()
    const securing = new MetaSecurer(id, { clock }).secure(raw, { inbound: false, uri: 'memory://silent' })
    let settled = false
    void securing.catch(() => { settled = true })
    clock.advance(5_999)
    await new Promise(resolve => setImmediate(resolve))
    expect(settled).toBe(false)
    clock.advance(1)
    await expect(securing).rejects.toBeInstanceOf(TimeoutError)
    await expect(securing).rejects.toThrow(/6000 ms/)
    await within<void>(2000, 'the silent side to see the close', resolve => { server!.onClose = () => { resolve() } })
  })

  it('the link priority is the larger of the two sides\' (lower is preferred)', async () => {
    const a = links()
    const b = links()
    const bound = await a.links.listen('tcp://127.0.0.1:0?priority=2')
    const cb = await b.links.dial(`${bound}?priority=5`)
    const ca = await a.conns.next()
    expect(ca.priority).toBe(5)
    expect(cb.priority).toBe(5)
  })

  it('a wrong password fails both ends with IncorrectPasswordError', async () => {
    const a = links()
    const b = links()
    const bound = await a.links.listen('tcp://127.0.0.1:0?password=alpha')
    await expect(b.links.dial(`${bound}?password=beta`)).rejects.toBeInstanceOf(IncorrectPasswordError)
    await expect(b.links.dial(bound)).rejects.toBeInstanceOf(IncorrectPasswordError)
    await within<void>(5000, 'the listener to report both failures', resolve => { const t = setInterval(() => { if (a.errors.length >= 2) { clearInterval(t); resolve() } }, 5) })
    expect(a.errors.every(e => e instanceof IncorrectPasswordError)).toBe(true)
    const ok = await b.links.dial(`${bound}?password=alpha`)
    expect(hex(ok.remoteKey)).toBe(hex(a.id.publicKey))
  })

  it('pinned keys (key=, repeatable): a match is accepted, no match fails the dialler with UnexpectedPeerKeyError', async () => {
    const a = links()
    const b = links()
    const bound = await a.links.listen('tcp://127.0.0.1:0')
    const other = hex(makeIdentity().publicKey)
    const err = await b.links.dial(`${bound}?key=${other}`).catch((e: Error) => e)
    expect(err).toBeInstanceOf(UnexpectedPeerKeyError)
    expect((err as Error).message).toContain(`node public key ${hex(a.id.publicKey)}`)
    expect(b.links.stats).toMatchObject({ dialFailures: 1, linksUp: 0 })
    const ok = await b.links.dial(`${bound}?key=${other}&key=${hex(a.id.publicKey)}`)
    expect(hex(ok.remoteKey)).toBe(hex(a.id.publicKey))
  })
})

describe('meta: tls:// binds the certificate to the handshake key', () => {
  it('our certificate is made from the node key, with yggdrasil-go\'s fields', () => {
    const id = makeIdentity()
    const { cert, key } = selfSignedCertificate(id.seed)
    const x = new X509Certificate(cert)
    expect(x.subject).toBe(`CN=${hex(id.publicKey)}`)
    expect(x.issuer).toBe(x.subject)
    expect(x.serialNumber).toBe('01')
    expect(new Date(x.validTo).getUTCFullYear()).toBe(9999)
    expect(x.keyUsage).toContain('1.3.6.1.5.5.7.3.1') // serverAuth
    expect(x.ca).toBe(false)
    expect(x.verify(x.publicKey)).toBe(true)
    expect(x.checkPrivateKey(createPrivateKey(key))).toBe(true)
    expect(hex(certificateEd25519Key(x)!)).toBe(hex(id.publicKey))
  })

  it('a relayed handshake (TLS terminated by a third key, bytes relayed to the real node) is refused', async () => {
    const victim = links()
    const client = links()
    const victimUri = await victim.links.listen('tcp://127.0.0.1:0')
    // The man in the middle: its own TLS certificate, relaying the decrypted bytes to the real node.
    const mitm = makeIdentity()
    const server = tls.createServer({ ...selfSignedCertificate(mitm.seed), minVersion: 'TLSv1.3' }, s => {
      const up = net.connect(Number(new URL(victimUri).port), '127.0.0.1')
      s.pipe(up).pipe(s)
      s.on('error', () => { up.destroy() })
      up.on('error', () => { s.destroy() })
    })
    await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
    cleanups.push(async () => { await new Promise(resolve => server.close(resolve)) })
    const port = (server.address() as net.AddressInfo).port
    const err = await client.links.dial(`tls://127.0.0.1:${port}`).catch((e: Error) => e)
    expect(err).toBeInstanceOf(UnexpectedPeerKeyError)
    expect((err as Error).message).toMatch(new RegExp(`TLS certificate key ${hex(mitm.publicKey)} .* differs from its handshake key ${hex(victim.id.publicKey)}`))
    // the same node reached over its own tls:// listener is fine
    const direct = await victim.links.listen('tls://127.0.0.1:0')
    const ok = await client.links.dial(direct)
    expect(hex(ok.remoteKey)).toBe(hex(victim.id.publicKey))
  })
})
