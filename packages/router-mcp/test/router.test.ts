import { afterEach, describe, expect, it } from 'vitest'
import { createNode, MemoryNetwork, TimeoutError, UnreachableError, generateIdentity, type PeerId } from '@axl/core'
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js'
import { Server } from '@modelcontextprotocol/sdk/server/index.js'
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { ListToolsRequestSchema, CallToolRequestSchema } from '@modelcontextprotocol/sdk/types.js'
import * as z from 'zod'
import { mcp, RouterErrorCode, ServiceExistsError, InvalidServiceError, type JsonRpcRequest } from '../src/index.js'
import { pair } from './helpers.js'

const cleanups: Array<() => Promise<void>> = []
afterEach(async () => { for (const c of cleanups.splice(0)) await c() })

async function setup (opts: Parameters<typeof pair>[0] = {}): ReturnType<typeof pair> {
  const p = await pair(opts)
  cleanups.push(p.stop)
  return p
}

const req = (method: string, params: Record<string, unknown> = {}, id: number | string = 1): JsonRpcRequest => ({ jsonrpc: '2.0', id, method, params })

function errorOf (r: unknown): { code: number, message: string, data?: { axl?: string } } {
  expect(r).toHaveProperty('error')
  return (r as { error: { code: number, message: string, data?: { axl?: string } } }).error
}

function addServer (): McpServer {
  const server = new McpServer({ name: 'adder', version: '1.0.0' })
  server.registerTool('add', { description: 'Add two numbers', inputSchema: { a: z.number(), b: z.number() } },
    async ({ a, b }) => ({ content: [{ type: 'text', text: String(a + b) }] }))
  server.registerTool('whoami', { description: 'The caller' }, async (extra) => ({ content: [{ type: 'text', text: String(extra.authInfo?.clientId) + '|' + String(extra.requestInfo?.headers['x-from-peer-id']) }] }))
  server.registerResource('motd', 'axl://motd', { mimeType: 'text/plain' }, async uri => ({ contents: [{ uri: uri.href, text: 'hello mesh' }] }))
  server.registerPrompt('greet', { argsSchema: { name: z.string() } }, ({ name }) => ({ messages: [{ role: 'user', content: { type: 'text', text: `Hi ${name}` } }] }))
  return server
}

describe('handler services', () => {
  it('answers a JSON-RPC handler with the caller id, keeping the request id', async () => {
    const { a, b } = await setup()
    let seen: PeerId | undefined
    await b.services.mcp.register('echo', async (r, ctx) => { seen = ctx.from; return { echoed: r.params } })
    const r = await a.services.mcp.call(b.peerId, 'echo', req('tools/call', { x: 1 }, 'abc'))
    expect(r).toEqual({ jsonrpc: '2.0', id: 'abc', result: { echoed: { x: 1 } } })
    expect(seen).toBe(a.peerId)
    // big integer ids keep every digit
    const raw = await a.services.mcp.callRaw(b.peerId, 'echo', '{"jsonrpc":"2.0","id":12345678901234567890,"method":"x"}')
    expect(raw).toContain('"id":12345678901234567890')
  })

  it('passes a full JSON-RPC response through, forcing the caller id', async () => {
    const { a, b } = await setup()
    await b.services.mcp.register('raw', async () => ({ jsonrpc: '2.0', id: 999, error: { code: -32602, message: 'bad params' } }))
    const r = await a.services.mcp.call(b.peerId, 'raw', req('x', {}, 7))
    expect(r).toEqual({ jsonrpc: '2.0', id: 7, error: { code: -32602, message: 'bad params' } })
  })

  it('answers notifications with null at once and still delivers them', async () => {
    const { a, b } = await setup()
    const got: string[] = []
    await b.services.mcp.register('n', async r => { got.push(r.method) })
    const r = await a.services.mcp.call(b.peerId, 'n', { jsonrpc: '2.0', method: 'notifications/hello' })
    expect(r).toBeNull()
    expect(got).toEqual(['notifications/hello'])
  })
})

