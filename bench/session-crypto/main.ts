/**
 * Session-layer crypto benchmark (ironwood `encrypted` layer): XSalsa20-Poly1305 seal/open implementations at
 * 64 B, 1 KiB and 64 KiB, X25519 / box.Precompute / key generation, e2c, the init/ack handshake, and the full
 * SessionManager traffic path. Last stdout line: one JSON object of named results (snake_case with units).
 *
 *   pnpm bench session-crypto [--ms 400] [--rounds 3]
 *
 * Candidates for the symmetric cipher (all checked byte-identical against libsodium's secretbox first):
 *  - js:        our pure-JS backend ('js': @noble/ciphers xsalsa20poly1305 through sealParts / boxOpen);
 *  - wasm:      our raw calls into libsodium-wrappers' WASM (session/sodium.ts);
 *  - sodium:    libsodium-wrappers' public API (crypto_secretbox_easy / _open_easy), for comparison;
 *  - noble:     @noble/ciphers xsalsa20poly1305 called directly (what the js backend costs over it);
 *  - node_chacha20poly1305 (reference only): node:crypto has no XSalsa20; ChaCha20-Poly1305 is not
 *    byte-compatible with NaCl's box, so it is measured only to show what native code would give.
 * Figures: median over rounds of (time / ops) for a `--ms` window each; MB = 10^6 bytes.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { identityFromSeed } from '@axl/core'
import {
  BoxKey, boxOpen, boxPrecompute, boxPrivateKey, boxPublicKey, cipherBackend, edPrivateToX25519, edPublicToX25519,
  newBoxKeys, nonceForCounter, sealParts, setCipherBackend, useSodium, x25519, wasmBackend, decryptInit, encryptInit, SessionManager
} from '@axl/transport-ygg/session'
import { VirtualClock } from '@axl/transport-ygg/testing'
import { arg } from '../lib/args.js'

const MS = arg('ms', 400)
const results: Record<string, number | string | boolean> = {}
const ROUNDS = arg('rounds', 3)

// The bundle runs from bench/session-crypto/.build/, where npm packages of transport-ygg are not resolvable:
// resolve them from the package itself.
const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..')
const reqYgg = createRequire(join(root, 'packages', 'transport-ygg', 'package.json'))

async function importFrom (req: NodeJS.Require, spec: string): Promise<unknown> {
  return await import(pathToFileURL(req.resolve(spec)).href)
}

interface Sodium {
  ready: Promise<void>
  libsodium: unknown
  crypto_secretbox_easy: (m: Uint8Array, n: Uint8Array, k: Uint8Array) => Uint8Array
  crypto_secretbox_open_easy: (c: Uint8Array, n: Uint8Array, k: Uint8Array) => Uint8Array
}

const sodiumMod = await importFrom(reqYgg, 'libsodium-wrappers') as { default?: Sodium } & Sodium
const sodium: Sodium = sodiumMod.default ?? sodiumMod
await sodium.ready
if (!useSodium(sodium.libsodium)) throw new Error('libsodium WASM backend failed its self-test')
const wasm = wasmBackend(sodium.libsodium)

type XSalsa = (key: Uint8Array, nonce: Uint8Array) => { encrypt: (m: Uint8Array) => Uint8Array, decrypt: (c: Uint8Array) => Uint8Array }
const noble = ((await importFrom(reqYgg, '@noble/ciphers/salsa.js')) as { xsalsa20poly1305: XSalsa }).xsalsa20poly1305
let nobleX25519: { getSharedSecret: (a: Uint8Array, b: Uint8Array) => Uint8Array, getPublicKey: (a: Uint8Array) => Uint8Array } | undefined
try {
  nobleX25519 = ((await importFrom(reqYgg, '@noble/curves/ed25519.js')) as { x25519: typeof nobleX25519 }).x25519
} catch { /* skipped */ }

/** Median µs per op over ROUNDS windows of MS milliseconds. */
function bench (f: () => void, ms = MS): number {
  for (let i = 0; i < 50; i++) f() // warm-up
  const r: number[] = []
  for (let k = 0; k < ROUNDS; k++) {
    let n = 0
    const t0 = performance.now()
    let t = t0
    while (t - t0 < ms) { for (let i = 0; i < 8; i++) f(); n += 8; t = performance.now() }
    r.push((t - t0) * 1000 / n)
  }
  r.sort((a, b) => a - b)
  return r[Math.floor(r.length / 2)]
}

