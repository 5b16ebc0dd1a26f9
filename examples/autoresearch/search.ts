/**
 * One agent's research, as a state machine with no I/O: what to run next, what a result means, what a
 * peer's report means. The rules:
 *  - explore: mutate the current recipe into one nobody has reported (a recipe's hash is checked against every
 *    result known, ours and the swarm's, so a dead end found by anyone is never run again);
 *  - a run that beats our best becomes our current recipe; one that does not is a dead end, reported as such;
 *  - a peer's report clearly better than our best (by `margin`, default 1 %) is queued for validation: we
 *    re-run that recipe with our own seed and budget and adopt it only if it beats our best here too.
 */
import { mixSeed, Rng } from './random.js'
import { mutate, randomRecipe, recipeHash, type Recipe } from './recipe.js'

/** What an agent broadcasts after each experiment. */
export interface Report {
  agent: string
  /** The agent's experiment number (1, 2, …). */
  exp: number
  kind: 'explore' | 'validate'
  hash: string
  recipe: Recipe
  /** Validation bits per byte of this run. */
  bpb: number
  /** The agent's best after this run. */
  best: number
  /** This run became the agent's best (an explore that improved, or a validation that confirmed). */
  improved: boolean
  /** A validation that confirmed a peer's recipe, now the agent's own. */
  adopted: boolean
  /** The agent that first reported this recipe, as far as this agent knows. */
  origin: string
  /** For a validation: the agent whose report prompted it, and the bpb it claimed. */
  from?: string
  claimed?: number
  seed: number
  steps: number
}

/** The next experiment to run. */
export interface Plan {
  kind: 'explore' | 'validate'
  recipe: Recipe
  hash: string
  /** Explore: mutations skipped because their hash was already known (dead ends and results of others). */
  skipped: number
  from?: string
  origin?: string
  claimed?: number
}

/** What the swarm knows about one recipe. */
export interface Known { bpb: number, origin: string, runs: number, deadEnds: number }

/** Options of a Research. */
export interface ResearchOptions {
  /** How much better (relative) a peer's result must be to be worth validating. Default 0.01. */
  margin?: number
  /** Bound on recipes remembered (oldest forgotten first). Default 10,000. */
  maxKnown?: number
  /** Bound on validation candidates queued (the best kept). Default 32. */
  maxPending?: number
  /** The first recipe (default: a random one from the agent's seed). */
  start?: Recipe
}

/** One agent's research state. */
export class Research {
  readonly known = new Map<string, Known>()
  readonly ours = new Set<string>()
  current: Recipe | undefined
  currentHash = ''
  best = Infinity
  private readonly pending = new Map<string, { recipe: Recipe, bpb: number, from: string, origin: string }>()
  private readonly rng: Rng
  private readonly margin: number
  private readonly maxKnown: number
  private readonly maxPending: number
  private readonly start: Recipe | undefined

  constructor (readonly name: string, seed: number, opts: ResearchOptions = {}) {
    this.rng = new Rng(mixSeed(seed, 0x5eed))
    this.margin = opts.margin ?? 0.01
    this.maxKnown = opts.maxKnown ?? 10_000
    this.maxPending = opts.maxPending ?? 32
    this.start = opts.start
  }

  /** Whether a result of `bpb` is clearly better than our best. */
  clearlyBetter (bpb: number): boolean { return bpb < this.best * (1 - this.margin) }

  /** The next experiment: a pending validation of a clearly better recipe if any, else an exploration. */
  next (): Plan {
    let cand: { hash: string, recipe: Recipe, bpb: number, from: string, origin: string } | undefined
    for (const [hash, p] of this.pending) {
      if (this.ours.has(hash) || !this.clearlyBetter(p.bpb)) { this.pending.delete(hash); continue }
      if (cand === undefined || p.bpb < cand.bpb) cand = { hash, ...p }
    }
    if (cand !== undefined && this.current !== undefined) {
      this.pending.delete(cand.hash)
      return { kind: 'validate', recipe: cand.recipe, hash: cand.hash, skipped: 0, from: cand.from, origin: cand.origin, claimed: cand.bpb }
    }
    let skipped = 0
    for (let i = 0; i < 200; i++) {
      const recipe = this.current === undefined ? (i === 0 && this.start !== undefined ? this.start : randomRecipe(this.rng)) : (i < 150 ? mutate(this.current, this.rng) : randomRecipe(this.rng))
      const hash = recipeHash(recipe)
      if (this.known.has(hash) || this.ours.has(hash)) { skipped++; continue }
      return { kind: 'explore', recipe, hash, skipped }
    }
    throw new Error('no unexplored recipe found in 200 draws')
  }

  /** Take in our own result of `plan`; returns the report to broadcast. */
  record (plan: Plan, exp: number, seed: number, bpb: number, steps: number): Report {
    this.ours.add(plan.hash)
    if (this.ours.size > this.maxKnown) this.ours.delete(this.ours.values().next().value!)
    const improved = bpb < this.best
    if (improved) { this.best = bpb; this.current = plan.recipe; this.currentHash = plan.hash }
    const origin = this.learn(plan.hash, bpb, plan.origin ?? this.name, !improved)
    return {
      agent: this.name, exp, kind: plan.kind, hash: plan.hash, recipe: plan.recipe, bpb, best: this.best, improved,
      adopted: plan.kind === 'validate' && improved, origin, seed, steps,
      ...(plan.from !== undefined ? { from: plan.from, claimed: plan.claimed } : {})
    }
  }

  /** Take in a peer's report: remember the recipe, and queue it for validation if it is clearly better than our best. */
  hear (r: Report): void {
    if (r.agent === this.name) return
    this.learn(r.hash, r.bpb, r.origin, !r.improved)
    if (!this.ours.has(r.hash) && this.clearlyBetter(r.bpb)) {
      const prev = this.pending.get(r.hash)
      if (prev === undefined || r.bpb < prev.bpb) this.pending.set(r.hash, { recipe: r.recipe, bpb: r.bpb, from: r.agent, origin: r.origin })
      if (this.pending.size > this.maxPending) {
        let worst: string | undefined
        let worstBpb = -Infinity
        for (const [h, p] of this.pending) if (p.bpb > worstBpb) { worst = h; worstBpb = p.bpb }
        if (worst !== undefined) this.pending.delete(worst)
      }
    }
  }

  /** Recipes known to be dead ends (someone ran them and did worse than their best). */
  deadEnds (): number {
    let n = 0
    for (const k of this.known.values()) if (k.deadEnds > 0 && k.deadEnds === k.runs) n++
    return n
  }

  private learn (hash: string, bpb: number, origin: string, deadEnd: boolean): string {
    const k = this.known.get(hash)
    if (k !== undefined) {
      k.runs++
      if (deadEnd) k.deadEnds++
      if (bpb < k.bpb) k.bpb = bpb
      return k.origin
    }
    this.known.set(hash, { bpb, origin, runs: 1, deadEnds: deadEnd ? 1 : 0 })
    if (this.known.size > this.maxKnown) this.known.delete(this.known.keys().next().value!)
    return origin
  }
}
