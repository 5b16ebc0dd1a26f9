/**
 * Regression tests for the attacks of issue #14, each run through a malicious peer built from our own packages
 * (src/testing/forger.ts, public as @axl/transport-ygg/testing: validly signed frames from our wire encoders and ed25519 signers) on virtual time.
 */
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { describe, expect, it } from 'vitest'
import { VirtualClock } from '../src/clock.js'
import { peerConnPair } from '../src/network/peer-conn.js'
import { Overlay, type OverlayOptions } from '../src/network/overlay.js'
import { ed25519Signer, INSECURE_simulationCrypto, keyStr } from '../src/crypto.js'
import { encodePathLookup } from '../src/network/wire.js'
import { attachForger, forgeAnnounce, forgedSigner, signerBelow } from '../src/testing/forger.js'

/** Retained heap in bytes after a full collection (gc exposed through a fresh context). */
function retainedHeap (): number {
  setFlagsFromString('--expose-gc')
  const gc = runInNewContext('gc') as () => void
  gc()
  return process.memoryUsage().heapUsed
}

const seed = (i: number): Uint8Array => { const s = new Uint8Array(32); s[0] = i; s[31] = 99; return s }

/**
 * Two honest overlays `a` and `b` on a memory link with 1 ms latency, on `clock`. With `fake`, both use the
 * INSECURE simulation crypto (so tens of thousands of forged keys cost nothing to make or check).
 */
function honestPair (clock: VirtualClock, fake: boolean, opts: Partial<OverlayOptions> = {}): { a: Overlay, b: Overlay, got: Uint8Array[] } {
  const make = (i: number): Overlay => {
    if (!fake) return new Overlay({ signer: ed25519Signer(seed(i)), clock, ...opts })
    const c = INSECURE_simulationCrypto(seed(i))
    return new Overlay({ signer: c.signer, verify: c.verify, clock, ...opts })
  }
  const a = make(1)
  const b = make(2)
  const defer = (fn: () => void): void => { clock.setTimeout(fn, 1) }
  const [ca, cb] = peerConnPair(a.publicKey, b.publicKey, { defer })
  a.addPeer(ca)
  b.addPeer(cb)
  const got: Uint8Array[] = []
  b.onPacket = (_from, payload) => { got.push(Uint8Array.from(payload)) }
  return { a, b, got }
}

/** Sends `tag` from a to b until it arrives (a lookup may need a few rounds); true if it did within `limitMs`. */
function delivers (clock: VirtualClock, a: Overlay, b: Overlay, got: Uint8Array[], tag: string, limitMs = 10_000): boolean {
  const want = Buffer.from(tag)
  const arrived = (): boolean => got.some(g => Buffer.compare(Buffer.from(g), want) === 0)
  return clock.runUntil(() => {
    if (!arrived()) a.sendTo(b.publicKey, want)
    return arrived()
  }, limitMs, 500)
}

