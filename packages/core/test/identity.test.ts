import { execFileSync, spawnSync } from 'node:child_process'
import { createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes } from 'node:crypto'
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { inspect } from 'node:util'
import { ed25519 } from '@noble/curves/ed25519.js'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { isAddress, parseIpv6 } from '../src/address.js'
import { ConfigError, InvalidKeyError } from '../src/errors.js'
import {
  generateIdentity, identityFromPem, identityFromSeed, identityFromYggdrasilHex, loadIdentity, PUBLIC_KEY_CACHE_SIZE,
  publicKeyObject, saveIdentity, verify
} from '../src/identity.js'
import { isPeerId } from '../src/peer-id.js'
import { ed25519PrivateKeyDer, ed25519PublicKeyDer, ed25519SeedFromPrivateKeyDer } from '../src/ed25519-der.js'

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex')
const enc = (s: string): Uint8Array => new TextEncoder().encode(s)

// axl-reference.md §1.4 vector: seed = 32×0x01.
const PEM_01 = '-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIAEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEB\n-----END PRIVATE KEY-----'
const PUB_01 = '8a88e3dd7409f195fd52db2d3cba5d72ca6709bf1d94121bf3748801b40f6f5c'
const ADDR_01 = '200:eaee:3845:17ec:1cd4:55a:49a5:868b'

const hasOpenssl = spawnSync('openssl', ['version'], { encoding: 'utf8' }).status === 0
if (!hasOpenssl) console.log('identity.test: `openssl` not found on PATH; skipping the tests that use the openssl CLI')
const itOpenssl = it.skipIf(!hasOpenssl)

/** Runs openssl and returns stdout (as text or bytes). */
function openssl (args: string[], input?: Uint8Array): Buffer {
  return execFileSync('openssl', args, { input, stdio: ['pipe', 'pipe', 'pipe'] })
}

/** PEM from DER with the given type (64-character lines). */
function pemOf (type: string, der: Uint8Array): string {
  const b64 = Buffer.from(der).toString('base64').match(/.{1,64}/g)?.join('\n') ?? ''
  return `-----BEGIN ${type}-----\n${b64}\n-----END ${type}-----\n`
}

let dir = ''
beforeAll(async () => { dir = await mkdtemp(join(tmpdir(), 'axl-identity-')) })
afterAll(async () => { if (dir !== '') await rm(dir, { recursive: true, force: true }) })

describe('identityFromPem: reference vector', () => {
  it('seed 32×0x01 → public key, peer id and address from axl-reference §1.4', () => {
    const id = identityFromPem(PEM_01)
    expect(hex(id.publicKey)).toBe(PUB_01)
    expect(id.peerId).toBe(PUB_01)
    expect(id.address).toBe(ADDR_01)
    expect(hex(id.seed)).toBe('01'.repeat(32))
  })

  it('writes the PEM back byte for byte (plus the trailing newline openssl writes)', () => {
    expect(identityFromPem(PEM_01).toPem()).toBe(PEM_01 + '\n')
    expect(identityFromSeed(new Uint8Array(32).fill(1)).toPem()).toBe(PEM_01 + '\n')
  })

  it('accepts CRLF line endings, surrounding text and extra blank space', () => {
    expect(identityFromPem(PEM_01.replace(/\n/g, '\r\n')).peerId).toBe(PUB_01)
    expect(identityFromPem(`some comment\n${PEM_01}\ntrailing`).peerId).toBe(PUB_01)
    const wrapped = PEM_01.replace('MC4CAQAwBQYDK2VwBCIEIAEBAQEB', 'MC4CAQAwBQYDK2VwBCIEIAEBAQEB\n')
    expect(identityFromPem(wrapped).peerId).toBe(PUB_01)
  })

  it('yields the Yggdrasil hex seed‖pub', () => {
    expect(identityFromPem(PEM_01).toYggdrasilHex()).toBe('01'.repeat(32) + PUB_01)
  })
})

