/**
 * The HTTP backend behind MCP sessions: a Streamable-HTTP endpoint made of the MCP SDK's own
 * StreamableHTTPServerTransport (stateful, with an event store) on a loopback port. One upstream MCP session
 * (Mcp-Session-Id) per mesh session, every SSE event relayed (progress, logging, sampling, elicitation,
 * list_changed on the standalone GET stream), resumption with Last-Event-ID, DELETE at the end; and over
 * envelopes, server-to-client requests get -32601 at once instead of a deadline.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { createServer, type IncomingMessage, type Server as HttpServer } from 'node:http'
import { randomUUID } from 'node:crypto'
import type { AddressInfo } from 'node:net'
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js'
import type { EventStore } from '@modelcontextprotocol/sdk/server/streamableHttp.js'
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js'
import { isInitializeRequest } from '@modelcontextprotocol/sdk/types.js'
import { pair, until, type RouterNode } from './helpers.js'
import { text, twoWayClient, twoWayServer, within } from './session-fixtures.js'
import { RouterErrorCode } from '../src/index.js'

const cleanups: Array<() => Promise<void>> = []
afterEach(async () => { for (const c of cleanups.splice(0)) await c() })

/** An event store with ordered ids (the SDK example's sorts same-millisecond events randomly). */
class OrderedEventStore implements EventStore {
  private readonly events: Array<{ id: string, streamId: string, message: JSONRPCMessage }> = []
  private seq = 0
  async storeEvent (streamId: string, message: JSONRPCMessage): Promise<string> {
    const id = `${streamId}_${String(++this.seq).padStart(8, '0')}`
    this.events.push({ id, streamId, message })
    return id
  }

  async getStreamIdForEventId (eventId: string): Promise<string | undefined> { return this.events.find(e => e.id === eventId)?.streamId }

  async replayEventsAfter (lastEventId: string, { send }: { send: (eventId: string, message: JSONRPCMessage) => Promise<void> }): Promise<string> {
    const at = this.events.findIndex(e => e.id === lastEventId)
    if (at < 0) return ''
    const streamId = this.events[at].streamId
    for (const e of this.events.slice(at + 1)) if (e.streamId === streamId) await send(e.id, e.message)
    return streamId
  }
}

interface Endpoint { url: string, transports: Map<string, StreamableHTTPServerTransport>, requests: Array<{ method: string, sid?: string, lastEventId?: string }> }

