// axl-reference §8 black-box cases 1–45, run against real `axl-node` processes (the full ygg() stack)
// peered over tcp:// on 127.0.0.1, with a stub router and a stub A2A server as real HTTP servers that
// record what they are sent. Every request goes over real HTTP (fetch). Where packages/bridge/README.md
// documents a deliberate difference from Go AXL, the test asserts our behaviour and says "adapted".
//
// The mesh (started once, in beforeAll; killed in afterAll even on failure):
//
//   A  PrivateKeyPath = the seed-0x01 PEM (§1.4); Listen tcp://127.0.0.1:L; Peers = [a closed port]
//      (a configured link that stays down, case 3); explicit free api_port (case 44). Default limits.
//   B  Peers [L]; router_addr → stub router, a2a_addr/a2a_port → stub A2A; max_message_size 1024 (case 28).
//   C  Peers [L]; no router, no A2A; recv_overflow "drop-oldest" (AXL's queue, case 27).
//   D  Peers [L]; router and A2A server on closed ports (32, 38); default recv_overflow "refuse" (27).
//   E  Peers [L]; tcp_port 7001 (the others 7000, case 43); request_timeout_secs 3 (case 42).
//
// Config cases 4, 5, 45 start their own short-lived processes. 46–48 are skipped with the reason printed.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { addressStringForKey, peerIdToBytes } from '@axl/core'
import {
  drain, expectGoError, freePort, freePorts, http, ProcessPool, send, started, topology, waitForTree, waitReachable,
  type AxlNode, type RecordingServer, type Reply
} from './helpers/processes.js'

const SEED1_PEM = '-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIAEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEB\n-----END PRIVATE KEY-----\n'
const SEED1_KEY = '8a88e3dd7409f195fd52db2d3cba5d72ca6709bf1d94121bf3748801b40f6f5c'
const SEED1_IPV6 = '200:eaee:3845:17ec:1cd4:55a:49a5:868b'
/** A well-formed key no node owns. */
const HEX64 = 'ab'.repeat(32)
const TOOLS_LIST = '{"jsonrpc":"2.0","method":"tools/list","id":1}'
const JSON_HEADERS = { 'Content-Type': 'application/json' }

/** The IPv6 address a (full or partial) key routes to. */
const addressOf = (key: string): string => addressStringForKey(peerIdToBytes(key))

const post = async (url: string, body: string, headers: Record<string, string> = {}): Promise<Reply> =>
  await http(url, { method: 'POST', body, headers: { ...JSON_HEADERS, ...headers } })