describe('round trips', () => {
  it('PEM ↔ identity ↔ Yggdrasil hex ↔ seed for 100 random identities', () => {
    for (let i = 0; i < 100; i++) {
      const id = generateIdentity()
      const fromPem = identityFromPem(id.toPem())
      const fromHex = identityFromYggdrasilHex(id.toYggdrasilHex())
      const fromSeed = identityFromSeed(id.seed)
      for (const other of [fromPem, fromHex, fromSeed]) {
        expect(other.peerId).toBe(id.peerId)
        expect(other.publicKey).toEqual(id.publicKey)
        expect(other.seed).toEqual(id.seed)
        expect(other.address).toBe(id.address)
        expect(other.toPem()).toBe(id.toPem())
        expect(other.toYggdrasilHex()).toBe(id.toYggdrasilHex())
      }
      expect(id.toYggdrasilHex()).toMatch(/^[0-9a-f]{128}$/)
      expect(id.toYggdrasilHex().slice(64)).toBe(id.peerId)
    }
  })

  it('accepts upper-case and padded Yggdrasil hex', () => {
    const id = generateIdentity()
    expect(identityFromYggdrasilHex(`  ${id.toYggdrasilHex().toUpperCase()}\n`).peerId).toBe(id.peerId)
  })
})

describe('generateIdentity', () => {
  it('produces distinct, well-formed identities', () => {
    const a = generateIdentity()
    const b = generateIdentity()
    expect(a.peerId).not.toBe(b.peerId)
    for (const id of [a, b]) {
      expect(isPeerId(id.peerId)).toBe(true)
      expect(id.publicKey.length).toBe(32)
      expect(id.seed.length).toBe(32)
      expect(isAddress(parseIpv6(id.address))).toBe(true)
      expect(Object.getPrototypeOf(id.publicKey)).toBe(Uint8Array.prototype)
    }
  })

  it('keeps the seed out of JSON and inspect output', () => {
    const id = generateIdentity()
    const seedHex = hex(id.seed)
    const json = JSON.stringify(id)
    expect(json).toContain(id.peerId)
    expect(json).not.toContain(seedHex)
    expect(json).not.toContain('seed')
    expect(inspect(id, { depth: 5 })).not.toContain('seed')
    expect(inspect(id)).toContain(id.peerId)
    expect(Object.keys(id)).not.toContain('seed')
  })
})

describe('identityFromSeed', () => {
  it('copies the seed (later changes to the caller buffer do not change the identity)', () => {
    const seed = new Uint8Array(32).fill(1)
    const id = identityFromSeed(seed)
    const sig = id.sign(enc('x'))
    seed.fill(9)
    expect(hex(id.seed)).toBe('01'.repeat(32))
    expect(id.sign(enc('x'))).toEqual(sig)
    expect(id.peerId).toBe(PUB_01)
  })

  it('accepts a subarray view', () => {
    const big = new Uint8Array(40).fill(1)
    expect(identityFromSeed(big.subarray(3, 35)).peerId).toBe(PUB_01)
  })

  it('rejects wrong-length seeds', () => {
    for (const n of [0, 1, 31, 33, 64]) {
      expect(() => identityFromSeed(new Uint8Array(n))).toThrow(InvalidKeyError)
      expect(() => identityFromSeed(new Uint8Array(n))).toThrow(`ed25519 seed must be 32 bytes, got ${n} bytes`)
    }
    expect(() => identityFromSeed('01'.repeat(32) as unknown as Uint8Array)).toThrow('ed25519 seed must be a Uint8Array of 32 bytes, got string')
  })
})

describe('identityFromYggdrasilHex errors', () => {
  it('rejects wrong lengths', () => {
    const h = generateIdentity().toYggdrasilHex()
    expect(() => identityFromYggdrasilHex(h.slice(1))).toThrow(InvalidKeyError)
    expect(() => identityFromYggdrasilHex(h.slice(1))).toThrow('Yggdrasil private key must be 128 hex characters (64 bytes: seed + public key), got 127 characters')
    expect(() => identityFromYggdrasilHex(h.slice(0, 64))).toThrow('got 64 characters')
    expect(() => identityFromYggdrasilHex('')).toThrow('got 0 characters')
  })

  it('rejects non-hex characters', () => {
    const h = generateIdentity().toYggdrasilHex()
    expect(() => identityFromYggdrasilHex(h.slice(0, 5) + 'x' + h.slice(6))).toThrow('Yggdrasil private key: non-hex character "x" at position 5')
  })

  it('rejects a public half that does not match the seed', () => {
    const a = generateIdentity()
    const b = generateIdentity()
    const bad = hex(a.seed) + b.peerId
    expect(() => identityFromYggdrasilHex(bad)).toThrow(InvalidKeyError)
    expect(() => identityFromYggdrasilHex(bad)).toThrow(
      `Yggdrasil private key: the public half ${b.peerId} does not match the seed (expected ${a.peerId})`
    )
  })

  it('rejects non-strings', () => {
    expect(() => identityFromYggdrasilHex(undefined as unknown as string)).toThrow('Yggdrasil private key must be a hex string, got undefined')
  })
})