/** A stateful SDK Streamable-HTTP server: one McpServer (twoWayServer) per MCP session. */
async function endpoint (): Promise<Endpoint> {
  const { make } = twoWayServer()
  const transports = new Map<string, StreamableHTTPServerTransport>()
  const requests: Endpoint['requests'] = []
  const server: HttpServer = createServer((req: IncomingMessage, res) => {
    const chunks: Buffer[] = []
    req.on('data', c => chunks.push(c as Buffer))
    req.on('end', () => {
      void (async () => {
        const body = Buffer.concat(chunks).toString('utf8')
        const parsed = body === '' ? undefined : JSON.parse(body) as unknown
        const sid = req.headers['mcp-session-id'] as string | undefined
        requests.push({ method: req.method ?? '', sid, lastEventId: req.headers['last-event-id'] as string | undefined })
        let t = sid === undefined ? undefined : transports.get(sid)
        if (t === undefined && req.method === 'POST' && isInitializeRequest(parsed)) {
          const nt: StreamableHTTPServerTransport = new StreamableHTTPServerTransport({
            sessionIdGenerator: () => randomUUID(),
            eventStore: new OrderedEventStore(),
            onsessioninitialized: id => { transports.set(id, nt) },
            onsessionclosed: id => { transports.delete(id) }
          })
          await make().connect(nt)
          t = nt
        }
        if (t === undefined) { res.writeHead(404).end('no session'); return }
        await t.handleRequest(req, res, parsed)
      })()
    })
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  cleanups.push(async () => {
    for (const t of transports.values()) await t.close()
    server.closeAllConnections()
    await new Promise(resolve => server.close(resolve))
  })
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/mcp`, transports, requests }
}

async function nodes (): Promise<{ a: RouterNode, b: RouterNode }> {
  const p = await pair()
  cleanups.unshift(p.stop) // nodes stop before the HTTP server closes
  return p
}

async function connect (a: RouterNode, b: RouterNode, name: string, session?: 'off'): Promise<ReturnType<typeof twoWayClient>> {
  const c = twoWayClient(name)
  await c.client.connect(a.services.mcp.transport(b.peerId, 'web', { timeoutMs: 5000, ...(session === undefined ? {} : { session }) }))
  cleanups.unshift(async () => { await c.client.close() })
  return c
}

describe('HTTP backend in MCP sessions (SDK StreamableHTTPServerTransport on loopback)', () => {
  it('relays progress, logging, sampling, elicitation, roots and list_changed; one upstream session per mesh session; DELETE at the end', async () => {
    const ep = await endpoint()
    const { a, b } = await nodes()
    await b.services.mcp.register('web', ep.url)
    const one = await connect(a, b, 'one')
    const progress: number[] = []
    expect(text(await one.client.callTool({ name: 'progress', arguments: { steps: 3 } }, undefined, { onprogress: p => { progress.push(p.progress) } }))).toBe('done 3')
    expect(progress).toEqual([1, 2, 3])
    await one.client.callTool({ name: 'log', arguments: { text: 'over http' } })
    await until(() => one.seen.logs.length === 1, 5000, 'log')
    expect(one.seen.logs[0].data).toBe('over http (server 1)')
    expect(text(await one.client.callTool({ name: 'sample', arguments: { prompt: 'q' } }))).toBe('model said: echo(q)')
    expect(text(await one.client.callTool({ name: 'sample-related', arguments: { prompt: 'r' } }))).toBe('model said: echo(r)')
    expect(text(await one.client.callTool({ name: 'elicit', arguments: {} }))).toBe('accept: one')
    expect(text(await one.client.callTool({ name: 'roots', arguments: {} }))).toBe('file:///work')
    // list_changed is not related to a request: it arrives on the standalone GET stream.
    await until(() => ep.requests.some(r => r.method === 'GET'), 5000, 'standalone GET stream')
    await one.client.callTool({ name: 'grow', arguments: {} })
    await until(() => one.seen.listChanged >= 1, 5000, 'list_changed')

    const two = await connect(a, b, 'two')
    expect(ep.transports.size).toBe(2)
    expect(text(await one.client.callTool({ name: 'bump', arguments: {} }))).toBe('1')
    expect(text(await one.client.callTool({ name: 'bump', arguments: {} }))).toBe('2')
    expect(text(await two.client.callTool({ name: 'bump', arguments: {} }))).toBe('1')
    expect(b.services.mcp.list()[0].details).toMatchObject({ meshSessions: 2 })

    await two.client.close()
    await until(() => ep.requests.some(r => r.method === 'DELETE'), 5000, 'DELETE')
    await until(() => ep.transports.size === 1, 5000, 'upstream session ended')
  })

  it('a POST stream closed before its answer is resumed with Last-Event-ID', async () => {
    const ep = await endpoint()
    const { a, b } = await nodes()
    await b.services.mcp.register('web', ep.url)
    const { client } = await connect(a, b, 'r')
    const progress: number[] = []
    expect(text(await client.callTool({ name: 'resumable', arguments: {} }, undefined, { onprogress: p => { progress.push(p.progress) } }))).toBe('resumed')
    expect(progress).toEqual([1, 2])
    expect(ep.requests.some(r => r.method === 'GET' && r.lastEventId !== undefined)).toBe(true)
    expect(b.services.mcp.list()[0].details).toMatchObject({ resumptions: 1 })
  })

  it('an endpoint that forgets the MCP session (404) fails the request at once and ends the mesh session', async () => {
    const ep = await endpoint()
    const { a, b } = await nodes()
    await b.services.mcp.register('web', ep.url)
    const { client } = await connect(a, b, 'f')
    const closed = new Promise<void>(resolve => { client.onclose = resolve })
    // notifications/initialized was POSTed once the standalone GET stream opens.
    await until(() => ep.requests.some(r => r.method === 'GET'), 5000, 'standalone GET stream')
    ep.transports.clear() // the endpoint restarted: it answers 404 to the old session id
    const err = await client.callTool({ name: 'bump', arguments: {} }).catch((e: unknown) => e)
    expect(err).toMatchObject({ code: RouterErrorCode.Unavailable, message: expect.stringMatching(/no longer knows MCP session/) })
    await within(closed, 5000, 'transport closed')
    await until(() => b.services.mcp.sessionStats()?.open === 0, 5000, 'session ended')
  })

  it('over envelopes, a server-to-client request gets -32601 at once (no 27 s deadline)', async () => {
    const ep = await endpoint()
    const { a, b } = await nodes()
    await b.services.mcp.register('web', ep.url)
    const { client } = await connect(a, b, 'env', 'off')
    const t0 = performance.now()
    const r = await client.callTool({ name: 'sample-related', arguments: { prompt: 'x' } })
    expect(performance.now() - t0).toBeLessThan(3000)
    expect(JSON.stringify(r)).toMatch(/cannot be carried over AXL/)
    expect(b.services.mcp.list()[0].details).toMatchObject({ refusedServerRequests: 1 })
  })
})