const round = (x: number, d = 2): number => Number(x.toFixed(d))
const rows: string[] = []
function record (name: string, size: number, us: number): void {
  results[`${name}_${size}b_us`] = round(us, 3)
  results[`${name}_${size}b_mb_s`] = round(size / us, 1)
  rows.push(`${name.padEnd(34)} ${String(size).padStart(6)} B  ${us.toFixed(2).padStart(9)} µs  ${(size / us).toFixed(1).padStart(7)} MB/s`)
}

// ---- symmetric cipher ----
const key = new BoxKey(randomBytes(32))
const counter = 0x0102030405n
const nonce = nonceForCounter(counter)
const chachaKey = randomBytes(32)
const chachaNonce = randomBytes(12)
for (const size of [64, 1024, 65536]) {
  const msg = randomBytes(size)
  const ref = sodium.crypto_secretbox_easy(msg, nonce, key.shared)
  const same = (b: Uint8Array): boolean => Buffer.from(b).equals(Buffer.from(ref))
  setCipherBackend('js')
  if (!same(sealParts(key, counter, 0, [msg]))) throw new Error('js backend not byte-identical')
  record('seal_js', size, bench(() => sealParts(key, counter, 0, [msg])))
  record('open_js', size, bench(() => boxOpen(key, counter, ref)))
  setCipherBackend('wasm')
  if (!same(sealParts(key, counter, 0, [msg]))) throw new Error('wasm backend not byte-identical')
  record('seal_wasm', size, bench(() => sealParts(key, counter, 0, [msg])))
  record('open_wasm', size, bench(() => boxOpen(key, counter, ref)))
  setCipherBackend(undefined)
  record(`seal_auto_${cipherBackend()}`, size, bench(() => sealParts(key, counter, 0, [msg])))
  record('seal_sodium_wrappers', size, bench(() => sodium.crypto_secretbox_easy(msg, nonce, key.shared)))
  record('open_sodium_wrappers', size, bench(() => sodium.crypto_secretbox_open_easy(ref, nonce, key.shared)))
  const out = new Uint8Array(size + 16)
  record('seal_wasm_raw_noalloc', size, bench(() => wasm.seal(key.shared, nonce, [msg], size, out, 0)))
  if (!same(noble(key.shared, nonce).encrypt(msg))) throw new Error('noble not byte-identical')
  record('seal_noble', size, bench(() => noble(key.shared, nonce).encrypt(msg)))
  record('open_noble', size, bench(() => noble(key.shared, nonce).decrypt(ref)))
  record('seal_node_chacha20poly1305_not_compatible', size, bench(() => {
    const c = createCipheriv('chacha20-poly1305', chachaKey, chachaNonce, { authTagLength: 16 })
    c.update(msg); c.final(); c.getAuthTag()
  }))
  const cc = createCipheriv('chacha20-poly1305', chachaKey, chachaNonce, { authTagLength: 16 })
  const ct = Buffer.concat([cc.update(msg), cc.final()])
  const tag = cc.getAuthTag()
  record('open_node_chacha20poly1305_not_compatible', size, bench(() => {
    const d = createDecipheriv('chacha20-poly1305', chachaKey, chachaNonce, { authTagLength: 16 })
    d.setAuthTag(tag); d.update(ct); d.final()
  }))
}

// ---- X25519, precompute, keygen, e2c ----
const a = newBoxKeys()
const b = newBoxKeys()
const bKO = boxPublicKey(b.pub)
const scalar = randomBytes(32)
results.x25519_node_cached_us = round(bench(() => x25519(a.priv, bKO)))
results.box_precompute_node_us = round(bench(() => boxPrecompute(bKO, a.priv)))
results.box_precompute_node_with_jwk_import_us = round(bench(() => boxPrecompute(b.pub, a.priv)))
results.box_keygen_node_us = round(bench(() => newBoxKeys()))
results.x25519_public_import_jwk_us = round(bench(() => boxPublicKey(b.pub)))
results.x25519_private_import_pkcs8_us = round(bench(() => boxPrivateKey(scalar), 200))
if (nobleX25519 !== undefined) {
  const nx = nobleX25519
  results.x25519_noble_us = round(bench(() => nx.getSharedSecret(scalar, b.pub), 300))
  results.box_keygen_noble_us = round(bench(() => nx.getPublicKey(scalar), 300))
}
const edPub = identityFromSeed(randomBytes(32)).publicKey
results.e2c_public_us = round(bench(() => edPublicToX25519(edPub), 200))
results.e2c_private_us = round(bench(() => edPrivateToX25519(scalar)))