describe('ed25519 DER helpers (RFC 8410)', () => {
  it('wrap raw keys exactly as OpenSSL exports them, and unwrap only that form', () => {
    for (let i = 0; i < 20; i++) {
      const { privateKey, publicKey } = generateKeyPairSync('ed25519')
      const pkcs8 = privateKey.export({ format: 'der', type: 'pkcs8' })
      const spki = publicKey.export({ format: 'der', type: 'spki' })
      const seed = ed25519SeedFromPrivateKeyDer(pkcs8) as Uint8Array
      expect(seed.length).toBe(32)
      expect(ed25519PrivateKeyDer(seed).equals(pkcs8)).toBe(true)
      expect(ed25519PublicKeyDer(spki.subarray(12)).equals(spki)).toBe(true)
      expect(createPrivateKey({ key: ed25519PrivateKeyDer(seed), format: 'der', type: 'pkcs8' }).equals(privateKey)).toBe(true)
      expect(createPublicKey({ key: ed25519PublicKeyDer(spki.subarray(12)), format: 'der', type: 'spki' }).equals(publicKey)).toBe(true)
    }
    expect(ed25519PrivateKeyDer(new Uint8Array(32).fill(1)).toString('hex')).toBe('302e020100300506032b657004220420' + '01'.repeat(32))
    expect(ed25519PublicKeyDer(new Uint8Array(32).fill(2)).toString('hex')).toBe('302a300506032b6570032100' + '02'.repeat(32))
    const x = generateKeyPairSync('x25519').privateKey.export({ format: 'der', type: 'pkcs8' })
    expect(ed25519SeedFromPrivateKeyDer(x)).toBeUndefined() // same length, other OID
    expect(ed25519SeedFromPrivateKeyDer(new Uint8Array(47))).toBeUndefined()
    expect(() => ed25519PrivateKeyDer(new Uint8Array(31))).toThrow(InvalidKeyError)
    expect(() => ed25519PublicKeyDer(new Uint8Array(33))).toThrow(InvalidKeyError)
  })
})