describe('error paths answer at once with a JSON-RPC error', () => {
  it('unknown service', async () => {
    const { a, b } = await setup()
    const e = errorOf(await a.services.mcp.call(b.peerId, 'nope', req('tools/list', {}, 42)))
    expect(e.code).toBe(RouterErrorCode.UnknownService)
    expect(e.message).toMatch(/Service not found: nope/)
  })

  it('ACL allow-list and predicate refuse with -32001', async () => {
    const net = new MemoryNetwork()
    const mk = async (): Promise<Awaited<ReturnType<typeof createNode<{ mcp: ReturnType<ReturnType<typeof mcp>> }>>>> => {
      const n = await createNode({ transport: net.transport(), services: { mcp: mcp() } })
      cleanups.push(async () => { await n.stop() })
      return n
    }
    const [server, friend, stranger] = [await mk(), await mk(), await mk()]
    await server.services.mcp.register('private', async () => 'ok', { allow: [friend.peerId.toUpperCase()] })
    await server.services.mcp.register('pred', async () => 'ok', { allow: peer => peer === friend.peerId })
    await server.services.mcp.register('throws', async () => 'ok', { allow: () => { throw new Error('boom') } })
    expect(await friend.services.mcp.call(server.peerId, 'private', req('x'))).toMatchObject({ result: 'ok' })
    expect(await friend.services.mcp.call(server.peerId, 'pred', req('x'))).toMatchObject({ result: 'ok' })
    for (const svc of ['private', 'pred', 'throws']) {
      const e = errorOf(await stranger.services.mcp.call(server.peerId, svc, req('x', {}, 5)))
      expect(e.code).toBe(RouterErrorCode.AccessDenied)
      expect(e.data?.axl).toBe('access_denied')
    }
    expect(server.services.mcp.list().find(s => s.name === 'private')?.errors).toBe(1)
  })

  it('handler crash', async () => {
    const { a, b } = await setup()
    await b.services.mcp.register('crash', async () => { throw new Error('kaboom') })
    const r = await a.services.mcp.call(b.peerId, 'crash', req('x', {}, 3))
    expect(r).toMatchObject({ id: 3 })
    expect(errorOf(r)).toMatchObject({ code: RouterErrorCode.InternalError, data: { axl: 'handler_error' } })
    expect(errorOf(r).message).toMatch(/kaboom/)
  })

  it('timeout: the handler is aborted and the caller gets -32012 before its own deadline', async () => {
    const { a, b } = await setup()
    let aborted = false
    await b.services.mcp.register('slow', async (_r, ctx) => await new Promise((_resolve, reject) => {
      ctx.signal.addEventListener('abort', () => { aborted = true; reject(ctx.signal.reason) })
    }), { timeoutMs: 100 })
    const t0 = Date.now()
    const e = errorOf(await a.services.mcp.call(b.peerId, 'slow', req('x'), { timeoutMs: 5000 }))
    expect(e.code).toBe(RouterErrorCode.Timeout)
    expect(Date.now() - t0).toBeLessThan(2000)
    expect(aborted).toBe(true)
  })

  it('over maxConcurrent answers -32011 at once', async () => {
    const { a, b } = await setup()
    let release!: () => void
    const gate = new Promise<void>(resolve => { release = resolve })
    let started = 0
    let allIn!: () => void
    const allInP = new Promise<void>(resolve => { allIn = resolve })
    await b.services.mcp.register('gated', async () => { if (++started === 2) allIn(); await gate; return 'done' }, { maxConcurrent: 2 })
    const first = [a.services.mcp.call(b.peerId, 'gated', req('x', {}, 1)), a.services.mcp.call(b.peerId, 'gated', req('x', {}, 2))]
    await allInP
    const e = errorOf(await a.services.mcp.call(b.peerId, 'gated', req('x', {}, 3)))
    expect(e.code).toBe(RouterErrorCode.Busy)
    release()
    expect(await Promise.all(first)).toEqual([{ jsonrpc: '2.0', id: 1, result: 'done' }, { jsonrpc: '2.0', id: 2, result: 'done' }])
  })

  it('oversize result (service limit and node limit)', async () => {
    const { a, b } = await setup({ limits: { maxMessageSize: 64 * 1024 } })
    await b.services.mcp.register('big', async () => 'x'.repeat(2000), { maxResponseBytes: 1000 })
    await b.services.mcp.register('huge', async () => 'x'.repeat(100 * 1024))
    expect(errorOf(await a.services.mcp.call(b.peerId, 'big', req('x'))).code).toBe(RouterErrorCode.ResponseTooLarge)
    expect(errorOf(await a.services.mcp.call(b.peerId, 'huge', req('x'))).code).toBe(RouterErrorCode.ResponseTooLarge)
  })

  it('invalid JSON-RPC and batches', async () => {
    const { a, b } = await setup()
    await b.services.mcp.register('s', async () => 'ok')
    expect(errorOf(await a.services.mcp.call(b.peerId, 's', '[{"jsonrpc":"2.0","id":1,"method":"x"}]')).code).toBe(RouterErrorCode.InvalidRequest)
    expect(errorOf(await a.services.mcp.call(b.peerId, 's', '{"jsonrpc":"2.0","id":4}'))).toMatchObject({ code: RouterErrorCode.InvalidRequest })
    expect(await a.services.mcp.callRaw(b.peerId, 's', '{"jsonrpc":"2.0","id":4}')).toMatch(/"id":4/)
  })

  it('a node without an MCP router: the envelope error becomes a -32603 error object', async () => {
    const net = new MemoryNetwork()
    const a = await createNode({ transport: net.transport(), services: { mcp: mcp() } })
    const bare = await createNode({ transport: net.transport() })
    cleanups.push(async () => { await a.stop(); await bare.stop() })
    const e = errorOf(await a.services.mcp.call(bare.peerId, 'x', req('tools/list', {}, 9)))
    expect(e).toMatchObject({ code: RouterErrorCode.RemoteError, data: { axl: 'remote_error' } })
  })

  it('transport failures throw typed errors', async () => {
    const { net, a, b } = await setup()
    await expect(a.services.mcp.call(generateIdentity().peerId, 'x', req('x'))).rejects.toBeInstanceOf(UnreachableError)
    await b.services.mcp.register('slow', async (_r, ctx) => await new Promise((_res, rej) => { ctx.signal.addEventListener('abort', () => { rej(new Error('stop')) }) }))
    await expect(a.services.mcp.call(b.peerId, 'slow', req('x'), { timeoutMs: 100 })).rejects.toBeInstanceOf(TimeoutError)
    const ac = new AbortController()
    const p = a.services.mcp.call(b.peerId, 'slow', req('x'), { signal: ac.signal })
    ac.abort()
    await expect(p).rejects.toMatchObject({ code: 'ERR_ABORTED' })
    net.kill(b)
    await expect(a.services.mcp.call(b.peerId, 'slow', req('x'))).rejects.toBeInstanceOf(UnreachableError)
  })
})

