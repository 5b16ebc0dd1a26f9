/**
 * Regression tests for the attacks of issue #14, each run through a malicious peer built from our own packages
 * (test/helpers/forger.ts: validly signed frames from our wire encoders and ed25519 signers) on virtual time.
 */
import { describe, expect, it } from 'vitest'
import { VirtualClock } from '../src/clock.js'
import { peerConnPair } from '../src/network/peer-conn.js'
import { Overlay, type OverlayOptions } from '../src/network/overlay.js'
import { ed25519Signer, INSECURE_simulationCrypto, keyStr } from '../src/crypto.js'
import { encodePathLookup } from '../src/network/wire.js'
import { attachForger, forgeAnnounce, forgedSigner, signerBelow } from './helpers/forger.js'

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
    const { a: victim, b: honest, got } = honestPair(clock, true)
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
