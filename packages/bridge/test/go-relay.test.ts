// Real axl-node processes A and B relayed by a real yggdrasil-go v0.5.12 node G (tools/ygg-go-peer, built by
// scripts/install-go-peers.sh). Go AXL itself cannot be installed here, so a yggdrasil-go node is the Go peer:
// it relays ironwood traffic but runs no AXL HTTP API. Topology:
//
//   A ── tls:// ──▶ G ◀── tls:// ── B       (A and B listen nowhere: every byte between them crosses G)
//
// A and B run from exactly the node-config.json shape of Go AXL ({"PrivateKeyPath": "private.pem", "Peers":
// ["tls://…"], "Listen": []} plus API ports), each with a recording stub MCP router and a stub A2A server.
// Skips, with the reason printed, when the Go peer is not built.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { createHash, generateKeyPairSync, randomBytes } from 'node:crypto'
import {
  drain, eventually, freePorts, http, ProcessPool, send, topology, waitReachable,
  type AxlNode, type RecordingServer, type Seen, type StubAnswer
} from './helpers/processes.js'
import { goPeerSkipReason, startGoPeer, type GoPeer } from '../../transport-ygg/test/helpers/go-peer.js'

const reason = goPeerSkipReason()
if (reason !== undefined) console.log(`[go-relay] skipped: ${reason}`)

/** An entry of yggdrasil-go's getPeers. */
interface GoPeerEntry { key: string, up: boolean, inbound: boolean, address: string, bytes_recvd: number, bytes_sent: number }
/** An entry of yggdrasil-go's getTree. */
interface GoTreeEntry { key: string, parent: string }

/** A fresh ed25519 key as AXL's PrivateKeyPath expects it (PKCS#8 PEM), and its public key in hex. */
function pemKey (): { pem: string, key: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519')
  return {
    pem: privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(),
    key: publicKey.export({ format: 'der', type: 'spki' }).subarray(-32).toString('hex')
  }
}

const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex')
const goPeersOf = async (g: GoPeer): Promise<GoPeerEntry[]> => (await g.ctl('getPeers')).peers as GoPeerEntry[]
const goTreeOf = async (g: GoPeer): Promise<GoTreeEntry[]> => (await g.ctl('getTree')).tree as GoTreeEntry[]
const upKeys = (peers: Array<{ up: boolean, key: string }>): string[] => peers.filter(p => p.up).map(p => p.key).sort()

/** The stub MCP router of node `name`: answers every /route with a JSON-RPC result naming itself and echoing the call (a throw is answered 599). */
const routerAnswer = (name: string) => async (s: Seen): Promise<StubAnswer> => {
  const { service, request, from_peer_id: from } = JSON.parse(s.body) as { service: string, request: { id: unknown, method: string, params?: unknown }, from_peer_id: string }
  return { body: JSON.stringify({ response: { jsonrpc: '2.0', id: request.id, result: { router: name, service, method: request.method, params: request.params ?? null, from } }, error: null }) }
}

/** The stub A2A server of node `name`: its agent card on GET, a JSON-RPC answer echoing the request on POST. */
const a2aAnswer = (name: string) => async (s: Seen): Promise<StubAnswer> => {
  if (s.method === 'GET') return { body: JSON.stringify({ name: `agent ${name}`, skills: [] }) }
  const req = JSON.parse(s.body) as { id: unknown, method: string, params?: unknown }
  return { body: JSON.stringify({ jsonrpc: '2.0', id: req.id, result: { agent: name, method: req.method, params: req.params ?? null, from: s.headers['x-from-peer-id'] } }) }
}

const JSON_HEADERS = { 'Content-Type': 'application/json' }