describe('registry', () => {
  it('register / list / replace / deregister at any time', async () => {
    const { a, b } = await setup()
    const r = b.services.mcp
    await r.register('svc', async () => 'v1')
    await expect(r.register('svc', async () => 'dup')).rejects.toBeInstanceOf(ServiceExistsError)
    await expect(r.register('bad', 42 as never)).rejects.toBeInstanceOf(InvalidServiceError)
    await expect(r.register('', async () => 1)).rejects.toBeInstanceOf(InvalidServiceError)
    expect(r.list()).toEqual([expect.objectContaining({ name: 'svc', kind: 'handler', status: 'ready' })])
    expect(await a.services.mcp.call(b.peerId, 'svc', req('x'))).toMatchObject({ result: 'v1' })
    await r.replace('svc', async () => 'v2')
    expect(await a.services.mcp.call(b.peerId, 'svc', req('x'))).toMatchObject({ result: 'v2' })
    await r.replace('other', addServer()) // replace registers when absent
    expect(r.list().map(s => [s.name, s.kind])).toEqual([['svc', 'handler'], ['other', 'sdk']])
    expect(await r.deregister('svc')).toBe(true)
    expect(await r.deregister('svc')).toBe(false)
    expect(errorOf(await a.services.mcp.call(b.peerId, 'svc', req('x'))).code).toBe(RouterErrorCode.UnknownService)
  })

  it('replace lets in-flight calls of the old service finish', async () => {
    const { a, b } = await setup()
    let release!: () => void
    const gate = new Promise<void>(resolve => { release = resolve })
    let entered!: () => void
    const enteredP = new Promise<void>(resolve => { entered = resolve })
    await b.services.mcp.register('svc', async () => { entered(); await gate; return 'old' })
    const inFlight = a.services.mcp.call(b.peerId, 'svc', req('x', {}, 1))
    await enteredP
    await b.services.mcp.replace('svc', async () => 'new')
    expect(await a.services.mcp.call(b.peerId, 'svc', req('x', {}, 2))).toMatchObject({ result: 'new' })
    release()
    expect(await inFlight).toMatchObject({ result: 'old' })
  })

  it('services given to mcp({ services }) start with the node', async () => {
    const net = new MemoryNetwork()
    const b = await createNode({ transport: net.transport(), services: { mcp: mcp({ services: [{ name: 'boot', service: async () => 'up', allow: [] }] }) } })
    const a = await createNode({ transport: net.transport(), services: { mcp: mcp() } })
    cleanups.push(async () => { await a.stop(); await b.stop() })
    expect(b.services.mcp.list()[0]).toMatchObject({ name: 'boot', status: 'ready' })
    expect(errorOf(await a.services.mcp.call(b.peerId, 'boot', req('x'))).code).toBe(RouterErrorCode.AccessDenied)
  })
})

