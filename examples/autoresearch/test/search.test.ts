// The research rules of one agent, without processes: dead ends are never re-run, only clearly better
// reports are validated, and a validation is adopted only if it beats the agent's own best.
import { describe, it, expect } from 'vitest'
import { Rng } from '../random.js'
import { randomRecipe, recipeHash, type Recipe } from '../recipe.js'
import { Research, type Report } from '../search.js'

function report (agent: string, recipe: Recipe, bpb: number, improved: boolean): Report {
  return { agent, exp: 1, kind: 'explore', hash: recipeHash(recipe), recipe, bpb, best: bpb, improved, adopted: false, origin: agent, seed: 1, steps: 1 }
}

describe('research', () => {
  it('never explores a recipe the swarm already reported (dead ends included)', () => {
    const a = new Research('a01', 1)
    const rng = new Rng(2)
    const heard = new Set<string>()
    // the start recipe of a01, then the swarm reports 3,000 recipes, most of them near it
    const start = a.next()
    a.record(start, 1, 1, 3.5, 10)
    for (let i = 0; i < 3000; i++) {
      const r = i % 2 === 0 ? randomRecipe(rng) : { ...start.recipe, hidden: [8, 16, 32, 64, 96, 128, 192][i % 7], lr: [0.0003, 0.001, 0.002, 0.004, 0.008, 0.016, 0.032][(i >> 3) % 7] }
      a.hear(report('b02', r, 3.6, false)) // worse than a01's best: dead ends, not candidates
      heard.add(recipeHash(r))
    }
    let skipped = 0
    for (let exp = 2; exp < 200; exp++) {
      const plan = a.next()
      expect(plan.kind).toBe('explore')
      expect(heard.has(plan.hash)).toBe(false)
      skipped += plan.skipped
      a.record(plan, exp, exp, 3.5 + exp / 1000, 10) // all worse: a01 keeps its start recipe
    }
    expect(skipped).toBeGreaterThan(0) // some mutations were dead ends already known, and were skipped
    expect(a.deadEnds()).toBeGreaterThanOrEqual(heard.size + 198 - 1) // the swarm's and its own
  })

  it('validates only clearly better reports, and adopts only what it confirms', () => {
    const a = new Research('a01', 1, { margin: 0.01 })
    const first = a.next()
    a.record(first, 1, 1, 4.0, 10)
    const rng = new Rng(9)
    const close = randomRecipe(rng)
    const better = randomRecipe(rng)
    const best = randomRecipe(rng)
    a.hear(report('b02', close, 3.98, true)) // 0.5 % better: not clearly better
    expect(a.next().kind).toBe('explore')
    a.hear(report('b02', better, 3.8, true))
    a.hear(report('c03', best, 3.7, true))
    const v1 = a.next()
    expect(v1).toMatchObject({ kind: 'validate', hash: recipeHash(best), from: 'c03', origin: 'c03', claimed: 3.7 })
    const r1 = a.record(v1, 2, 2, 4.1, 10) // not confirmed here
    expect(r1).toMatchObject({ kind: 'validate', adopted: false, improved: false, best: 4.0 })
    expect(a.current).toEqual(first.recipe)
    const v2 = a.next()
    expect(v2).toMatchObject({ kind: 'validate', hash: recipeHash(better), from: 'b02' })
    const r2 = a.record(v2, 3, 3, 3.85, 10) // confirmed: adopted
    expect(r2).toMatchObject({ adopted: true, improved: true, best: 3.85, origin: 'b02' })
    expect(a.current).toEqual(better)
    expect(a.next().kind).toBe('explore') // nothing clearly better than 3.85 is left (3.98 no longer is; 3.7 was refuted here)
  })
})
