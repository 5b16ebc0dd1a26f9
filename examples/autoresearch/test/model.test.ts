// The hand-written backward pass against finite differences, and training that actually learns.
import { describe, it, expect } from 'vitest'
import { makeCorpus, loadCorpus } from '../corpus.js'
import { Mlp } from '../model.js'
import { Rng } from '../random.js'
import { runExperiment } from '../train.js'
import { mutate, randomRecipe, recipeHash, isRecipe, type Recipe } from '../recipe.js'

describe('model', () => {
  it('backward matches finite differences on every tensor', () => {
    const corpus = makeCorpus('the quick brown fox jumps over the lazy dog. '.repeat(4))
    const shape = { vocab: corpus.vocab.length, context: 3, embed: 4, hidden: 5 }
    const model = new Mlp(shape, new Rng(7), 1.5, 8)
    const targets = Int32Array.from([5, 9, 17, 30, 44, 61])
    const loss = (): number => model.step(corpus.ids, targets, targets.length, false) / targets.length
    model.grads.fill(0)
    model.step(corpus.ids, targets, targets.length, true)
    const analytic = Float64Array.from(model.grads)
    const rng = new Rng(3)
    let checked = 0
    for (let trial = 0; trial < 200; trial++) {
      const i = rng.int(model.params.length)
      const keep = model.params[i]
      const h = 1e-2
      model.params[i] = keep + h; const up = loss()
      model.params[i] = keep - h; const down = loss()
      model.params[i] = keep
      const numeric = (up - down) / (2 * h)
      expect(Math.abs(numeric - analytic[i])).toBeLessThan(2e-3 + 0.02 * Math.abs(numeric))
      if (Math.abs(analytic[i]) > 1e-4) checked++
    }
    expect(checked).toBeGreaterThan(20) // most sampled gradients are not trivially zero
  })

  it('training lowers validation bits per byte below the untrained model, reproducibly', async () => {
    const corpus = loadCorpus()
    const recipe: Recipe = { lr: 0.008, context: 3, embed: 8, hidden: 32, batch: 16, init: 1, schedule: 'constant' }
    const tiny = await runExperiment(recipe, corpus, 1, { macs: 1, evalChars: 1024 })
    const trained = await runExperiment(recipe, corpus, 1, { macs: 40e6, evalChars: 1024 })
    const again = await runExperiment(recipe, corpus, 1, { macs: 40e6, evalChars: 1024 })
    expect(tiny.steps).toBe(1)
    expect(tiny.bpb).toBeGreaterThan(5) // about log2(59) = 5.9 bits before learning
    expect(trained.bpb).toBeLessThan(tiny.bpb - 1)
    expect(again.bpb).toBe(trained.bpb) // same recipe, seed and budget: same result
  })
})

describe('recipe', () => {
  it('mutations stay in the space, change something, and hashes tell recipes apart', () => {
    const rng = new Rng(11)
    const seen = new Set<string>()
    for (let i = 0; i < 500; i++) {
      const r = randomRecipe(rng)
      const m = mutate(r, rng)
      expect(isRecipe(m)).toBe(true)
      expect(recipeHash(m)).not.toBe(recipeHash(r))
      expect(recipeHash({ ...r })).toBe(recipeHash(r))
      seen.add(recipeHash(r))
    }
    expect(seen.size).toBeGreaterThan(490)
  })
})