describe('§8 black-box cases against real axl-node processes over tcp:// on loopback', () => {
  const pool = new ProcessPool()
  let A: AxlNode, B: AxlNode, C: AxlNode, D: AxlNode, E: AxlNode
  let router: RecordingServer
  let a2a: RecordingServer
  let aApiPort = 0
  let deadLinkPort = 0

  beforeAll(async () => {
    router = await pool.stub()
    a2a = await pool.stub()
    const [linkPort, dead, closedRouter, closedA2a, apiPort] = await freePorts(5)
    aApiPort = apiPort
    deadLinkPort = dead
    const link = `tcp://127.0.0.1:${linkPort}`
    const t0 = Date.now()
    A = await pool.start('A', { PrivateKeyPath: 'private.pem', Listen: [link], Peers: [`tcp://127.0.0.1:${dead}`], api_port: apiPort }, { 'private.pem': SEED1_PEM })
    ;[B, C, D, E] = await Promise.all([
      pool.start('B', { Peers: [link], router_addr: 'http://127.0.0.1', router_port: router.port, a2a_addr: 'http://127.0.0.1', a2a_port: a2a.port, max_message_size: 1024 }),
      pool.start('C', { Peers: [link], recv_overflow: 'drop-oldest' }),
      pool.start('D', { Peers: [link], router_addr: 'http://127.0.0.1', router_port: closedRouter, a2a_addr: 'http://127.0.0.1', a2a_port: closedA2a }),
      pool.start('E', { Peers: [link], tcp_port: 7001, request_timeout_secs: 3 })
    ])
    // The overlay has formed when every node agrees on the root; then one /send per direction proves
    // the routes (sequentially: concurrent first contacts stall for seconds, see the report).
    const t1 = Date.now()
    await waitForTree([A, B, C, D, E], 30_000)
    const t2 = Date.now()
    const probes: string[] = []
    for (const [from, to] of [[A, B], [A, C], [A, D], [B, A], [C, A], [D, A], [B, C]] as const) {
      const t = Date.now()
      await waitReachable(from, to, 40_000)
      probes.push(`${from.name}→${to.name} ${Date.now() - t}`)
    }
    console.log(`mesh ready in ${Date.now() - t0} ms: processes ${t1 - t0}, tree ${t2 - t1}, first sends (ms) ${probes.join(', ')}`)
  }, 120_000)

  afterAll(async () => { await pool.close() }, 30_000)

  beforeEach(async () => {
    // Each case starts with empty queues and fresh stubs.
    for (const n of [A, B, C, D, E]) if (n !== undefined) await drain(n)
    router.reset()
    a2a.reset()
    router.answer = () => ({ body: '{"response":{"jsonrpc":"2.0","id":1,"result":{"tools":[]}},"error":null}' })
    a2a.answer = () => ({ body: '{"name":"Stub","skills":[]}' })
  })

  describe('[1N] one node (A)', () => {
    it('1: /topology of the seed-0x01 PEM node', async () => {
      const r = await http(`${A.url}/topology`)
      expect(r.status).toBe(200)
      expect(r.headers.get('content-type')).toBe('application/json')
      const t = JSON.parse(r.text)
      expect(t.our_public_key).toBe(SEED1_KEY)
      expect(t.our_ipv6).toBe(SEED1_IPV6)
      expect(A.key).toBe(SEED1_KEY)
      expect(A.ipv6).toBe(SEED1_IPV6)
    })

    it('2 (adapted: the root\'s parent is "", AXL: its own key): /topology keys, tree entries, any method', async () => {
      for (const method of ['GET', 'POST', 'PUT']) {
        const r = await http(`${A.url}/topology`, { method })
        expect(r.status).toBe(200)
        expect(r.text.endsWith('}\n')).toBe(true)
        const t = JSON.parse(r.text)
        expect(Object.keys(t)).toEqual(['our_ipv6', 'our_public_key', 'peers', 'tree'])
        expect(Array.isArray(t.peers)).toBe(true)
        expect(t.tree.some((e: { public_key: string }) => e.public_key === SEED1_KEY)).toBe(true)
        for (const e of t.tree) {
          expect(Object.keys(e)).toEqual(['public_key', 'parent', 'sequence'])
          expect(typeof e.public_key).toBe('string')
          expect(typeof e.parent).toBe('string')
          expect(Number.isInteger(e.sequence)).toBe(true)
        }
        // exactly one root, marked by parent "" (deliberate difference 2); it is the smallest key
        const roots = t.tree.filter((e: { parent: string }) => e.parent === '')
        expect(roots).toHaveLength(1)
        expect(roots[0].public_key).toBe([A, B, C, D, E].map(n => n.key).sort()[0])
      }
    })

    it('3: peers[] entries carry every field; the configured link to a closed port is down with public_key ""', async () => {
      const t = await topology(A)
      expect(t.peers).toHaveLength(5)
      for (const p of t.peers) expect(Object.keys(p)).toEqual(['uri', 'up', 'inbound', 'public_key', 'root', 'port', 'coords'])
      const down = t.peers.filter(p => !p.up)
      expect(down).toEqual([{ uri: `tcp://127.0.0.1:${deadLinkPort}`, up: false, inbound: false, public_key: '', root: '', port: 0, coords: null }])
      const up = t.peers.filter(p => p.up)
      expect(up.map(p => p.public_key).sort()).toEqual([B, C, D, E].map(n => n.key).sort())
      const root = [A, B, C, D, E].map(n => n.key).sort()[0]
      for (const p of up) {
        expect(p).toMatchObject({ inbound: true, root, coords: null })
        expect(p.uri).toMatch(/^tcp:\/\/127\.0\.0\.1:\d+$/)
        expect(p.port).toBeGreaterThan(0)
      }
      // and from the dialling side: B's one link to A is outbound, up, and names A
      const tb = await topology(B)
      expect(tb.peers).toEqual([expect.objectContaining({ up: true, inbound: false, public_key: A.key, root })])
    })

    it('6: empty queue → 204, empty body, no content type', async () => {
      const r = await http(`${A.url}/recv`)
      expect(r.status).toBe(204)
      expect(r.body.byteLength).toBe(0)
      expect(r.headers.get('content-type')).toBeNull()
    })

    it('7: GET /send → 405', async () => {
      expectGoError(await http(`${A.url}/send`), 405, 'Method not allowed')
    })

    it('8: POST /send body "hello" without X-Destination-Peer-Id → 400', async () => {
      expectGoError(await http(`${A.url}/send`, { method: 'POST', body: 'hello' }), 400, 'Missing X-Destination-Peer-Id header')
    })

    it('9: invalid destination peer ids (zzzz, abcd, 63×a, 33 bytes, "ab cd…") → 400', async () => {
      for (const id of ['zzzz', 'abcd', 'a'.repeat(63), 'ab'.repeat(33), 'ab cd' + 'ab'.repeat(30)]) {
        expectGoError(await send(A, id, 'x'), 400, 'Invalid destination peer ID')
      }
    })

    it('10: GET /unknown and /topology/x → 404 "404 page not found"', async () => {
      expectGoError(await http(`${A.url}/unknown`), 404, '404 page not found')
      expectGoError(await http(`${A.url}/topology/x`), 404, '404 page not found')
    })

    it('11: POST /mcp/, /mcp/weather, /mcp/<64hex>/ → 400 URL must be /mcp/{peer_id}/{service}', async () => {
      for (const p of ['/mcp/', '/mcp/weather', `/mcp/${HEX64}/`]) {
        expectGoError(await post(`${A.url}${p}`, '{"method":"x","id":1}'), 400, 'URL must be /mcp/{peer_id}/{service}')
      }
    })

    it('12: GET and PUT /mcp/<64hex>/weather → 405', async () => {
      expectGoError(await http(`${A.url}/mcp/${HEX64}/weather`), 405, 'Method not allowed')
      expectGoError(await http(`${A.url}/mcp/${HEX64}/weather`, { method: 'PUT', body: '{}' }), 405, 'Method not allowed')
    })

    it('13: POST /mcp/<64hex>/weather with "not-json" and "[1]" → 400 Invalid JSON-RPC', async () => {
      expectGoError(await post(`${A.url}/mcp/${HEX64}/weather`, 'not-json'), 400, 'Invalid JSON-RPC')
      expectGoError(await post(`${A.url}/mcp/${HEX64}/weather`, '[1]'), 400, 'Invalid JSON-RPC')
    })

    it('14: notifications/initialized → 202, empty, at once, nothing forwarded (unreachable peer; and B\'s router sees nothing)', async () => {
      const r = await post(`${A.url}/mcp/${HEX64}/weather`, '{"jsonrpc":"2.0","method":"notifications/initialized"}')
      expect(r.status).toBe(202)
      expect(r.body.byteLength).toBe(0)
      expect(r.ms).toBeLessThan(1000) // a forwarded request to HEX64 would wait for request_timeout_secs (30 s)
      const r2 = await post(`${A.url}/mcp/${B.key}/weather`, '{"jsonrpc":"2.0","method":"notifications/initialized"}')
      expect(r2.status).toBe(202)
      // a later request does reach the router, and it is the first thing the router sees
      expect((await post(`${A.url}/mcp/${B.key}/weather`, TOOLS_LIST)).status).toBe(200)
      expect(router.seen.map(s => JSON.parse(s.body).request.method)).toEqual(['tools/list'])
    })

    it('15: {"method":"call","id":1} with Mcp-Session-Id: missing → 404 Invalid or expired session', async () => {
      expectGoError(await post(`${A.url}/mcp/${HEX64}/weather`, '{"method":"call","id":1}', { 'Mcp-Session-Id': 'missing' }), 404, 'Invalid or expired session')
    })

    it('16: DELETE /mcp/<64hex>/weather with and without Mcp-Session-Id → 202', async () => {
      for (const headers of [{}, { 'Mcp-Session-Id': 'whatever' }] as Array<Record<string, string>>) {
        const r = await http(`${A.url}/mcp/${HEX64}/weather`, { method: 'DELETE', headers })
        expect(r.status).toBe(202)
        expect(r.body.byteLength).toBe(0)
      }
    })

    it('17: initialize to /mcp/<104×g>/weather → 502 Failed to reach peer: invalid peer ID', async () => {
      expectGoError(await post(`${A.url}/mcp/${'g'.repeat(104)}/weather`, '{"method":"initialize","id":1}'), 502, 'Failed to reach peer: invalid peer ID')
    })

    it('18: POST /a2a/ {} → 400 URL must be /a2a/{peer_id}', async () => {
      expectGoError(await post(`${A.url}/a2a/`, '{}'), 400, 'URL must be /a2a/{peer_id}')
    })

    it('19: PUT /a2a/<64hex> → 405', async () => {
      expectGoError(await http(`${A.url}/a2a/${HEX64}`, { method: 'PUT', body: '{}' }), 405, 'Method not allowed')
    })

    it('20: POST /a2a/zz {} → 502', async () => {
      expectGoError(await post(`${A.url}/a2a/zz`, '{}'), 502, 'Failed to reach peer: invalid peer ID')
    })

    it('21 (adapted: 400, AXL 500): POST /a2a/<64hex> with an empty body', async () => {
      const r = await post(`${A.url}/a2a/${HEX64}`, '')
      expectGoError(r, 400, /^Invalid A2A request: /)
    })

    it('42 (adapted: bounded by request_timeout_secs = 3 on E, AXL: minutes): /send to a key no node owns → 502 Failed to reach peer', async () => {
      const [r, m] = await Promise.all([send(E, HEX64, 'x'), post(`${E.url}/mcp/${HEX64}/weather`, TOOLS_LIST)])
      expectGoError(r, 502, /^Failed to reach peer: /)
      expect(r.ms).toBeLessThan(6000)
      expectGoError(m, 502, /^(Failed to reach peer|no response from peer): /)
    })

    it('44: A runs on the api_port of its config (a free port chosen by the test; "9002 closed" is not asserted, other processes may use it)', async () => {
      expect(A.apiPort).toBe(aApiPort)
      expect(A.log()).toContain(`[node] Listening on 127.0.0.1:${aApiPort}`)
      const r = await http(`http://127.0.0.1:${aApiPort}/topology`)
      expect(r.status).toBe(200)
      expect(JSON.parse(r.text).our_public_key).toBe(SEED1_KEY)
    })
  })

  describe('[2N] /send and /recv', () => {
    it('22 (full sender key, which the case allows): A sends "hello" to B', async () => {
      const r = await send(A, B.key, 'hello')
      expect(r.status).toBe(200)
      expect(r.headers.get('x-sent-bytes')).toBe('5')
      expect(r.headers.get('content-type')).toBe('application/octet-stream')
      expect(r.body.byteLength).toBe(0)
      const got = await http(`${B.url}/recv`)
      expect(got.status).toBe(200)
      expect(got.text).toBe('hello')
      expect(got.headers.get('content-type')).toBe('application/octet-stream')
      const from = got.headers.get('x-from-peer-id') ?? ''
      expect(addressOf(from)).toBe(A.ipv6) // AddrForKey(header) == AddrForKey(A.key)
      expect(from).toBe(A.key) // deliberate difference 3: the full key (AXL: a partial key ending in ff…)
    })

    it('23: 256 bytes 0x00..0xff arrive byte-identical', async () => {
      const bytes = Uint8Array.from({ length: 256 }, (_, i) => i)
      expect((await send(A, B.key, bytes)).status).toBe(200)
      const got = await http(`${B.url}/recv`)
      expect(got.status).toBe(200)
      expect(Buffer.compare(got.body, Buffer.from(bytes))).toBe(0)
    })

    it('24: an empty body → 200, X-Sent-Bytes 0; B gets 200 with an empty body, then 204', async () => {
      const r = await send(A, B.key, '')
      expect(r.status).toBe(200)
      expect(r.headers.get('x-sent-bytes')).toBe('0')
      const got = await http(`${B.url}/recv`)
      expect(got.status).toBe(200)
      expect(got.body.byteLength).toBe(0)
      expect((await http(`${B.url}/recv`)).status).toBe(204)
    })

    it('25: B replies with /send to the X-From-Peer-Id it received; A gets it', async () => {
      expect((await send(A, B.key, 'ping')).status).toBe(200)
      const from = (await http(`${B.url}/recv`)).headers.get('x-from-peer-id') ?? ''
      expect((await send(B, from, 'pong')).status).toBe(200)
      const got = await http(`${A.url}/recv`)
      expect(got.text).toBe('pong')
      expect(addressOf(got.headers.get('x-from-peer-id') ?? '')).toBe(B.ipv6)
    })

    it('26: {"msg":1..3} sent sequentially arrive in order; a 4th /recv is 204', async () => {
      for (const i of [1, 2, 3]) expect((await send(A, B.key, `{"msg":${i}}`)).status).toBe(200)
      for (const i of [1, 2, 3]) expect((await http(`${B.url}/recv`)).text).toBe(`{"msg":${i}}`)
      expect((await http(`${B.url}/recv`)).status).toBe(204)
    })

    it('27 (unchanged with recv_overflow "drop-oldest" on C): 105 messages, C drains exactly 100 starting at index 5', async () => {
      for (let i = 0; i < 105; i++) expect((await send(A, C.key, JSON.stringify({ index: i }))).status).toBe(200)
      const got = (await drain(C)).map(r => JSON.parse(r.text).index as number)
      expect(got).toEqual(Array.from({ length: 100 }, (_, i) => i + 5))
    })

    it('27 (adapted: default recv_overflow "refuse" on D): sends 101..105 get 503, D drains 0..99, nothing acknowledged is lost', async () => {
      const statuses: number[] = []
      let refused: Reply | undefined
      for (let i = 0; i < 105; i++) {
        const r = await send(A, D.key, JSON.stringify({ index: i }))
        statuses.push(r.status)
        if (r.status === 503) refused = r
      }
      expect(statuses.slice(0, 100).every(s => s === 200)).toBe(true)
      expect(statuses.slice(100)).toEqual([503, 503, 503, 503, 503])
      expectGoError(refused as Reply, 503, /^Peer refused the message: inbox full/)
      const got = (await drain(D)).map(r => JSON.parse(r.text).index as number)
      expect(got).toEqual(Array.from({ length: 100 }, (_, i) => i))
    })

    it('28 (adapted: the oversize send gets 413 at A, AXL: 200 or 5xx): B max_message_size 1024; 1024 bytes arrive, 1025 never appear', async () => {
      expect((await send(A, B.key, new Uint8Array(1024).fill(7))).status).toBe(200)
      expectGoError(await send(A, B.key, new Uint8Array(1025)), 413, 'Message too large: message of 1025 bytes exceeds the remote limit of 1024 bytes')
      const got = await http(`${B.url}/recv`)
      expect(got.status).toBe(200)
      expect(Buffer.compare(got.body, Buffer.alloc(1024, 7))).toBe(0)
      expect((await http(`${B.url}/recv`)).status).toBe(204)
    })

    it('43: E (tcp_port 7001) is in the overlay, yet /send between E and A (tcp_port 7000) fails: 502 connection refused', async () => {
      // E is peered: A lists it as an up link
      expect((await topology(A)).peers.some(p => p.up && p.public_key === E.key)).toBe(true)
      const r = await send(E, A.key, 'x')
      expectGoError(r, 502, /^Failed to reach peer: .*(refused|unreachable|timed out)/)
      const back = await send(A, E.key, 'x')
      expect(back.status).toBe(502)
      expect(back.text).toMatch(/^Failed to reach peer: /)
      expect((await http(`${A.url}/recv`)).status).toBe(204)
      expect((await http(`${E.url}/recv`)).status).toBe(204)
    })
  })

  describe('[2N] MCP through B\'s router (stub router)', () => {
    it('29 (full from_peer_id, which the case allows): tools/list → the inner response; the stub saw AXL\'s /route body', async () => {
      const r = await post(`${A.url}/mcp/${B.key}/weather`, '{"jsonrpc": "2.0", "method": "tools/list", "id": 1}')
      expect(r.status).toBe(200)
      expect(r.headers.get('content-type')).toBe('application/json')
      expect(r.text).toBe('{"jsonrpc":"2.0","id":1,"result":{"tools":[]}}')
      expect(router.seen).toHaveLength(1)
      const seen = router.seen[0]
      expect(seen.method).toBe('POST')
      expect(seen.url).toBe('/route')
      expect(seen.headers['content-type']).toBe('application/json')
      expect(seen.body).toBe(`{"service":"weather","request":${TOOLS_LIST},"from_peer_id":"${A.key}"}`)
      expect(addressOf(JSON.parse(seen.body).from_peer_id)).toBe(A.ipv6)
    })

    it('30: initialize → Mcp-Session-Id mcp-weather-<8hex>-<n>; reuse echoes it; after DELETE reuse is 404', async () => {
      router.answer = () => ({ body: '{"response":{"jsonrpc":"2.0","id":1,"result":{}},"error":null}' })
      const url = `${A.url}/mcp/${B.key}/weather`
      const init = await post(url, '{"jsonrpc":"2.0","method":"initialize","id":1}')
      expect(init.status).toBe(200)
      const sid = init.headers.get('mcp-session-id') ?? ''
      expect(sid).toMatch(/^mcp-weather-[0-9a-fA-F]{8}-\d+$/)
      expect(sid.split('-')[2]).toBe(B.key.slice(0, 8))
      const again = await post(url, TOOLS_LIST, { 'Mcp-Session-Id': sid })
      expect(again.status).toBe(200)
      expect(again.headers.get('mcp-session-id')).toBe(sid)
      expect((await http(url, { method: 'DELETE', headers: { 'Mcp-Session-Id': sid } })).status).toBe(202)
      expectGoError(await post(url, TOOLS_LIST, { 'Mcp-Session-Id': sid }), 404, 'Invalid or expired session')
    })

    it('31: the router answers 404 {"response":null,"error":"Service not found: weather"} → A: 200 JSON-RPC error -32603, id 7', async () => {
      router.answer = () => ({ status: 404, body: '{"response":null,"error":"Service not found: weather"}' })
      const r = await post(`${A.url}/mcp/${B.key}/weather`, '{"jsonrpc":"2.0","method":"tools/list","id":7}')
      expect(r.status).toBe(200)
      expect(r.headers.get('content-type')).toBe('application/json')
      expect(r.text).toBe('{"error":{"code":-32603,"message":"router error: Service not found: weather"},"id":7,"jsonrpc":"2.0"}\n')
    })

    it('32: D\'s router_addr points at a closed port → 200 JSON-RPC error -32603 "failed to contact router…"', async () => {
      const r = await post(`${A.url}/mcp/${D.key}/weather`, TOOLS_LIST)
      expect(r.status).toBe(200)
      const j = JSON.parse(r.text)
      expect(j.error.code).toBe(-32603)
      expect(j.error.message).toMatch(/^failed to contact router/)
      expect(j.id).toBe(1)
    })

    it('33: the router answers "not json" → 200 JSON-RPC error -32603 "failed to parse router response…"', async () => {
      router.answer = () => ({ headers: { 'Content-Type': 'text/plain' }, body: 'not json' })
      const r = await post(`${A.url}/mcp/${B.key}/weather`, TOOLS_LIST)
      expect(r.status).toBe(200)
      const j = JSON.parse(r.text)
      expect(j.error.code).toBe(-32603)
      expect(j.error.message).toMatch(/^failed to parse router response/)
    })

    it('34: the router answers {"response":null,"error":null} → 200, body null', async () => {
      router.answer = () => ({ body: '{"response":null,"error":null}' })
      const r = await post(`${A.url}/mcp/${B.key}/weather`, TOOLS_LIST)
      expect(r.status).toBe(200)
      expect(r.text).toBe('null')
    })

    it('34b (adapted: an error at once, AXL: silence then 502 after 30 s): the router answers {}', async () => {
      router.answer = () => ({ body: '{}' })
      const r = await post(`${A.url}/mcp/${B.key}/weather`, TOOLS_LIST)
      expect(r.status).toBe(200)
      expect(JSON.parse(r.text).error.message).toBe('router answered HTTP 200 without a response or an error')
      expect(r.ms).toBeLessThan(5000)
    })

    it('35 (adapted: a JSON-RPC error at once, AXL: 502 after ~30 s): C without router_addr; C\'s /recv still gets the envelope', async () => {
      const r = await post(`${A.url}/mcp/${C.key}/weather`, TOOLS_LIST)
      expect(r.ms).toBeLessThan(5000)
      expect(r.status).toBe(200)
      const j = JSON.parse(r.text)
      expect(j.error.code).toBe(-32603)
      expect(j.error.message).toMatch(/^no MCP service on this node/)
      const q = await http(`${C.url}/recv`)
      expect(q.status).toBe(200)
      expect(q.text).toBe(`{"service":"weather","request":${TOOLS_LIST}}`)
      expect(q.headers.get('x-from-peer-id')).toBe(A.key)
    })
  })

  describe('[2N] A2A through B\'s A2A server (stub A2A)', () => {
    it('36 (full X-From-Peer-Id): GET /a2a/B → 200 application/json, the card; the stub saw GET /.well-known/agent-card.json', async () => {
      const r = await http(`${A.url}/a2a/${B.key}`)
      expect(r.status).toBe(200)
      expect(r.headers.get('content-type')).toBe('application/json')
      expect(r.text).toBe('{"name":"Stub","skills":[]}')
      expect(a2a.seen).toHaveLength(1)
      expect(a2a.seen[0].method).toBe('GET')
      expect(a2a.seen[0].url).toBe('/.well-known/agent-card.json')
      expect(addressOf(a2a.seen[0].headers['x-from-peer-id'] as string)).toBe(A.ipv6)
      expect(a2a.seen[0].headers['x-from-peer-id']).toBe(A.key)
    })

    it('37: POST /a2a/B with a v1.0 SendMessage → the stub\'s body with 200 even though the stub answered HTTP 500 (JSON)', async () => {
      const answer = '{"jsonrpc":"2.0","id":"1","error":{"code":-32603,"message":"x"}}'
      a2a.answer = () => ({ status: 500, body: answer })
      const msg = {
        jsonrpc: '2.0',
        method: 'SendMessage',
        id: '1',
        params: { message: { role: 'ROLE_USER', messageId: 'm1', parts: [{ text: '{"service": "weather", "request": {"jsonrpc": "2.0", "method": "tools/list", "id": 1, "params": {}}}' }] } }
      }
      const r = await post(`${A.url}/a2a/${B.key}`, JSON.stringify(msg, null, 2))
      expect(r.status).toBe(200)
      expect(r.headers.get('content-type')).toBe('application/json')
      expect(r.text).toBe(answer)
      expect(a2a.seen).toHaveLength(1)
      const seen = a2a.seen[0]
      expect(seen.method).toBe('POST')
      expect(seen.url).toBe('/')
      expect(seen.headers['content-type']).toBe('application/json')
      expect(seen.headers['a2a-version']).toBe('1.0')
      expect(seen.headers['x-from-peer-id']).toBe(A.key)
      expect(seen.body).toBe(JSON.stringify(msg)) // compacted
    })

    it('38: D\'s a2a server on a closed port → 502, text "failed to contact a2a server…"', async () => {
      const r = await post(`${A.url}/a2a/${D.key}`, '{"jsonrpc":"2.0","method":"SendMessage","id":1}')
      expectGoError(r, 502, /^failed to contact a2a server: /)
    })

    it('39 (adapted: immediate 502, AXL: 502 after ~30 s): the stub answers text/plain 404 "Not Found" to GET /a2a/B', async () => {
      a2a.answer = () => ({ status: 404, headers: { 'Content-Type': 'text/plain' }, body: 'Not Found' })
      const r = await http(`${A.url}/a2a/${B.key}`)
      expect(r.ms).toBeLessThan(5000)
      expectGoError(r, 502, 'a2a server answered HTTP 404 (text/plain) with a body that is not JSON: Not Found')
    })

    it('39b (adapted): C without any A2A backend → 502 at once with the remote\'s error', async () => {
      const r = await http(`${A.url}/a2a/${C.key}`)
      expect(r.ms).toBeLessThan(5000)
      expect(r.status).toBe(502)
      expect(r.text).toMatch(/^no A2A service on this node/)
    })
  })

  describe('[2N] sniffing of /send payloads', () => {
    it('40: {"service":"x"} to B (router on) goes to the router, not /recv; to C (both off) it and {"a2a":true} reach /recv', async () => {
      router.answer = () => ({ body: '{"response":null,"error":null}' })
      expect((await send(A, B.key, '{"service":"x"}')).status).toBe(200)
      const routed = await router.next()
      expect(routed.method).toBe('POST')
      expect(routed.url).toBe('/route')
      expect(JSON.parse(routed.body)).toEqual({ service: 'x', request: null, from_peer_id: A.key })
      expect((await http(`${B.url}/recv`)).status).toBe(204)

      expect((await send(A, C.key, '{"service":"x"}')).status).toBe(200)
      expect((await send(A, C.key, '{"a2a":true}')).status).toBe(200)
      expect((await drain(C)).map(r => r.text)).toEqual(['{"service":"x"}', '{"a2a":true}'])
    })

    it('40 (A2A half): {"a2a":true} to B (A2A on) goes to the A2A server, not /recv', async () => {
      a2a.answer = () => ({ body: '{}' })
      expect((await send(A, B.key, '{"a2a":true}')).status).toBe(200)
      const seen = await a2a.next()
      expect([seen.method, seen.url]).toEqual(['POST', '/'])
      expect(seen.headers['x-from-peer-id']).toBe(A.key)
      expect((await http(`${B.url}/recv`)).status).toBe(204)
    })

    it('41: {"A2A":true} (upper case) to B is routed to the A2A server (keys case-insensitive)', async () => {
      a2a.answer = () => ({ body: '{}' })
      expect((await send(A, B.key, '{"A2A":true}')).status).toBe(200)
      const seen = await a2a.next()
      expect([seen.method, seen.url]).toEqual(['POST', '/'])
      expect((await http(`${B.url}/recv`)).status).toBe(204)
    })
  })
})

