import { afterEach, beforeEach, describe, expect, test } from 'vitest'
import { randomUUID } from 'node:crypto'
import { Role, Task, TaskState, type Message, type SendMessageRequest } from '@a2a-js/sdk'
import { AgentEvent, type AgentExecutor } from '@a2a-js/sdk/server'
import { ClientFactory, ClientFactoryOptions, DefaultAgentCardResolver, JsonRpcTransportFactory, type Client } from '@a2a-js/sdk/client'
import { MemoryNetwork, TimeoutError, createNode, type AxlNode, type PeerId } from '@axl/core'
import { decodeA2aResponse, encodeA2aRequest } from '../src/envelope.js'
import { mcp, type McpRouter } from '@axl/router-mcp'
import {
  A2aRemoteError, A2aRpcError, A2aUrlError, STREAMING_NOT_SUPPORTED, a2a, callerPeerId,
  type A2aService, type TaskJson
} from '../src/index.js'
import { pythonJsonDumps } from '../src/internals.js'

type McpA2aNode = AxlNode<{ mcp: McpRouter, a2a: A2aService }>
type A2aNode = AxlNode<{ a2a: A2aService }>

const WEATHER_CALL = '{"service":"weather","request":{"jsonrpc":"2.0","method":"tools/call","id":7,"params":{"name":"forecast"}}}'

/** A promise with its resolver, for "wait until the handler runs" without sleeping. */
function deferred<T = void> (): { promise: Promise<T>, resolve: (v: T) => void } {
  let resolve!: (v: T) => void
  const promise = new Promise<T>(r => { resolve = r })
  return { promise, resolve }
}

/** The stock @a2a-js/sdk client for `peer`, carried over the mesh by `node`. */
async function sdkClient (node: A2aNode | McpA2aNode, peer: PeerId): Promise<Client> {
  const fetchImpl = node.services.a2a.fetchImpl()
  const factory = new ClientFactory(ClientFactoryOptions.createFrom(ClientFactoryOptions.default, {
    cardResolver: new DefaultAgentCardResolver({ fetchImpl }),
    transports: [new JsonRpcTransportFactory({ fetchImpl })]
  }))
  return await factory.createFromUrl(`axl://${peer}`)
}

function userMessage (...texts: string[]): Message {
  return {
    messageId: randomUUID(), contextId: '', taskId: '', role: Role.ROLE_USER, metadata: undefined, extensions: [], referenceTaskIds: [],
    parts: texts.map(value => ({ content: { $case: 'text' as const, value }, metadata: undefined, filename: '', mediaType: '' }))
  }
}

function sendRequest (text: string): SendMessageRequest {
  return { message: userMessage(text), configuration: undefined, metadata: undefined, tenant: '' }
}

function statusText (task: TaskJson): string | undefined {
  return task.status.message?.parts[0]?.text
}

let net: MemoryNetwork
let a: A2aNode
let b: McpA2aNode
let seen: Array<{ from: PeerId, method: string }>

beforeEach(async () => {
  net = new MemoryNetwork()
  seen = []
  a = await createNode({ transport: net.transport(), services: { a2a: a2a() } })
  b = await createNode({ transport: net.transport(), services: { mcp: mcp(), a2a: a2a({ name: 'Weather agent' }) } })
  await b.services.mcp.register('weather', async (req, ctx) => {
    seen.push({ from: ctx.from, method: req.method })
    if (req.method === 'tools/call') return { content: [{ type: 'text', text: 'sunny, 21°C' }] }
    return { tools: [{ name: 'forecast' }] }
  })
})

afterEach(async () => {
  await a.stop()
  await b.stop()
})

describe('agent card', () => {
  test('the SDK client reads B\'s card over the mesh; skills follow B\'s MCP services as they change', async () => {
    const client = await sdkClient(a, b.peerId)
    const card = await client.getAgentCard()
    expect(card.name).toBe('Weather agent')
    expect(card.supportedInterfaces).toEqual([{ url: `axl://${b.peerId}`, protocolBinding: 'JSONRPC', protocolVersion: '1.0' }])
    expect(card.capabilities).toEqual({ streaming: true, pushNotifications: false })
    expect(card.skills.map(s => s.id)).toEqual(['weather'])
    expect(card.skills[0]).toMatchObject({ name: 'Weather Service', tags: ['weather', 'mcp'] })

    await b.services.mcp.register('calc', async () => 42)
    expect((await a.services.a2a.card(b.peerId)).skills.map(s => s.id)).toEqual(['weather', 'calc'])
    await b.services.mcp.deregister('weather')
    expect((await a.services.a2a.card(b.peerId)).skills.map(s => s.name)).toEqual(['Calc Service'])
  })

  test('user skills are added and removed at run time', async () => {
    b.services.a2a.addSkill({ id: 'chat', name: 'Chat', description: 'talks', tags: ['chat'] })
    expect((await a.services.a2a.card(b.peerId)).skills.map(s => s.id)).toEqual(['weather', 'chat'])
    expect(b.services.a2a.removeSkill('chat')).toBe(true)
    expect((await a.services.a2a.card(b.peerId)).skills.map(s => s.id)).toEqual(['weather'])
  })
})

