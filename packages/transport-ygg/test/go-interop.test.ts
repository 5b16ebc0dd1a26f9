/**
 * Interop with real yggdrasil-go v0.5.12 nodes (tools/ygg-go-peer: our harness around the yggdrasil-go library,
 * real processes on loopback): links both ways over tcp:// tls:// ws:// unix://, the spanning tree, lookups and
 * end-to-end encrypted sessions through Go, an SDK node pair talking through a Go relay (message, 16 MiB,
 * MCP call with the MCP SDK's Client and server), and the refusals (password, pinned key, AllowedPublicKeys,
 * TLS certificate key ≠ handshake key). Skips, with the reason printed, when Go (and so the harness) is missing.
 */
import { afterEach, describe, expect, it } from 'vitest'
import net from 'node:net'
import tls from 'node:tls'
import { createHash, randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createNode, generateIdentity, type AxlNode, type Identity } from '@axl/core'
import { eventually } from '../../bridge/test/helpers/processes.js'
import { ygg, YggMesh, IncorrectPasswordError, UnexpectedPeerKeyError, selfSignedCertificate } from '../src/index.js'
import { Links } from '../src/links/index.js'
import { goPeerSkipReason, startGoPeer, type GoPeer } from './helpers/go-peer.js'
import { makeIdentity } from './fixtures/links-helpers.js'

const reason = goPeerSkipReason()
if (reason !== undefined) console.log(`[go-interop] skipped: ${reason}`)

interface PeerEntry { key: string, up: boolean, inbound: boolean, remote?: string }
interface TreeEntry { key: string, parent: string }

const goPeers: GoPeer[] = []
const nodes: AxlNode[] = []
const cleanups: Array<() => Promise<void> | void> = []
afterEach(async () => {
  await Promise.all(nodes.splice(0).map(async n => { await n.stop() }))
  await Promise.all(goPeers.splice(0).map(async g => { await g.stop() }))
  for (const c of cleanups.splice(0)) await c()
})

async function go (opts: Parameters<typeof startGoPeer>[0]): Promise<GoPeer> {
  const g = await startGoPeer(opts)
  goPeers.push(g)
  return g
}

/** An SDK node on ygg() whose mesh we keep (for its sessions and listen addresses). */
async function tsNode (opts: Parameters<typeof ygg>[0], identity?: Identity): Promise<{ node: AxlNode, mesh: YggMesh }> {
  let mesh!: YggMesh
  const node = await createNode({
    ...(identity !== undefined ? { identity } : {}),
    transport: (c) => { mesh = ygg(opts)(c) as YggMesh; return mesh }
  })
  nodes.push(node)
  return { node, mesh }
}

/** The root reached from `start` by following parents in a getTree answer (undefined on a gap or a cycle). */
function rootFrom (tree: TreeEntry[], start: string): string | undefined {
  const parent = new Map(tree.map(e => [e.key, e.parent]))
  let k = start
  for (let i = 0; i <= tree.length; i++) {
    const p = parent.get(k)
    if (p === undefined) return undefined
    if (p === k) return k
    k = p
  }
  return undefined
}

const upKeys = (peers: PeerEntry[]): string[] => peers.filter(p => p.up).map(p => p.key).sort()
const goPeersOf = async (g: GoPeer): Promise<PeerEntry[]> => (await g.ctl('getPeers')).peers as PeerEntry[]
const goTreeOf = async (g: GoPeer): Promise<TreeEntry[]> => (await g.ctl('getTree')).tree as TreeEntry[]

