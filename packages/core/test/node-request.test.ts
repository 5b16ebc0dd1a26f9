import { describe, expect, it } from 'vitest'
import { AbortError, AxlError, MalformedEnvelopeError, MessageTooLargeError, NotStartedError, TimeoutError } from '../src/errors.js'
import type { A2aRequest, McpHandler, McpRequest, RequestContext } from '../src/registry.js'
import { deferred, network, node, text, timed } from './node-helpers.js'
import { mcpRequest, readReply, a2aCardRequest, a2aRequest, mcp, a2a } from './envelope-helpers.js'

/** envelope.ts keeps Go's json.RawMessage semantics: a JSON null field reads as the text "null". */
const isNullJson = (v: unknown): boolean => v === null || v === 'null'

describe('request(): MCP', () => {
  it('delivers the envelope to the handler and returns its answer; ctx.from is the full caller id', async () => {
    const net = network()
    const a = await node(net); const b = await node(net)
    const seen: Array<{ req: McpRequest, ctx: RequestContext }> = []
    b.handle('mcp', mcp(async (req, ctx) => {
      seen.push({ req, ctx })
      return { response: JSON.stringify({ jsonrpc: '2.0', id: 1, result: { tools: [] } }) }
    }))
    const reply = readReply(await a.request(b.peerId, mcpRequest('weather', { jsonrpc: '2.0', method: 'tools/list', id: 1, params: {} })))
    expect(reply.service).toBe('weather')
    expect(reply.error).toBeUndefined()
    expect(JSON.parse(reply.response!)).toEqual({ jsonrpc: '2.0', id: 1, result: { tools: [] } })
    expect(seen).toHaveLength(1)
    expect(seen[0].req.service).toBe('weather')
    expect(JSON.parse(seen[0].req.request!)).toEqual({ jsonrpc: '2.0', method: 'tools/list', id: 1, params: {} })
    expect(seen[0].ctx.from).toBe(a.peerId)
    expect(seen[0].ctx.signal.aborted).toBe(false)
    expect(b.recv()).toBeUndefined() // a handled envelope is not queued
  })

  it('a throwing handler (async or sync) is answered at once with an error envelope', async () => {
    const net = network()
    const a = await node(net); const b = await node(net)
    b.handle('mcp', mcp(async () => { throw new Error('kaput') }))
    const r = await timed(a.request(b.peerId, mcpRequest('s', {})))
    expect(r.ms).toBeLessThan(1000)
    expect(readReply(r.value!)).toMatchObject({ service: 's', response: expect.toSatisfy(isNullJson), error: expect.stringContaining('kaput') })
    b.handle('mcp', mcp(() => { throw new Error('sync kaput') }))
    expect(readReply(await a.request(b.peerId, mcpRequest('s', {}))).error).toContain('sync kaput')
  })

  it('a handler answering invalid JSON becomes an error envelope, not a dead stream', async () => {
    const net = network()
    const a = await node(net); const b = await node(net)
    b.handle('mcp', mcp(async () => ({ response: '{not json' })))
    const r = readReply(await a.request(b.peerId, mcpRequest('s', {})))
    expect(isNullJson(r.response)).toBe(true)
    expect(r.error).toBeTruthy()
    expect(b.stats.streamErrors).toBe(0)
  })

  it('a handler resolving with something other than a reply frame becomes an error envelope', async () => {
    const net = network()
    const a = await node(net); const b = await node(net)
    b.handle('mcp', (async () => ({ response: '1' })) as unknown as McpHandler)
    const r = readReply(await a.request(b.peerId, mcpRequest('s', {})))
    expect(r.error).toMatch(/must resolve with the reply frame \(a Uint8Array\), got object/)
    expect(b.stats.streamErrors).toBe(0)
  })

  it('an access check (allow) refuses a caller with an error envelope; the handler never runs', async () => {
    const net = network()
    const a = await node(net); const b = await node(net); const c = await node(net)
    let ran = 0
    b.handle('mcp', mcp(async () => { ran++; return { response: '1' } }), { allow: async peer => peer === c.peerId || `only ${c.peerId.slice(0, 8)} may call` })
    const denied = readReply(await a.request(b.peerId, mcpRequest('s', {})))
    expect(denied).toMatchObject({ service: 's', response: 'null', error: `MCP requests refused: only ${c.peerId.slice(0, 8)} may call` })
    expect(ran).toBe(0)
    expect(readReply(await c.request(b.peerId, mcpRequest('s', {}))).response).toBe('1')
    expect(ran).toBe(1)
    b.handle('a2a', a2a(async () => ({ response: '2' })), { allow: () => false })
    expect(readReply(await c.request(b.peerId, a2aRequest({}))).error).toBe('A2A requests refused: access denied')
    // an access check that throws is a failed request, answered at once; the handler still never runs
    b.handle('mcp', mcp(async () => { ran++; return { response: '1' } }), { allow: () => { throw new Error('acl store down') } })
    expect(readReply(await c.request(b.peerId, mcpRequest('s', {})))).toMatchObject({ response: 'null', error: 'handler failed: acl store down' })
    expect(ran).toBe(1)
    expect(b.stats.streamErrors).toBe(0)
  })

  it('a handler returning a plain object (no promise) still works', async () => {
    const net = network()
    const a = await node(net); const b = await node(net)
    b.handle('mcp', mcp(() => ({ response: '1' })))
    expect(readReply(await a.request(b.peerId, mcpRequest('s', {}))).response).toBe('1')
  })

  it('a handler slower than limits.requestTimeoutMs → error envelope, and its signal fires', async () => {
    const net = network()
    const a = await node(net); const b = await node(net, { requestTimeoutMs: 50 })
    const aborted = deferred<unknown>()
    b.handle('mcp', mcp(async (_req, ctx) => {
      ctx.signal.addEventListener('abort', () => { aborted.resolve(ctx.signal.reason) })
      return await new Promise(() => {})
    }))
    const r = await timed(a.request(b.peerId, mcpRequest('s', {})))
    expect(r.ms).toBeLessThan(1000)
    expect(readReply(r.value!).error).toMatch(/timed out/)
    expect(await aborted.promise).toBeInstanceOf(TimeoutError)
  })

  it('caller timeoutMs and signal reject promptly', async () => {
    const net = network()
    const a = await node(net); const b = await node(net)
    b.handle('mcp', mcp(async () => await new Promise(() => {})))
    const t = await timed(a.request(b.peerId, mcpRequest('s', {}), { timeoutMs: 50 }))
    expect(t.error).toBeInstanceOf(TimeoutError)
    expect(t.ms).toBeLessThan(1000)
    const ac = new AbortController()
    const p = timed(a.request(b.peerId, mcpRequest('s', {}), { signal: ac.signal }))
    setImmediate(() => { ac.abort() })
    const r = await p
    expect(r.error).toBeInstanceOf(AbortError)
    expect(r.ms).toBeLessThan(1000)
  })

  it('no MCP handler on the remote → error envelope at once, and the frame is queued there', async () => {
    const net = network()
    const a = await node(net); const b = await node(net)
    const frame = mcpRequest('weather', { jsonrpc: '2.0', method: 'tools/list', id: 1 })
    const r = await timed(a.request(b.peerId, frame))
    expect(r.ms).toBeLessThan(500)
    const reply = readReply(r.value!)
    expect(reply.service).toBe('weather')
    expect(isNullJson(reply.response)).toBe(true)
    expect(reply.error).toMatch(/no MCP service/)
    const m = b.recv()!
    expect(m.data).toEqual(frame)
    expect(m.from).toBe(a.peerId)
  })

  it('an unregistered handler is gone; a newer registration survives an old unregister', async () => {
    const net = network()
    const a = await node(net); const b = await node(net)
    const off1 = b.handle('mcp', mcp(async () => ({ response: '1' })))
    const off2 = b.handle('mcp', mcp(async () => ({ response: '2' })))
    off1()
    expect(readReply(await a.request(b.peerId, mcpRequest('s', {}))).response).toBe('2')
    off2()
    expect(readReply(await a.request(b.peerId, mcpRequest('s', {}))).error).toMatch(/no MCP service/)
    expect(() => b.handle('rest' as 'mcp', mcp(async () => ({ response: null })))).toThrow(AxlError)
  })

  it('maxConcurrentRequests exceeded → "busy" error envelope, counted; the others complete', async () => {
    const net = network()
    const a = await node(net); const b = await node(net, { maxConcurrentRequests: 2 })
    const release = deferred()
    let entered = 0
    const twoIn = deferred()
    b.handle('mcp', mcp(async () => {
      if (++entered === 2) twoIn.resolve()
      await release.promise
      return { response: '"done"' }
    }))
    const p1 = a.request(b.peerId, mcpRequest('s', {}))
    const p2 = a.request(b.peerId, mcpRequest('s', {}))
    await twoIn.promise
    const busy = readReply(await a.request(b.peerId, mcpRequest('s', {})))
    expect(busy.error).toMatch(/busy/)
    expect(b.stats.requestsRejected).toBe(1)
    release.resolve()
    for (const p of [p1, p2]) expect(readReply(await p).response).toBe('"done"')
    expect(readReply(await a.request(b.peerId, mcpRequest('s', {}))).response).toBe('"done"')
  })

  it('a request larger than the remote’s limit → MessageTooLargeError (remote)', async () => {
    const net = network()
    const a = await node(net); const b = await node(net, { maxMessageSize: 100 })
    b.handle('mcp', mcp(async () => ({ response: '1' })))
    const err = await a.request(b.peerId, mcpRequest('s', JSON.stringify('x'.repeat(200)))).catch(e => e as Error)
    expect(err).toBeInstanceOf(MessageTooLargeError)
    expect((err as Error).message).toMatch(/remote/)
  })

  it('a reply larger than the caller’s limit → MessageTooLargeError (local)', async () => {
    const net = network()
    const a = await node(net, { maxMessageSize: 100 }); const b = await node(net)
    b.handle('mcp', mcp(async () => ({ response: JSON.stringify('y'.repeat(500)) })))
    await expect(a.request(b.peerId, mcpRequest('s', {}))).rejects.toBeInstanceOf(MessageTooLargeError)
  })

  it('a raw (non-envelope) frame is refused locally with MalformedEnvelopeError (it would get no answer); nothing reaches the peer', async () => {
    const net = network()
    const a = await node(net); const b = await node(net)
    const r = await timed(a.request(b.peerId, text('just bytes')))
    expect(r.error).toBeInstanceOf(MalformedEnvelopeError)
    expect(b.recv()).toBeUndefined()
  })

  it('the remote stopping mid-request fails the caller promptly; the handler signal fires', async () => {
    const net = network()
    const a = await node(net); const b = await node(net)
    const entered = deferred()
    const aborted = deferred<unknown>()
    b.handle('mcp', mcp(async (_r, ctx) => {
      ctx.signal.addEventListener('abort', () => { aborted.resolve(ctx.signal.reason) })
      entered.resolve()
      return await new Promise(() => {})
    }))
    const p = timed(a.request(b.peerId, mcpRequest('s', {})))
    await entered.promise
    await b.stop()
    const r = await p
    expect(r.error).toBeInstanceOf(AxlError)
    expect(r.ms).toBeLessThan(1000)
    expect(await aborted.promise).toBeInstanceOf(NotStartedError)
  })
})