describe('SendMessage → MCP', () => {
  test('the SDK client gets a COMPLETED task with AXL\'s mcp_response artifact; the service sees A\'s peer id', async () => {
    const client = await sdkClient(a, b.peerId)
    const result = await client.sendMessage(sendRequest(WEATHER_CALL))
    expect('status' in result).toBe(true)
    const json = await a.services.a2a.send(b.peerId, WEATHER_CALL)
    const task = json.task!
    expect(task.status.state).toBe('TASK_STATE_COMPLETED')
    expect(task.artifacts).toHaveLength(1)
    const artifact = task.artifacts![0]
    expect(artifact.name).toBe('mcp_response')
    expect(artifact.description).toBe('Response from weather MCP service')
    const expected = '{"jsonrpc":"2.0","id":7,"result":{"content":[{"type":"text","text":"sunny, 21°C"}]}}'
    expect(artifact.parts[0].text).toBe(pythonJsonDumps(expected))
    expect(artifact.parts[0].text).toContain('"text": "sunny, 21\\u00b0C"')
    expect(task.history?.map(m => m.role)).toEqual(['ROLE_USER', 'ROLE_AGENT'])
    expect(task.history?.[1].parts[0].text).toBe('Processing MCP request...')
    expect(seen).toEqual([{ from: a.peerId, method: 'tools/call' }, { from: a.peerId, method: 'tools/call' }])
    // The two shapes of one task (README: "Two clients, two shapes"): the SDK's codec maps the wire JSON onto the SDK's.
    const sdkTask = result as Task
    expect(sdkTask.status?.state).toBe(TaskState.TASK_STATE_COMPLETED)
    const converted = Task.fromJSON(task)
    expect(converted.status?.state).toBe(sdkTask.status?.state)
    expect(converted.artifacts[0].parts[0].content).toEqual(sdkTask.artifacts[0].parts[0].content)
    expect(converted.artifacts[0].parts[0].content).toEqual({ $case: 'text', value: artifact.parts[0].text })
  })

  test('text split over parts: a part that is a call is found where AXL\'s "\\n" join fails', async () => {
    const r = await a.services.a2a.send(b.peerId, { parts: [{ text: 'Please run this:' }, { text: WEATHER_CALL }] })
    expect(r.task?.status.state).toBe('TASK_STATE_COMPLETED')
    const d = await a.services.a2a.send(b.peerId, { parts: [{ data: JSON.parse(WEATHER_CALL) }] })
    expect(d.task?.status.state).toBe('TASK_STATE_COMPLETED')
  })

  test('a failing MCP call gives a FAILED task with an "Error: …" message', async () => {
    await b.services.mcp.register('broken', async () => { throw new Error('disk on fire') })
    const r = await a.services.a2a.send(b.peerId, '{"service":"broken","request":{"jsonrpc":"2.0","method":"tools/list","id":1}}')
    expect(r.task?.status.state).toBe('TASK_STATE_FAILED')
    expect(statusText(r.task!)).toMatch(/^Error: MCP service "broken" answered with JSON-RPC error -32603: .*disk on fire/)
    expect(r.task?.artifacts?.[0].name).toBe('mcp_response') // the error body stays available

    const unknown = await a.services.a2a.send(b.peerId, '{"service":"nope","request":{"jsonrpc":"2.0","method":"tools/list","id":1}}')
    expect(unknown.task?.status.state).toBe('TASK_STATE_FAILED')
    expect(statusText(unknown.task!)).toMatch(/^Error: .*Service not found: nope/)
  })

  test('text that is not an MCP call gives a FAILED task with AXL\'s messages', async () => {
    const client = await sdkClient(a, b.peerId)
    const r = await client.sendMessage(sendRequest('what is the weather?'))
    expect('status' in r && r.status?.state).toBe(4) // TASK_STATE_FAILED
    const bare = await a.services.a2a.send(b.peerId, '{"jsonrpc":"2.0","method":"tools/list","id":1}')
    expect(statusText(bare.task!)).toMatch(/^Error: No service specified in request/)
    const prose = await a.services.a2a.send(b.peerId, 'hello')
    expect(statusText(prose.task!)).toMatch(/^Error: Could not parse MCP request from message/)
  })

  test('a node without an MCP registry fails the task with a clear message', async () => {
    const c = await createNode({ transport: net.transport(), services: { a2a: a2a() } })
    try {
      const r = await a.services.a2a.send(c.peerId, WEATHER_CALL)
      expect(statusText(r.task!)).toMatch(/^Error: no MCP service registry on this node/)
      expect((await a.services.a2a.card(c.peerId)).skills.map(s => s.id)).toEqual(['mcp_proxy'])
    } finally { await c.stop() }
  })

  test('returnImmediately + GetTask + CancelTask: the call is aborted, tasks are private to their caller', async () => {
    const started = deferred()
    const aborted = deferred<unknown>()
    await b.services.mcp.register('slow', async (_req, ctx) => {
      started.resolve()
      return await new Promise((_resolve, reject) => {
        ctx.signal.addEventListener('abort', () => { aborted.resolve(ctx.signal.reason); reject(ctx.signal.reason) }, { once: true })
      })
    })
    const r = await a.services.a2a.send(b.peerId, '{"service":"slow","request":{"jsonrpc":"2.0","method":"tools/list","id":1}}', { configuration: { returnImmediately: true } })
    const id = r.task!.id
    expect(['TASK_STATE_SUBMITTED', 'TASK_STATE_WORKING']).toContain(r.task!.status.state)
    await started.promise

    const c = await createNode({ transport: net.transport(), services: { a2a: a2a() } })
    try {
      await expect(c.services.a2a.rpc(b.peerId, 'GetTask', { id })).rejects.toMatchObject({ rpcCode: -32001 })
    } finally { await c.stop() }

    const got = await a.services.a2a.rpc(b.peerId, 'GetTask', { id }) as TaskJson
    expect(got.status.state).toBe('TASK_STATE_WORKING')
    const canceled = await a.services.a2a.rpc(b.peerId, 'CancelTask', { id }) as TaskJson
    expect(canceled.status.state).toBe('TASK_STATE_CANCELED')
    await aborted.promise
    expect(((await a.services.a2a.rpc(b.peerId, 'GetTask', { id })) as TaskJson).status.state).toBe('TASK_STATE_CANCELED')
  })
})

