/**
 * Session-layer cryptography: e2c conversions, X25519, box.Precompute, XSalsa20-Poly1305 (tag ‖ body), the
 * ironwood nonce layout, init/ack encoding, and the replay window.
 *
 * Vector sources (stated per test as well):
 *  - [roots-go] theguywhoburns/roots `src/session.rs` tests, "From Go TestZZVectors": PUBA/PUBB and their e2c
 *    images E2C_PUBA/E2C_PUBB, B's box private key E2C_PRIVB and GO_INIT, a 193-byte A→B init with keySeq 3
 *    produced by a Go generator running ironwood's code;
 *  - [roots-capture] the same file, GO_SESSION_INIT: an init captured from a running yggdrasil-go 0.5.14
 *    node (node seed 0x5c×32, pub ed6a47a3…, see roots `tests/go_vectors.rs`), sealed to e2c(seed 0x2b×32);
 *  - [nacl-box] libsodium `test/default/box.c` + `box.exp` (the classic NaCl crypto_box vector:
 *    alicesk, bobpk, nonce, 131-byte message, 147-byte tag ‖ ciphertext), and `secretbox.c` (firstkey);
 *  - [rfc7748] RFC 7748 §5.2 (X25519 test vectors 1 and 2) and §6.1 (Alice/Bob Diffie-Hellman);
 *  - [nacl-core1] NaCl `tests/core1.c`: HSalsa20(shared of §6.1, 0^16) = firstkey.
 */
import { Buffer } from 'node:buffer'
import { execFileSync } from 'node:child_process'
import { createHash, createPrivateKey, randomBytes } from 'node:crypto'
import { describe, expect, it, beforeAll } from 'vitest'
import { ed25519 } from '@noble/curves/ed25519.js'
import sodium from 'libsodium-wrappers'
import { xsalsa20poly1305 } from '@noble/ciphers/salsa.js'
import { identityFromSeed } from '@axl/core'
import {
  boxOpen, boxPrecompute, boxPrivateKey, boxPublicKey, boxSeal, BoxKey, cipherBackend, cipherBackends, edPrivateToX25519, RawBoxPrivate,
  edPublicToX25519, newBoxKeys, nonceForCounter, sessionCryptoReady, setCipherBackend, x25519, x25519Reference,
  sealParts, WASM_MIN_BYTES, loadSodium, loadSodiumNative, hsalsa20
} from '../src/session/crypto.js'
import { wasmBackend } from '../src/session/sodium.js'
import { importSodiumNative, nativeBackend } from '../src/session/native.js'
import {
  decryptInit, encodeTraffic, encryptInit, initSigBytes, parseTrafficHeader, SESSION_INIT_SIZE, SESSION_TYPE_ACK,
  SESSION_TYPE_INIT
} from '../src/session/messages.js'
import { ReplayWindow } from '../src/session/replay.js'
import { readUvarint } from '../src/network/uvarint.js'
import { prng } from '../src/testing/prng.js'

const hex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s.replace(/\s+/g, ''), 'hex'))
const toHex = (b: Uint8Array): string => Buffer.from(b).toString('hex')

// [roots-go]
const PUBA = '4fd099ccd47d7893dfe9ec24414ecb0d9b5420232aad30d91c465be33cbe65c4'
const PUBB = '74fca2a3b389fb1a64d9bf52cc0dd4c2964f3804c0cf7c755e8513c6db8198dc'
const E2C_PUBA = '0ebf980a860de51ca2e0806f41f5276624ee1ae4ce239fcb72d1b028db7e391e'
const E2C_PUBB = '8452235d88d31e58f273cbfdc0df344d4586a78270f4148ed516ed7690a2485f'
const E2C_PRIVB = 'a371e84f9243c12495e0005a617b932e51bab46425706bbae819371dc86a8784'
const GO_INIT = '0126ba02e793077cc6eae80d427a5551ef09a1671f490d922b9f014984ef96ca67b554d46a178f6df3fc6d4d47ba55107174a1510c3fdbf7b947f24c1ee940585e43e3ad78bceee3efea03eed31620167d7227cff2cecaf1589b1321e2de41e08b6a1959446d9c4a3a15c4ead208c684f29119460a0fc616f002e01fb6337d66c54ecbe0e0acb52eadd36c069e8ebf0b718e8d5987cdcb86b3051d73cb8eab5e43b9e66c162035d3cec5429a43172c39a018fd3a78d6b9608de4bbef106aadee32'