describe('request(): A2A', () => {
  it('agent card and SendMessage reach the a2a handler with the caller id', async () => {
    const net = network()
    const a = await node(net); const b = await node(net)
    const seen: Array<{ req: A2aRequest, from: string }> = []
    b.handle('a2a', a2a(async (req, ctx) => {
      seen.push({ req, from: ctx.from })
      return { response: req.agentCard ? '{"name":"b"}' : '{"ok":true}' }
    }))
    expect(JSON.parse(readReply(await a.request(b.peerId, a2aCardRequest())).response!)).toEqual({ name: 'b' })
    const msg = { jsonrpc: '2.0', method: 'SendMessage', id: 2, params: { message: { role: 'ROLE_USER', parts: [{ text: 'hi' }] } } }
    expect(JSON.parse(readReply(await a.request(b.peerId, a2aRequest(msg))).response!)).toEqual({ ok: true })
    expect(seen[0].req.agentCard).toBe(true)
    expect(isNullJson(seen[0].req.request)).toBe(true)
    expect(seen[0].from).toBe(a.peerId)
    expect(seen[1].req.agentCard).toBe(false)
    expect(JSON.parse(seen[1].req.request!)).toEqual(msg)
    expect(seen[1].from).toBe(a.peerId)
  })

  it('an MCP envelope does not reach the A2A handler and vice versa', async () => {
    const net = network()
    const a = await node(net); const b = await node(net)
    b.handle('a2a', a2a(async () => ({ response: '"a2a"' })))
    expect(readReply(await a.request(b.peerId, mcpRequest('s', {}))).error).toMatch(/no MCP service/)
    expect(b.recv()).toBeDefined()
  })

  it('no A2A handler → error envelope at once, frame queued', async () => {
    const net = network()
    const a = await node(net); const b = await node(net)
    const r = await timed(a.request(b.peerId, a2aCardRequest()))
    expect(r.ms).toBeLessThan(500)
    expect(readReply(r.value!)).toMatchObject({ response: expect.toSatisfy(isNullJson), error: expect.stringMatching(/no A2A service/) })
    expect(b.recv()?.data).toEqual(a2aCardRequest())
  })

  it('A2A handler errors come back as error envelopes', async () => {
    const net = network()
    const a = await node(net); const b = await node(net)
    b.handle('a2a', a2a(async () => { throw new Error('nope') }))
    expect(readReply(await a.request(b.peerId, a2aRequest({}))).error).toContain('nope')
  })
})
