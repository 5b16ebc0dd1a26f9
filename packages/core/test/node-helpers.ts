import { afterEach } from 'vitest'
import { MemoryNetwork, type MemoryNetworkOptions } from '../src/memory/network.js'
import { createNode, type AxlNode, type CreateNodeOptions } from '../src/node.js'
import type { Limits } from '../src/limits.js'
import type { MeshStream } from '../src/stream.js'
import { frameHeader } from '../src/framing.js'

const live: Array<{ stop: () => Promise<void> }> = []

/** Stop every node a test created, even when it failed. */
afterEach(async () => {
  const nodes = live.splice(0)
  await Promise.all(nodes.map(async n => { await n.stop() }))
})

/** A fresh network. */
export function network (opts?: MemoryNetworkOptions): MemoryNetwork { return new MemoryNetwork(opts) }

/** A started node on `net`, stopped after the test. */
export async function node<S extends Record<string, unknown> = Record<string, never>> (
  net: MemoryNetwork, limits?: Partial<Limits>, extra: Partial<CreateNodeOptions<S>> = {}
): Promise<AxlNode<S>> {
  const n = await createNode<S>({ transport: net.transport(), limits, ...extra } as CreateNodeOptions<S>)
  live.push(n)
  return n
}

/** `n` bytes 0,1,2,… (mod 256). */
export function pattern (n: number, seed = 0): Uint8Array {
  const b = new Uint8Array(n)
  for (let i = 0; i < n; i++) b[i] = (i + seed) & 0xff
  return b
}

export const text = (s: string): Uint8Array => new TextEncoder().encode(s)
export const str = (b: Uint8Array): string => new TextDecoder().decode(b)

/** A 4-byte big-endian frame header followed by `payload`. */
export function frame (payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + payload.byteLength)
  out.set(frameHeader(payload.byteLength))
  out.set(payload, 4)
  return out
}

/** Read everything until FIN (rejects on reset). */
export async function readAll (s: MeshStream, timeoutMs = 2000): Promise<Uint8Array> {
  const parts: Uint8Array[] = []
  for (;;) {
    const c = await s.read({ timeoutMs })
    if (c === null) break
    parts.push(c)
  }
  return Buffer.concat(parts)
}

/** Resolves with the detail of the next `type` event of `target`. */
export async function once<T = unknown> (target: EventTarget, type: string): Promise<T> {
  return await new Promise<T>(resolve => {
    target.addEventListener(type, e => { resolve((e as CustomEvent<T>).detail) }, { once: true })
  })
}

/** Wall-clock milliseconds a promise takes to settle, and its outcome. */
export async function timed<T> (p: Promise<T>): Promise<{ ms: number, value?: T, error?: unknown }> {
  const t0 = performance.now()
  try {
    const value = await p
    return { ms: performance.now() - t0, value }
  } catch (error) {
    return { ms: performance.now() - t0, error }
  }
}

/** A deferred promise. */
export function deferred<T = void> (): { promise: Promise<T>, resolve: (v: T) => void, reject: (e: unknown) => void } {
  let resolve!: (v: T) => void
  let reject!: (e: unknown) => void
  const promise = new Promise<T>((res, rej) => { resolve = res; reject = rej })
  return { promise, resolve, reject }
}
