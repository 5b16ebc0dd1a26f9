// Issue #14's link-layer bounds, attacked over real tcp:// on loopback with a malicious peer made from our own
// Links: a peer sending invalid frames is disconnected and backed off (refused when it comes straight back);
// idle connections that never finish a handshake cannot hold more than their share of handshake slots, so an
// honest peer still links; inbound links are capped.
import { afterEach, describe, expect, it } from 'vitest'
import net from 'node:net'
import { createNode, type AxlNode } from '@axl/core'
import { ygg, type YggMesh } from '../src/index.js'
import { Links } from '../src/links/index.js'
import { makeIdentity } from './fixtures/links-helpers.js'

const cleanups: Array<() => Promise<void> | void> = []
afterEach(async () => { for (const c of cleanups.splice(0).reverse()) await c() })

async function listener (opts: Parameters<typeof ygg>[0] = {}): Promise<{ node: AxlNode, mesh: YggMesh, uri: string }> {
  let mesh!: YggMesh
  const node = await createNode({ transport: c => (mesh = ygg({ listen: ['tcp://127.0.0.1:0'], ...opts })(c) as YggMesh) })
  cleanups.push(async () => { await node.stop() })
  return { node, mesh, uri: node.listenAddresses()[0]! }
}

function attacker (): Links {
  const links = new Links({ identity: makeIdentity(), onConn: () => {} })
  cleanups.push(async () => { await links.stop() })
  return links
}

describe('link bounds', () => {
  it('a peer that sends an invalid frame is disconnected, then refused while backed off; others are not affected', async () => {
    const b = await listener({ linkBounds: { violationBackoff: { initialMs: 60_000 } } })
    const bad = attacker()
    const conn = await bad.dial(b.uri)
    conn.write(Uint8Array.of(2, 99, 0)) // uvarint length 2, frame type 99 (unknown), one body byte
    await conn.closed
    await expect.poll(() => b.mesh.links.stats.violations, { timeout: 5000 }).toBe(1)
    // Straight back with the same key: the handshake succeeds, then B refuses the link.
    const again = await bad.dial(b.uri)
    await again.closed
    await expect.poll(() => b.mesh.links.stats.refusedBackedOff, { timeout: 5000 }).toBe(1)
    // An honest peer links and stays up.
    const good = attacker()
    const ok = await good.dial(b.uri)
    await expect.poll(() => b.node.topology().peers.filter(p => p.up).length, { timeout: 5000 }).toBe(1)
    expect(ok.remoteKey).toEqual(Buffer.from(b.node.peerId, 'hex'))
  })

  it('idle connections from one host hold at most maxPendingPerHost handshake slots: the rest are closed at once, and a real peer still links', async () => {
    const b = await listener({ linkBounds: { maxPendingPerHost: 4, maxPendingHandshakes: 8 }, handshakeTimeoutMs: 30_000 })
    const port = Number(new URL(b.uri).port)
    const sockets: net.Socket[] = []
    cleanups.push(() => { for (const s of sockets) s.destroy() })
    const closedEarly: number[] = []
    for (let i = 0; i < 10; i++) {
      const s = net.connect(port, '127.0.0.1')
      sockets.push(s)
      s.on('close', () => { closedEarly.push(i) })
      s.on('error', () => { /* refused connections reset: counted by the 'close' above */ })
    }
    await expect.poll(() => closedEarly.length, { timeout: 5000 }).toBe(6)
    expect(b.mesh.links.stats.refusedPending).toBe(6)
    // The same host's idle sockets cannot starve an honest handshake from it once the flood is closed; the
    // node-wide bound (8) leaves room for other hosts meanwhile. Close the flood and link for real:
    for (const s of sockets) s.destroy()
    await expect.poll(() => closedEarly.length, { timeout: 5000 }).toBe(10)
    const good = attacker()
    await good.dial(b.uri)
    await expect.poll(() => b.node.topology().peers.filter(p => p.up).length, { timeout: 5000 }).toBe(1)
  })

  it('inbound links past maxInboundLinks are refused after their handshake', async () => {
    const b = await listener({ linkBounds: { maxInboundLinks: 2 } })
    for (let i = 0; i < 2; i++) await attacker().dial(b.uri)
    await expect.poll(() => b.node.topology().peers.filter(p => p.up).length, { timeout: 5000 }).toBe(2)
    const third = await attacker().dial(b.uri)
    await third.closed
    await expect.poll(() => b.mesh.links.stats.refusedTooMany, { timeout: 5000 }).toBe(1)
  })
})