describe('attack: deep forged parent chain (issue #14)', () => {
  // Signatures use the simulation crypto: checking 40,000 real ones costs ~20 s here and is linear anyway.
  it('a validly signed chain of 20,000 keys behind one peer is handled in linear time; honest traffic still routes', () => {
    const N = 20_000
    const clock = new VirtualClock()
    // Caps raised so the whole chain is kept: this test is about walk cost (the caps' own test is below).
    const { a: victim, b: honest, got } = honestPair(clock, true, { maxTreeInfos: 50_000, maxTreeInfosPerPeer: 50_000 })
    clock.advance(3_000)
    const t0 = performance.now()
    const keys = Array.from({ length: N - 1 }, (_, i) => forgedSigner('chain', i, true))
    const low = Buffer.compare(Buffer.from(victim.publicKey), Buffer.from(honest.publicKey)) < 0 ? victim.publicKey : honest.publicKey
    keys.push(signerBelow('chain-root', low, true)) // the chain's root sorts below both honest keys: they join it
    const mallory = attachForger(victim, forgedSigner('mallory', 0, true), clock)
    const frames: Uint8Array[] = [forgeAnnounce(keys[N - 1], keys[N - 1], 0)]
    for (let i = N - 2; i >= 0; i--) frames.push(forgeAnnounce(keys[i], keys[i + 1], 1))
    frames.push(forgeAnnounce(mallory.signer, keys[0], 1))
    const forgeMs = performance.now() - t0
    clock.advance(10) // link up, SigReq answered
    const t1 = performance.now()
    mallory.writeAll(frames)
    clock.advance(3_000) // delivery, early passes and three ticks at both honest nodes
    const feedMs = performance.now() - t1
    console.log(`20k chain: forging ${forgeMs.toFixed(0)} ms, feeding ${feedMs.toFixed(0)} ms (victim holds ${victim.router.tree.infos.size} infos)`)
    expect(feedMs).toBeLessThan(5_000) // ~1.5–2.8 s on a 2-core box (29 s before the walks used Sets)
    const back: Uint8Array[] = []
    victim.onPacket = (_f, p) => { back.push(Uint8Array.from(p)) }
    expect(delivers(clock, honest, victim, back, 'honest to victim')).toBe(true)
    expect(delivers(clock, victim, honest, got, 'victim to honest')).toBe(true)
    victim.close(); honest.close()
  }, 120_000)
})

describe('attack: tree-info flood (issue #14)', () => {
  it('50,000 validly signed announcements from one peer leave the tree under its caps; a node behind another peer stays reachable', () => {
    const N = 50_000
    const clock = new VirtualClock()
    const { a: victim, b: honest } = honestPair(clock, true)
    // A third honest node behind `honest`: victim — honest — far.
    const fc = INSECURE_simulationCrypto(seed(3))
    const far = new Overlay({ signer: fc.signer, verify: fc.verify, clock })
    const [c1, c2] = peerConnPair(honest.publicKey, far.publicKey, { defer: (fn) => { clock.setTimeout(fn, 1) } })
    honest.addPeer(c1)
    far.addPeer(c2)
    const farGot: Uint8Array[] = []
    far.onPacket = (_f, p) => { farGot.push(Uint8Array.from(p)) }
    clock.advance(3_000)
    const mallory = attachForger(victim, forgedSigner('flood-tree', 0, true), clock)
    const frames: Uint8Array[] = [forgeAnnounce(mallory.signer, mallory.signer, 0)]
    for (let i = 0; i < N; i++) frames.push(forgeAnnounce(forgedSigner('junk', i, true), mallory.signer, 2 + (i % 60_000)))
    clock.advance(10)
    const heap0 = retainedHeap()
    mallory.writeAll(frames)
    frames.length = 0
    clock.advance(3_000)
    const size = victim.router.tree.infos.size
    const heapMb = (retainedHeap() - heap0) / 1e6
    const st = victim.stats
    console.log(`tree flood: ${N} announcements, victim holds ${size} infos (heap +${heapMb.toFixed(0)} MB), dropped ${st.treeInfosDropped}, evicted ${st.treeInfosEvicted}`)
    expect(size).toBeLessThanOrEqual(10_000)
    expect(size).toBeLessThanOrEqual(1_000 + 3) // Mallory's share, plus the three honest nodes
    expect(st.treeInfosDropped + st.treeInfosEvicted).toBeGreaterThanOrEqual(N - 1_000)
    expect(victim.closed).toBe(false)
    expect(delivers(clock, victim, far, farGot, 'victim to far')).toBe(true)
    const back: Uint8Array[] = []
    victim.onPacket = (_f, p) => { back.push(Uint8Array.from(p)) }
    expect(delivers(clock, far, victim, back, 'far to victim')).toBe(true)
    victim.close(); honest.close(); far.close()
  }, 60_000)

  it('with real ed25519, a peer over its share gets its own stale infos evicted, never an ancestry we need', () => {
    const clock = new VirtualClock()
    const { a: victim, b: honest, got } = honestPair(clock, false, { maxTreeInfosPerPeer: 50 })
    clock.advance(3_000)
    const mallory = attachForger(victim, forgedSigner('share', 0), clock)
    const frames: Uint8Array[] = [forgeAnnounce(mallory.signer, mallory.signer, 0)]
    for (let i = 0; i < 200; i++) frames.push(forgeAnnounce(forgedSigner('share-junk', i), mallory.signer, 2 + i))
    clock.advance(10)
    mallory.writeAll(frames, 10)
    clock.advance(3_000)
    const infos = victim.router.tree.infos
    expect(infos.size).toBeLessThanOrEqual(50 + 2)
    expect(infos.has(keyStr(mallory.signer.publicKey))).toBe(true) // Mallory's own ancestry stays
    expect(infos.has(keyStr(honest.publicKey))).toBe(true)
    expect(victim.stats.treeInfosDropped + victim.stats.treeInfosEvicted).toBeGreaterThanOrEqual(150)
    expect(victim.stats.badSignatures).toBe(0)
    expect(delivers(clock, victim, honest, got, 'still routes')).toBe(true)
    victim.close(); honest.close()
  }, 60_000)
})

