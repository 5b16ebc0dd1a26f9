/**
 * One experiment: train a fresh model of a recipe on the training split for a fixed compute budget, then
 * measure validation bits per byte on the held-out split. The budget is counted in multiply-adds rather than
 * seconds, so that a result does not depend on how many other processes share the CPU (20 agents on 2 cores):
 * a fixed time budget on a dedicated machine, made reproducible. Training yields to the event loop every
 * `sliceMs` so the agent's node keeps serving the mesh meanwhile.
 */
import { MAX_CONTEXT, type Corpus } from './corpus.js'
import { Adam, Mlp, macsPerExample, type Shape } from './model.js'
import { Rng } from './random.js'
import type { Recipe } from './recipe.js'

/** How long an experiment is and how it is scored. */
export interface Budget {
  /** Multiply-adds of training (forward + backward). Default DEFAULT_MACS, 60 M (about 0.1 s of an idle core). */
  macs?: number
  /** Validation characters scored (evenly spaced over the held-out split; at most all of it). Default DEFAULT_EVAL_CHARS, 4096. */
  evalChars?: number
  /** Wall-clock cap, a safety deadline only (default 60 s); an experiment that hits it is reported as such. */
  maxMs?: number
  /** Training runs in slices of this many ms between yields to the event loop (default 25). */
  sliceMs?: number
  /** Stops the experiment early (the agent is shutting down). */
  signal?: AbortSignal
}

/** What an experiment measured. */
export interface Outcome {
  /** Validation bits per byte (lower is better). */
  bpb: number
  /** Training loss over the last 10 % of steps, in bits per byte. */
  trainBpb: number
  steps: number
  params: number
  ms: number
  /** True if the wall-clock cap cut training short. */
  capped: boolean
}

/** The default training budget of an experiment, in multiply-adds. */
export const DEFAULT_MACS = 60e6
/** The default number of held-out characters an experiment is scored on. */
export const DEFAULT_EVAL_CHARS = 4096

const yieldNow = async (): Promise<void> => { await new Promise<void>(resolve => setImmediate(resolve)) }

/** The validation positions every recipe is scored on (the same ones whatever its context length). */
export function evalPositions (corpus: Corpus, evalChars = DEFAULT_EVAL_CHARS): Int32Array {
  const first = corpus.split + MAX_CONTEXT
  const avail = corpus.ids.length - first
  const n = Math.min(evalChars, avail)
  const out = new Int32Array(n)
  for (let i = 0; i < n; i++) out[i] = first + Math.floor(i * avail / n)
  return out
}

/** Validation bits per byte of `model` at `positions`. */
export function evaluate (model: Mlp, corpus: Corpus, positions: Int32Array): number {
  let nats = 0
  const chunk = model.maxBatch
  for (let i = 0; i < positions.length; i += chunk) {
    const n = Math.min(chunk, positions.length - i)
    nats += model.step(corpus.ids, positions.subarray(i, i + n), n, false)
  }
  return nats / positions.length / Math.LN2
}

/** Train `recipe` from scratch with `seed` for the budget, and score it. */
export async function runExperiment (recipe: Recipe, corpus: Corpus, seed: number, budget: Budget = {}): Promise<Outcome> {
  const t0 = performance.now()
  const macs = budget.macs ?? DEFAULT_MACS
  const maxMs = budget.maxMs ?? 60_000
  const sliceMs = budget.sliceMs ?? 25
  const shape: Shape = { vocab: corpus.vocab.length, context: recipe.context, embed: recipe.embed, hidden: recipe.hidden }
  const rng = new Rng(seed)
  const model = new Mlp(shape, rng, recipe.init, Math.max(128, recipe.batch))
  const adam = new Adam(model.params.length)
  const steps = Math.max(1, Math.floor(macs / (macsPerExample(shape) * recipe.batch)))
  const targets = new Int32Array(recipe.batch)
  const lo = recipe.context
  const span = corpus.split - lo
  const tail = Math.max(1, Math.floor(steps / 10))
  let tailNats = 0
  let capped = false
  let step = 0
  while (step < steps) {
    const sliceEnd = performance.now() + sliceMs
    while (step < steps && performance.now() < sliceEnd) {
      for (let b = 0; b < recipe.batch; b++) targets[b] = lo + rng.int(span)
      const nats = model.step(corpus.ids, targets, recipe.batch, true)
      if (step >= steps - tail) tailNats += nats / recipe.batch
      const lr = recipe.schedule === 'cosine' ? recipe.lr * (0.1 + 0.45 * (1 + Math.cos(Math.PI * step / steps))) : recipe.lr
      adam.update(model.params, model.grads, lr)
      step++
    }
    if (step < steps) {
      await yieldNow()
      if (budget.signal?.aborted === true) throw budget.signal.reason ?? new Error('aborted')
      if (performance.now() - t0 > maxMs) { capped = true; break }
    }
  }
  const bpb = evaluate(model, corpus, evalPositions(corpus, budget.evalChars))
  return { bpb, trainBpb: tailNats / Math.min(tail, step) / Math.LN2, steps: step, params: model.params.length, ms: performance.now() - t0, capped }
}