// [roots-capture]
const GO_SESSION_INIT = `0157d79dc3e8af7fcc1fc870a7a7dedb3f6d937eba55281a42062d56ebd97a7f
  235c0315cc7abdf8106a6ac473c53654193115892add473a63b71dff6fa46718
  77570b652d8f101b6c6e502bc92c6169f9d3d57f4f3be7bee1089355e3f5688d
  cf7d68550d719ec0fd80d36ed63f79ca57e1bde37c320f5392585c9a56a61be4
  4e71b95955cf613946d4e2c521d5b006ab064a83631367b53b97add4fcee5031
  9ab883eba7663d3ad6e5798d4aca308c15ceb559dee81fc7afb93ec5dae1d3ff
  b2`
const GO_SESSION_PUB = 'ed6a47a39da869b5446155e40b2d93f1e3f0167be26732bae7a3ef9d8e3a3fd3'
const GO_SESSION_CURRENT = 'afd7207dc7f93ce0a492b7d1af4ff42ed1b74acfe66b2c24b7772b885e279350'
const GO_SESSION_NEXT = '35b03ead4395bdcb67dec583b6810d72678649c72c5b4acbbdaa1d909e002e2c'
const GO_SESSION_SEQ = 1791046450n

// [nacl-box] / [rfc7748] §6.1
const ALICE_SK = '77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a'
const ALICE_PK = '8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a'
const BOB_SK = '5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb'
const BOB_PK = 'de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f'
const DH_SHARED = '4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742'
const FIRSTKEY = '1b27556473e985d462cd51197a9a46c76009549eac6474f206c4ee0844f68389'
const NACL_NONCE = '69696ee955b62b73cd62bda875fc73d68219e0036b7a0b37'
const NACL_MSG = `be075fc53c81f2d5cf141316ebeb0c7b5228c52a4c62cbd44b66849b64244ffc
  e5ecbaaf33bd751a1ac728d45e6c61296cdc3c01233561f41db66cce314adb31
  0e3be8250c46f06dceea3a7fa1348057e2f6556ad6b1318a024a838f21af1fde
  048977eb48f59ffd4924ca1c60902e52f0a089bc76897040e082f937763848645e0705`
// box.exp: c[16..163) = 16-byte Poly1305 tag ‖ 131-byte ciphertext.
const NACL_BOX = `f3ffc7703f9400e52a7dfb4b3d3305d98e993b9f48681273c29650ba32fc76ce
  48332ea7164d96a4476fb8c531a1186ac0dfc17c98dce87b4da7f011ec48c972
  71d2c20f9b928fe2270d6fb863d51738b48eeee314a7cc8ab932164548e526ae
  90224368517acfeabd6bb3732bc0e9da99832b61ca01b6de56244a9e88d5f9b3
  7973f622a43d14a6599b1f654cb45a74e355a5`
// libsodium box.c `small_order_p`: a low-order point (X25519 result is all zero).
const SMALL_ORDER_P = 'e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800'


beforeAll(async () => {
  await sodium.ready
  await sessionCryptoReady()
  await loadSodium() // also the WASM backend when native is in use, so every backend is compared below
  loadSodiumNative() // and the native one even where AXL_SESSION_CRYPTO opted out of it
})