describe('attack: PathLookup flood (issue #14)', () => {
  it('a peer sending 100,000 lookups in 10 s gets at most rate × time + burst processed; honest lookups are answered', () => {
    const clock = new VirtualClock()
    const { a: victim, b: honest, got } = honestPair(clock, false)
    // Mallory's key sorts below both: she becomes their root, so she is on the tree and her lookups count.
    const low = Buffer.compare(Buffer.from(victim.publicKey), Buffer.from(honest.publicKey)) < 0 ? victim.publicKey : honest.publicKey
    const mallory = attachForger(victim, signerBelow('flood', low), clock)
    mallory.writeAll([forgeAnnounce(mallory.signer, mallory.signer, 0)])
    clock.advance(3_000)
    expect(victim.topology().parent).toBe(Buffer.from(mallory.signer.publicKey).toString('hex'))
    const pf = victim.router.pf
    const handle = pf.handleLookup.bind(pf)
    let fromMallory = 0
    const malloryKey = keyStr(mallory.signer.publicKey)
    pf.handleLookup = (from, lookup) => { if (from === malloryKey) fromMallory++; handle(from, lookup) }
    const TOTAL = 100_000
    const SPAN_MS = 10_000
    const STEP_MS = 100
    const per = TOTAL / (SPAN_MS / STEP_MS)
    const dest = new Uint8Array(32).fill(0xee)
    const lookup = encodePathLookup({ source: mallory.signer.publicKey, dest, from: [] })
    const batch = Buffer.concat(Array.from({ length: per }, () => lookup))
    for (let t = 0; t < SPAN_MS; t += STEP_MS) clock.setTimeout(() => { mallory.conn.write(batch) }, t)
    const start = clock.now()
    clock.advance(SPAN_MS / 2)
    // Mid-flood, an honest peer's lookups (their own bucket) still find the victim, and the victim's find it.
    const back: Uint8Array[] = []
    victim.onPacket = (_f, p) => { back.push(Uint8Array.from(p)) }
    expect(delivers(clock, honest, victim, back, 'honest to victim', 4_000)).toBe(true)
    expect(clock.now() - start).toBeLessThan(SPAN_MS)
    clock.advance(start + SPAN_MS + 10 - clock.now())
    const elapsedS = (clock.now() - start) / 1000
    const bound = 100 * elapsedS + 200
    console.log(`lookup flood: ${TOTAL} sent, ${fromMallory} processed, ${victim.stats.lookupsRateLimited} dropped (bound ${bound})`)
    expect(fromMallory).toBeLessThanOrEqual(bound)
    expect(fromMallory).toBeGreaterThan(0)
    expect(victim.stats.lookupsRateLimited).toBe(TOTAL - fromMallory)
    expect(delivers(clock, victim, honest, got, 'victim to honest')).toBe(true)
    victim.close(); honest.close()
  })
})
