/**
 * The MCP session protocol (/axl/mcp/1) over a MemoryNetwork: the MCP SDK's own Client on node A, McpServers
 * on node B, with everything that flows from server to client (progress, logging, sampling, elicitation,
 * roots, list_changed), cancellation, ping, isolation of two clients behind one node, refusals, limits,
 * abrupt close, and the envelope fallback against a peer without the protocol.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js'
import { McpError } from '@modelcontextprotocol/sdk/types.js'
import { createNode, MemoryNetwork, StreamClosedError, UnsupportedProtocolError, type MeshStream, type TransportFactory } from '@axl/core'
import { FrameReader, writeFrame } from '@axl/core/wire'
import { encodeMcpRequest, decodeMcpResponse } from '../src/envelope.js'
import { mcp, RouterErrorCode, SessionRefusedError, MeshClientTransport } from '../src/index.js'
import { alive, pair, until, type RouterNode } from './helpers.js'
import { fileURLToPath } from 'node:url'
import { text, twoWayClient, twoWayServer, within } from './session-fixtures.js'

const stops: Array<() => Promise<void>> = []
afterEach(async () => { for (const s of stops.splice(0).reverse()) await s() })

async function setup (opts: Parameters<typeof pair>[0] = {}): Promise<{ net: MemoryNetwork, a: RouterNode, b: RouterNode, probe: ReturnType<typeof twoWayServer>['probe'] }> {
  const p = await pair(opts)
  stops.push(p.stop)
  const { make, probe } = twoWayServer()
  await p.b.services.mcp.register('two-way', { serverPerSession: () => make() })
  return { ...p, probe }
}

async function connect (a: RouterNode, b: RouterNode, service = 'two-way', name?: string): Promise<ReturnType<typeof twoWayClient> & { transport: MeshClientTransport }> {
  const c = twoWayClient(name)
  const transport = a.services.mcp.transport(b.peerId, service, { timeoutMs: 5000 })
  await c.client.connect(transport)
  stops.push(async () => { await c.client.close() })
  return { ...c, transport }
}

describe('MCP session protocol: server-to-client traffic reaches the SDK Client', () => {
  it('negotiates a session, and progress notifications reach onprogress in order', async () => {
    const { a, b } = await setup()
    const { client, transport } = await connect(a, b)
    expect(transport.mode).toBe('session')
    const seen: number[] = []
    const r = await client.callTool({ name: 'progress', arguments: { steps: 5 } }, undefined, { onprogress: p => { seen.push(p.progress) } })
    expect(text(r)).toBe('done 5')
    expect(seen).toEqual([1, 2, 3, 4, 5])
    expect(a.services.mcp.sessionStats()?.open).toBe(0)
    expect(b.services.mcp.sessionStats()).toMatchObject({ open: 1, accepted: 1 })
  })

  it('logging notifications reach the client\'s notification handler', async () => {
    const { a, b } = await setup()
    const { client, seen } = await connect(a, b)
    await client.callTool({ name: 'log', arguments: { text: 'hello' } })
    await until(() => seen.logs.length === 1, 5000, 'log notification')
    expect(seen.logs[0]).toMatchObject({ level: 'info', data: 'hello (server 1)' })
  })

  it('sampling/createMessage reaches the client\'s handler and its answer returns to the tool', async () => {
    const { a, b } = await setup()
    const { client } = await connect(a, b)
    expect(text(await client.callTool({ name: 'sample', arguments: { prompt: 'hi' } }))).toBe('model said: echo(hi)')
    expect(text(await client.callTool({ name: 'sample-related', arguments: { prompt: 'ho' } }))).toBe('model said: echo(ho)')
  })

  it('elicitation/create and roots/list reach the client and their answers return', async () => {
    const { a, b } = await setup()
    const { client } = await connect(a, b, 'two-way', 'alice')
    expect(text(await client.callTool({ name: 'elicit', arguments: {} }))).toBe('accept: alice')
    expect(text(await client.callTool({ name: 'roots', arguments: {} }))).toBe('file:///work')
  })

  it('tools/list_changed reaches the client', async () => {
    const { a, b } = await setup()
    const { client, seen } = await connect(a, b)
    const before = (await client.listTools()).tools.length
    await client.callTool({ name: 'grow', arguments: {} })
    await until(() => seen.listChanged >= 1, 5000, 'list_changed')
    expect((await client.listTools()).tools.length).toBe(before + 1)
  })

  it('cancellation: the client aborts a long tool call and the server tool sees its signal fire', async () => {
    const { a, b, probe } = await setup()
    const { client } = await connect(a, b)
    const ac = new AbortController()
    const call = client.callTool({ name: 'wait', arguments: {} }, undefined, { signal: ac.signal })
    await within(probe.waiting, 5000, 'tool started')
    ac.abort(new Error('user gave up'))
    await expect(call).rejects.toThrow(/user gave up/)
    expect(await within(probe.cancelled, 5000, 'server saw the cancel')).toMatch(/user gave up/)
  })

  it('ping works both ways of the SDK (client.ping)', async () => {
    const { a, b } = await setup()
    const { client } = await connect(a, b)
    await expect(client.ping()).resolves.toEqual({})
  })

  it('two clients behind one node get two isolated upstream sessions', async () => {
    const { a, b, probe } = await setup()
    const one = await connect(a, b, 'two-way', 'one')
    const two = await connect(a, b, 'two-way', 'two')
    expect(probe.instances).toBe(2)
    // Per-session server state differs.
    expect(text(await one.client.callTool({ name: 'bump', arguments: {} }))).toBe('1')
    expect(text(await one.client.callTool({ name: 'bump', arguments: {} }))).toBe('2')
    expect(text(await two.client.callTool({ name: 'bump', arguments: {} }))).toBe('1')
    // Each sees only its own notifications.
    await one.client.callTool({ name: 'log', arguments: { text: 'for one' } })
    await two.client.callTool({ name: 'log', arguments: { text: 'for two' } })
    await until(() => one.seen.logs.length === 1 && two.seen.logs.length === 1, 5000, 'both logs')
    expect(one.seen.logs.map(l => l.data)).toEqual(['for one (server 1)'])
    expect(two.seen.logs.map(l => l.data)).toEqual(['for two (server 2)'])
    // Elicitation goes to the client whose call asked.
    expect(text(await two.client.callTool({ name: 'elicit', arguments: {} }))).toBe('accept: two')
    expect(b.services.mcp.sessionStats()?.open).toBe(2)
  })

  it('a handler service gets the session\'s notifications and sends its own with ctx.notify', async () => {
    const { a, b } = await setup()
    const got: string[] = []
    await b.services.mcp.register('h', async (req, ctx) => {
      got.push(req.method)
      if (req.method === 'tools/call') {
        ctx.notify?.({ method: 'notifications/message', params: { level: 'info', data: 'from the handler' } })
        return { content: [{ type: 'text', text: 'ok' }] }
      }
      return {}
    })
    const { client, seen } = await connect(a, b, 'h')
    expect(text(await client.callTool({ name: 'x', arguments: {} }))).toBe('ok')
    await until(() => seen.logs.length === 1, 5000, 'handler notification')
    expect(seen.logs[0].data).toBe('from the handler')
    expect(got).toContain('notifications/initialized')
  })

  it('a shared McpServer instance: what it sends for a request goes to that request\'s session; unrelated notifications to every session', async () => {
    const { a, b } = await setup()
    const { make } = twoWayServer()
    await b.services.mcp.register('shared', make())
    const one = await connect(a, b, 'shared', 'one')
    const two = await connect(a, b, 'shared', 'two')
    expect(one.transport.mode).toBe('session')
    // One instance: the state is shared.
    expect(text(await one.client.callTool({ name: 'bump', arguments: {} }))).toBe('1')
    expect(text(await two.client.callTool({ name: 'bump', arguments: {} }))).toBe('2')
    // Related to a request (SDK relatedRequestId): progress, logging and a sampling request reach the caller only.
    const p1: number[] = []
    const p2: number[] = []
    await Promise.all([
      one.client.callTool({ name: 'progress', arguments: { steps: 3 } }, undefined, { onprogress: p => { p1.push(p.progress) } }),
      two.client.callTool({ name: 'progress', arguments: { steps: 2 } }, undefined, { onprogress: p => { p2.push(p.progress) } })
    ])
    expect(p1).toEqual([1, 2, 3])
    expect(p2).toEqual([1, 2])
    await one.client.callTool({ name: 'log', arguments: { text: 'to one' } })
    expect(text(await two.client.callTool({ name: 'sample-related', arguments: { prompt: 'two' } }))).toBe('model said: echo(two)')
    await until(() => one.seen.logs.length === 1, 5000, 'log to one')
    expect(two.seen.logs).toEqual([])
    // Unrelated: list_changed reaches both; a server request outside any request cannot be routed: -32601 at once.
    await one.client.callTool({ name: 'grow', arguments: {} })
    await until(() => one.seen.listChanged >= 1 && two.seen.listChanged >= 1, 5000, 'list_changed to both')
    const r = await within(one.client.callTool({ name: 'sample', arguments: { prompt: 'x' } }), 5000, 'unrelated sample')
    expect(JSON.stringify(r)).toMatch(/cannot be carried/)
    expect(b.services.mcp.list().find(s => s.name === 'shared')?.details).toMatchObject({ sessions: 'shared', refusedServerRequests: 1 })
  })
})

describe('MCP session protocol: stdio servers with perSession (one child process per session)', () => {
  const fixture = fileURLToPath(new URL('./fixtures/two-way-stdio-server.mjs', import.meta.url))

  it('each session gets its own process; progress and sampling travel; the process ends with the session', async () => {
    const { a, b } = await setup()
    await b.services.mcp.register('proc', { command: process.execPath, args: [fixture], perSession: true })
    const one = await connect(a, b, 'proc', 'one')
    const two = await connect(a, b, 'proc', 'two')
    const pid1 = Number(text(await one.client.callTool({ name: 'pid', arguments: {} })))
    const pid2 = Number(text(await two.client.callTool({ name: 'pid', arguments: {} })))
    expect(pid1).not.toBe(pid2)
    const progress: number[] = []
    expect(text(await one.client.callTool({ name: 'progress', arguments: { steps: 3 } }, undefined, { onprogress: p => { progress.push(p.progress) } }))).toBe('done 3')
    expect(progress).toEqual([1, 2, 3])
    expect(text(await two.client.callTool({ name: 'sample-related', arguments: { prompt: 'p' } }))).toBe('model said: echo(p)')
    expect(b.services.mcp.list().find(s => s.name === 'proc')?.details).toMatchObject({ sessionProcesses: expect.arrayContaining([pid1, pid2]) })
    await one.client.close()
    await until(() => !alive(pid1), 5000, 'session process gone')
    expect(alive(pid2)).toBe(true)
  })
})

describe('MCP session protocol: refusals, limits and failures', () => {
  it('an unknown service is refused: SessionRefusedError (-32010) from dialSession, the same JSON-RPC error as an envelope through the SDK', async () => {
    const { a, b } = await setup()
    const direct = await a.services.mcp.dialSession(b.peerId, 'nope').catch((e: unknown) => e)
    expect(direct).toBeInstanceOf(SessionRefusedError)
    expect(direct).toMatchObject({ rpcCode: RouterErrorCode.UnknownService, reason: 'unknown_service' })
    const client = new Client({ name: 'c', version: '1' })
    const errors: Error[] = []
    client.onerror = e => { errors.push(e) }
    const err = await client.connect(a.services.mcp.transport(b.peerId, 'nope')).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(McpError)
    expect(err).toMatchObject({ code: RouterErrorCode.UnknownService, data: { axl: 'unknown_service', service: 'nope' } })
    expect(errors[0]).toBeInstanceOf(SessionRefusedError)
  })

  it('a caller refused by the service\'s allow rule gets SessionRefusedError (-32001)', async () => {
    const { a, b } = await setup()
    await b.services.mcp.register('private', async () => ({}), { allow: [b.peerId] })
    const err = await new Client({ name: 'c', version: '1' }).connect(a.services.mcp.transport(b.peerId, 'private')).catch((e: unknown) => e)
    expect(err).toMatchObject({ code: RouterErrorCode.AccessDenied, data: { axl: 'access_denied' } })
  })

  it('sessions per peer are bounded: the next one is refused as busy (-32011)', async () => {
    const { a, b } = await setup({ b: { session: { maxSessionsPerPeer: 2 } } })
    await connect(a, b)
    await connect(a, b)
    const err = await a.services.mcp.dialSession(b.peerId, 'two-way').catch((e: unknown) => e)
    expect(err).toMatchObject({ rpcCode: RouterErrorCode.Busy, reason: 'busy' })
    expect(b.services.mcp.sessionStats()?.refused).toBe(1)
  })

  it('backpressure: 3000 progress notifications through a send queue of 8 frames all arrive, none dropped', async () => {
    const { a, b } = await setup({ b: { session: { maxQueuedFrames: 8 } } })
    const { client } = await connect(a, b)
    let n = 0
    let last = 0
    let ordered = true
    await client.callTool({ name: 'progress', arguments: { steps: 3000 } }, undefined, { onprogress: p => { n++; if (p.progress !== last + 1) ordered = false; last = p.progress } })
    expect(n).toBe(3000)
    expect(ordered).toBe(true)
    expect(b.services.mcp.sessionStats()?.droppedNotifications).toBe(0)
  })

  it('sessions per node are bounded too (maxSessions)', async () => {
    const { a, b } = await setup({ b: { session: { maxSessions: 1 } } })
    await connect(a, b)
    await expect(a.services.mcp.dialSession(b.peerId, 'two-way')).rejects.toMatchObject({ rpcCode: RouterErrorCode.Busy })
  })

  it('inside a session the service\'s timeoutMs answers -32012 and cancels upstream; maxResponseBytes answers -32014', async () => {
    const { a, b } = await setup()
    let aborted: Promise<void> | undefined
    await b.services.mcp.register('slow', async (req, ctx) => {
      if (req.method === 'big') return { blob: 'x'.repeat(5000) }
      if (req.method !== 'hang') return {}
      aborted = new Promise(resolve => { ctx.signal.addEventListener('abort', () => { resolve() }, { once: true }) })
      return await new Promise(() => { /* never answers */ })
    }, { timeoutMs: 150, maxResponseBytes: 1000 })
    const session = await a.services.mcp.dialSession(b.peerId, 'slow')
    stops.push(async () => { session.close() })
    const answers = new Map<unknown, Record<string, unknown>>()
    let wake: (() => void) | undefined
    session.onmessage = m => { answers.set(m.id, m); wake?.() }
    session.begin()
    const answer = async (id: number): Promise<Record<string, unknown>> => {
      await within(new Promise<void>(resolve => { wake = () => { if (answers.has(id)) resolve() }; wake() }), 5000, `answer ${id}`)
      return answers.get(id) as Record<string, unknown>
    }
    const t0 = performance.now()
    await session.send({ jsonrpc: '2.0', id: 1, method: 'hang' })
    expect(await answer(1)).toMatchObject({ error: { code: RouterErrorCode.Timeout, data: { axl: 'timeout' } } })
    expect(performance.now() - t0).toBeLessThan(2000)
    await within(aborted as Promise<void>, 5000, 'handler signal aborted')
    await session.send({ jsonrpc: '2.0', id: 2, method: 'big' })
    expect(await answer(2)).toMatchObject({ error: { code: RouterErrorCode.ResponseTooLarge, data: { axl: 'too_large' } } })
    expect(b.services.mcp.sessionStats()?.timedOutRequests).toBe(1)
  })

  it('an idle session is closed by the server after idleMs, and the client sees onclose', async () => {
    const { a, b } = await setup({ b: { session: { idleMs: 150 } } })
    const { client } = await connect(a, b)
    const closed = new Promise<void>(resolve => { client.onclose = resolve })
    await within(closed, 5000, 'idle close')
    expect(b.services.mcp.sessionStats()).toMatchObject({ open: 0, closedIdle: 1 })
  })

  it('an abrupt close mid-call fails the pending request at once with a typed error', async () => {
    const { net, a, b, probe } = await setup()
    const { client } = await connect(a, b)
    const errors: Error[] = []
    client.onerror = e => { errors.push(e) }
    const call = client.callTool({ name: 'wait', arguments: {} }, undefined, { timeout: 20_000 })
    await within(probe.waiting, 5000, 'tool started')
    const t0 = performance.now()
    net.kill(b)
    const err = await within(call.catch((e: unknown) => e), 2000, 'pending call failed')
    expect(err).toBeInstanceOf(StreamClosedError)
    expect(performance.now() - t0).toBeLessThan(1000)
    expect(errors.some(e => e.name === 'StreamClosedError')).toBe(true)
  })

  it('a bad hello is refused with an answer (bad_hello); a garbage frame in an open session resets it and is counted', async () => {
    const { a, b } = await setup()
    const s = await a.dialProtocol(b.peerId, '/axl/mcp/1')
    s.send(Uint8Array.of(0, 0, 0, 3, 0x7b, 0x7b, 0x7b), true) // "{{{"
    const reader = new FrameReader(s, 1 << 20)
    const answer = JSON.parse(new TextDecoder().decode((await reader.next({ timeoutMs: 5000 })) ?? new Uint8Array())) as Record<string, unknown>
    expect(answer).toMatchObject({ v: 1, ok: false, code: RouterErrorCode.InvalidRequest, reason: 'bad_hello' })
    expect(await reader.next({ timeoutMs: 5000 })).toBeNull()

    const session = await a.services.mcp.dialSession(b.peerId, 'two-way')
    const closed = new Promise<Error | undefined>(resolve => { session.onclose = resolve })
    session.begin()
    // Bypass the session's encoder: a frame that is not JSON.
    ;(session as unknown as { stream: MeshStream }).stream.send(Uint8Array.of(0, 0, 0, 2, 0xff, 0xfe), true)
    expect(await within(closed, 5000, 'reset')).toBeInstanceOf(StreamClosedError)
    expect(b.services.mcp.sessionStats()).toMatchObject({ refused: 1, badFrames: 2, open: 0 })
  })

  it('a hello of another version is refused with SessionRefusedError (bad_hello)', async () => {
    const { a, b } = await setup()
    const s = await a.dialProtocol(b.peerId, '/axl/mcp/1')
    const hello = new TextEncoder().encode(JSON.stringify({ v: 2, service: 'two-way' }))
    await writeFrame(s, hello)
    const reader = new FrameReader(s, 1 << 20)
    const answer = JSON.parse(new TextDecoder().decode((await reader.next({ timeoutMs: 5000 })) ?? new Uint8Array())) as Record<string, unknown>
    expect(answer).toMatchObject({ ok: false, reason: 'bad_hello', message: expect.stringMatching(/version 2/) })
  })
})

