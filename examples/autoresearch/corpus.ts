/**
 * The text the agents learn to predict: the first 64 KB of Tiny Shakespeare (karpathy/char-rnn,
 * data/tinyshakespeare/input.txt — Shakespeare's Coriolanus, public domain), cut at a blank line. It is plain
 * ASCII, so one character is one byte and bits per character are bits per byte.
 */
import { readFileSync } from 'node:fs'

/** The longest context any recipe may use; every recipe is scored on the same validation characters after it. */
export const MAX_CONTEXT = 8

/** A tokenised corpus: character ids, the vocabulary, and the train/validation split point. */
export interface Corpus {
  /** One id per byte of the text. */
  ids: Uint8Array
  /** The distinct characters, in id order. */
  vocab: string[]
  /** ids[0, split) are for training, ids[split, end) are held out for validation. */
  split: number
}

/** Tokenise `text` (ASCII only) and hold out its last `valFraction` (default 0.1) for validation. */
export function makeCorpus (text: string, valFraction = 0.1): Corpus {
  const vocab = [...new Set(text)].sort()
  if (vocab.some(c => c.charCodeAt(0) > 127)) throw new Error('the corpus must be ASCII (one byte per character)')
  const index = new Map(vocab.map((c, i) => [c, i]))
  const ids = new Uint8Array(text.length)
  for (let i = 0; i < text.length; i++) ids[i] = index.get(text[i])!
  const split = Math.floor(text.length * (1 - valFraction))
  if (split <= MAX_CONTEXT || text.length - split <= MAX_CONTEXT + 1) throw new Error('corpus too short to split')
  return { ids, vocab, split }
}

let cached: Corpus | undefined
/** The corpus shipped with the example (corpus.txt next to this file, or `path`), loaded once. */
export function loadCorpus (path?: string): Corpus {
  cached ??= makeCorpus(readFileSync(path ?? new URL('./corpus.txt', import.meta.url), 'latin1'))
  return cached
}
