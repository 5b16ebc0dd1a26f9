// Issue #14's HTTP limits on createBridge() over a MemoryNetwork node, its server on a real loopback socket:
// what a process adds nothing to (the drop counters in BridgeStats, the log lines, the refusal when every
// connection is busy, Node's request deadline not cutting a parked long-poll, option checks).
import { describe, expect, it } from 'vitest'
import { createNode, MemoryNetwork } from '@axl/core'
import { ConfigFileError, createBridge, parseConfig, type Bridge } from '../src/index.js'
import { DropLog, zeroDropStats } from '../src/http-drops.js'
import { onCleanup, until } from './helpers.js'
import { parseAnswer, rawConnect, type RawConn } from './helpers/raw-http.js'

async function bridgeWith (opts: Parameters<typeof createBridge>[1] = {}): Promise<{ bridge: Bridge, lines: string[], peer: string }> {
  const node = await createNode({ transport: new MemoryNetwork().transport() })
  const lines: string[] = []
  const bridge = await createBridge(node, { port: 0, log: l => { lines.push(l) }, ...opts })
  onCleanup(async () => { await bridge.close(); await node.stop() })
  return { bridge, lines, peer: node.peerId }
}

async function conn (bridge: Bridge): Promise<RawConn> {
  const c = await rawConnect(bridge.port)
  onCleanup(() => { c.socket.destroy() })
  return c
}

const head = (b: Bridge, line: string, extra = ''): string => `${line}\r\nHost: 127.0.0.1:${b.port}\r\n${extra}\r\n`

