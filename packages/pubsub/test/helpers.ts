import { afterEach } from 'vitest'
import { createNode, MemoryNetwork, type AxlNode, type CreateNodeOptions } from '@axl/core'
import { gossip, type GossipOptions, type GossipSub } from '../src/index.js'

export type PubSubNode = AxlNode<{ pubsub: GossipSub }>

const live: Array<{ stop: () => Promise<void> }> = []

/** Stop every node a test created, even when it failed. */
afterEach(async () => {
  await Promise.all(live.splice(0).map(async n => { await n.stop() }))
})

/** Remember something to stop after the test. */
export function track<T extends { stop: () => Promise<void> }> (n: T): T { live.push(n); return n }

/** Fast defaults for tests: short heartbeat and IHAVE timeout. */
export const FAST: GossipOptions = { heartbeatMs: 100, ihaveTimeoutMs: 50, iwantTimeoutMs: 200, D: 3, Dlo: 2, Dhi: 5 }

/** A started node with the gossip service on `net`. */
export async function pubsubNode (net: MemoryNetwork, opts: GossipOptions = {}, extra: Partial<CreateNodeOptions<{ pubsub: GossipSub }>> = {}): Promise<PubSubNode> {
  return track(await createNode({ transport: net.transport(), services: { pubsub: gossip({ ...FAST, ...opts }) }, ...extra }))
}

/** `n` started gossip nodes. */
export async function pubsubNodes (net: MemoryNetwork, n: number, opts: GossipOptions = {}): Promise<PubSubNode[]> {
  const out: PubSubNode[] = []
  for (let i = 0; i < n; i++) out.push(await pubsubNode(net, opts))
  return out
}

/** Poll `fn` until it holds, with a deadline (no fixed sleeps). */
export async function eventually (what: string | (() => string), fn: () => boolean | Promise<boolean>, timeoutMs = 10_000, everyMs = 20): Promise<void> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    if (await fn()) return
    if (Date.now() > deadline) throw new Error(`${typeof what === 'string' ? what : what()}: not within ${timeoutMs} ms`)
    await new Promise(resolve => setTimeout(resolve, everyMs))
  }
}

export const text = (s: string): Uint8Array => new TextEncoder().encode(s)
export const str = (b: Uint8Array): string => new TextDecoder().decode(b)