describe('ed25519 → X25519 (e2c)', () => {
  it('matches the Go-computed e2c public keys [roots-go]', () => {
    expect(toHex(edPublicToX25519(hex(PUBA)))).toBe(E2C_PUBA)
    expect(toHex(edPublicToX25519(hex(PUBB)))).toBe(E2C_PUBB)
  })

  it('private = sha512(seed)[0:32], unclamped, like Go', () => {
    const seed = new Uint8Array(32).fill(0xa0)
    const want = createHash('sha512').update(seed).digest().subarray(0, 32)
    expect(toHex(edPrivateToX25519(seed))).toBe(want.toString('hex'))
  })

  it('agrees with @noble/curves toMontgomery / toMontgomerySecret on 200 random keys', () => {
    for (let i = 0; i < 200; i++) {
      const seed = randomBytes(32)
      const pub = ed25519.getPublicKey(seed)
      expect(toHex(edPublicToX25519(pub))).toBe(toHex(ed25519.utils.toMontgomery(pub)))
      // noble returns the clamped scalar; ours is Go's unclamped hash prefix, clamped inside X25519.
      const ours = edPrivateToX25519(seed)
      ours[0] &= 248; ours[31] &= 127; ours[31] |= 64
      expect(toHex(ours)).toBe(toHex(ed25519.utils.toMontgomerySecret(seed)))
    }
  })

  it('the e2c key pair of an identity is a valid X25519 pair (DH agrees both ways)', () => {
    const a = identityFromSeed(new Uint8Array(32).fill(1))
    const b = identityFromSeed(new Uint8Array(32).fill(2))
    const ab = x25519(boxPrivateKey(edPrivateToX25519(a.seed)), edPublicToX25519(b.publicKey))
    const ba = x25519(boxPrivateKey(edPrivateToX25519(b.seed)), edPublicToX25519(a.publicKey))
    expect(toHex(ab)).toBe(toHex(ba))
  })

  it('never throws on invalid points, and matches Go big.Int semantics', () => {
    const P = (1n << 255n) - 19n
    const goE2c = (b: Uint8Array): string => {
      // Independent restatement of e2c.go: y = LE bytes with bit 255 cleared; ModInverse fails → u = 0.
      let y = 0n
      for (let i = 31; i >= 0; i--) y = (y << 8n) | BigInt(b[i])
      y &= (1n << 255n) - 1n
      const d = (((1n - y) % P) + P) % P
      if (d === 0n) return '00'.repeat(32)
      // extended Euclid inverse
      let [r0, r1, s0, s1] = [d, P, 1n, 0n]
      while (r1 !== 0n) { const q = r0 / r1; [r0, r1] = [r1, r0 - q * r1]; [s0, s1] = [s1, s0 - q * s1] }
      const u = (((y + 1n) * s0) % P + P) % P
      const out = new Uint8Array(32)
      let x = u
      for (let i = 0; i < 32; i++) { out[i] = Number(x & 0xffn); x >>= 8n }
      return toHex(out)
    }
    const cases = [
      new Uint8Array(32), // y = 0 → u = 1
      Uint8Array.of(1, ...new Array<number>(31).fill(0)), // y = 1 → no inverse → 0
      new Uint8Array(32).fill(0xff), // y ≥ p (non-canonical), sign bit set
      hex('ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f'), // y = p - 1
      hex('eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f'), // y = p + 1 ≡ 1 (non-canonical)
      hex('eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff') // y = p + 1, sign bit set
    ]
    for (let i = 0; i < 300; i++) cases.push(randomBytes(32)) // mostly not on the curve
    for (const c of cases) expect(toHex(edPublicToX25519(c))).toBe(goE2c(c))
    expect(toHex(edPublicToX25519(cases[0]))).toBe('01' + '00'.repeat(31))
    expect(toHex(edPublicToX25519(cases[1]))).toBe('00'.repeat(32))
    expect(toHex(edPublicToX25519(cases[4]))).toBe('00'.repeat(32))
    expect(toHex(edPublicToX25519(cases[5]))).toBe('00'.repeat(32))
  })

  it('rejects wrong lengths with a typed error', () => {
    expect(() => edPublicToX25519(new Uint8Array(31))).toThrow(/32-byte/)
    expect(() => edPrivateToX25519(new Uint8Array(33))).toThrow(expect.objectContaining({ code: 'ERR_INVALID_KEY' }))
  })
})