describe('§8 config cases against real axl-node processes', () => {
  const pool = new ProcessPool()
  afterAll(async () => { await pool.close() }, 30_000)

  it('4: no key configured → a different our_public_key at every (re)start of the same config', async () => {
    const p1 = await pool.spawn('eph-1', { 'node-config.json': JSON.stringify({ api_port: await freePort() }) })
    const n1 = await started(p1)
    const k1 = (await topology(n1)).our_public_key
    expect(p1.log()).toContain('ephemeral identity')
    p1.child.kill('SIGTERM')
    expect(await p1.exited).toEqual({ code: 0, signal: null })
    const keys = [k1]
    for (let i = 2; i <= 3; i++) {
      const p = pool.spawnIn(`eph-${i}`, p1.dir)
      const n = await started(p)
      keys.push((await topology(n)).our_public_key)
      p.child.kill('SIGTERM')
      expect((await p.exited).code).toBe(0)
    }
    expect(new Set(keys).size).toBe(3)
    for (const k of keys) expect(k).toMatch(/^[0-9a-f]{64}$/)
  })

  it('5: a missing or a bad PEM path → exit non-zero, the log names the config and the PEM error', async () => {
    const [missing, bad] = await Promise.all([
      pool.runToExit('pem-missing', { 'node-config.json': '{"PrivateKeyPath":"missing.pem","api_port":0}' }, []),
      pool.runToExit('pem-bad', { 'node-config.json': '{"PrivateKeyPath":"bad.pem","api_port":0}', 'bad.pem': '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n' }, [])
    ])
    expect(missing.code).toBe(1)
    expect(missing.log).toMatch(/\[node\] parse config node-config\.json: PrivateKeyPath: .*missing\.pem: .*(no such file or directory|ENOENT)/)
    expect(bad.code).toBe(1)
    expect(bad.log).toMatch(/\[node\] parse config node-config\.json: PrivateKeyPath: .*bad\.pem/)
    expect(missing.log + bad.log).not.toContain('Listening on')
  })

  it('45 (adapted: refuses to start, AXL: listens on 9002 with every override dropped): {"api_port":"9012"}', async () => {
    const r = await pool.runToExit('type-error', { 'node-config.json': '{"api_port":"9012"}' }, [])
    expect(r.code).toBe(1)
    expect(r.log).toContain('[node] parse config node-config.json: api_port: expected an integer, got a string ("9012")')
    expect(r.log).not.toContain('Listening on')
  })
})

// §8 cases 46–48 (AXL's Python clients) are in python-clients.test.ts, with the reason they are skipped here.
