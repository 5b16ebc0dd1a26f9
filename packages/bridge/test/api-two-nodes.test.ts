// axl-reference §8 two-node cases [2N]: nodes A and B on a MemoryNetwork, each with a real HTTP API,
// plus stub router / stub A2A servers (real HTTP on 127.0.0.1) that record what B forwards to them.
import { describe, expect, it } from 'vitest'
import { addressForKey, peerIdToBytes } from '@axl/core'
import { call, closedPort, expectGoError, pair, stubServer, type Reply } from './helpers.js'

const sameAddress = (a: string, b: string): boolean =>
  Buffer.from(addressForKey(peerIdToBytes(a))).equals(Buffer.from(addressForKey(peerIdToBytes(b))))

async function send (url: string, to: string, body: string | Uint8Array): Promise<Reply> {
  return await call(`${url}/send`, { method: 'POST', body, headers: { 'X-Destination-Peer-Id': to, 'Content-Type': 'application/octet-stream' } })
}

async function drain (url: string): Promise<string[]> {
  const out: string[] = []
  for (;;) {
    const r = await call(`${url}/recv`)
    if (r.status === 204) return out
    out.push(r.text)
  }
}

const TOOLS_LIST = '{"jsonrpc":"2.0","method":"tools/list","id":1}'
const routerAnswer = (body: string, status = 200) => () => ({ status, headers: { 'Content-Type': 'application/json' }, body })

describe('§8 /send and /recv between two nodes', () => {
  it('22: send hello; B receives it with the sender key', async () => {
    const { a, b } = await pair()
    const r = await send(a.bridge.url, b.node.peerId, 'hello')
    expect(r.status).toBe(200)
    expect(r.headers['x-sent-bytes']).toBe('5')
    expect(r.headers['content-type']).toBe('application/octet-stream')
    expect(r.body.byteLength).toBe(0)
    const got = await call(`${b.bridge.url}/recv`)
    expect(got.status).toBe(200)
    expect(got.text).toBe('hello')
    expect(got.headers['content-type']).toBe('application/octet-stream')
    const from = got.headers['x-from-peer-id'] as string
    expect(sameAddress(from, a.node.peerId)).toBe(true)
    expect(from).toBe(a.node.peerId) // deliberate: the full key (AXL: a partial key)
  })

  it('23: 256 bytes 0x00..0xff arrive byte-identical', async () => {
    const { a, b } = await pair()
    const bytes = Uint8Array.from({ length: 256 }, (_, i) => i)
    expect((await send(a.bridge.url, b.node.peerId, bytes)).status).toBe(200)
    const got = await call(`${b.bridge.url}/recv`)
    expect(Buffer.compare(got.body, Buffer.from(bytes))).toBe(0)
  })

  it('24: an empty body → 200 X-Sent-Bytes 0; B gets 200 with an empty body, then 204', async () => {
    const { a, b } = await pair()
    const r = await send(a.bridge.url, b.node.peerId, '')
    expect(r.status).toBe(200)
    expect(r.headers['x-sent-bytes']).toBe('0')
    const got = await call(`${b.bridge.url}/recv`)
    expect(got.status).toBe(200)
    expect(got.body.byteLength).toBe(0)
    expect((await call(`${b.bridge.url}/recv`)).status).toBe(204)
  })

  it('25: B replies to the X-From-Peer-Id it received', async () => {
    const { a, b } = await pair()
    await send(a.bridge.url, b.node.peerId, 'ping')
    const from = (await call(`${b.bridge.url}/recv`)).headers['x-from-peer-id'] as string
    expect((await send(b.bridge.url, from, 'pong')).status).toBe(200)
    const got = await call(`${a.bridge.url}/recv`)
    expect(got.text).toBe('pong')
    expect(got.headers['x-from-peer-id']).toBe(b.node.peerId)
  })

  it('26: three sequential sends arrive in order; a 4th /recv is 204', async () => {
    const { a, b } = await pair()
    for (const i of [1, 2, 3]) expect((await send(a.bridge.url, b.node.peerId, `{"msg":${i}}`)).status).toBe(200)
    expect(await drain(b.bridge.url)).toEqual(['{"msg":1}', '{"msg":2}', '{"msg":3}'])
  })

  it('27 (recv_overflow "drop-oldest", AXL): 105 messages, B drains 100 starting at index 5', async () => {
    const { a, b } = await pair({ recv_overflow: 'drop-oldest' })
    for (let i = 0; i < 105; i++) expect((await send(a.bridge.url, b.node.peerId, JSON.stringify({ index: i }))).status).toBe(200)
    const got = (await drain(b.bridge.url)).map(t => JSON.parse(t).index as number)
    expect(got).toHaveLength(100)
    expect(got[0]).toBe(5)
    expect(got[99]).toBe(104)
  })

  it('27 (default recv_overflow "refuse"): sends 101..105 get 503, B drains 0..99; nothing acknowledged is lost', async () => {
    const { a, b } = await pair()
    const statuses: number[] = []
    for (let i = 0; i < 105; i++) statuses.push((await send(a.bridge.url, b.node.peerId, JSON.stringify({ index: i }))).status)
    expect(statuses.slice(0, 100).every(s => s === 200)).toBe(true)
    expect(statuses.slice(100)).toEqual([503, 503, 503, 503, 503])
    const refused = await send(a.bridge.url, b.node.peerId, 'x')
    expectGoError(refused, 503, refused.text.trimEnd())
    expect(refused.text).toMatch(/^Peer refused the message: inbox full/)
    const got = (await drain(b.bridge.url)).map(t => JSON.parse(t).index as number)
    expect(got).toEqual(Array.from({ length: 100 }, (_, i) => i))
  })

  it('28: B max_message_size 1024: 1024 bytes arrive; 1025 never appear on B and A gets 413', async () => {
    const { a, b } = await pair({ max_message_size: 1024 })
    expect((await send(a.bridge.url, b.node.peerId, new Uint8Array(1024))).status).toBe(200)
    const r = await send(a.bridge.url, b.node.peerId, new Uint8Array(1025))
    expectGoError(r, 413, 'Message too large: message of 1025 bytes exceeds the remote limit of 1024 bytes')
    const got = await call(`${b.bridge.url}/recv`)
    expect(got.body.byteLength).toBe(1024)
    expect((await call(`${b.bridge.url}/recv`)).status).toBe(204)
  })
})