describe('X25519 and box.Precompute', () => {
  it('RFC 7748 §6.1 Alice/Bob: public keys and shared secret [rfc7748]', () => {
    const a = boxPrivateKey(hex(ALICE_SK))
    const b = boxPrivateKey(hex(BOB_SK))
    const base = Uint8Array.of(9, ...new Array<number>(31).fill(0))
    expect(toHex(x25519(a, base))).toBe(ALICE_PK)
    expect(toHex(x25519(b, base))).toBe(BOB_PK)
    expect(toHex(x25519(a, hex(BOB_PK)))).toBe(DH_SHARED)
    expect(toHex(x25519(b, boxPublicKey(hex(ALICE_PK))))).toBe(DH_SHARED)
    expect(toHex(x25519Reference(hex(ALICE_SK), hex(BOB_PK)))).toBe(DH_SHARED)
  })

  it('RFC 7748 §5.2 vectors 1 and 2 (non-canonical u, high bit set) [rfc7748]', () => {
    const v = [
      ['a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4', 'e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c', 'c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552'],
      ['4b66e9d4d1b4673c5ad22691957d6af5c11b6421e0ea01d42ca4169e7918ba0d', 'e5210f12786811d3f4b7959d0538ae2c31dbe7106fc03c3efc4cd549c715a493', '95cbde9476e8907d7aade45cb4b873f88b595a68799fa152e6f8f7647aac7957']
    ]
    for (const [k, u, out] of v) {
      expect(toHex(x25519(boxPrivateKey(hex(k)), hex(u)))).toBe(out)
      expect(toHex(x25519Reference(hex(k), hex(u)))).toBe(out)
    }
  })

  it('libsodium on raw scalars (the default here) agrees with node:crypto KeyObjects and the BigInt reference', () => {
    expect(boxPrivateKey(hex(ALICE_SK))).toBeInstanceOf(RawBoxPrivate) // sodium-native loaded: raw scalars
    const r = prng(21)
    const rand32 = (): Uint8Array => Uint8Array.from({ length: 32 }, () => Math.floor(r() * 256))
    for (let t = 0; t < 40; t++) {
      const k = rand32()
      const u = t % 4 === 0 ? newBoxKeys().pub : rand32() // real public keys and arbitrary u (top bit included)
      const ko = createPrivateKey({ key: Buffer.concat([Buffer.from('302e020100300506032b656e04220420', 'hex'), k]), format: 'der', type: 'pkcs8' })
      const want = toHex(x25519Reference(k, u))
      expect(toHex(x25519(boxPrivateKey(k), u))).toBe(want)
      expect(toHex(x25519(ko, u))).toBe(want)
      expect(toHex(x25519(boxPrivateKey(k), boxPublicKey(u)))).toBe(want) // a KeyObject public key meets a raw scalar
    }
  })

  it('low-order peer keys give an all-zero secret like Go (OpenSSL refuses; we do not throw)', () => {
    const a = boxPrivateKey(hex(ALICE_SK))
    for (const p of [new Uint8Array(32), Uint8Array.of(1, ...new Array<number>(31).fill(0)), hex(SMALL_ORDER_P)]) {
      expect(toHex(x25519(a, p))).toBe('00'.repeat(32))
      expect(toHex(boxPrecompute(p, a).shared)).toBe(toHex(hsalsa20(new Uint8Array(32), new Uint8Array(16))))
    }
  })

  it('Precompute = HSalsa20(X25519, 0^16) = NaCl firstkey [nacl-core1, nacl-box]', () => {
    expect(toHex(hsalsa20(hex(DH_SHARED), new Uint8Array(16)))).toBe(FIRSTKEY)
    expect(toHex(boxPrecompute(hex(BOB_PK), boxPrivateKey(hex(ALICE_SK))).shared)).toBe(FIRSTKEY)
    expect(toHex(boxPrecompute(hex(ALICE_PK), boxPrivateKey(hex(BOB_SK))).shared)).toBe(FIRSTKEY)
    // libsodium's own crypto_box_beforenm as a second opinion
    expect(toHex(sodium.crypto_box_beforenm(hex(BOB_PK), hex(ALICE_SK)))).toBe(FIRSTKEY)
  })

  it('newBoxKeys gives consistent random pairs', () => {
    const a = newBoxKeys()
    const b = newBoxKeys()
    expect(a.pub.length).toBe(32)
    expect(toHex(a.pub)).not.toBe(toHex(b.pub))
    expect(toHex(x25519(a.priv, b.pub))).toBe(toHex(x25519(b.priv, a.pub)))
  })
})