describe.skipIf(reason !== undefined)('interop with yggdrasil-go v0.5.12', () => {
  for (const scheme of ['tcp', 'tls', 'ws', 'unix'] as const) {
    it(`${scheme}://: we dial a Go node and a Go node dials us; the three agree on one spanning tree`, async () => {
      const sockDir = scheme === 'unix' ? await mkdtemp(join(tmpdir(), 'axl-go-')) : ''
      if (sockDir !== '') cleanups.push(async () => { await rm(sockDir, { recursive: true, force: true }) })
      const listenUri = (name: string): string => scheme === 'unix' ? `unix://${join(sockDir, `${name}.sock`)}` : scheme === 'ws' ? 'ws://127.0.0.1:0/ygg' : `${scheme}://127.0.0.1:0`
      const g1 = await go({ listen: [listenUri('g1')] })
      const { node, mesh } = await tsNode({ peers: [g1.listen[0]], listen: [listenUri('ts')] })
      const g2 = await go({ peers: [mesh.listening[0]] })
      const us = node.peerId
      const all = [us, g1.publicKey, g2.publicKey].sort()
      let seen = ''
      await eventually(() => `both Go nodes to list us as an up peer and agree on the root ${all[0]} (last seen: ${seen})`, async () => {
        const [p1, p2, t1, t2] = await Promise.all([goPeersOf(g1), goPeersOf(g2), goTreeOf(g1), goTreeOf(g2)])
        seen = JSON.stringify({ us, g1: g1.publicKey, g2: g2.publicKey, p1: upKeys(p1), p2: upKeys(p2), t1, t2, ours: node.topology().root })
        // ironwood gossips ancestries (each node hears about its own and its peers' paths to the root), so a
        // node's table may keep a stale entry of a node that left its ancestry: follow the Go node's own chain
        return upKeys(p1).includes(us) && upKeys(p2).includes(us) &&
          t1.some(e => e.key === us) && t2.some(e => e.key === us) &&
          rootFrom(t1, g1.publicKey) === all[0] && rootFrom(t2, g2.publicKey) === all[0] && node.topology().root === all[0]
      }, 15_000)
      const ours = node.topology()
      expect(ours.peers.filter(p => p.up).map(p => p.publicKey).sort()).toEqual([g1.publicKey, g2.publicKey].sort())
      const inbound = (await goPeersOf(g1)).find(p => p.key === us)!
      expect(inbound.inbound).toBe(true)
      expect((await goPeersOf(g2)).find(p => p.key === us)!.inbound).toBe(false)
      // every tree entry Go holds for us names a parent Go also knows (the tree is one tree)
      const t1 = await goTreeOf(g1)
      const mine = t1.find(e => e.key === us)!
      expect(all).toContain(mine.parent)
    })
  }

  it('end-to-end sessions: an encrypted datagram to a Go node through a Go relay comes back (lookup, init/ack, traffic)', async () => {
    const relay = await go({ listen: ['tcp://127.0.0.1:0'] })
    const echo = await go({ peers: [relay.listen[0]], echo: true })
    const { node, mesh } = await tsNode({ peers: [relay.listen[0]] })
    const echoed: Buffer[] = []
    const deliver = mesh.sessions.onMessage
    mesh.sessions.onMessage = (from, pt) => {
      if (Buffer.from(from).toString('hex') === echo.publicKey && pt[0] === 0x01) echoed.push(Buffer.from(pt))
      else deliver(from, pt)
    }
    // Yggdrasil's session payload type 0x01 (an IPv6 packet in real use); the Go node echoes it to its sender.
    const payload = Buffer.concat([Buffer.of(0x01), randomBytes(1200)])
    await eventually('the Go echo node to answer through the relay', async () => {
      mesh.sessions.sendTo(new Uint8Array(Buffer.from(echo.publicKey, 'hex')), payload)
      return echoed.length > 0
    }, 15_000, 250)
    expect(echoed[0].equals(payload)).toBe(true)
    const sessions = (await echo.ctl('getSessions')).sessions as Array<{ key: string }>
    expect(sessions.map(s => s.key)).toContain(node.peerId)
    expect(mesh.sessions.sessions().map(s => s.key)).toContain(echo.publicKey)
  })

  it('TS — Go relay — TS: a message and a 16 MiB message cross a yggdrasil-go node (the MCP call: router-mcp/test/go-relay.test.ts)', async () => {
    const relay = await go({ listen: ['tls://127.0.0.1:0'] })
    const [{ node: a }, { node: b }] = await Promise.all([tsNode({ peers: [relay.listen[0]] }), tsNode({ peers: [relay.listen[0]] })])
    await eventually('A and B to be linked only to the Go relay', async () => {
      const only = (n: AxlNode): boolean => n.topology().peers.filter(p => p.up).map(p => p.publicKey).join() === relay.publicKey
      return only(a) && only(b) && upKeys(await goPeersOf(relay)).length === 2
    }, 15_000)
    await a.send(b.peerId, new TextEncoder().encode('hello through Go'), { timeoutMs: 15_000 })
    const m1 = await b.nextMessage({ timeoutMs: 5000 })
    expect(m1.from).toBe(a.peerId)
    expect(new TextDecoder().decode(m1.data)).toBe('hello through Go')
    const big = randomBytes(16 * 1024 * 1024)
    const t0 = performance.now()
    await a.send(b.peerId, big, { timeoutMs: 60_000 })
    const m2 = await b.nextMessage({ timeoutMs: 30_000 })
    const ms = performance.now() - t0
    expect(m2.from).toBe(a.peerId)
    expect(createHash('sha256').update(m2.data).digest('hex')).toBe(createHash('sha256').update(big).digest('hex'))
    console.log(`16 MiB through the yggdrasil-go relay in ${ms.toFixed(0)} ms (${(16 / (ms / 1000)).toFixed(1)} MiB/s)`)
  })

  it('refusals against Go: wrong password, a pinned key that does not match, Go\'s AllowedPublicKeys, ours', async () => {
    const me = await generateIdentity()
    const g = await go({ listen: ['tcp://127.0.0.1:0?password=sesame', 'tls://127.0.0.1:0'], allowedPublicKeys: [me.peerId], logLevel: 'debug' })
    const links = new Links({ identity: { seed: me.seed, publicKey: me.publicKey }, onConn: () => {} })
    cleanups.push(async () => { await links.stop() })
    const [pwUri, tlsUri] = g.listen.map(u => u.replace(/\?.*$/, ''))
    const wrong = await links.dial(`${pwUri}?password=open`).catch((e: Error) => e)
    expect(wrong).toBeInstanceOf(IncorrectPasswordError)
    expect((wrong as Error).message).toMatch(/password does not match the remote side/)
    const none = await links.dial(pwUri).catch((e: Error) => e)
    expect(none).toBeInstanceOf(IncorrectPasswordError)
    const right = await links.dial(`${pwUri}?password=sesame`)
    expect(Buffer.from(right.remoteKey).toString('hex')).toBe(g.publicKey)
    right.close()
    const pinned = await links.dial(`${tlsUri}?key=${'ab'.repeat(32)}`).catch((e: Error) => e)
    expect(pinned).toBeInstanceOf(UnexpectedPeerKeyError)
    expect((pinned as Error).message).toContain(`node public key ${g.publicKey}`)
    const ok = await links.dial(`${tlsUri}?key=${g.publicKey}`)
    ok.close()
    // Go's AllowedPublicKeys: a stranger's handshake completes, then Go hangs up at once
    const stranger = new Links({ identity: makeIdentity(), onConn: () => {} })
    cleanups.push(async () => { await stranger.stop() })
    const c = await stranger.dial(tlsUri)
    await c.closed
    await eventually(() => `Go to log the refusal: ${g.stderr()}`, async () => /is not in AllowedPublicKeys/.test(g.stderr()), 5000)
    // our allowedPublicKeys refuses the Go node's inbound link
    const errors: Error[] = []
    const guarded = new Links({ identity: makeIdentity(), onConn: () => {}, allowedPublicKeys: [me.peerId], onLinkError: (e) => { errors.push(e) } })
    cleanups.push(async () => { await guarded.stop() })
    const bound = await guarded.listen('tcp://127.0.0.1:0')
    await go({ peers: [bound] })
    await eventually('our listener to refuse the Go node', async () => errors.some(e => /is not in allowedPublicKeys/.test(e.message)), 10_000)
  })

  it('tls://: a relayed handshake to a Go node (TLS terminated under another key) is refused; the direct one is not', async () => {
    const g = await go({ listen: ['tcp://127.0.0.1:0', 'tls://127.0.0.1:0'] })
    const mitm = makeIdentity()
    const server = tls.createServer({ ...selfSignedCertificate(mitm.seed), minVersion: 'TLSv1.3' }, s => {
      const up = net.connect(Number(new URL(g.listen[0]).port), '127.0.0.1')
      s.pipe(up).pipe(s)
      s.on('error', () => { up.destroy() })
      up.on('error', () => { s.destroy() })
    })
    await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
    cleanups.push(async () => { await new Promise(resolve => server.close(resolve)) })
    const links = new Links({ identity: makeIdentity(), onConn: () => {} })
    cleanups.push(async () => { await links.stop() })
    const err = await links.dial(`tls://127.0.0.1:${(server.address() as net.AddressInfo).port}`).catch((e: Error) => e)
    expect(err).toBeInstanceOf(UnexpectedPeerKeyError)
    expect((err as Error).message).toContain(`differs from its handshake key ${g.publicKey}`)
    const direct = await links.dial(g.listen[1])
    expect(Buffer.from(direct.remoteKey).toString('hex')).toBe(g.publicKey)
  })
})
