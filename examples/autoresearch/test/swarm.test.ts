// The smoke test: 20 agent processes and a relay on 127.0.0.1, reports over @axl/pubsub gossip, tiny experiments (20 M multiply-adds, about
// 0.05 s of an idle core). It waits (with a deadline, no sleeps) until a recipe first found by one agent has
// been validated and adopted by at least two others, then checks from the agents' own events that the
// spread was real: each adopter re-ran the recipe with its own seed, measured its own bpb, and adopted it
// only because that beat its previous best; and that agents learned of results they did not run themselves.
import { afterAll, describe, expect, it } from 'vitest'
import { SwarmRun, type ResultFields, type SwarmEvent } from '../launcher.js'

type Result = SwarmEvent & ResultFields
const AGENTS = 20

/** The first recipe (by arrival) found by an explore and adopted by at least `n` other agents, if any. */
function spreadRecipe (results: Result[], n: number): { first: Result, adoptions: Result[] } | undefined {
  const firsts = new Map<string, Result>()
  for (const r of results) if (!firsts.has(r.hash)) firsts.set(r.hash, r)
  for (const first of firsts.values()) {
    if (first.kind !== 'explore' || !first.improved) continue
    const adoptions = results.filter(r => r.hash === first.hash && r.adopted && r.agent !== first.agent)
    if (new Set(adoptions.map(a => a.agent)).size >= n) return { first, adoptions }
  }
  return undefined
}

describe('autoresearch swarm', () => {
  const run = new SwarmRun({ agents: AGENTS, macs: 20e6, evalChars: 1024, seed: 7, startMs: 45_000 })
  afterAll(async () => { run.kill(); await run.stop() })

  it(`spreads a recipe across ${AGENTS} agent processes: found by one, validated and adopted by others`, async () => {
    await run.start()
    expect(new Set(run.agents.map(a => a.pid)).size).toBe(AGENTS) // one OS process each
    const keys = new Set(run.events.filter(e => e.event === 'ready' && e.proc !== 'relay').map(e => e.key))
    expect(keys.size).toBe(AGENTS) // one key each
    expect(run.events.filter(e => e.event === 'ready' && e.proc !== 'relay').every(e => e.swarm === 'pubsub')).toBe(true) // reports over @axl/pubsub

    await run.waitFor(() => spreadRecipe(run.results(), 2) !== undefined, 45_000, 'a recipe adopted by two agents besides its finder')
    const results = run.results()
    const { first, adoptions } = spreadRecipe(results, 2)!

    for (const a of adoptions) {
      expect(a.kind).toBe('validate') // adopted through a local re-run, not copied
      expect(a.origin).toBe(first.agent) // credited to the agent that found it
      expect(a.t).toBeGreaterThan(first.t)
      expect(a.seed).not.toBe(first.seed) // its own seed…
      expect(a.bpb).not.toBe(first.bpb) // …so its own measurement
      const before = results.filter(r => r.agent === a.agent && r.exp < a.exp)
      const bestBefore = Math.min(...before.map(r => r.bpb))
      expect(a.bpb).toBeLessThan(bestBefore) // adopted because it beat this agent's own best
      expect(a.claimed!).toBeLessThan(bestBefore * 0.99) // and it was tried because the claim was clearly better
    }
    // a validation that did not beat the agent's best was not adopted
    for (const v of results.filter(r => r.kind === 'validate' && !r.adopted)) {
      const before = results.filter(r => r.agent === v.agent && r.exp < v.exp)
      expect(v.bpb).toBeGreaterThanOrEqual(Math.min(...before.map(r => r.bpb)))
    }
    // agents know results they did not run: each one's last report counts more recipes than its own experiments
    const lastOf = new Map<string, Result>()
    for (const r of results) lastOf.set(r.agent, r)
    const learned = [...lastOf.values()].filter(r => r.known > r.exp)
    expect(learned.length).toBeGreaterThanOrEqual(AGENTS / 2)
  }, 120_000)
})