describe('§8 MCP through B\'s router', () => {
  it('29: tools/list through the stub router; the stub sees AXL\'s /route body', async () => {
    const stub = await stubServer(routerAnswer('{"response":{"jsonrpc":"2.0","id":1,"result":{"tools":[]}},"error":null}'))
    const { a, b } = await pair({ router_addr: 'http://127.0.0.1', router_port: stub.port })
    const r = await call(`${a.bridge.url}/mcp/${b.node.peerId}/weather`, { method: 'POST', body: '{"jsonrpc": "2.0", "method": "tools/list", "id": 1}', headers: { 'Content-Type': 'application/json' } })
    expect(r.status).toBe(200)
    expect(r.headers['content-type']).toBe('application/json')
    expect(r.text).toBe('{"jsonrpc":"2.0","id":1,"result":{"tools":[]}}')
    const seen = stub.seen[0]
    expect(seen.method).toBe('POST')
    expect(seen.url).toBe('/route')
    expect(seen.headers['content-type']).toBe('application/json')
    expect(seen.body).toBe(`{"service":"weather","request":${TOOLS_LIST},"from_peer_id":"${a.node.peerId}"}`)
  })

  it('30: initialize → Mcp-Session-Id; reuse echoes it; after DELETE it is 404', async () => {
    const stub = await stubServer(routerAnswer('{"response":{"jsonrpc":"2.0","id":1,"result":{}},"error":null}'))
    const { a, b } = await pair({ router_addr: 'http://127.0.0.1/', router_port: stub.port })
    const url = `${a.bridge.url}/mcp/${b.node.peerId}/weather`
    const init = await call(url, { method: 'POST', body: '{"jsonrpc":"2.0","method":"initialize","id":1}' })
    expect(init.status).toBe(200)
    const sid = init.headers['mcp-session-id'] as string
    expect(sid).toMatch(/^mcp-weather-[0-9a-fA-F]{8}-\d+$/)
    expect(sid.split('-')[2]).toBe(b.node.peerId.slice(0, 8))
    const again = await call(url, { method: 'POST', body: TOOLS_LIST, headers: { 'Mcp-Session-Id': sid } })
    expect(again.status).toBe(200)
    expect(again.headers['mcp-session-id']).toBe(sid)
    expect((await call(url, { method: 'DELETE', headers: { 'Mcp-Session-Id': sid } })).status).toBe(202)
    expectGoError(await call(url, { method: 'POST', body: TOOLS_LIST, headers: { 'Mcp-Session-Id': sid } }), 404, 'Invalid or expired session')
    // sessionless use still works
    expect((await call(url, { method: 'POST', body: TOOLS_LIST })).status).toBe(200)
  })

  it('30b: a session is bound to the endpoint that created it (deliberate)', async () => {
    const stub = await stubServer(routerAnswer('{"response":{"jsonrpc":"2.0","id":1,"result":{}},"error":null}'))
    const { a, b } = await pair({ router_addr: 'http://127.0.0.1', router_port: stub.port })
    const init = await call(`${a.bridge.url}/mcp/${b.node.peerId}/weather`, { method: 'POST', body: '{"jsonrpc":"2.0","method":"initialize","id":1}' })
    const sid = init.headers['mcp-session-id'] as string
    expect((await call(`${a.bridge.url}/mcp/${b.node.peerId}/other`, { method: 'POST', body: TOOLS_LIST, headers: { 'Mcp-Session-Id': sid } })).status).toBe(404)
  })

  it('31: the router answers 404 with an error → A gets 200 with a JSON-RPC error, keys sorted, trailing newline', async () => {
    const stub = await stubServer(routerAnswer('{"response":null,"error":"Service not found: weather"}', 404))
    const { a, b } = await pair({ router_addr: 'http://127.0.0.1', router_port: stub.port })
    const r = await call(`${a.bridge.url}/mcp/${b.node.peerId}/weather`, { method: 'POST', body: '{"jsonrpc":"2.0","method":"tools/list","id":7}' })
    expect(r.status).toBe(200)
    expect(r.headers['content-type']).toBe('application/json')
    expect(r.text).toBe('{"error":{"code":-32603,"message":"router error: Service not found: weather"},"id":7,"jsonrpc":"2.0"}\n')
  })

  it('31b: a big integer id keeps every digit in the error path (AXL: float64)', async () => {
    const stub = await stubServer(routerAnswer('{"response":null,"error":"boom <&>"}', 502))
    const { a, b } = await pair({ router_addr: 'http://127.0.0.1', router_port: stub.port })
    const r = await call(`${a.bridge.url}/mcp/${b.node.peerId}/weather`, { method: 'POST', body: '{"jsonrpc":"2.0","method":"x","id":12345678901234567890}' })
    expect(r.text).toBe('{"error":{"code":-32603,"message":"router error: boom \\u003c\\u0026\\u003e"},"id":12345678901234567890,"jsonrpc":"2.0"}\n')
    const r2 = await call(`${a.bridge.url}/mcp/${b.node.peerId}/weather`, { method: 'POST', body: '{"jsonrpc":"2.0","method":"x"}' })
    expect(JSON.parse(r2.text).id).toBeNull()
  })

  it('32: router on a closed port → JSON-RPC error "failed to contact router"', async () => {
    const { a, b } = await pair({ router_addr: 'http://127.0.0.1', router_port: await closedPort() })
    const r = await call(`${a.bridge.url}/mcp/${b.node.peerId}/weather`, { method: 'POST', body: TOOLS_LIST })
    expect(r.status).toBe(200)
    const j = JSON.parse(r.text)
    expect(j.error.code).toBe(-32603)
    expect(j.error.message).toMatch(/^failed to contact router/)
  })

  it('33: router answers "not json" → "failed to parse router response"', async () => {
    const stub = await stubServer(() => ({ status: 200, headers: { 'Content-Type': 'text/plain' }, body: 'not json' }))
    const { a, b } = await pair({ router_addr: 'http://127.0.0.1', router_port: stub.port })
    const j = JSON.parse((await call(`${a.bridge.url}/mcp/${b.node.peerId}/weather`, { method: 'POST', body: TOOLS_LIST })).text)
    expect(j.error.message).toMatch(/^failed to parse router response/)
  })

  it('34: router answers {"response":null,"error":null} → 200 body null', async () => {
    const stub = await stubServer(routerAnswer('{"response":null,"error":null}'))
    const { a, b } = await pair({ router_addr: 'http://127.0.0.1', router_port: stub.port })
    const r = await call(`${a.bridge.url}/mcp/${b.node.peerId}/weather`, { method: 'POST', body: TOOLS_LIST })
    expect(r.status).toBe(200)
    expect(r.text).toBe('null')
  })

  it('34b: router answers {} → an error at once (AXL: silence, then 502 after 30 s)', async () => {
    const stub = await stubServer(routerAnswer('{}'))
    const { a, b } = await pair({ router_addr: 'http://127.0.0.1', router_port: stub.port })
    const j = JSON.parse((await call(`${a.bridge.url}/mcp/${b.node.peerId}/weather`, { method: 'POST', body: TOOLS_LIST })).text)
    expect(j.error.message).toBe('router answered HTTP 200 without a response or an error')
  })

  it('35: B without a router → a JSON-RPC error at once (AXL: 502 after 30 s); B\'s /recv still gets the envelope', async () => {
    const { a, b } = await pair()
    const t0 = Date.now()
    const r = await call(`${a.bridge.url}/mcp/${b.node.peerId}/weather`, { method: 'POST', body: TOOLS_LIST })
    expect(Date.now() - t0).toBeLessThan(2000)
    expect(r.status).toBe(200)
    expect(JSON.parse(r.text).error.message).toMatch(/^no MCP service on this node/)
    expect((await call(`${b.bridge.url}/recv`)).text).toBe(`{"service":"weather","request":${TOOLS_LIST}}`)
  })
})