describe('XSalsa20-Poly1305 (tag ‖ body)', () => {
  it('the JS backend (@noble/ciphers) reproduces the NaCl crypto_box vector [nacl-box]', () => {
    const nonce = hex(NACL_NONCE)
    const msg = hex(NACL_MSG)
    expect(msg.length).toBe(131)
    const box = xsalsa20poly1305(hex(FIRSTKEY), nonce).encrypt(msg)
    expect(toHex(box)).toBe(toHex(hex(NACL_BOX)))
    expect(toHex(xsalsa20poly1305(hex(FIRSTKEY), nonce).decrypt(box))).toBe(toHex(msg))
    // and through our seal/open with ironwood's counter nonces, at every headroom alignment
    setCipherBackend('js')
    try {
      const key = new BoxKey(hex(FIRSTKEY))
      for (let head = 0; head < 40; head++) {
        const sealed = sealParts(key, 0x0102n, head, [msg.subarray(0, 7), msg.subarray(7)])
        expect(toHex(sealed.subarray(0, head))).toBe('00'.repeat(head))
        expect(toHex(sealed.subarray(head))).toBe(toHex(sodium.crypto_secretbox_easy(msg, nonceForCounter(0x0102n), hex(FIRSTKEY))))
        expect(toHex(boxOpen(key, 0x0102n, sealed, head) as Uint8Array)).toBe(toHex(msg))
      }
    } finally {
      setCipherBackend(undefined)
    }
  })

  it('HSalsa20 is the XSalsa20 subkey of libsodium (crypto_stream = salsa20 under hsalsa20(k, n[0..16])), random keys and nonces', () => {
    type Stream = (c: Uint8Array, n: Uint8Array, k: Uint8Array) => void
    const S = importSodiumNative() as { crypto_stream: Stream, crypto_stream_salsa20: Stream }
    for (let t = 0; t < 50; t++) {
      const k = randomBytes(32)
      const n = randomBytes(24)
      const want = new Uint8Array(100)
      S.crypto_stream(want, n, k)
      const got = new Uint8Array(100)
      S.crypto_stream_salsa20(got, n.subarray(16), hsalsa20(k, n.subarray(0, 16)))
      expect(toHex(got)).toBe(toHex(want))
    }
  })

  it('the WASM backend reproduces the NaCl crypto_box vector [nacl-box]', () => {
    const w = wasmBackend((sodium as unknown as { libsodium: unknown }).libsodium)
    const msg = hex(NACL_MSG)
    const out = new Uint8Array(147)
    w.seal(hex(FIRSTKEY), hex(NACL_NONCE), [msg.subarray(0, 50), msg.subarray(50)], msg.length, out, 0)
    expect(toHex(out)).toBe(toHex(hex(NACL_BOX)))
    expect(toHex(w.open(hex(FIRSTKEY), hex(NACL_NONCE), out, 0, out.length) as Uint8Array)).toBe(toHex(msg))
    out[0] ^= 1
    expect(w.open(hex(FIRSTKEY), hex(NACL_NONCE), out, 0, out.length)).toBeUndefined()
    expect(cipherBackends()).toContain('wasm') // it loaded and passed its self-test
  })

  it('the native backend (sodium-native) loads, is preferred, and reproduces the NaCl crypto_box vector [nacl-box]', () => {
    const mod = importSodiumNative()
    expect(mod).toBeDefined() // a dependency with linux-x64 prebuilds: it must load here
    const n = nativeBackend(mod)
    const msg = hex(NACL_MSG)
    for (const parts of [[msg], [msg.subarray(0, 50), msg.subarray(50)]]) {
      const out = new Uint8Array(3 + 147)
      n.seal(hex(FIRSTKEY), hex(NACL_NONCE), parts, msg.length, out, 3)
      expect(toHex(out.subarray(3))).toBe(toHex(hex(NACL_BOX)))
      expect(toHex(n.open(hex(FIRSTKEY), hex(NACL_NONCE), out, 3, 147) as Uint8Array)).toBe(toHex(msg))
      out[3] ^= 1
      expect(n.open(hex(FIRSTKEY), hex(NACL_NONCE), out, 3, 147)).toBeUndefined()
    }
    expect(cipherBackends()).toContain('native')
    if (process.env.AXL_SESSION_CRYPTO === undefined) expect(cipherBackend()).toBe('native')
  })

  it('the native backend opens in place: a view of the packet, the same plaintext, and no change on a bad tag', () => {
    const n = nativeBackend(importSodiumNative())
    const msg = hex(NACL_MSG)
    const out = new Uint8Array(5 + 147)
    n.seal(hex(FIRSTKEY), hex(NACL_NONCE), [msg], msg.length, out, 5)
    const bad = out.slice()
    bad[5 + 20] ^= 1
    const badCopy = bad.slice()
    expect(n.openCounterInPlace?.(hex(FIRSTKEY), 0, 0, bad, 5, 147)).toBeUndefined()
    expect(toHex(bad)).toBe(toHex(badCopy)) // libsodium checked the tag before writing anything
    // Through boxOpen with ironwood's counter nonces: in place and copied give the same plaintext.
    setCipherBackend('native')
    try {
      const key = new BoxKey(randomBytes(32))
      const big = randomBytes(60_000)
      const sealed = sealParts(key, 77n, 3, [big])
      const copied = boxOpen(key, 77n, sealed, 3)
      const inPlace = boxOpen(key, 77n, sealed, 3, true)
      expect(inPlace?.buffer).toBe(sealed.buffer)
      expect(Buffer.compare(inPlace as Uint8Array, big)).toBe(0)
      expect(Buffer.compare(copied as Uint8Array, big)).toBe(0)
    } finally {
      setCipherBackend(undefined)
    }
  })

  it('native, WASM and JS backends produce identical bytes (seal and open, 1–3 parts, headroom, counters)', () => {
    expect(cipherBackends()).toEqual(['native', 'wasm', 'js'])
    const rnd = prng(11)
    try {
      for (let t = 0; t < 300; t++) {
        const len = t < 80 ? t : Math.floor(rnd() * 70_000)
        const key = new BoxKey(randomBytes(32))
        const counter = BigInt(Math.floor(rnd() * 2 ** 32)) * BigInt(Math.floor(rnd() * 2 ** 32)) + BigInt(t)
        const msg = randomBytes(len)
        const head = t % 7
        const cut1 = Math.floor(rnd() * (len + 1))
        const cut2 = cut1 + Math.floor(rnd() * (len - cut1 + 1))
        const parts = [[msg], [msg.subarray(0, cut1), msg.subarray(cut1)], [msg.subarray(0, cut1), msg.subarray(cut1, cut2), msg.subarray(cut2)]][t % 3]
        const sealed: Record<string, string> = {}
        for (const b of ['native', 'wasm', 'js'] as const) {
          setCipherBackend(b)
          sealed[b] = toHex(sealParts(key, counter, head, parts).subarray(head))
        }
        expect(sealed.native).toBe(sealed.js)
        expect(sealed.wasm).toBe(sealed.js)
        const box = hex(sealed.js)
        const framed = new Uint8Array(head + box.length); framed.set(box, head)
        const bad = new Uint8Array(framed); bad[head + Math.floor(rnd() * box.length)] ^= 1 << (t & 7)
        for (const b of ['native', 'wasm', 'js'] as const) {
          setCipherBackend(b)
          expect(toHex(boxOpen(key, counter, framed, head) as Uint8Array)).toBe(toHex(msg))
          expect(boxOpen(key, counter, bad, head)).toBeUndefined()
          expect(boxOpen(key, counter ^ 1n, framed, head)).toBeUndefined()
        }
      }
    } finally {
      setCipherBackend(undefined)
    }
  })

  it('nonce = 16 zero bytes ‖ BE64(counter)', () => {
    expect(toHex(nonceForCounter(0n))).toBe('00'.repeat(24))
    expect(toHex(nonceForCounter(0x0102030405060708n))).toBe('00'.repeat(16) + '0102030405060708')
    expect(toHex(nonceForCounter((1n << 64n) - 1n))).toBe('00'.repeat(16) + 'ff'.repeat(8))
  })

  it('every backend equals libsodium secretbox on random keys, counters, lengths and offsets', () => {
    const rnd = prng(7)
    try {
      for (const backend of ['js', 'wasm', 'native'] as const) {
        setCipherBackend(backend)
        for (let t = 0; t < 400; t++) {
          const len = t < 100 ? t : Math.floor(rnd() * 70_000)
          const key = new BoxKey(randomBytes(32))
          const counter = BigInt(Math.floor(rnd() * 2 ** 32)) * BigInt(Math.floor(rnd() * 2 ** 32))
          const msg = randomBytes(len)
          const want = sodium.crypto_secretbox_easy(msg, nonceForCounter(counter), key.shared)
          const head = t % 9
          const sealed = sealParts(key, counter, head, [msg.subarray(0, len >> 1), msg.subarray(len >> 1)])
          expect(toHex(sealed.subarray(head))).toBe(toHex(want))
          expect(toHex(boxSeal(key, counter, msg))).toBe(toHex(want))
          const opened = boxOpen(key, counter, sealed, head)
          expect(opened && toHex(opened)).toBe(toHex(msg))
          if (len > 0) {
            const bad = new Uint8Array(sealed)
            bad[head + 16 + (t % len)] ^= 0x80
            expect(boxOpen(key, counter, bad, head)).toBeUndefined()
          }
          expect(boxOpen(key, counter + 1n, sealed, head)).toBeUndefined()
        }
      }
    } finally {
      setCipherBackend(undefined)
    }
  })

  it('open rejects boxes shorter than a tag and never throws', () => {
    const key = new BoxKey(randomBytes(32))
    for (let n = 0; n < 16; n++) expect(boxOpen(key, 1n, new Uint8Array(n))).toBeUndefined()
    expect(boxOpen(key, 1n, new Uint8Array(16))).toBeUndefined()
    expect(WASM_MIN_BYTES).toBe(0) // measured: WASM is fastest from 64 B up (bench/session-crypto)
  })
})