describe('identityFromPem errors (Yggdrasil wording)', () => {
  const der01 = Buffer.from('302e020100300506032b657004220420' + '01'.repeat(32), 'hex')

  it('no PEM block at all', () => {
    expect(() => identityFromPem('')).toThrow(InvalidKeyError)
    expect(() => identityFromPem('')).toThrow('failed to parse PEM file')
    expect(() => identityFromPem('hello world')).toThrow('failed to parse PEM file')
    expect(() => identityFromPem(PEM_01.replace('-----END PRIVATE KEY-----', ''))).toThrow('failed to parse PEM file')
    expect(() => identityFromPem(PEM_01.replace('END PRIVATE KEY', 'END PUBLIC KEY'))).toThrow('failed to parse PEM file')
  })

  it('bad base64', () => {
    expect(() => identityFromPem(PEM_01.replace('MC4C', 'MC4!'))).toThrow('failed to parse PEM file')
    expect(() => identityFromPem(PEM_01.replace('MC4C', 'MC4'))).toThrow('failed to parse PEM file') // length not a multiple of 4
    expect(() => identityFromPem(PEM_01.replace('MC4C', 'M=4C'))).toThrow('failed to parse PEM file')
  })

  it('wrong PEM type', () => {
    const id = generateIdentity()
    const spki = Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), Buffer.from(id.publicKey)])
    expect(() => identityFromPem(pemOf('PUBLIC KEY', spki))).toThrow(InvalidKeyError)
    expect(() => identityFromPem(pemOf('PUBLIC KEY', spki))).toThrow('unexpected PEM type "PUBLIC KEY"')
    expect(() => identityFromPem(pemOf('OPENSSH PRIVATE KEY', der01))).toThrow('unexpected PEM type "OPENSSH PRIVATE KEY"')
    expect(() => identityFromPem(pemOf('ENCRYPTED PRIVATE KEY', der01))).toThrow('unexpected PEM type "ENCRYPTED PRIVATE KEY"')
  })

  it('truncated or corrupt DER', () => {
    const check = (der: Uint8Array): void => {
      expect(() => identityFromPem(pemOf('PRIVATE KEY', der))).toThrow(InvalidKeyError)
      expect(() => identityFromPem(pemOf('PRIVATE KEY', der))).toThrow(/^failed to unmarshal PKCS8 key: /)
    }
    check(der01.subarray(0, der01.length - 5))
    check(der01.subarray(0, 10))
    check(new Uint8Array([0x30, 0x00]))
    check(new Uint8Array(0))
    const wrongOid = Buffer.from(der01)
    wrongOid[13] = 0x99 // 1.3.101.112 → 1.3.101.153
    check(wrongOid)
  })

  it('keeps the cause', () => {
    try {
      identityFromPem(pemOf('PRIVATE KEY', der01.subarray(0, 20)))
      expect.unreachable()
    } catch (err) {
      expect((err as InvalidKeyError).code).toBe('ERR_INVALID_KEY')
      expect((err as Error).cause).toBeInstanceOf(Error)
    }
  })

  itOpenssl('an RSA key made by openssl', () => {
    const pem = openssl(['genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:1024']).toString()
    expect(pem).toContain('-----BEGIN PRIVATE KEY-----')
    expect(() => identityFromPem(pem)).toThrow(InvalidKeyError)
    expect(() => identityFromPem(pem)).toThrow('private key must be ed25519 key (got rsa)')
  })

  itOpenssl('an EC P-256 key made by openssl (PKCS#8 and SEC1)', () => {
    const pem = openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256']).toString()
    expect(() => identityFromPem(pem)).toThrow('private key must be ed25519 key (got ec)')
    const sec1 = openssl(['ec'], Buffer.from(pem)).toString()
    expect(() => identityFromPem(sec1)).toThrow('unexpected PEM type "EC PRIVATE KEY"')
  })

  itOpenssl('X25519 and Ed448 keys made by openssl', () => {
    const x = openssl(['genpkey', '-algorithm', 'x25519']).toString()
    expect(() => identityFromPem(x)).toThrow('private key must be ed25519 key (got x25519)')
    const e448 = openssl(['genpkey', '-algorithm', 'ed448']).toString()
    expect(() => identityFromPem(e448)).toThrow('private key must be ed25519 key (got ed448)')
  })

  itOpenssl('an ed25519 public key written by openssl', () => {
    const priv = openssl(['genpkey', '-algorithm', 'ed25519'])
    const pub = openssl(['pkey', '-pubout'], priv).toString()
    expect(() => identityFromPem(pub)).toThrow('unexpected PEM type "PUBLIC KEY"')
  })

  it('rejects non-strings', () => {
    expect(() => identityFromPem(Buffer.from(PEM_01) as unknown as string)).toThrow('failed to parse PEM file: expected a string')
  })
})

describe('openssl CLI interop', () => {
  itOpenssl('loads a key from `openssl genpkey -algorithm ed25519` and agrees on the public key and signatures', () => {
    for (let i = 0; i < 3; i++) {
      const pem = openssl(['genpkey', '-algorithm', 'ed25519']).toString()
      const id = identityFromPem(pem)
      expect(id.toPem()).toBe(pem) // byte-identical to what openssl writes
      const spki = openssl(['pkey', '-pubout', '-outform', 'DER'], Buffer.from(pem))
      expect(hex(id.publicKey)).toBe(hex(spki.subarray(spki.length - 32)))
      const msg = randomBytes(100)
      const keyFile = join(dir, `k${i}.pem`)
      const msgFile = join(dir, `m${i}.bin`)
      execFileSync('sh', ['-c', 'cat > "$0"', keyFile], { input: pem })
      execFileSync('sh', ['-c', 'cat > "$0"', msgFile], { input: msg })
      const sig = openssl(['pkeyutl', '-sign', '-rawin', '-inkey', keyFile, '-in', msgFile])
      expect(hex(id.sign(msg))).toBe(hex(sig))
      expect(verify(id.publicKey, msg, sig)).toBe(true)
    }
  })

  itOpenssl('openssl reads what saveIdentity writes', async () => {
    const id = generateIdentity()
    const file = join(dir, 'for-openssl.pem')
    await saveIdentity(id, file)
    const spki = openssl(['pkey', '-in', file, '-pubout', '-outform', 'DER'])
    expect(hex(spki.subarray(spki.length - 32))).toBe(id.peerId)
  })
})