describe('custom AgentExecutor', () => {
  test('answers with a message and sees the caller\'s peer id; the card lists only its own skills', async () => {
    const callers: Array<PeerId | undefined> = []
    const executor: AgentExecutor = {
      async execute (rc, bus) {
        callers.push(callerPeerId(rc))
        const input = rc.userMessage.parts.map(p => p.content?.$case === 'text' ? p.content.value : '').join('')
        bus.publish(AgentEvent.message({
          messageId: randomUUID(), contextId: rc.contextId, taskId: '', role: Role.ROLE_AGENT, metadata: undefined, extensions: [], referenceTaskIds: [],
          parts: [{ content: { $case: 'text', value: `echo from ${callerPeerId(rc)?.slice(0, 8)}: ${input}` }, metadata: undefined, filename: '', mediaType: 'text/plain' }]
        }))
        bus.finished()
      },
      async cancelTask () {}
    }
    const c = await createNode({
      transport: net.transport(),
      services: { mcp: mcp(), a2a: a2a({ name: 'Echo', executor, skills: [{ id: 'echo', name: 'Echo', description: 'echoes', tags: ['demo'] }] }) }
    })
    try {
      await c.services.mcp.register('hidden', async () => 1)
      expect((await a.services.a2a.card(c.peerId)).skills.map(s => s.id)).toEqual(['echo'])

      const r = await a.services.a2a.send(c.peerId, 'hi')
      expect(r.message?.role).toBe('ROLE_AGENT')
      expect(r.message?.parts[0].text).toBe(`echo from ${a.peerId.slice(0, 8)}: hi`)

      const client = await a.services.a2a.client(c.peerId)
      const m = await client.sendMessage(sendRequest('via sdk'))
      expect('parts' in m && m.parts[0].content).toEqual({ $case: 'text', value: `echo from ${a.peerId.slice(0, 8)}: via sdk` })
      expect(callers).toEqual([a.peerId, a.peerId])
    } finally { await c.stop() }
  })
})