describe('in-process MCP SDK servers, reached with the SDK Client over the mesh', () => {
  it('McpServer: initialize, tools, resources, prompts, caller identity', async () => {
    const { a, b } = await setup()
    await b.services.mcp.register('adder', addServer())
    const client = new Client({ name: 'test', version: '1.0.0' })
    await client.connect(a.services.mcp.transport(b.peerId, 'adder'))
    expect(client.getServerVersion()).toMatchObject({ name: 'adder' })
    expect((await client.listTools()).tools.map(t => t.name)).toEqual(['add', 'whoami'])
    expect(await client.callTool({ name: 'add', arguments: { a: 2, b: 40 } })).toMatchObject({ content: [{ type: 'text', text: '42' }] })
    expect(await client.callTool({ name: 'add', arguments: { a: 'x' } })).toMatchObject({ isError: true })
    expect(await client.callTool({ name: 'whoami', arguments: {} })).toMatchObject({ content: [{ text: `${a.peerId}|${a.peerId}` }] })
    expect((await client.readResource({ uri: 'axl://motd' })).contents[0]).toMatchObject({ text: 'hello mesh' })
    expect((await client.listPrompts()).prompts.map(p => p.name)).toEqual(['greet'])
    expect((await client.getPrompt({ name: 'greet', arguments: { name: 'Ada' } })).messages[0].content).toMatchObject({ text: 'Hi Ada' })
    await client.ping()
    await client.close()
  })

  it('a handler service works with the SDK Client: initialize is answered for it (its own InitializeResult wins)', async () => {
    const { a, b } = await setup()
    await b.services.mcp.register('tools', async (req: JsonRpcRequest) => {
      if (req.method === 'tools/list') return { tools: [{ name: 'shout', inputSchema: { type: 'object' } }] }
      if (req.method === 'tools/call') return { content: [{ type: 'text', text: String((req.params as { arguments: { s: string } }).arguments.s).toUpperCase() }] }
      throw new Error(`no method ${req.method}`)
    })
    const client = new Client({ name: 'test', version: '1.0.0' })
    await client.connect(a.services.mcp.transport(b.peerId, 'tools'))
    expect(client.getServerVersion()).toEqual({ name: 'tools', version: '0.0.0' })
    expect((await client.listTools()).tools.map(t => t.name)).toEqual(['shout'])
    expect(await client.callTool({ name: 'shout', arguments: { s: 'hi' } })).toMatchObject({ content: [{ type: 'text', text: 'HI' }] })
    await client.close()
    // a handler that answers initialize itself keeps its own answer
    await b.services.mcp.register('own', async (req: JsonRpcRequest) => req.method === 'initialize'
      ? { protocolVersion: (req.params as { protocolVersion: string }).protocolVersion, capabilities: { tools: {} }, serverInfo: { name: 'my-server', version: '2.1.0' } }
      : {})
    const c2 = new Client({ name: 'test', version: '1.0.0' })
    await c2.connect(a.services.mcp.transport(b.peerId, 'own'))
    expect(c2.getServerVersion()).toEqual({ name: 'my-server', version: '2.1.0' })
    expect(c2.getServerCapabilities()).toEqual({ tools: {} })
    await c2.close()
  })

  it('low-level Server, shared by two callers with colliding request ids', async () => {
    const net = new MemoryNetwork()
    const host = await createNode({ transport: net.transport(), services: { mcp: mcp() } })
    const c1 = await createNode({ transport: net.transport(), services: { mcp: mcp() } })
    const c2 = await createNode({ transport: net.transport(), services: { mcp: mcp() } })
    cleanups.push(async () => { await c1.stop(); await c2.stop(); await host.stop() })
    const server = new Server({ name: 'low', version: '1.0.0' }, { capabilities: { tools: {} } })
    server.setRequestHandler(ListToolsRequestSchema, async () => ({ tools: [{ name: 'who', inputSchema: { type: 'object' as const } }] }))
    server.setRequestHandler(CallToolRequestSchema, async (_r, extra) => ({ content: [{ type: 'text', text: String(extra.authInfo?.clientId) }] }))
    await host.services.mcp.register('low', server)
    const clients = await Promise.all([c1, c2].map(async n => {
      const c = new Client({ name: 'c', version: '1' })
      await c.connect(n.services.mcp.transport(host.peerId, 'low'))
      return c
    }))
    const answers = await Promise.all(clients.flatMap(c => [0, 1, 2].map(async () => (await c.callTool({ name: 'who', arguments: {} })).content)))
    expect(answers.map(x => (x as Array<{ text: string }>)[0].text)).toEqual([c1.peerId, c1.peerId, c1.peerId, c2.peerId, c2.peerId, c2.peerId])
    await Promise.all(clients.map(async c => { await c.close() }))
  })

  it('per-peer servers: one instance per caller, bounded', async () => {
    const { a, b } = await setup()
    const made: PeerId[] = []
    await b.services.mcp.register('pp', { serverPerPeer: peer => { made.push(peer); return addServer() }, maxSessions: 4 })
    const client = new Client({ name: 'c', version: '1' })
    await client.connect(a.services.mcp.transport(b.peerId, 'pp'))
    expect(await client.callTool({ name: 'add', arguments: { a: 1, b: 2 } })).toMatchObject({ content: [{ text: '3' }] })
    expect(made).toEqual([a.peerId])
    expect(b.services.mcp.list()[0].details).toMatchObject({ sessions: 'per-peer', liveSessions: 1 })
    await client.close()
  })

  it('an SDK server that is already connected is refused at register', async () => {
    const { b } = await setup()
    const server = addServer()
    await b.services.mcp.register('one', server)
    await expect(b.services.mcp.register('two', server)).rejects.toThrow(/Already connected/)
    expect(b.services.mcp.has('two')).toBe(false)
  })

  it('client request timeout through the transport rejects with a typed error and cancels remotely', async () => {
    const { a, b } = await setup()
    const entered: Array<() => void> = []
    const cancelled: Array<() => void> = []
    const enteredP = [0, 1].map(i => new Promise<void>(resolve => { entered[i] = resolve }))
    const cancelledP = [0, 1].map(i => new Promise<void>(resolve => { cancelled[i] = resolve }))
    let calls = 0
    const server = new McpServer({ name: 's', version: '1' })
    server.registerTool('wait', {}, async extra => await new Promise(resolve => {
      const i = calls++
      entered[i]()
      extra.signal.addEventListener('abort', () => { cancelled[i](); resolve({ content: [] }) })
    }))
    await b.services.mcp.register('s', server)
    const client = new Client({ name: 'c', version: '1' })
    await client.connect(a.services.mcp.transport(b.peerId, 's', { timeoutMs: 200 }))
    await expect(client.callTool({ name: 'wait', arguments: {} })).rejects.toBeInstanceOf(TimeoutError)
    await cancelledP[0] // a mesh timeout also sends notifications/cancelled, so the remote stops working
    // A client-side abort sends notifications/cancelled, which the remote router maps to the server's request id.
    const client2 = new Client({ name: 'c2', version: '1' })
    await client2.connect(a.services.mcp.transport(b.peerId, 's'))
    const ac = new AbortController()
    const p = client2.callTool({ name: 'wait', arguments: {} }, undefined, { signal: ac.signal })
    await enteredP[1]
    ac.abort()
    await expect(p).rejects.toThrow()
    await cancelledP[1]
    await client2.close()
    await client.close()
  })
})
