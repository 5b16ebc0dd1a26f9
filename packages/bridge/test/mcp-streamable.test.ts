// The bridge speaks Streamable HTTP on /mcp/{peer}/{service} (issue #13): the MCP SDK's own Client with its
// StreamableHTTPClientTransport, pointed at the bridge of node A, reaches a service on node B over real ygg()
// tcp:// links: progress and logging notifications arrive, sampling and elicitation requests from the server
// reach the client and their answers return, each client gets its own server session, DELETE ends a session —
// while a plain AXL client that POSTs JSON still gets JSON.
import { afterEach, describe, expect, it } from 'vitest'
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import { createNode, type AxlNode } from '@axl/core'
import { ygg } from '@axl/transport-ygg'
import { mcp, type McpRouter } from '@axl/router-mcp'
import { createBridge, type Bridge } from '../src/index.js'
import { twoWayClient, twoWayServer } from '../../router-mcp/test/session-fixtures.js'

const stops: Array<() => Promise<void>> = []
afterEach(async () => { for (const s of stops.splice(0).reverse()) await s() })

async function setup (routerOpts: Parameters<typeof mcp>[0] = {}): Promise<{ a: AxlNode, b: AxlNode<{ mcp: McpRouter }>, bridge: Bridge, url: URL }> {
  const b = await createNode({ transport: ygg({ listen: ['tcp://127.0.0.1:0'] }), services: { mcp: mcp(routerOpts) } })
  stops.push(async () => { await b.stop() })
  const { make } = twoWayServer()
  await b.services.mcp.register('two-way', { serverPerSession: () => make() })
  const a = await createNode({ transport: ygg({ peers: [b.listenAddresses()[0]!] }) })
  stops.push(async () => { await a.stop() })
  const bridge = await createBridge(a, { port: 0 })
  stops.push(async () => { await bridge.close() })
  return { a, b, bridge, url: new URL(`${bridge.url}/mcp/${b.peerId}/two-way`) }
}

const text = (r: unknown): string => ((r as { content: Array<{ text?: string }> }).content[0]?.text ?? '')

describe('Streamable HTTP on /mcp/{peer}/{service}', () => {
  it('the SDK Client over the bridge: progress, logging, sampling and elicitation cross the mesh both ways', async () => {
    const { url, bridge } = await setup()
    const { client, seen } = twoWayClient('alice')
    const transport = new StreamableHTTPClientTransport(url)
    await client.connect(transport)
    stops.push(async () => { await client.close() })
    expect(transport.sessionId).toMatch(/^[0-9a-f-]{36}$/)
    expect(client.getServerVersion()?.name).toBe('two-way')

    const progress: number[] = []
    const p = await client.callTool({ name: 'progress', arguments: { steps: 3 } }, undefined, { onprogress: e => { progress.push(e.progress) } })
    expect(text(p)).toBe('done 3')
    expect(progress).toEqual([1, 2, 3])

    expect(text(await client.callTool({ name: 'log', arguments: { text: 'hello' } }))).toBe('logged')
    expect(seen.logs.map(l => l.data)).toEqual(['hello (server 1)'])

    expect(text(await client.callTool({ name: 'sample-related', arguments: { prompt: 'hi' } }))).toBe('model said: echo(hi)')
    expect(text(await client.callTool({ name: 'sample', arguments: { prompt: 'again' } }))).toBe('model said: echo(again)')
    expect(text(await client.callTool({ name: 'elicit', arguments: {} }))).toBe('accept: alice')
    expect(bridge.front.stats).toMatchObject({ sessions: 1, opened: 1, meshSessions: 1 })
  })

  it('two clients get two isolated server sessions; DELETE ends one (its id is then unknown: 404)', async () => {
    const { url } = await setup()
    const one = twoWayClient('one'); const two = twoWayClient('two')
    const t1 = new StreamableHTTPClientTransport(url); const t2 = new StreamableHTTPClientTransport(url)
    await one.client.connect(t1); await two.client.connect(t2)
    stops.push(async () => { await one.client.close(); await two.client.close() })
    expect(t1.sessionId).not.toBe(t2.sessionId)
    expect(text(await one.client.callTool({ name: 'bump', arguments: {} }))).toBe('1')
    expect(text(await one.client.callTool({ name: 'bump', arguments: {} }))).toBe('2')
    expect(text(await two.client.callTool({ name: 'bump', arguments: {} }))).toBe('1')
    await one.client.callTool({ name: 'log', arguments: { text: 'only one' } })
    expect(two.seen.logs).toEqual([])

    const sid = t1.sessionId!
    await t1.terminateSession()
    const after = await fetch(url, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream', 'Mcp-Session-Id': sid, 'Mcp-Protocol-Version': '2025-06-18' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 9, method: 'tools/list' })
    })
    expect(after.status).toBe(404)
  })

  it('a plain AXL client (POST JSON, no SSE in Accept) still gets a JSON answer and AXL\'s session header', async () => {
    const { url } = await setup()
    const init = await fetch(url, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'plain', version: '1' } } })
    })
    expect(init.status).toBe(200)
    expect(init.headers.get('content-type')).toMatch(/^application\/json/)
    expect(init.headers.get('mcp-session-id')).not.toBeNull()
    const body = await init.json() as { result?: { serverInfo?: { name?: string } } }
    expect(body.result?.serverInfo?.name).toBe('two-way')
  })

  it('clients that leave without DELETE do not lock the peer out: at the remote\'s per-peer cap, the idle session is closed for the new one', async () => {
    const { url, bridge } = await setup({ session: { maxSessionsPerPeer: 2 } })
    const headers = { 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream' }
    // A client that initializes, makes one call and goes away (no DELETE, no GET stream): idle from then on.
    const initialize = async (): Promise<string> => {
      const r = await fetch(url, {
        method: 'POST',
        headers,
        body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'leaver', version: '1' } } })
      })
      const body = await r.text()
      expect(r.status, body).toBe(200)
      expect(body).toContain('"serverInfo"')
      const sid = r.headers.get('mcp-session-id')!
      const n = await fetch(url, { method: 'POST', headers: { ...headers, 'Mcp-Session-Id': sid, 'Mcp-Protocol-Version': '2025-06-18' }, body: JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }) })
      expect(n.status).toBe(202)
      return sid
    }
    const list = async (sid: string): Promise<number> => {
      const r = await fetch(url, { method: 'POST', headers: { ...headers, 'Mcp-Session-Id': sid, 'Mcp-Protocol-Version': '2025-06-18' }, body: JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/list' }) })
      await r.text()
      return r.status
    }
    const first = await initialize()
    const second = await initialize()
    expect(await list(second)).toBe(200)
    expect(bridge.front.stats).toMatchObject({ sessions: 2, meshSessions: 2, reclaimed: 0 })
    const third = await initialize() // B refuses a third session from A as busy; A gives up its least recently used idle one
    expect(bridge.front.stats).toMatchObject({ sessions: 2, reclaimed: 1 })
    expect(await list(first)).toBe(404)
    expect(await list(second)).toBe(200)
    expect(await list(third)).toBe(200)
  })
})