describe('HTTP limits of the bridge (issue #14)', () => {
  it('counts each refusal and drop by cause, and logs each cause', async () => {
    const { bridge, lines, peer } = await bridgeWith({ bodyTimeoutMs: 200, headersTimeoutMs: 200, keepAliveTimeoutMs: 100, maxBodyBytes: 100 })
    const stalled = await conn(bridge)
    stalled.socket.write(head(bridge, 'POST /send HTTP/1.1', `X-Destination-Peer-Id: ${peer}\r\nContent-Length: 10\r\n`) + 'abc')
    const silent = await conn(bridge)
    const big = await conn(bridge)
    big.socket.write(head(bridge, 'POST /send HTTP/1.1', `X-Destination-Peer-Id: ${peer}\r\nContent-Length: 101\r\n`))
    const evil = await conn(bridge)
    evil.socket.write(head(bridge, 'GET http://evil.example/topology HTTP/1.1'))
    const kept = await conn(bridge)
    kept.socket.write(head(bridge, 'GET /topology HTTP/1.1'))
    await Promise.all([stalled.closed, silent.closed, big.closed, evil.closed, kept.closed])
    expect(parseAnswer(stalled.received())).toEqual({ status: 408, body: 'Request Timeout: the request body did not arrive within 200 ms (3 of 10 bytes received)\n' })
    expect(parseAnswer(silent.received())).toEqual({ status: 408, body: 'Request Timeout: no complete request header within 200 ms\n' })
    expect(parseAnswer(big.received())?.status).toBe(413)
    expect(parseAnswer(evil.received())?.status).toBe(403)
    expect(parseAnswer(kept.received())?.status).toBe(200)
    expect(bridge.stats).toMatchObject({ bodyTimeouts: 1, headerTimeouts: 1, bodiesTooLarge: 1, guardRefusals: 1, idleTimeouts: 1, connectionsEvicted: 0, connectionsRefused: 0, bodyBudgetRefusals: 0 })
    for (const re of [/body deadline/, /no complete request header/, /413 on POST \/send/, /403 on GET http:\/\/evil\.example\/topology/, /keep-alive connection idle/]) {
      expect(lines.some(l => l.startsWith('HTTP API: ') && re.test(l))).toBe(true)
    }
  })

  it('a connection past the cap evicts the longest-idle one; when every connection is busy it is refused with 503', async () => {
    const { bridge } = await bridgeWith({ maxConnections: 2 })
    const polls = [await conn(bridge), await conn(bridge)]
    for (const p of polls) p.socket.write(head(bridge, 'GET /recv?wait=5 HTTP/1.1'))
    await until(() => bridge.stats.recvWaiting === 2)
    const third = await conn(bridge)
    await third.closed
    expect(parseAnswer(third.received())).toEqual({ status: 503, body: 'Server busy: too many connections (limit 2, all with requests in flight); retry later\n' })
    expect(bridge.stats.connectionsRefused).toBe(1)
    expect(polls.some(p => p.isClosed())).toBe(false)

    // One long-poll ends: its connection is idle now and is the one evicted for a newcomer.
    polls[0].socket.destroy()
    await until(() => bridge.stats.recvWaiting === 1)
    const idle = await conn(bridge)
    const newcomer = await conn(bridge)
    await idle.closed
    expect(bridge.stats.connectionsEvicted).toBe(1)
    newcomer.socket.write(head(bridge, 'GET /topology HTTP/1.1'))
    await newcomer.waitFor(/^HTTP\/1\.1 200 /)
    expect(polls[1].isClosed()).toBe(false)
  })

  it("Node's whole-request deadline (headers + body + 1 s) does not cut a parked long-poll", async () => {
    const { bridge } = await bridgeWith({ bodyTimeoutMs: 100, headersTimeoutMs: 100 })
    const poll = await conn(bridge)
    const t0 = Date.now()
    poll.socket.write(head(bridge, 'GET /recv?wait=2 HTTP/1.1'))
    await poll.waitFor(/^HTTP\/1\.1 204 /, 5000)
    expect(Date.now() - t0).toBeGreaterThanOrEqual(1900)
    expect(bridge.stats.headerTimeouts + bridge.stats.bodyTimeouts).toBe(0)
  })

  it('refuses a negative or non-finite duration option, naming it', async () => {
    const node = await createNode({ transport: new MemoryNetwork().transport() })
    onCleanup(async () => { await node.stop() })
    await expect(createBridge(node, { port: 0, bodyTimeoutMs: -1 })).rejects.toThrow(/bodyTimeoutMs must be a number of ms ≥ 0/)
    await expect(createBridge(node, { port: 0, headersTimeoutMs: Number.NaN })).rejects.toThrow(/headersTimeoutMs/)
  })

  it('node-config.json keys: defaults, values, and bad values refused naming the key', () => {
    expect(parseConfig('{}')).toMatchObject({ apiMaxConnections: 1024, apiMaxBodyBytesInFlight: 268435456, apiBodyTimeoutSecs: 30, apiHeadersTimeoutSecs: 10, apiKeepaliveTimeoutSecs: 5 })
    expect(parseConfig('{"api_max_connections": 8, "api_max_body_bytes_in_flight": 1048576, "api_body_timeout_secs": 2.5, "api_headers_timeout_secs": 0, "api_keepalive_timeout_secs": 1}'))
      .toMatchObject({ apiMaxConnections: 8, apiMaxBodyBytesInFlight: 1048576, apiBodyTimeoutSecs: 2.5, apiHeadersTimeoutSecs: 0, apiKeepaliveTimeoutSecs: 1 })
    for (const [key, value] of [['api_max_connections', 0], ['api_body_timeout_secs', -1], ['api_headers_timeout_secs', '10'], ['api_max_body_bytes_in_flight', 1.5]] as const) {
      let err: unknown
      try { parseConfig(JSON.stringify({ [key]: value })) } catch (e) { err = e }
      expect(err).toBeInstanceOf(ConfigFileError)
      expect((err as ConfigFileError).key).toBe(key)
    }
  })

  it('DropLog: one line per cause per interval, then how many more were dropped', () => {
    let now = 0
    const stats = zeroDropStats()
    const lines: string[] = []
    const d = new DropLog(stats, l => { lines.push(l) }, 1000, () => now)
    d.record('bodyTimeouts', 'a'); d.record('bodyTimeouts', 'b'); d.record('headerTimeouts', 'c')
    now = 1500
    d.record('bodyTimeouts', 'd')
    expect(stats.bodyTimeouts).toBe(3)
    expect(lines).toEqual(['HTTP API: a', 'HTTP API: c', 'HTTP API: d (and 1 more since the last report)'])
  })
})
