// axl-reference §8 one-node cases [1N], against a real HTTP server from createBridge over a MemoryNetwork node.
import { describe, expect, it } from 'vitest'
import { MemoryNetwork, addressForKey, identityFromPem, peerIdToBytes } from '@axl/core'
import { call, until, expectGoError, HEX64, SEED1_IPV6, SEED1_KEY, SEED1_PEM, startTestNode } from './helpers.js'

async function one (config: Record<string, unknown> = {}): Promise<{ url: string, net: MemoryNetwork, key: string }> {
  const net = new MemoryNetwork()
  const r = await startTestNode(net, config)
  return { url: r.bridge.url, net, key: r.node.peerId }
}

describe('§8 one-node cases', () => {
  it('1: /topology of the seed-0x01 PEM node', async () => {
    const net = new MemoryNetwork()
    const r = await startTestNode(net, {}, identityFromPem(SEED1_PEM))
    const res = await call(`${r.bridge.url}/topology`)
    expect(res.status).toBe(200)
    expect(res.headers['content-type']).toBe('application/json')
    const t = JSON.parse(res.text)
    expect(t.our_public_key).toBe(SEED1_KEY)
    expect(t.our_ipv6).toBe(SEED1_IPV6)
  })

  it('2: /topology keys, tree entries, trailing newline, any method', async () => {
    const { url, key } = await one()
    for (const method of ['GET', 'POST', 'PUT']) {
      const res = await call(`${url}/topology`, { method })
      expect(res.status).toBe(200)
      expect(res.text.endsWith('}\n')).toBe(true)
      const t = JSON.parse(res.text)
      expect(Object.keys(t)).toEqual(['our_ipv6', 'our_public_key', 'peers', 'tree'])
      expect(t.peers).toEqual([]) // AXL: null
      const self = t.tree.find((e: { public_key: string }) => e.public_key === key)
      expect(self).toBeDefined()
      for (const e of t.tree) {
        expect(typeof e.public_key).toBe('string')
        expect(typeof e.parent).toBe('string')
        expect(Number.isInteger(e.sequence)).toBe(true)
      }
      // Deliberate difference: the root's parent is "" (AXL: its own key).
      expect(self.parent).toBe('')
    }
  })

  it('2b: topology_root_parent "self" reports the root as AXL does', async () => {
    const { url, key } = await one({ topology_root_parent: 'self' })
    const t = JSON.parse((await call(`${url}/topology`)).text)
    expect(t.tree.find((e: { public_key: string }) => e.public_key === key).parent).toBe(key)
  })

  it('3: peers entries carry every field; a down peer has up:false and public_key ""', async () => {
    const net = new MemoryNetwork()
    const a = await startTestNode(net)
    const b = await startTestNode(net)
    let t = JSON.parse((await call(`${a.bridge.url}/topology`)).text)
    expect(t.peers).toHaveLength(1)
    const p = t.peers[0]
    expect(Object.keys(p)).toEqual(['uri', 'up', 'inbound', 'public_key', 'root', 'port', 'coords'])
    expect(p).toMatchObject({ up: true, inbound: false, public_key: b.node.peerId, coords: null })
    net.kill(b.node)
    t = JSON.parse((await call(`${a.bridge.url}/topology`)).text)
    expect(t.peers[0]).toMatchObject({ up: false, public_key: '', root: '', port: 0, coords: null })
    // a tree walker finds exactly one root
    expect(t.tree.filter((e: { parent: string }) => e.parent === '')).toHaveLength(1)
  })

  it('4: no key configured → a different ephemeral key at every start', async () => {
    const net = new MemoryNetwork()
    const k1 = (await startTestNode(net)).node.peerId
    const k2 = (await startTestNode(net)).node.peerId
    expect(k1).not.toBe(k2)
  })

  it('6: empty queue → 204, empty body, no content type', async () => {
    const { url } = await one()
    const res = await call(`${url}/recv`)
    expect(res.status).toBe(204)
    expect(res.body.byteLength).toBe(0)
    expect(res.headers['content-type']).toBeUndefined()
  })

  it('7: GET /send → 405', async () => {
    const { url } = await one()
    expectGoError(await call(`${url}/send`), 405, 'Method not allowed')
  })

  it('8: POST /send without the header → 400', async () => {
    const { url } = await one()
    expectGoError(await call(`${url}/send`, { method: 'POST', body: 'hello' }), 400, 'Missing X-Destination-Peer-Id header')
    expectGoError(await call(`${url}/send`, { method: 'POST', body: 'hello', headers: { 'X-Destination-Peer-Id': '   ' } }), 400, 'Missing X-Destination-Peer-Id header')
  })

  it('9: invalid destination ids → 400', async () => {
    const { url } = await one()
    for (const id of ['zzzz', 'abcd', 'a'.repeat(63), 'ab'.repeat(33), 'ab cd' + 'ab'.repeat(30)]) {
      expectGoError(await call(`${url}/send`, { method: 'POST', body: 'x', headers: { 'X-Destination-Peer-Id': id } }), 400, 'Invalid destination peer ID')
    }
  })

  it('10: unknown paths → 404 "404 page not found"', async () => {
    const { url } = await one()
    expectGoError(await call(`${url}/unknown`), 404, '404 page not found')
    expectGoError(await call(`${url}/topology/x`), 404, '404 page not found')
    expectGoError(await call(`${url}/topology/`), 404, '404 page not found')
  })

  it('10b: ServeMux redirects: /mcp and /a2a → 301 with a slash; unclean paths → 301 to the clean path', async () => {
    const { url } = await one()
    let r = await call(`${url}/mcp`)
    expect(r.status).toBe(301)
    expect(r.headers.location).toBe('/mcp/')
    expect(r.headers['content-type']).toBe('text/html; charset=utf-8')
    expect(r.text).toBe('<a href="/mcp/">Moved Permanently</a>.\n\n')
    r = await call(`${url}/a2a?x=1`, { method: 'POST', body: '{}' })
    expect(r.status).toBe(301)
    expect(r.headers.location).toBe('/a2a/?x=1')
    expect(r.body.byteLength).toBe(0)
    r = await call(`${url}//topology`)
    expect(r.status).toBe(301)
    expect(r.headers.location).toBe('/topology')
    r = await call(url, { rawPath: '/mcp/./x/../' })
    expect(r.headers.location).toBe('/mcp/')
  })

  it('11: malformed /mcp paths → 400', async () => {
    const { url } = await one()
    for (const p of ['/mcp/', '/mcp/weather', `/mcp/${HEX64}/`]) {
      expectGoError(await call(`${url}${p}`, { method: 'POST', body: '{"method":"x","id":1}' }), 400, 'URL must be /mcp/{peer_id}/{service}')
    }
  })

  it('12: GET and PUT /mcp/<peer>/weather → 405', async () => {
    const { url } = await one()
    expectGoError(await call(`${url}/mcp/${HEX64}/weather`), 405, 'Method not allowed')
    expectGoError(await call(`${url}/mcp/${HEX64}/weather`, { method: 'PUT', body: '{}' }), 405, 'Method not allowed')
  })

  it('13: bodies that are not a JSON-RPC object → 400 Invalid JSON-RPC', async () => {
    const { url } = await one()
    for (const body of ['not-json', '[1]', '"s"', '3', '', '{"method":5}']) {
      expectGoError(await call(`${url}/mcp/${HEX64}/weather`, { method: 'POST', body }), 400, 'Invalid JSON-RPC')
    }
  })

  it('14: notifications/initialized → 202 at once, nothing forwarded (peer unreachable)', async () => {
    const { url, net } = await one()
    const before = net.stats.streams + net.stats.failedDials
    const r = await call(`${url}/mcp/${HEX64}/weather`, { method: 'POST', body: '{"jsonrpc":"2.0","method":"notifications/initialized"}' })
    expect(r.status).toBe(202)
    expect(r.body.byteLength).toBe(0)
    expect(net.stats.streams + net.stats.failedDials).toBe(before)
  })

  it('15: unknown Mcp-Session-Id → 404', async () => {
    const { url } = await one()
    expectGoError(await call(`${url}/mcp/${HEX64}/weather`, { method: 'POST', body: '{"method":"call","id":1}', headers: { 'Mcp-Session-Id': 'missing' } }), 404, 'Invalid or expired session')
  })

  it('16: DELETE /mcp/… → 202 with and without a session header (even for a bad peer)', async () => {
    const { url } = await one()
    for (const headers of [{}, { 'Mcp-Session-Id': 'whatever' }] as Array<Record<string, string>>) {
      const r = await call(`${url}/mcp/${HEX64}/weather`, { method: 'DELETE', headers })
      expect(r.status).toBe(202)
      expect(r.body.byteLength).toBe(0)
    }
    expect((await call(`${url}/mcp/zz/weather`, { method: 'DELETE' })).status).toBe(202)
  })

  it('17: initialize to an invalid peer id → 502 (and a short id does not crash the server, AXL panics)', async () => {
    const { url } = await one()
    expectGoError(await call(`${url}/mcp/${'g'.repeat(104)}/weather`, { method: 'POST', body: '{"method":"initialize","id":1}' }), 502, 'Failed to reach peer: invalid peer ID')
    expectGoError(await call(`${url}/mcp/ab/weather`, { method: 'POST', body: '{"method":"initialize","id":1}' }), 502, 'Failed to reach peer: invalid peer ID')
  })

  it('18: POST /a2a/ → 400', async () => {
    const { url } = await one()
    expectGoError(await call(`${url}/a2a/`, { method: 'POST', body: '{}' }), 400, 'URL must be /a2a/{peer_id}')
  })

  it('19: PUT /a2a/<peer> → 405', async () => {
    const { url } = await one()
    expectGoError(await call(`${url}/a2a/${HEX64}`, { method: 'PUT', body: '{}' }), 405, 'Method not allowed')
  })

  it('20: POST /a2a/zz → 502', async () => {
    const { url } = await one()
    expectGoError(await call(`${url}/a2a/zz`, { method: 'POST', body: '{}' }), 502, 'Failed to reach peer: invalid peer ID')
  })

  it('21: POST /a2a/<peer> with an empty body → 400 (AXL: 500)', async () => {
    const { url } = await one()
    const r = await call(`${url}/a2a/${HEX64}`, { method: 'POST', body: '' })
    expect(r.status).toBe(400)
    expect(r.headers['x-content-type-options']).toBe('nosniff')
    expect((await call(`${url}/a2a/${HEX64}`, { method: 'POST', body: '{"a":' })).status).toBe(400)
  })

  it('42: /send to a key no node owns → 502 at once (AXL: minutes)', async () => {
    const { url } = await one()
    const t0 = Date.now()
    const r = await call(`${url}/send`, { method: 'POST', body: 'x', headers: { 'X-Destination-Peer-Id': HEX64 } })
    expect(r.status).toBe(502)
    expect(r.text).toMatch(/^Failed to reach peer: /)
    expect(Date.now() - t0).toBeLessThan(2000)
    // /mcp and /a2a to it: 502 too
    expect((await call(`${url}/mcp/${HEX64}/weather`, { method: 'POST', body: '{"method":"tools/list","id":1}' })).text).toMatch(/^Failed to reach peer: /)
    expect((await call(`${url}/a2a/${HEX64}`)).status).toBe(502)
  })
})