// ---- handshake ----
const idA = identityFromSeed(new Uint8Array(32).fill(1))
const idB = identityFromSeed(new Uint8Array(32).fill(2))
const bBox = boxPublicKey(edPublicToX25519(idB.publicKey))
const aBox = boxPublicKey(edPublicToX25519(idA.publicKey))
const bPriv = boxPrivateKey(edPrivateToX25519(idB.seed))
const aPriv = boxPrivateKey(edPrivateToX25519(idA.seed))
const init = { current: a.pub, next: b.pub, keySeq: 0n, seq: 1_800_000_000n }
const signA = (d: Uint8Array): Uint8Array => idA.sign(d)
const signB = (d: Uint8Array): Uint8Array => idB.sign(d)
results.init_encrypt_us = round(bench(() => encryptInit(1, init, signA, bBox)))
const sampleInit = encryptInit(1, init, signA, bBox)
results.init_decrypt_verify_us = round(bench(() => decryptInit(sampleInit, bPriv, idA.publicKey)))
results.init_ack_pair_messages_us = round(bench(() => {
  const i = encryptInit(1, init, signA, bBox)
  decryptInit(i, bPriv, idA.publicKey)
  const k = encryptInit(2, init, signB, aBox)
  decryptInit(k, aPriv, idB.publicKey)
}))

// Full SessionManager handshake (init, ack, ack-back, first message, with all key generation and the four
// shared secrets on each side), over an in-memory wire. Managers are created outside the timed part.
{
  const N = 150
  const clock = new VirtualClock()
  const queue: Array<[SessionManager, Uint8Array, Uint8Array]> = []
  const peers: SessionManager[] = []
  const byKey = new Map<string, SessionManager>()
  const mk = (seed: number): SessionManager => {
    const id = identityFromSeed(new Uint8Array(32).fill(seed))
    const m = new SessionManager({ identity: id, clock, maxMessageSize: 1 << 20, send: (to, p) => { queue.push([m, to, p]) } })
    byKey.set(Buffer.from(id.publicKey).toString('hex'), m)
    ;(m as unknown as { pub: Uint8Array }).pub = id.publicKey
    return m
  }
  const hub = mk(200)
  for (let i = 0; i < N; i++) peers.push(mk(i + 1))
  let delivered = 0
  for (const p of peers) p.onMessage = () => { delivered++ }
  const hubPub = (hub as unknown as { pub: Uint8Array }).pub
  const pump = (): void => {
    while (queue.length > 0) {
      const [from, to, p] = queue.shift() as [SessionManager, Uint8Array, Uint8Array]
      byKey.get(Buffer.from(to).toString('hex'))?.handlePacket((from as unknown as { pub: Uint8Array }).pub, p)
    }
  }
  const msg = new Uint8Array(64)
  const t0 = performance.now()
  for (const p of peers) {
    hub.sendTo((p as unknown as { pub: Uint8Array }).pub, msg)
    pump()
  }
  const t1 = performance.now()
  if (delivered !== N) throw new Error(`handshake bench delivered ${delivered}/${N}`)
  results.session_handshake_full_both_sides_us = round((t1 - t0) * 1000 / N, 1)
  results.session_handshake_messages = round(hub.stats.initsSent + hub.stats.acksSent + peers.reduce((s, p) => s + p.stats.acksSent + p.stats.initsSent, 0), 0) / N
  void hubPub

  // Traffic through the whole SessionManager path (seal, frame, parse, window, open, deliver), one process.
  const p0 = peers[0]
  const p0pub = (p0 as unknown as { pub: Uint8Array }).pub
  for (const size of [64, 1024, 65536]) {
    const m = randomBytes(size)
    const us = bench(() => { hub.sendTo(p0pub, m); pump() })
    record('session_send_recv', size, us)
  }
  hub.close()
  for (const p of peers) p.close()
}

results.cipher_backend_default = cipherBackend()
results.node = process.version

console.log('\nsession-crypto (µs per op, median of rounds; MB = 10^6 B)')
for (const r of rows) console.log('  ' + r)
console.log(`  x25519 node (cached KeyObjects) ${String(results.x25519_node_cached_us)} µs, noble ${String(results.x25519_noble_us)} µs; ` +
  `keygen node ${String(results.box_keygen_node_us)} µs; e2c public ${String(results.e2c_public_us)} µs`)
console.log(`  init+ack pair (2 encrypt + 2 decrypt/verify) ${String(results.init_ack_pair_messages_us)} µs; ` +
  `full SessionManager handshake incl. first message, both sides ${String(results.session_handshake_full_both_sides_us)} µs`)
console.log(JSON.stringify(results))