describe('backend loading', () => {
  it('importing session/crypto does no work: the backends load on first use', () => {
    // A fresh process: nothing is loaded by the import; the first backend query loads sodium-native.
    const script = `
      import { createRequire } from 'node:module'
      const req = createRequire(${JSON.stringify(import.meta.url)})
      const loaded = () => Object.keys(req.cache).some(k => k.includes('sodium-native'))
      const c = await import(${JSON.stringify(new URL('../src/session/crypto.ts', import.meta.url).href)})
      const before = loaded()
      const backend = c.cipherBackend()
      console.log(JSON.stringify({ before, after: loaded(), backend }))`
    const env = { ...process.env }
    delete env.AXL_SESSION_CRYPTO
    const out = execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { env, encoding: 'utf8' })
    expect(JSON.parse(out.trim().split('\n').pop() as string)).toEqual({ before: false, after: true, backend: 'native' })
  })
})

describe('init / ack', () => {
  it('opens and verifies the Go generator init A→B with E2C_PRIVB (keySeq 3) [roots-go]', () => {
    const raw = hex(GO_INIT)
    expect(raw.length).toBe(SESSION_INIT_SIZE)
    expect(raw[0]).toBe(SESSION_TYPE_INIT)
    const init = decryptInit(raw, boxPrivateKey(hex(E2C_PRIVB)), hex(PUBA))
    expect(init).toBeDefined()
    expect(init?.keySeq).toBe(3n)
    // wrong recipient key, wrong claimed sender, truncated, padded
    expect(decryptInit(raw, boxPrivateKey(hex(E2C_PUBA)), hex(PUBA))).toBeUndefined()
    expect(decryptInit(raw, boxPrivateKey(hex(E2C_PRIVB)), hex(PUBB))).toBeUndefined()
    expect(decryptInit(raw.subarray(0, 192), boxPrivateKey(hex(E2C_PRIVB)), hex(PUBA))).toBeUndefined()
    expect(decryptInit(Uint8Array.of(...raw, 0), boxPrivateKey(hex(E2C_PRIVB)), hex(PUBA))).toBeUndefined()
  })

  it('opens and verifies the init a live yggdrasil-go 0.5.14 node sent [roots-capture]', () => {
    const raw = hex(GO_SESSION_INIT)
    expect(raw.length).toBe(SESSION_INIT_SIZE)
    // The sender key is the Go node's: derived from seed 0x5c×32 (roots tests/go_vectors.rs GO_SEED/GO_PUB).
    expect(toHex(identityFromSeed(new Uint8Array(32).fill(0x5c)).publicKey)).toBe(GO_SESSION_PUB)
    const ourPriv = boxPrivateKey(edPrivateToX25519(new Uint8Array(32).fill(0x2b)))
    const init = decryptInit(raw, ourPriv, hex(GO_SESSION_PUB))
    expect(init).toBeDefined()
    expect(toHex(init?.current as Uint8Array)).toBe(GO_SESSION_CURRENT)
    expect(toHex(init?.next as Uint8Array)).toBe(GO_SESSION_NEXT)
    expect(init?.keySeq).toBe(0n)
    expect(init?.seq).toBe(GO_SESSION_SEQ)
    expect(decryptInit(raw, boxPrivateKey(edPrivateToX25519(new Uint8Array(32).fill(0xff))), hex(GO_SESSION_PUB))).toBeUndefined()
    const flipped = new Uint8Array(raw)
    flipped[100] ^= 1
    expect(decryptInit(flipped, ourPriv, hex(GO_SESSION_PUB))).toBeUndefined()
  })

  it('our init is a plain NaCl box to e2c(recipient) with the Go signature preimage (checked with libsodium)', () => {
    const a = identityFromSeed(new Uint8Array(32).fill(0xa1))
    const b = identityFromSeed(new Uint8Array(32).fill(0xb2))
    const init = { current: randomBytes(32), next: randomBytes(32), keySeq: 0x0102030405060708n, seq: 1_791_046_450n }
    for (const type of [SESSION_TYPE_INIT, SESSION_TYPE_ACK]) {
      const msg = encryptInit(type, init, (d) => a.sign(d), edPublicToX25519(b.publicKey))
      expect(msg.length).toBe(193)
      expect(msg[0]).toBe(type)
      const fromPub = msg.subarray(1, 33)
      // libsodium crypto_box_open_easy with B's e2c private key (libsodium clamps like X25519 does).
      const pt = sodium.crypto_box_open_easy(msg.subarray(33), new Uint8Array(24), fromPub, edPrivateToX25519(b.seed))
      expect(pt.length).toBe(144)
      expect(toHex(pt.subarray(64, 96))).toBe(toHex(init.current))
      expect(toHex(pt.subarray(96, 128))).toBe(toHex(init.next))
      expect(toHex(pt.subarray(128, 144))).toBe('0102030405060708' + (1_791_046_450).toString(16).padStart(16, '0'))
      expect(ed25519.verify(pt.subarray(0, 64), initSigBytes(fromPub, init), a.publicKey)).toBe(true)
      const back = decryptInit(msg, boxPrivateKey(edPrivateToX25519(b.seed)), a.publicKey)
      expect(back).toEqual({ current: new Uint8Array(init.current), next: new Uint8Array(init.next), keySeq: init.keySeq, seq: init.seq })
    }
  })

  it('a fresh ephemeral key per message (two encryptions differ)', () => {
    const a = identityFromSeed(new Uint8Array(32).fill(3))
    const init = { current: randomBytes(32), next: randomBytes(32), keySeq: 0n, seq: 5n }
    const m1 = encryptInit(1, init, (d) => a.sign(d), randomBytes(32))
    const m2 = encryptInit(1, init, (d) => a.sign(d), randomBytes(32))
    expect(toHex(m1.subarray(1, 33))).not.toBe(toHex(m2.subarray(1, 33)))
  })
})