describe('local API protection and bounds (deliberate differences)', () => {
  it('refuses a foreign Host header (DNS rebinding) with 403; accepts 127.0.0.1, localhost and [::1] with the port', async () => {
    const { url } = await one()
    const port = new URL(url).port
    for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`, `LOCALHOST:${port}`]) {
      expect((await call(`${url}/recv`, { headers: { Host: host } })).status).toBe(204)
    }
    for (const host of ['evil.example', `evil.example:${port}`, '127.0.0.1', `127.0.0.1:${Number(port) + 1}`]) {
      const r = await call(`${url}/recv`, { headers: { Host: host } })
      expect(r.status).toBe(403)
      expect(r.text).toMatch(/^Forbidden: invalid Host header/)
    }
  })

  it('api_allowed_hosts extends the Host check', async () => {
    const { url } = await one({ api_allowed_hosts: ['my-box.lan'] })
    const port = new URL(url).port
    expect((await call(`${url}/recv`, { headers: { Host: `my-box.lan:${port}` } })).status).toBe(204)
    expect((await call(`${url}/recv`, { headers: { Host: 'my-box.lan' } })).status).toBe(204)
  })

  it('refuses cross-site browser requests (Origin, Sec-Fetch-Site) with 403 and does not dequeue', async () => {
    const net = new MemoryNetwork()
    const a = await startTestNode(net)
    const b = await startTestNode(net)
    await a.node.send(b.node.peerId, new TextEncoder().encode('secret'))
    const url = b.bridge.url
    let r = await call(`${url}/recv`, { headers: { Origin: 'https://evil.example' } })
    expect(r.status).toBe(403)
    r = await call(`${url}/recv`, { headers: { 'Sec-Fetch-Site': 'cross-site', 'Sec-Fetch-Mode': 'no-cors' } })
    expect(r.status).toBe(403)
    r = await call(`${url}/mcp/${HEX64}/w`, { method: 'POST', body: '{"method":"tools/call","id":1}', headers: { Origin: 'null', 'Content-Type': 'text/plain' } })
    expect(r.status).toBe(403)
    r = await call(`${url}/recv`)
    expect(r.status).toBe(200)
    expect(r.text).toBe('secret')
  })

  it('api_allowed_origins lets a named origin through', async () => {
    const { url } = await one({ api_allowed_origins: ['http://localhost:3000'] })
    expect((await call(`${url}/recv`, { headers: { Origin: 'http://localhost:3000' } })).status).toBe(204)
    expect((await call(`${url}/recv`, { headers: { Origin: 'http://localhost:3001' } })).status).toBe(403)
  })

  it('HEAD, PUT, DELETE /recv → 405 and do not dequeue (AXL: every method dequeues)', async () => {
    const net = new MemoryNetwork()
    const a = await startTestNode(net)
    const b = await startTestNode(net)
    await a.node.send(b.node.peerId, new TextEncoder().encode('keep me'))
    for (const method of ['HEAD', 'PUT', 'DELETE']) {
      const r = await call(`${b.bridge.url}/recv`, { method })
      expect(r.status).toBe(405)
      expect(r.headers.allow).toBe('GET, POST')
    }
    const r = await call(`${b.bridge.url}/recv`, { method: 'POST' })
    expect(r.status).toBe(200)
    expect(r.text).toBe('keep me')
  })

  it('oversize bodies → 413 before reading (Content-Length) and while reading (chunked); the node keeps serving', async () => {
    const { url, key } = await one({ max_message_size: 1024 })
    const big = new Uint8Array(4096)
    let r = await call(`${url}/send`, { method: 'POST', body: big, headers: { 'X-Destination-Peer-Id': key } })
    expect(r.status).toBe(413)
    expect(r.text).toMatch(/^Request body too large: request body of 4096 bytes exceeds the limit of 1024 bytes/)
    r = await call(`${url}/send`, { method: 'POST', body: big, chunked: true, headers: { 'X-Destination-Peer-Id': key } })
    expect(r.status).toBe(413)
    r = await call(`${url}/mcp/${key}/weather`, { method: 'POST', body: big })
    expect(r.status).toBe(413)
    r = await call(`${url}/a2a/${key}`, { method: 'POST', body: big, chunked: true })
    expect(r.status).toBe(413)
    // a declared-too-large body with Expect: 100-continue is refused without asking for the body
    r = await call(`${url}/send`, { method: 'POST', headers: { 'X-Destination-Peer-Id': key, 'Content-Length': '999999999', Expect: '100-continue' } })
    expect(r.status).toBe(413)
    expect((await call(`${url}/topology`)).status).toBe(200)
  })

  it('/recv?wait= long-polls until a message arrives; X-Recv-Wait does the same; an empty wait ends with 204', async () => {
    const net = new MemoryNetwork()
    const a = await startTestNode(net)
    const b = await startTestNode(net)
    const pending = call(`${b.bridge.url}/recv?wait=10`)
    await until(() => b.bridge.stats.recvWaiting === 1) // the poll is parked
    await a.node.send(b.node.peerId, new TextEncoder().encode('late'))
    const r = await pending
    expect(r.status).toBe(200)
    expect(r.text).toBe('late')
    expect(r.headers['x-from-peer-id']).toBe(a.node.peerId)
    const p2 = call(`${b.bridge.url}/recv`, { headers: { 'X-Recv-Wait': '10' } })
    await a.node.send(b.node.peerId, new TextEncoder().encode('late2'))
    expect((await p2).text).toBe('late2')
    const t0 = Date.now()
    const empty = await call(`${b.bridge.url}/recv?wait=0.2`)
    expect(empty.status).toBe(204)
    expect(Date.now() - t0).toBeGreaterThanOrEqual(150)
    expectGoError(await call(`${b.bridge.url}/recv?wait=abc`), 400, 'Invalid wait: expected a number of seconds, e.g. ?wait=30')
  })

  it('a long-poll abandoned by its client leaves the message queued', async () => {
    const net = new MemoryNetwork()
    const a = await startTestNode(net)
    const b = await startTestNode(net)
    await call(`${b.bridge.url}/recv?wait=5`, { timeoutMs: 100 }).catch(() => {})
    await until(() => b.bridge.stats.recvWaiting === 0)
    await a.node.send(b.node.peerId, new TextEncoder().encode('still here'))
    expect((await call(`${b.bridge.url}/recv`)).text).toBe('still here')
  })

  it('close() ends parked long-polls with 204 and stops listening', async () => {
    const net = new MemoryNetwork()
    const b = await startTestNode(net)
    const pending = call(`${b.bridge.url}/recv?wait=30`).catch((e: Error) => e)
    await until(() => b.bridge.stats.recvWaiting === 1)
    await b.bridge.close()
    const r = await pending
    if (!(r instanceof Error)) expect(r.status).toBe(204)
    await expect(call(`${b.bridge.url}/topology`)).rejects.toThrow()
  })
})

describe('addresses', () => {
  it('the sender key in X-From-Peer-Id routes to the same address AXL would derive', () => {
    // AXL reports a partial key; we report the full one, which has the same address (§1.4).
    const partial = '8a88e3dd7409f195fd52db2d3cba7fffffffffffffffffffffffffffffffffff'
    expect(Buffer.from(addressForKey(peerIdToBytes(partial)))).toEqual(Buffer.from(addressForKey(peerIdToBytes(SEED1_KEY))))
  })
})