describe('errors', () => {
  test('a peer without an A2A service answers at once: A2aRemoteError, 502 from fetch, an error from the SDK client', async () => {
    const bare = await createNode({ transport: net.transport() })
    try {
      await expect(a.services.a2a.card(bare.peerId)).rejects.toThrow(A2aRemoteError)
      await expect(a.services.a2a.send(bare.peerId, 'hi')).rejects.toThrow(/no A2A service on this node/)
      const res = await a.services.a2a.fetchImpl(bare.peerId)('axl://x/.well-known/agent-card.json')
      expect(res.status).toBe(502)
      expect(await res.text()).toMatch(/no A2A service on this node/)
      await expect(sdkClient(a, bare.peerId)).rejects.toThrow(/502/)
    } finally { await bare.stop() }
  })

  test('a body that is not JSON: 400 with a JSON-RPC parse error from fetch; JSON that is not a request object: -32600', async () => {
    const f = a.services.a2a.fetchImpl()
    for (const body of ['not json', '']) {
      const res = await f(`axl://${b.peerId}`, { method: 'POST', body })
      expect(res.status).toBe(400)
      expect(await res.json()).toMatchObject({ jsonrpc: '2.0', id: null, error: { code: -32700 } })
    }
    for (const request of ['"SendMessage"', '[{"jsonrpc":"2.0","method":"GetTask","id":1}]', 'null']) {
      const reply = decodeA2aResponse(await a.request(b.peerId, encodeA2aRequest(request)))
      expect(reply.error).toBeUndefined()
      expect(JSON.parse(reply.response!)).toMatchObject({ jsonrpc: '2.0', error: { code: -32600 } })
    }
    // An object that is not JSON-RPC 2.0 is the SDK's own "Invalid JSON-RPC Request." error.
    const v1 = decodeA2aResponse(await a.request(b.peerId, encodeA2aRequest('{"jsonrpc":"1.0","method":"GetTask","id":1}')))
    expect(JSON.parse(v1.response!)).toMatchObject({ jsonrpc: '2.0', error: { message: 'Invalid JSON-RPC Request.' } })
  })

  test('an unknown method (e.g. a v0.3 name) is -32601 from the SDK', async () => {
    const err = await a.services.a2a.rpc(b.peerId, 'message/send', { message: {} }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(A2aRpcError)
    expect(err).toMatchObject({ rpcCode: -32601 })
  })

  test('streaming requests in an AXL envelope get a clear JSON-RPC error (a reply frame carries one answer)', async () => {
    const err = await a.services.a2a.rpc(b.peerId, 'SendStreamingMessage', { message: { messageId: 'm', role: 'ROLE_USER', parts: [{ text: 'x' }] } }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(A2aRpcError)
    expect(err).toMatchObject({ rpcCode: -32004 })
    expect((err as Error).message).toContain(STREAMING_NOT_SUPPORTED)
    // The SDK's transport, asked to stream a peer that serves no stream protocol, surfaces the same error.
    const c = await createNode({ transport: net.transport(), services: { a2a: a2a({ stream: false }) } })
    try {
      const card = await a.services.a2a.card(c.peerId)
      expect(card.capabilities.streaming).toBe(false)
      const transport = await new JsonRpcTransportFactory({ fetchImpl: a.services.a2a.fetchImpl() }).create(card.supportedInterfaces[0].url, card as never)
      const stream = transport.sendMessageStream(sendRequest(WEATHER_CALL))
      await expect(stream.next()).rejects.toThrow(/streaming is not supported over AXL/)
    } finally { await c.stop() }
  })

  test('fetch: unroutable URLs reject, other methods are 405, AXL bridge URLs work', async () => {
    const f = a.services.a2a.fetchImpl()
    await expect(f('https://example.com/')).rejects.toThrow(A2aUrlError)
    expect((await f(`axl://${b.peerId}`, { method: 'PUT', body: '{}' })).status).toBe(405)
    const res = await f(`http://127.0.0.1:9002/a2a/${b.peerId}`)
    expect(res.status).toBe(200)
    expect(((await res.json()) as { name: string }).name).toBe('Weather agent')
    // A card with AXL's relative interface URL still works with the SDK client and the URL-routed fetch.
    const c = await createNode({ transport: net.transport(), services: { a2a: a2a({ url: id => `/a2a/${id}` }) } })
    try {
      const client = await sdkClient(a, c.peerId)
      expect((await client.getAgentCard()).supportedInterfaces[0].url).toBe(`/a2a/${c.peerId}`)
      const r = await client.sendMessage(sendRequest('hello'))
      expect('status' in r && r.status?.state).toBe(4) // FAILED: c has no MCP registry, but the round trip worked
    } finally { await c.stop() }
  })

  test('deadlines and aborts reject with typed errors', async () => {
    const started = deferred()
    await b.services.mcp.register('stuck', async (_req, ctx) => {
      started.resolve()
      return await new Promise((_resolve, reject) => { ctx.signal.addEventListener('abort', () => { reject(ctx.signal.reason) }, { once: true }) })
    })
    const call = '{"service":"stuck","request":{"jsonrpc":"2.0","method":"tools/list","id":1}}'
    await expect(a.services.a2a.send(b.peerId, call, { timeoutMs: 150 })).rejects.toThrow(TimeoutError)
    const ac = new AbortController()
    const p = a.services.a2a.send(b.peerId, call, { signal: ac.signal })
    await started.promise
    ac.abort()
    await expect(p).rejects.toMatchObject({ code: 'ERR_ABORTED' })
  })
})