describe('traffic framing', () => {
  it('03 ‖ uvarint(localKeySeq) ‖ uvarint(remoteKeySeq) ‖ uvarint(nonce) ‖ box(nextPub ‖ msg)', () => {
    const key = new BoxKey(randomBytes(32))
    const nextPub = randomBytes(32)
    const msg = new TextEncoder().encode('hello ygg')
    const pkt = encodeTraffic(300n, 2n, 1n << 40n, key, nextPub, msg)
    expect(pkt[0]).toBe(3)
    const a = readUvarint(pkt, 1)
    const b = readUvarint(pkt, a.offset)
    const c = readUvarint(pkt, b.offset)
    expect([a.value, b.value, c.value]).toEqual([300n, 2n, 1n << 40n])
    expect(pkt.length).toBe(c.offset + 16 + 32 + msg.length)
    const h = parseTrafficHeader(pkt)
    expect(h).toEqual({ senderLocalKeySeq: 300n, senderRemoteKeySeq: 2n, nonce: 1n << 40n, boxOffset: c.offset })
    const pt = sodium.crypto_secretbox_open_easy(pkt.subarray(c.offset), nonceForCounter(1n << 40n), key.shared)
    expect(toHex(pt)).toBe(toHex(nextPub) + toHex(msg))
    // minimum size and type checks
    expect(parseTrafficHeader(pkt.subarray(0, 51))).toBeUndefined()
    expect(parseTrafficHeader(Uint8Array.of(3, 0x80, 0x80, 0x80, ...new Array<number>(60).fill(0x80)))).toBeUndefined()
    const wrongType = new Uint8Array(pkt)
    wrongType[0] = 2
    expect(parseTrafficHeader(wrongType)).toBeUndefined()
  })
})