describe('sign / verify', () => {
  it('cross-checks with @noble/curves (public key, signature bytes, verification both ways)', () => {
    for (let i = 0; i < 50; i++) {
      const id = generateIdentity()
      expect(hex(ed25519.getPublicKey(id.seed))).toBe(id.peerId)
      const msg = randomBytes(i * 7)
      const sig = id.sign(msg)
      expect(sig.length).toBe(64)
      expect(hex(sig)).toBe(hex(ed25519.sign(msg, id.seed)))
      expect(ed25519.verify(sig, msg, id.publicKey)).toBe(true)
      const nobleSig = ed25519.sign(msg, id.seed)
      expect(verify(id.publicKey, msg, nobleSig)).toBe(true)
    }
  })

  it('the 0x01 vector signs like noble', () => {
    const id = identityFromPem(PEM_01)
    const msg = enc('hello axl')
    expect(hex(id.sign(msg))).toBe(hex(ed25519.sign(msg, new Uint8Array(32).fill(1))))
  })

  it('returns false for tampered data, signatures and keys', () => {
    const id = generateIdentity()
    const other = generateIdentity()
    const msg = enc('the message')
    const sig = id.sign(msg)
    expect(verify(id.publicKey, msg, sig)).toBe(true)
    expect(verify(id.publicKey, enc('the messagE'), sig)).toBe(false)
    expect(verify(other.publicKey, msg, sig)).toBe(false)
    for (const pos of [0, 31, 32, 63]) {
      const bad = Uint8Array.from(sig)
      bad[pos] ^= 0x01
      expect(verify(id.publicKey, msg, bad)).toBe(false)
    }
    const badKey = Uint8Array.from(id.publicKey)
    badKey[5] ^= 0x80
    expect(verify(badKey, msg, sig)).toBe(false)
  })

  it('returns false (never throws) for wrong lengths and wrong types', () => {
    const id = generateIdentity()
    const msg = enc('m')
    const sig = id.sign(msg)
    expect(verify(id.publicKey.subarray(0, 31), msg, sig)).toBe(false)
    expect(verify(new Uint8Array(33), msg, sig)).toBe(false)
    expect(verify(new Uint8Array(0), msg, sig)).toBe(false)
    expect(verify(id.publicKey, msg, sig.subarray(0, 63))).toBe(false)
    expect(verify(id.publicKey, msg, new Uint8Array(65))).toBe(false)
    expect(verify(id.publicKey, msg, new Uint8Array(0))).toBe(false)
    expect(verify(null as unknown as Uint8Array, msg, sig)).toBe(false)
    expect(verify(id.publicKey, 'm' as unknown as Uint8Array, sig)).toBe(false)
    expect(verify(id.publicKey, msg, 'sig' as unknown as Uint8Array)).toBe(false)
  })

  it('returns false for degenerate public keys (all zero, all ff, not on the curve)', () => {
    const sig = generateIdentity().sign(enc('m'))
    expect(verify(new Uint8Array(32), enc('m'), sig)).toBe(false)
    expect(verify(new Uint8Array(32).fill(0xff), enc('m'), sig)).toBe(false)
    expect(verify(new Uint8Array(32).fill(0x02), enc('m'), new Uint8Array(64))).toBe(false)
  })

  it('signs and verifies empty and large messages, Buffers and subarrays', () => {
    const id = generateIdentity()
    for (const msg of [new Uint8Array(0), randomBytes(1 << 20), Buffer.from('buf'), randomBytes(50).subarray(10, 20)]) {
      const sig = id.sign(msg)
      expect(verify(id.publicKey, msg, sig)).toBe(true)
      expect(verify(id.publicKey, Uint8Array.from(msg), Uint8Array.from(sig))).toBe(true)
    }
  })
})