describe('§8 A2A through B\'s A2A server', () => {
  const card = '{"name":"Stub","skills":[]}'

  it('36: GET /a2a/B → the stub\'s card; the stub saw the well-known path and X-From-Peer-Id', async () => {
    const stub = await stubServer(() => ({ body: card }))
    const { a, b } = await pair({ a2a_addr: 'http://127.0.0.1', a2a_port: stub.port })
    const r = await call(`${a.bridge.url}/a2a/${b.node.peerId}`)
    expect(r.status).toBe(200)
    expect(r.headers['content-type']).toBe('application/json')
    expect(r.text).toBe(card)
    expect(stub.seen[0].method).toBe('GET')
    expect(stub.seen[0].url).toBe('/.well-known/agent-card.json')
    expect(stub.seen[0].headers['x-from-peer-id']).toBe(a.node.peerId)
  })

  it('37: POST /a2a/B relays a v1.0 SendMessage, even when the stub answers HTTP 500 with JSON (a2a_port honoured)', async () => {
    const answer = '{"jsonrpc":"2.0","id":"1","error":{"code":-32603,"message":"x"}}'
    const stub = await stubServer(() => ({ status: 500, body: answer }))
    const { a, b } = await pair({ a2a_addr: 'http://127.0.0.1/', a2a_port: stub.port })
    const msg = { jsonrpc: '2.0', method: 'SendMessage', id: '1', params: { message: { role: 'ROLE_USER', messageId: 'm1', parts: [{ text: '{"service": "weather", "request": {"jsonrpc": "2.0", "method": "tools/list", "id": 1, "params": {}}}' }] } } }
    const r = await call(`${a.bridge.url}/a2a/${b.node.peerId}`, { method: 'POST', body: JSON.stringify(msg, null, 2), headers: { 'Content-Type': 'application/json' } })
    expect(r.status).toBe(200)
    expect(r.text).toBe(answer)
    const seen = stub.seen[0]
    expect(seen.method).toBe('POST')
    expect(seen.url).toBe('/')
    expect(seen.headers['content-type']).toBe('application/json')
    expect(seen.headers['a2a-version']).toBe('1.0')
    expect(seen.headers['x-from-peer-id']).toBe(a.node.peerId)
    expect(seen.body).toBe(JSON.stringify(msg))
  })

  it('38: A2A server on a closed port → 502 "failed to contact a2a server"', async () => {
    const { a, b } = await pair({ a2a_addr: 'http://127.0.0.1', a2a_port: await closedPort() })
    const r = await call(`${a.bridge.url}/a2a/${b.node.peerId}`, { method: 'POST', body: '{"jsonrpc":"2.0","method":"SendMessage","id":1}' })
    expect(r.status).toBe(502)
    expect(r.headers['content-type']).toBe('text/plain; charset=utf-8')
    expect(r.text).toMatch(/^failed to contact a2a server: Post "http:\/\/127\.0\.0\.1:\d+\/": /)
  })

  it('39: the stub answers text/plain "Not Found" → 502 at once (AXL: after 30 s)', async () => {
    const stub = await stubServer(() => ({ status: 404, headers: { 'Content-Type': 'text/plain' }, body: 'Not Found' }))
    const { a, b } = await pair({ a2a_addr: 'http://127.0.0.1', a2a_port: stub.port })
    const t0 = Date.now()
    const r = await call(`${a.bridge.url}/a2a/${b.node.peerId}`)
    expect(Date.now() - t0).toBeLessThan(2000)
    expectGoError(r, 502, 'a2a server answered HTTP 404 (text/plain) with a body that is not JSON: Not Found')
  })

  it('39b: B without any A2A backend → 502 at once with the remote\'s error', async () => {
    const { a, b } = await pair()
    const r = await call(`${a.bridge.url}/a2a/${b.node.peerId}`)
    expect(r.status).toBe(502)
    expect(r.text).toMatch(/^no A2A service on this node/)
  })
})

