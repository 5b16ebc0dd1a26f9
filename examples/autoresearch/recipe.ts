/**
 * A recipe: the hyperparameters and architecture knobs of one experiment. Each knob takes one of a few
 * ordered values (SPACE); a mutation moves one or two knobs to a neighbouring value. A recipe's hash names it
 * across the swarm, so a result (or a dead end) found by one agent is known to all.
 */
import { createHash } from 'node:crypto'
import type { Rng } from './random.js'

/** One point of the search space. */
export interface Recipe {
  /** Adam learning rate. */
  lr: number
  /** Characters of context the model sees (1 = a bigram model). */
  context: number
  /** Embedding size per character. */
  embed: number
  /** Hidden units (tanh). */
  hidden: number
  /** Examples per step; the compute budget is fixed, so a bigger batch means fewer steps. */
  batch: number
  /** Gain on the initial weights (1 = 1/sqrt(fan-in)). */
  init: number
  /** Learning-rate schedule: constant, or cosine decay to 10 % over the run. */
  schedule: 'constant' | 'cosine'
}

/** The values each knob can take, in order (mutations step between neighbours). */
export const SPACE: { [K in keyof Recipe]: ReadonlyArray<Recipe[K]> } = {
  lr: [0.0003, 0.001, 0.002, 0.004, 0.008, 0.016, 0.032],
  context: [1, 2, 3, 4, 5, 6, 8],
  embed: [2, 4, 8, 12, 16, 24],
  hidden: [8, 16, 32, 64, 96, 128, 192],
  batch: [4, 8, 16, 32, 64, 128],
  init: [0.25, 0.5, 1, 1.5, 2, 3],
  schedule: ['constant', 'cosine']
}

const KNOBS = Object.keys(SPACE) as Array<keyof Recipe>

/** The recipe as canonical JSON (knobs in SPACE order), the input of its hash. */
export function canonical (r: Recipe): string {
  return JSON.stringify(KNOBS.map(k => [k, r[k]]))
}

/** A short stable name of the recipe: the first 12 hex chars of sha256(canonical(r)). */
export function recipeHash (r: Recipe): string {
  return createHash('sha256').update(canonical(r)).digest('hex').slice(0, 12)
}

/** Whether `x` is a recipe of SPACE (used on recipes received from peers). */
export function isRecipe (x: unknown): x is Recipe {
  if (typeof x !== 'object' || x === null) return false
  const r = x as Record<string, unknown>
  return KNOBS.every(k => (SPACE[k] as readonly unknown[]).includes(r[k]))
}

/** A uniformly random recipe of SPACE. */
export function randomRecipe (rng: Rng): Recipe {
  const pick = <K extends keyof Recipe>(k: K): Recipe[K] => SPACE[k][rng.int(SPACE[k].length)]
  return {
    lr: pick('lr'), context: pick('context'), embed: pick('embed'), hidden: pick('hidden'),
    batch: pick('batch'), init: pick('init'), schedule: pick('schedule')
  }
}

/** A neighbour of `r`: one knob (two different knobs with probability 0.3) moved by one step (two with probability 0.2). */
export function mutate (r: Recipe, rng: Rng): Recipe {
  const out: Recipe = { ...r }
  const first = rng.int(KNOBS.length)
  const picked = rng.next() < 0.3 ? [first, (first + 1 + rng.int(KNOBS.length - 1)) % KNOBS.length] : [first]
  for (const i of picked) {
    const k = KNOBS[i]
    const values = SPACE[k] as readonly unknown[]
    const at = values.indexOf(out[k])
    const step = (rng.next() < 0.5 ? -1 : 1) * (rng.next() < 0.2 ? 2 : 1)
    const to = Math.min(values.length - 1, Math.max(0, at + step));
    (out as unknown as Record<string, unknown>)[k] = values[to === at ? (at + (step > 0 ? -1 : 1) + values.length) % values.length : to]
  }
  return out
}

/** A compact one-line description, e.g. `ctx4 emb8 hid64 lr.004 b32 init1 cos`. */
export function describe (r: Recipe): string {
  return `ctx${r.context} emb${r.embed} hid${r.hidden} lr${String(r.lr).replace(/^0/, '')} b${r.batch} init${r.init}${r.schedule === 'cosine' ? ' cos' : ''}`
}
