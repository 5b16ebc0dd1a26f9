/**
 * An in-process test network of SDK nodes on the real overlay (as hyperdht's `testnet`): a relay listening
 * on `memory://` (no sockets) or `tcp://127.0.0.1:0`, and `size` nodes that each dial only the relay. Resolves
 * once every node is linked to the relay; `stop()` stops them all.
 *
 *   const net = await testnet(3)
 *   await net.nodes[0].send(net.nodes[1].peerId, bytes)
 *   await net.stop()
 */
import { randomBytes } from 'node:crypto'
import { createNode, withDeadline, type AxlNode, type CreateNodeOptions, type WaitOptions } from '@axl/core'
import { ygg, type YggOptions } from '../mesh/ygg.js'

/** Options of testnet(). */
export interface TestnetOptions<S extends Record<string, unknown>> extends WaitOptions {
  /** `memory` (in-process links, no sockets) or `tcp` (loopback sockets). @default 'memory' */
  links?: 'memory' | 'tcp'
  /** Services of every node (the relay included), as in createNode(). */
  services?: CreateNodeOptions<S>['services']
  /** Extra ygg() options for every node (peers and listen are set by testnet). */
  ygg?: Omit<YggOptions, 'peers' | 'listen'>
  /** Limits of every node. */
  limits?: CreateNodeOptions<S>['limits']
}

/** A running test network. */
export interface Testnet<S extends Record<string, unknown>> {
  /** The relay every node dialled. */
  relay: AxlNode<S>
  /** The nodes, each linked only to the relay. */
  nodes: Array<AxlNode<S>>
  /** Stops every node (idempotent). */
  stop: () => Promise<void>
}

/** Starts a relay and `size` nodes linked to it; resolves when every node's link to the relay is up (deadline `timeoutMs`, default 10 s). */
export async function testnet<S extends Record<string, unknown> = Record<string, never>> (size: number, opts: TestnetOptions<S> = {}): Promise<Testnet<S>> {
  if (!Number.isInteger(size) || size < 0 || size > 1000) throw new RangeError(`testnet size must be an integer in 0..1000, got ${size}`)
  const listen = (opts.links ?? 'memory') === 'memory' ? `memory://axl-testnet-${randomBytes(6).toString('hex')}` : 'tcp://127.0.0.1:0'
  const all: Array<AxlNode<S>> = []
  const stop = async (): Promise<void> => { await Promise.all(all.map(async n => { await n.stop() })) }
  const make = async (y: YggOptions, start = true): Promise<AxlNode<S>> => {
    const node = await createNode<S>({
      start,
      transport: ygg({ ...opts.ygg, ...y }),
      ...(opts.services !== undefined ? { services: opts.services } : {}),
      ...(opts.limits !== undefined ? { limits: opts.limits } : {})
    })
    all.push(node)
    return node
  }
  try {
    const relay = await make({ listen: [listen] })
    const relayUri = relay.listenAddresses()[0]
    if (relayUri === undefined) throw new Error('testnet: the relay reports no listen address')
    // Each node is created unstarted, so its listener sees the first link event; linked once the relay's link is up.
    const cleanups: Array<() => void> = []
    const linked: Array<Promise<void>> = []
    const nodes = await Promise.all(Array.from({ length: size }, async () => {
      const node = await make({ peers: [relayUri] }, false)
      linked.push(new Promise<void>(resolve => {
        const onConnect = (e: CustomEvent<{ peer: string }>): void => { if (e.detail.peer === relay.peerId) resolve() }
        node.addEventListener('peer:connect', onConnect)
        cleanups.push(() => { node.removeEventListener('peer:connect', onConnect) })
      }))
      await node.start()
      return node
    }))
    const timeoutMs = opts.timeoutMs ?? 10_000
    try {
      await withDeadline(Promise.all(linked), { timeoutMs, ...(opts.signal !== undefined ? { signal: opts.signal } : {}) }, `testnet: every node linked to the relay within ${timeoutMs} ms`)
    } finally {
      for (const c of cleanups) c()
    }
    return { relay, nodes, stop }
  } catch (e) {
    await stop()
    throw e
  }
}