describe('publicKeyObject cache', () => {
  it('returns the same KeyObject for the same key bytes', () => {
    const id = generateIdentity()
    const k1 = publicKeyObject(id.publicKey)
    const k2 = publicKeyObject(Uint8Array.from(id.publicKey))
    expect(k1).toBe(k2)
    expect(k1.asymmetricKeyType).toBe('ed25519')
    expect(k1.type).toBe('public')
  })

  it('is bounded: the least recently used key is evicted', () => {
    const first = generateIdentity().publicKey
    const kFirst = publicKeyObject(first)
    const keep = generateIdentity().publicKey
    const kKeep = publicKeyObject(keep)
    for (let i = 0; i < PUBLIC_KEY_CACHE_SIZE; i++) {
      if (i % 1000 === 0) publicKeyObject(keep) // keep touching it: it must survive
      publicKeyObject(randomBytes(32))
    }
    expect(publicKeyObject(keep)).toBe(kKeep)
    expect(publicKeyObject(first)).not.toBe(kFirst)
  })

  it('throws InvalidKeyError for wrong lengths', () => {
    expect(() => publicKeyObject(new Uint8Array(31))).toThrow(InvalidKeyError)
    expect(() => publicKeyObject(new Uint8Array(31))).toThrow('ed25519 public key must be 32 bytes, got 31 bytes')
    expect(() => publicKeyObject('x' as unknown as Uint8Array)).toThrow('ed25519 public key must be 32 bytes, got string')
  })
})

describe('loadIdentity / saveIdentity', () => {
  it('saves with mode 0600 and loads the same identity', async () => {
    const id = generateIdentity()
    const file = join(dir, 'a.pem')
    await saveIdentity(id, file)
    expect((await stat(file)).mode & 0o777).toBe(0o600)
    expect(await readFile(file, 'utf8')).toBe(id.toPem())
    const loaded = await loadIdentity(file)
    expect(loaded.peerId).toBe(id.peerId)
    expect(loaded.seed).toEqual(id.seed)
  })

  it('refuses to overwrite unless { overwrite: true }', async () => {
    const a = generateIdentity()
    const b = generateIdentity()
    const file = join(dir, 'b.pem')
    await saveIdentity(a, file)
    await expect(saveIdentity(b, file)).rejects.toThrow(ConfigError)
    await expect(saveIdentity(b, file)).rejects.toThrow(`refusing to overwrite existing identity file "${file}" (pass { overwrite: true })`)
    expect((await loadIdentity(file)).peerId).toBe(a.peerId)
    await saveIdentity(b, file, { overwrite: true })
    expect((await loadIdentity(file)).peerId).toBe(b.peerId)
    expect((await stat(file)).mode & 0o777).toBe(0o600)
    expect((await readdir(dir)).filter(n => n.includes('.tmp'))).toEqual([])
  })

  it('overwrite tightens the mode of a world-readable file', async () => {
    const file = join(dir, 'c.pem')
    await writeFile(file, 'old', { mode: 0o644 })
    await saveIdentity(generateIdentity(), file, { overwrite: true })
    expect((await stat(file)).mode & 0o777).toBe(0o600)
  })

  it('overwrite: true also creates a new file', async () => {
    const file = join(dir, 'd.pem')
    const id = generateIdentity()
    await saveIdentity(id, file, { overwrite: true })
    expect((await loadIdentity(file)).peerId).toBe(id.peerId)
  })

  it('loads the openssl-format vector from disk', async () => {
    const file = join(dir, 'vector.pem')
    await writeFile(file, PEM_01 + '\n')
    const id = await loadIdentity(file)
    expect(id.peerId).toBe(PUB_01)
    expect(id.address).toBe(ADDR_01)
  })

  it('errors name the path', async () => {
    const missing = join(dir, 'missing.pem')
    await expect(loadIdentity(missing)).rejects.toThrow(InvalidKeyError)
    await expect(loadIdentity(missing)).rejects.toThrow(`cannot read identity file "${missing}": ENOENT`)
    const bad = join(dir, 'bad.pem')
    await writeFile(bad, pemOf('PUBLIC KEY', new Uint8Array(44)))
    await expect(loadIdentity(bad)).rejects.toThrow(`invalid identity file "${bad}": unexpected PEM type "PUBLIC KEY"`)
    const garbage = join(dir, 'garbage.pem')
    await writeFile(garbage, 'not a pem')
    await expect(loadIdentity(garbage)).rejects.toThrow(`invalid identity file "${garbage}": failed to parse PEM file`)
    await expect(loadIdentity(dir)).rejects.toThrow(`cannot read identity file "${dir}": EISDIR`)
  })

  it('saveIdentity into a missing directory fails with the system error', async () => {
    await expect(saveIdentity(generateIdentity(), join(dir, 'no', 'such', 'x.pem'))).rejects.toThrow(/ENOENT/)
  })
})