describe.skipIf(reason !== undefined)('axl-node A — yggdrasil-go G — axl-node B over tls://', () => {
  const pool = new ProcessPool()
  let G: GoPeer | undefined
  let gUri = ''
  let A: AxlNode, B: AxlNode
  let keyA = '', keyB = ''
  const routers = {} as Record<'A' | 'B', RecordingServer>
  const a2as = {} as Record<'A' | 'B', RecordingServer>

  beforeAll(async () => {
    const t0 = Date.now()
    G = await startGoPeer({ listen: ['tls://127.0.0.1:0'] })
    gUri = G.listen[0]
    if (!/^tls:\/\/127\.0\.0\.1:\d+$/.test(gUri)) throw new Error(`G listens on ${JSON.stringify(G.listen)}`)
    routers.A = await pool.stub(routerAnswer('A'))
    routers.B = await pool.stub(routerAnswer('B'))
    a2as.A = await pool.stub(a2aAnswer('A'))
    a2as.B = await pool.stub(a2aAnswer('B'))
    const [apiA, apiB] = await freePorts(2)
    const a = pemKey()
    const b = pemKey()
    keyA = a.key
    keyB = b.key
    const config = (apiPort: number, name: 'A' | 'B'): Record<string, unknown> => ({
      PrivateKeyPath: 'private.pem',
      Peers: [gUri],
      Listen: [],
      api_port: apiPort,
      router_addr: 'http://127.0.0.1',
      router_port: routers[name].port,
      a2a_addr: 'http://127.0.0.1',
      a2a_port: a2as[name].port
    })
    ;[A, B] = await Promise.all([
      pool.start('A', config(apiA, 'A'), { 'private.pem': a.pem }),
      pool.start('B', config(apiB, 'B'), { 'private.pem': b.pem })
    ])
    const t1 = Date.now()
    // Linked when both nodes list G as their one up peer and G lists both of them.
    const g = G
    let seen = ''
    await eventually(() => `A and B linked to G only (last: ${seen})`, async () => {
      const [ta, tb, gp] = await Promise.all([topology(A), topology(B), goPeersOf(g)])
      const up = (t: typeof ta): string[] => t.peers.filter(p => p.up).map(p => p.public_key)
      seen = JSON.stringify({ a: up(ta), b: up(tb), g: upKeys(gp) })
      return up(ta).join() === g.publicKey && up(tb).join() === g.publicKey && upKeys(gp).join() === [A.key, B.key].sort().join()
    }, 20_000)
    const t2 = Date.now()
    // The first /send each way retries until the route through G is known.
    await waitReachable(A, B, 20_000)
    await waitReachable(B, A, 20_000)
    console.log(`[go-relay] ready in ${Date.now() - t0} ms: processes ${t1 - t0}, links ${t2 - t1}, first sends ${Date.now() - t2}`)
  }, 60_000)

  afterAll(async () => {
    await pool.close()
    await G?.stop()
  }, 30_000)

  beforeEach(async () => {
    for (const n of [A, B]) if (n !== undefined) await drain(n)
    for (const s of [routers.A, routers.B, a2as.A, a2as.B]) s?.reset()
  })

  it('/topology of A and B shows G as the only peer; G lists A and B (keys from the PEMs) as inbound peers and in its tree', async () => {
    const g = G as GoPeer
    for (const [n, key] of [[A, keyA], [B, keyB]] as const) {
      const t = await topology(n)
      expect(t.our_public_key).toBe(key)
      expect(n.key).toBe(key)
      expect(t.peers).toEqual([expect.objectContaining({ uri: gUri, up: true, inbound: false, public_key: g.publicKey })])
    }
    // axl-node logs its links and the tree's root
    for (const n of [A, B]) {
      expect(n.log()).toContain(`[node] Link up: ${g.publicKey} (outbound, ${gUri})`)
      const low = [keyA, keyB, g.publicKey].sort()[0]
      if (n.key !== low) await eventually(`${n.name} to log the root ${low}`, async () => n.log().includes(`[node] Tree root: ${low}`), 10_000)
    }
    const peers = await goPeersOf(g)
    expect(peers.map(p => p.key).sort()).toEqual([keyA, keyB].sort())
    for (const p of peers) {
      expect(p.up).toBe(true)
      expect(p.inbound).toBe(true)
      expect(p.address).toBe((p.key === keyA ? A : B).ipv6)
    }
    // one tree: A and B in it, a single root (the smallest key of the three), every parent one of the three
    const all = [g.publicKey, keyA, keyB]
    const roots = (t: GoTreeEntry[]): string[] => t.filter(e => e.key === e.parent).map(e => e.key)
    let tree: GoTreeEntry[] = []
    await eventually(() => `G's tree to hold A and B under one root (last: ${JSON.stringify(tree)})`, async () => {
      tree = await goTreeOf(g)
      return tree.some(e => e.key === keyA) && tree.some(e => e.key === keyB) && roots(tree).join() === [...all].sort()[0]
    }, 10_000)
    for (const e of tree) expect(all).toContain(e.parent)
  })

  it('/send both ways: text, every byte value, random binary and ~1 MiB bodies arrive byte-identical with the sender\'s key; empty /recv is 204', async () => {
    expect((await http(`${A.url}/recv`)).status).toBe(204)
    expect((await http(`${B.url}/recv`)).status).toBe(204)
    const bodies = [
      Buffer.from('hello through yggdrasil-go'),
      Buffer.from(Uint8Array.from({ length: 256 }, (_, i) => i)),
      Buffer.concat([Buffer.of(0, 0xff, 0x0d, 0x0a, 0x7b), randomBytes(4093)]),
      randomBytes(1024 * 1024 - 7)
    ]
    for (const [from, to] of [[A, B], [B, A]] as const) {
      for (const body of bodies) {
        const r = await send(from, to.key, body)
        expect(r.status).toBe(200)
        expect(r.headers.get('x-sent-bytes')).toBe(String(body.byteLength))
      }
      const got = await drain(to)
      expect(got.map(g => sha256(g.body))).toEqual(bodies.map(sha256))
      for (const g of got) {
        expect(g.headers.get('x-from-peer-id')).toBe(from.key)
        expect(g.headers.get('content-type')).toBe('application/octet-stream')
      }
      const empty = await http(`${to.url}/recv`)
      expect(empty.status).toBe(204)
      expect(empty.body.byteLength).toBe(0)
    }
  })

  it('/mcp/{peer}/{service} both ways: the call crosses G, the other side\'s router sees it, the answer comes back', async () => {
    for (const [from, to, name] of [[A, B, 'B'], [B, A, 'A']] as const) {
      routers.A.reset()
      routers.B.reset()
      const request = { jsonrpc: '2.0', id: 42, method: 'tools/call', params: { name: 'add', arguments: { a: 19, b: 23 } } }
      const r = await http(`${from.url}/mcp/${to.key}/calc`, { method: 'POST', body: JSON.stringify(request), headers: JSON_HEADERS })
      expect(r.status).toBe(200)
      expect(r.headers.get('content-type')).toBe('application/json')
      expect(JSON.parse(r.text)).toEqual({ jsonrpc: '2.0', id: 42, result: { router: name, service: 'calc', method: 'tools/call', params: request.params, from: from.key } })
      const router = routers[name]
      expect(router.seen).toHaveLength(1)
      expect(router.seen[0].method).toBe('POST')
      expect(router.seen[0].url).toBe('/route')
      expect(JSON.parse(router.seen[0].body)).toEqual({ service: 'calc', request, from_peer_id: from.key })
      // the sender's own router saw nothing
      expect(routers[name === 'A' ? 'B' : 'A'].seen).toHaveLength(0)
    }
  })

  it('/a2a/{peer} both ways: the agent card (GET) and a SendMessage (POST) reach the other side\'s A2A server', async () => {
    for (const [from, to, name] of [[A, B, 'B'], [B, A, 'A']] as const) {
      a2as.A.reset()
      a2as.B.reset()
      const server = a2as[name]
      const card = await http(`${from.url}/a2a/${to.key}`)
      expect(card.status).toBe(200)
      expect(card.headers.get('content-type')).toBe('application/json')
      expect(JSON.parse(card.text)).toEqual({ name: `agent ${name}`, skills: [] })
      const msg = { jsonrpc: '2.0', method: 'SendMessage', id: 'm-1', params: { message: { role: 'ROLE_USER', messageId: 'm1', parts: [{ text: `hi ${name}` }] } } }
      const r = await http(`${from.url}/a2a/${to.key}`, { method: 'POST', body: JSON.stringify(msg), headers: JSON_HEADERS })
      expect(r.status).toBe(200)
      expect(JSON.parse(r.text)).toEqual({ jsonrpc: '2.0', id: 'm-1', result: { agent: name, method: 'SendMessage', params: msg.params, from: from.key } })
      expect(server.seen.map(s => [s.method, s.url])).toEqual([['GET', '/.well-known/agent-card.json'], ['POST', '/']])
      for (const s of server.seen) expect(s.headers['x-from-peer-id']).toBe(from.key)
      expect(server.seen[1].headers['a2a-version']).toBe('1.0')
      expect(JSON.parse(server.seen[1].body)).toEqual(msg)
      expect(a2as[name === 'A' ? 'B' : 'A'].seen).toHaveLength(0)
    }
  })

  it('a 16 MiB /send A → B crosses G byte-identical (sha256), and G\'s link counters carried it', async () => {
    const g = G as GoPeer
    const counters = async (): Promise<{ fromA: number, toB: number }> => {
      const peers = await goPeersOf(g)
      return { fromA: peers.find(p => p.key === A.key)!.bytes_recvd, toB: peers.find(p => p.key === B.key)!.bytes_sent }
    }
    const before = await counters()
    const big = randomBytes(16 * 1024 * 1024)
    const t0 = Date.now()
    const r = await http(`${A.url}/send`, { method: 'POST', body: big, headers: { 'X-Destination-Peer-Id': B.key, 'Content-Type': 'application/octet-stream' }, timeoutMs: 30_000 })
    expect(r.status).toBe(200)
    expect(r.headers.get('x-sent-bytes')).toBe(String(big.byteLength))
    const got = await http(`${B.url}/recv`, { timeoutMs: 30_000 })
    const ms = Date.now() - t0
    expect(got.status).toBe(200)
    expect(got.headers.get('x-from-peer-id')).toBe(A.key)
    expect(got.body.byteLength).toBe(big.byteLength)
    expect(sha256(got.body)).toBe(sha256(big))
    expect((await http(`${B.url}/recv`)).status).toBe(204)
    const after = await counters()
    expect(after.fromA - before.fromA).toBeGreaterThanOrEqual(big.byteLength)
    expect(after.toB - before.toB).toBeGreaterThanOrEqual(big.byteLength)
    console.log(`[go-relay] 16 MiB A → G → B via /send + /recv in ${ms} ms (${(16 / (ms / 1000)).toFixed(1)} MiB/s)`)
  })
})