describe('MCP session protocol: fallback to envelopes (Go AXL and older peers)', () => {
  it('a peer without the session protocol gets exactly one envelope per request; -32601 for sampling at once', async () => {
    const { a, b } = await setup({ b: { session: false } })
    const { client, transport, seen } = await connect(a, b)
    expect(transport.mode).toBe('envelope')
    const progress: number[] = []
    expect(text(await client.callTool({ name: 'progress', arguments: { steps: 3 } }, undefined, { onprogress: p => { progress.push(p.progress) } }))).toBe('done 3')
    expect(progress).toEqual([]) // cannot travel over one request/one answer
    const t0 = performance.now()
    const r = await client.callTool({ name: 'sample', arguments: { prompt: 'x' } })
    expect(performance.now() - t0).toBeLessThan(2000)
    expect(JSON.stringify(r)).toMatch(/cannot be carried/)
    await client.callTool({ name: 'log', arguments: { text: 'lost' } })
    expect(seen.logs).toEqual([])
  })

  it('a caller whose mesh has no protocol channel (as a Go AXL node) uses envelopes; session: "require" refuses', async () => {
    const net = new MemoryNetwork()
    const base = net.transport()
    const axlOnly: TransportFactory = c => { const m = base(c); Object.defineProperty(m, 'channels', { value: ['axl'] }); return m }
    const a = await createNode({ transport: axlOnly, services: { mcp: mcp() } })
    const b = await createNode({ transport: net.transport(), services: { mcp: mcp() } })
    stops.push(async () => { await a.stop(); await b.stop() })
    const { make } = twoWayServer()
    await b.services.mcp.register('two-way', { serverPerSession: () => make() })
    const { client, transport } = await connect(a, b)
    expect(transport.mode).toBe('envelope')
    expect(text(await client.callTool({ name: 'bump', arguments: {} }))).toBe('1')
    const err = await new Client({ name: 'c', version: '1' }).connect(a.services.mcp.transport(b.peerId, 'two-way', { session: 'require' })).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(UnsupportedProtocolError)
    expect(b.services.mcp.sessionStats()?.accepted).toBe(0)
  })

  it('raw envelopes as Go AXL sends them are answered as before by a node offering sessions', async () => {
    const { a, b } = await setup()
    const frame = encodeMcpRequest('two-way', '{"jsonrpc":"2.0","id":7,"method":"ping"}')
    const r = decodeMcpResponse(await a.request(b.peerId, frame, { timeoutMs: 5000 }))
    expect(r.error).toBeUndefined()
    expect(JSON.parse(r.response as string)).toEqual({ jsonrpc: '2.0', id: 7, result: {} })
    expect(b.services.mcp.sessionStats()?.accepted).toBe(0)
  })

  it('session: "off" forces envelopes against a session-capable peer', async () => {
    const { a, b } = await setup()
    const c = new Client({ name: 'c', version: '1' })
    const t = a.services.mcp.transport(b.peerId, 'two-way', { session: 'off' })
    await c.connect(t)
    stops.push(async () => { await c.close() })
    expect(t.mode).toBe('envelope')
    await expect(c.ping()).resolves.toEqual({})
  })
})
