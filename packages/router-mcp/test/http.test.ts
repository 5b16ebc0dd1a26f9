import { afterEach, describe, expect, it } from 'vitest'
import { createServer, type IncomingMessage, type Server as HttpServer, type ServerResponse } from 'node:http'
import { randomUUID } from 'node:crypto'
import type { AddressInfo } from 'node:net'
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js'
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js'
import { isInitializeRequest } from '@modelcontextprotocol/sdk/types.js'
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import * as z from 'zod'
import { RouterErrorCode } from '../src/index.js'
import { pair } from './helpers.js'

const cleanups: Array<() => Promise<void>> = []
afterEach(async () => { for (const c of cleanups.splice(0)) await c() })

async function listen (handler: (req: IncomingMessage, res: ServerResponse, body: string) => void | Promise<void>): Promise<string> {
  const server: HttpServer = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', c => chunks.push(c as Buffer))
    req.on('end', () => { void handler(req, res, Buffer.concat(chunks).toString('utf8')) })
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  cleanups.push(async () => { server.closeAllConnections(); await new Promise(resolve => server.close(resolve)) })
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/mcp`
}

async function setup (): ReturnType<typeof pair> {
  const p = await pair()
  cleanups.unshift(p.stop) // stop nodes before closing HTTP servers
  return p
}

describe('Streamable-HTTP endpoints', () => {
  it('JSON replies: headers like AXL\'s router, session id remembered per caller, 202 for notifications, error bodies passed on', async () => {
    const seen: Array<{ method: string, headers: IncomingMessage['headers'] }> = []
    const url = await listen((req, res, body) => {
      if (req.method === 'DELETE') { res.writeHead(204).end(); return }
      const m = JSON.parse(body) as { id?: unknown, method: string, params?: { protocolVersion?: string } }
      seen.push({ method: m.method, headers: req.headers })
      if (m.id === undefined) { res.writeHead(202).end(); return }
      const json = (status: number, v: unknown, extra: Record<string, string> = {}): void => {
        res.writeHead(status, { 'content-type': 'application/json', ...extra }).end(JSON.stringify(v))
      }
      if (m.method === 'initialize') {
        json(200, { jsonrpc: '2.0', id: m.id, result: { protocolVersion: m.params?.protocolVersion, capabilities: { tools: {} }, serverInfo: { name: 'json-http', version: '1' } } }, { 'mcp-session-id': 'sess-1' })
        return
      }
      if (m.method === 'tools/list') { json(200, { jsonrpc: '2.0', id: m.id, result: { tools: [{ name: 'who', inputSchema: { type: 'object' } }] } }); return }
      if (m.method === 'tools/call') { json(200, { jsonrpc: '2.0', id: m.id, result: { content: [{ type: 'text', text: String(req.headers['x-from-peer-id']) }] } }); return }
      if (m.method === 'fail') { json(400, { jsonrpc: '2.0', id: m.id, error: { code: -32602, message: 'bad params from server' } }); return }
      res.writeHead(500, { 'content-type': 'text/plain' }).end('Internal Server Error')
    })
    const { a, b } = await setup()
    await b.services.mcp.register('web', url)
    const client = new Client({ name: 'c', version: '1' })
    await client.connect(a.services.mcp.transport(b.peerId, 'web'))
    expect(client.getServerVersion()?.name).toBe('json-http')
    expect((await client.listTools()).tools[0].name).toBe('who')
    expect(await client.callTool({ name: 'who', arguments: {} })).toMatchObject({ content: [{ text: a.peerId }] })
    expect(seen.map(s => s.method)).toEqual(['initialize', 'notifications/initialized', 'tools/list', 'tools/call'])
    for (const s of seen) {
      expect(s.headers['content-type']).toBe('application/json')
      expect(s.headers.accept).toBe('application/json, text/event-stream')
      expect(s.headers['x-from-peer-id']).toBe(a.peerId)
      expect(s.headers['x-service']).toBe('web')
    }
    expect(seen[0].headers['mcp-session-id']).toBeUndefined()
    expect(seen.slice(1).map(s => s.headers['mcp-session-id'])).toEqual(['sess-1', 'sess-1', 'sess-1'])
    expect(seen[2].headers['mcp-protocol-version']).toBeDefined()
    expect(await a.services.mcp.call(b.peerId, 'web', { jsonrpc: '2.0', id: 8, method: 'fail' }))
      .toEqual({ jsonrpc: '2.0', id: 8, error: { code: -32602, message: 'bad params from server' } })
    const e = await a.services.mcp.call(b.peerId, 'web', { jsonrpc: '2.0', id: 9, method: 'other' })
    expect(e).toMatchObject({ id: 9, error: { code: RouterErrorCode.InternalError } })
    expect((e as { error: { message: string } }).error.message).toMatch(/HTTP 500/)
    await client.close()
  })

  it('SSE replies from the SDK\'s StreamableHTTPServerTransport (stateful sessions)', async () => {
    const transports = new Map<string, StreamableHTTPServerTransport>()
    const types: string[] = []
    const url = await listen(async (req, res, body) => {
      const sid = req.headers['mcp-session-id'] as string | undefined
      const parsed = body === '' ? undefined : JSON.parse(body) as unknown
      let t = sid === undefined ? undefined : transports.get(sid)
      if (t === undefined && req.method === 'POST' && isInitializeRequest(parsed)) {
        const nt: StreamableHTTPServerTransport = new StreamableHTTPServerTransport({
          sessionIdGenerator: () => randomUUID(),
          onsessioninitialized: id => { transports.set(id, nt) }
        })
        const server = new McpServer({ name: 'sse-http', version: '1' })
        server.registerTool('add', { inputSchema: { a: z.number(), b: z.number() } }, async ({ a, b }, extra) => ({
          content: [{ type: 'text', text: `${a + b} for ${String(extra.requestInfo?.headers['x-from-peer-id']).slice(0, 8)}` }]
        }))
        await server.connect(nt)
        t = nt
      }
      if (t === undefined) { res.writeHead(400).end('no session'); return }
      await t.handleRequest(req, res, parsed)
    })
    const { a, b } = await setup()
    const spy: typeof fetch = async (input, init) => {
      const r = await fetch(input, init)
      types.push(String(r.headers.get('content-type')))
      return r
    }
    await b.services.mcp.register('sse', { url, fetch: spy })
    const client = new Client({ name: 'c', version: '1' })
    await client.connect(a.services.mcp.transport(b.peerId, 'sse'))
    expect(client.getServerVersion()?.name).toBe('sse-http')
    expect((await client.listTools()).tools.map(t => t.name)).toEqual(['add'])
    expect(await client.callTool({ name: 'add', arguments: { a: 20, b: 22 } })).toMatchObject({ content: [{ text: `42 for ${a.peerId.slice(0, 8)}` }] })
    expect(transports.size).toBe(1)
    expect(types).toContain('text/event-stream')
    expect(b.services.mcp.list()[0].details).toMatchObject({ sessions: 1 })
    await client.close()
  })

  it('unreachable endpoint → -32013; slow endpoint → -32012', async () => {
    const slowUrl = await listen(() => { /* never answers */ })
    const dead = await listen((_req, res) => { res.end() })
    const deadUrl = dead
    // close the "dead" one so its port refuses connections
    await cleanups.pop()?.()
    const { a, b } = await setup()
    await b.services.mcp.register('dead', deadUrl)
    await b.services.mcp.register('slow', slowUrl, { timeoutMs: 150 })
    const r1 = await a.services.mcp.call(b.peerId, 'dead', { jsonrpc: '2.0', id: 1, method: 'tools/list' })
    expect(r1).toMatchObject({ id: 1, error: { code: RouterErrorCode.Unavailable } })
    expect((r1 as { error: { message: string } }).error.message).toMatch(/ECONNREFUSED/)
    expect(await a.services.mcp.call(b.peerId, 'slow', { jsonrpc: '2.0', id: 2, method: 'tools/list' }))
      .toMatchObject({ id: 2, error: { code: RouterErrorCode.Timeout } })
  })
})
