/**
 * The model: a character-level MLP language model (Bengio et al. 2003) in plain TypeScript.
 * The last `context` characters are embedded (vocab × embed), concatenated, passed through one tanh hidden
 * layer and a softmax over the vocabulary. Forward and backward are written by hand over Float32Arrays; all
 * parameters live in one array (and so do their gradients), which keeps the optimiser a single loop.
 */
import type { Rng } from './random.js'

/** The shape of a model. */
export interface Shape { vocab: number, context: number, embed: number, hidden: number }

/** Offsets of each tensor inside the flat parameter array. */
interface Layout { emb: number, w1: number, b1: number, w2: number, b2: number, size: number }

function layout ({ vocab: V, context: C, embed: E, hidden: H }: Shape): Layout {
  const emb = 0
  const w1 = emb + V * E
  const b1 = w1 + C * E * H
  const w2 = b1 + H
  const b2 = w2 + H * V
  return { emb, w1, b1, w2, b2, size: b2 + V }
}

/** Multiply-adds of one forward + backward pass over one example (the unit of the compute budget). */
export function macsPerExample ({ vocab: V, context: C, embed: E, hidden: H }: Shape): number {
  return 3 * (C * E * H + H * V)
}

/** An MLP language model with its gradient buffer and scratch space for batches up to `maxBatch`. */
export class Mlp {
  readonly params: Float32Array
  readonly grads: Float32Array
  private readonly at: Layout
  private readonly x: Float32Array
  private readonly hid: Float32Array
  private readonly logits: Float32Array
  private readonly dhid: Float32Array

  /** Weights ~ N(0, 1)·gain/√fan-in (embeddings N(0, 1)·gain, output layer 0.1× smaller); biases 0. */
  constructor (readonly shape: Shape, rng: Rng, gain = 1, readonly maxBatch = 128) {
    const { vocab: V, context: C, embed: E, hidden: H } = shape
    this.at = layout(shape)
    this.params = new Float32Array(this.at.size)
    this.grads = new Float32Array(this.at.size)
    const fill = (from: number, n: number, std: number): void => { for (let i = 0; i < n; i++) this.params[from + i] = rng.normal() * std }
    fill(this.at.emb, V * E, gain)
    fill(this.at.w1, C * E * H, gain / Math.sqrt(C * E))
    fill(this.at.w2, H * V, 0.1 * gain / Math.sqrt(H))
    this.x = new Float32Array(maxBatch * C * E)
    this.hid = new Float32Array(maxBatch * H)
    this.logits = new Float32Array(maxBatch * V)
    this.dhid = new Float32Array(H)
  }

  /**
   * Forward pass for the examples ending at `targets[i]` in `ids` (the target is ids[t], the context the
   * `context` ids before it). With `backward`, gradients are accumulated (mean over the batch) into `grads`.
   * Returns the summed cross-entropy in nats.
   */
  step (ids: Uint8Array, targets: ArrayLike<number>, n: number, backward: boolean): number {
    const { vocab: V, context: C, embed: E, hidden: H } = this.shape
    const K = C * E
    const p = this.params
    const g = this.grads
    const { emb, w1, b1, w2, b2 } = this.at
    if (n > this.maxBatch) throw new Error(`batch ${n} > maxBatch ${this.maxBatch}`)
    let loss = 0
    for (let b = 0; b < n; b++) {
      const t = targets[b]
      // embed and concatenate the context
      const x = this.x.subarray(b * K, (b + 1) * K)
      for (let c = 0; c < C; c++) {
        const row = emb + ids[t - C + c] * E
        for (let e = 0; e < E; e++) x[c * E + e] = p[row + e]
      }
      // hidden = tanh(x·W1 + b1)
      const hid = this.hid.subarray(b * H, (b + 1) * H)
      for (let h = 0; h < H; h++) hid[h] = p[b1 + h]
      for (let k = 0; k < K; k++) {
        const xv = x[k]
        const row = w1 + k * H
        for (let h = 0; h < H; h++) hid[h] += xv * p[row + h]
      }
      for (let h = 0; h < H; h++) hid[h] = Math.tanh(hid[h])
      // logits = hidden·W2 + b2, then a stable log-softmax
      const lg = this.logits.subarray(b * V, (b + 1) * V)
      for (let v = 0; v < V; v++) lg[v] = p[b2 + v]
      for (let h = 0; h < H; h++) {
        const hv = hid[h]
        const row = w2 + h * V
        for (let v = 0; v < V; v++) lg[v] += hv * p[row + v]
      }
      let max = -Infinity
      for (let v = 0; v < V; v++) if (lg[v] > max) max = lg[v]
      let sum = 0
      for (let v = 0; v < V; v++) { lg[v] = Math.exp(lg[v] - max); sum += lg[v] }
      const y = ids[t]
      loss += Math.log(sum) - Math.log(lg[y])
      if (!backward) continue
      // dlogits = (softmax - onehot) / n, kept in lg
      const inv = 1 / (sum * n)
      for (let v = 0; v < V; v++) lg[v] *= inv
      lg[y] -= 1 / n
      for (let v = 0; v < V; v++) g[b2 + v] += lg[v]
      const dhid = this.dhid
      for (let h = 0; h < H; h++) {
        const hv = hid[h]
        const row = w2 + h * V
        let s = 0
        for (let v = 0; v < V; v++) { g[row + v] += hv * lg[v]; s += p[row + v] * lg[v] }
        dhid[h] = s * (1 - hv * hv) // through tanh
      }
      for (let h = 0; h < H; h++) g[b1 + h] += dhid[h]
      for (let k = 0; k < K; k++) {
        const xv = x[k]
        const row = w1 + k * H
        let s = 0
        for (let h = 0; h < H; h++) { g[row + h] += xv * dhid[h]; s += p[row + h] * dhid[h] }
        const c = Math.floor(k / E)
        g[emb + ids[t - C + c] * E + (k - c * E)] += s
      }
    }
    return loss
  }
}

/** Adam (β1 0.9, β2 0.999, ε 1e-8) over a flat parameter array. */
export class Adam {
  private readonly m: Float32Array
  private readonly v: Float32Array
  private t = 0

  constructor (size: number, readonly beta1 = 0.9, readonly beta2 = 0.999, readonly eps = 1e-8) {
    this.m = new Float32Array(size)
    this.v = new Float32Array(size)
  }

  /** One update of `params` from `grads` with learning rate `lr`; clears `grads`. */
  update (params: Float32Array, grads: Float32Array, lr: number): void {
    this.t++
    const { m, v, beta1, beta2, eps } = this
    const c1 = 1 / (1 - beta1 ** this.t)
    const c2 = 1 / (1 - beta2 ** this.t)
    for (let i = 0; i < params.length; i++) {
      const gi = grads[i]
      m[i] = beta1 * m[i] + (1 - beta1) * gi
      v[i] = beta2 * v[i] + (1 - beta2) * gi * gi
      params[i] -= lr * (m[i] * c1) / (Math.sqrt(v[i] * c2) + eps)
      grads[i] = 0
    }
  }
}