describe('§8 sniffing of /send payloads (40, 41)', () => {
  it('40: with B\'s router on, /send {"service":"x"} goes to the router, not /recv; with it off it reaches /recv', async () => {
    const stub = await stubServer(routerAnswer('{"response":null,"error":null}'))
    const { a, b } = await pair({ router_addr: 'http://127.0.0.1', router_port: stub.port })
    expect((await send(a.bridge.url, b.node.peerId, '{"service":"x"}')).status).toBe(200)
    const routed = await stub.next()
    expect(routed.url).toBe('/route')
    expect(JSON.parse(routed.body)).toEqual({ service: 'x', request: null, from_peer_id: a.node.peerId })
    expect((await call(`${b.bridge.url}/recv`)).status).toBe(204)

    const off = await pair()
    expect((await send(off.a.bridge.url, off.b.node.peerId, '{"service":"x"}')).status).toBe(200)
    expect((await send(off.a.bridge.url, off.b.node.peerId, '{"a2a":true}')).status).toBe(200)
    expect(await drain(off.b.bridge.url)).toEqual(['{"service":"x"}', '{"a2a":true}'])
  })

  it('40b/41: with B\'s A2A on, {"a2a":true} and {"A2A":true} go to the A2A server', async () => {
    const stub = await stubServer(() => ({ body: '{}' }))
    const { a, b } = await pair({ a2a_addr: 'http://127.0.0.1', a2a_port: stub.port })
    expect((await send(a.bridge.url, b.node.peerId, '{"a2a":true}')).status).toBe(200)
    expect((await send(a.bridge.url, b.node.peerId, '{"A2A":true}')).status).toBe(200)
    expect(stub.seen.map(s => [s.method, s.url, s.body])).toEqual([['POST', '/', ''], ['POST', '/', '']])
    expect((await call(`${b.bridge.url}/recv`)).status).toBe(204)
  })
})