describe('ReplayWindow', () => {
  it('accepts each nonce once, in any order, within the window', () => {
    const w = new ReplayWindow(64)
    expect(w.check(0n)).toBe('duplicate') // nonce 0 is never valid, as in ironwood
    for (const n of [5n, 3n, 4n, 1n, 2n, 10n, 6n]) expect(w.accept(n)).toBe(true)
    for (const n of [5n, 3n, 4n, 1n, 2n, 10n, 6n]) expect(w.check(n)).toBe('duplicate')
    expect(w.highest).toBe(10n)
    expect(w.accept(100n)).toBe(true)
    expect(w.check(36n)).toBe('too-old')
    expect(w.check(37n)).toBe('ok')
    expect(w.accept(37n)).toBe(true)
    expect(w.accept(37n)).toBe(false)
  })

  it('matches a reference set model over random sequences (sizes 1, 31, 64, 8128)', () => {
    const rnd = prng(11)
    for (const size of [1, 31, 64, 8128]) {
      const w = new ReplayWindow(size)
      const seen = new Set<bigint>([0n])
      let top = 0n
      for (let i = 0; i < 20_000; i++) {
        const jump = rnd() < 0.3 ? BigInt(Math.floor(rnd() * size * 3)) : 1n
        const n = rnd() < 0.5 ? top + jump : top - BigInt(Math.floor(rnd() * (size + 40)))
        if (n < 0n) continue
        const want = n > top ? 'ok' : top - n >= BigInt(size) ? 'too-old' : seen.has(n) ? 'duplicate' : 'ok'
        expect(w.check(n)).toBe(want)
        if (want === 'ok') { w.accept(n); seen.add(n); if (n > top) top = n }
      }
    }
  })

  it('size 1 is ironwood strict high-water mark', () => {
    const w = new ReplayWindow(1)
    expect(w.accept(2n)).toBe(true)
    expect(w.accept(1n)).toBe(false)
    expect(w.accept(3n)).toBe(true)
  })

  it('handles nonces near 2^64', () => {
    const w = new ReplayWindow(8128)
    const max = (1n << 64n) - 1n
    expect(w.accept(max - 5n)).toBe(true)
    expect(w.accept(max)).toBe(true)
    expect(w.accept(max - 3n)).toBe(true)
    expect(w.check(max - 5n)).toBe('duplicate')
  })
})
