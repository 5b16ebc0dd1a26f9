// The stock @a2a-js/sdk client pointed at the bridge (`http://127.0.0.1:<port>/a2a/<peer>`), plain HTTP: the card's
// mesh URL is rewritten to the bridge's, sendMessage works, and sendMessageStream is relayed as SSE from one
// /axl/a2a-stream/1 mesh stream. In-process bridges on loopback ports, and real axl-node processes.
import { afterAll, describe, expect, it } from 'vitest'
import { randomUUID } from 'node:crypto'
import {
  AgentEvent, ClientFactory, ClientFactoryOptions, DefaultAgentCardResolver, JsonRpcTransportFactory, Role, TaskState, UnsupportedOperationError,
  type AgentExecutor, type Client, type ExecutionEventBus, type Message, type RequestContext, type SendMessageRequest, type StreamResponse, type Task
} from '../../router-a2a/test/fixtures/a2a-sdk.js'
import { MemoryNetwork, createNode, type AxlNode } from '@axl/core'
import { a2a, callSignal, type A2aService } from '@axl/router-a2a'
import { createBridge } from '../src/index.js'
import { bridgeA2aUrl, rewriteCardUrls } from '../src/a2a-card-url.js'
import { call, onCleanup, startTestNode, stubServer, until } from './helpers.js'
import { ProcessPool, freePort, waitReachable } from './helpers/processes.js'

const WAIT_MS = 10_000

function textPart (value: string): Message['parts'][number] {
  return { content: { $case: 'text', value }, metadata: undefined, filename: '', mediaType: 'text/plain' }
}

function sendRequest (text: string): SendMessageRequest {
  return {
    message: { messageId: randomUUID(), contextId: '', taskId: '', role: Role.ROLE_USER, parts: [textPart(text)], metadata: undefined, extensions: [], referenceTaskIds: [] },
    configuration: undefined, metadata: undefined, tenant: ''
  }
}

/** The stock SDK client over plain HTTP (global fetch), from the bridge URL of a peer. */
async function httpClient (bridgePeerUrl: string): Promise<Client> {
  const factory = new ClientFactory(ClientFactoryOptions.createFrom(ClientFactoryOptions.default, {
    cardResolver: new DefaultAgentCardResolver(),
    transports: [new JsonRpcTransportFactory()]
  }))
  // the SDK resolves `.well-known/agent-card.json` against the base URL: with a trailing slash it stays under the peer
  return await factory.createFromUrl(`${bridgePeerUrl}/`)
}

function label (e: StreamResponse): string {
  const p = e.payload
  if (p?.$case === 'task') return `task:${p.value.status?.state ?? '?'}`
  if (p?.$case === 'statusUpdate') return `status:${p.value.status?.state ?? '?'}`
  if (p?.$case === 'artifactUpdate') return `artifact:${p.value.artifact?.parts.map(x => x.content?.$case === 'text' ? x.content.value : '').join('') ?? ''}`
  return 'message'
}

/** Streams task → working → "one" → (gate) → "two" → completed; records each call's signal. */
class SteppingAgent implements AgentExecutor {
  gate: Promise<void> = Promise.resolve()
  readonly signals: Array<AbortSignal | undefined> = []

  async execute (rc: RequestContext, bus: ExecutionEventBus): Promise<void> {
    const { taskId, contextId } = rc
    const status = (state: TaskState): void => {
      bus.publish(AgentEvent.statusUpdate({ taskId, contextId, metadata: undefined, status: { state, message: undefined, timestamp: new Date().toISOString() } }))
    }
    const chunk = (value: string, append: boolean): void => {
      bus.publish(AgentEvent.artifactUpdate({ taskId, contextId, append, lastChunk: append, metadata: undefined, artifact: { artifactId: 'a', name: 'a', description: '', parts: [textPart(value)], metadata: undefined, extensions: [] } }))
    }
    bus.publish(AgentEvent.task({ id: taskId, contextId, status: { state: TaskState.TASK_STATE_SUBMITTED, message: undefined, timestamp: new Date().toISOString() }, artifacts: [], history: [rc.userMessage], metadata: undefined }))
    status(TaskState.TASK_STATE_WORKING)
    chunk('one', false)
    this.signals.push(callSignal(rc))
    await this.gate
    chunk('two', true)
    status(TaskState.TASK_STATE_COMPLETED)
    bus.finished()
  }

  async cancelTask (): Promise<void> {}
}

describe('rewriteCardUrls', () => {
  const B = 'http://127.0.0.1:9002/a2a/' + 'ab'.repeat(32)
  it('rewrites axl:// URLs of v1.0 and v0.3 cards, nothing else', () => {
    const v1 = { name: 'x', supportedInterfaces: [{ url: 'axl://' + 'ab'.repeat(32), protocolBinding: 'JSONRPC' }, { url: 'https://agent.example/a2a', protocolBinding: 'HTTP+JSON' }] }
    expect(JSON.parse(rewriteCardUrls(JSON.stringify(v1), B) ?? 'null').supportedInterfaces.map((i: { url: string }) => i.url)).toEqual([B, 'https://agent.example/a2a'])
    const v03 = { name: 'x', url: 'AXL://' + 'ab'.repeat(32), preferredTransport: 'JSONRPC', additionalInterfaces: [{ url: 'axl://' + 'ab'.repeat(32), transport: 'JSONRPC' }, { url: '/a2a/x', transport: 'JSONRPC' }] }
    const out = JSON.parse(rewriteCardUrls(JSON.stringify(v03), B) ?? 'null')
    expect(out.url).toBe(B)
    expect(out.additionalInterfaces.map((i: { url: string }) => i.url)).toEqual([B, '/a2a/x'])
    // nothing to rewrite, not an object, not JSON: undefined (the remote's bytes are relayed as they are)
    expect(rewriteCardUrls('{"name":"C"}', B)).toBeUndefined()
    expect(rewriteCardUrls('[1]', B)).toBeUndefined()
    expect(rewriteCardUrls('not json', B)).toBeUndefined()
  })
  it('the bridge URL comes from Host, else from the local socket', () => {
    expect(bridgeA2aUrl('localhost:9002', '127.0.0.1', 9002, 'ab')).toBe('http://localhost:9002/a2a/ab')
    expect(bridgeA2aUrl(undefined, '::1', 9002, 'ab')).toBe('http://[::1]:9002/a2a/ab')
  })
})

describe('the stock A2A SDK client through an in-process bridge (MemoryNetwork, bridge on a loopback port)', () => {
  async function setup (): Promise<{ bridgeUrl: string, b: AxlNode<{ a2a: A2aService }>, agent: SteppingAgent, net: MemoryNetwork, a: AxlNode }> {
    const net = new MemoryNetwork()
    const agent = new SteppingAgent()
    const a = await createNode({ transport: net.transport() })
    const b = await createNode({ transport: net.transport(), services: { a2a: a2a({ name: 'Streamer', executor: agent }) } })
    const bridge = await createBridge(a, { port: 0 })
    onCleanup(async () => { await bridge.close(); await a.stop(); await b.stop() })
    return { bridgeUrl: `${bridge.url}/a2a/${b.peerId}`, b, agent, net, a }
  }

  it('the card (both forms) carries the bridge\'s URL; sendMessage and sendMessageStream work over plain HTTP', async () => {
    const { bridgeUrl, b } = await setup()
    const plain = JSON.parse((await call(bridgeUrl)).text)
    expect(plain.supportedInterfaces).toEqual([{ url: bridgeUrl, protocolBinding: 'JSONRPC', protocolVersion: '1.0' }])
    expect(plain.capabilities.streaming).toBe(true)
    const wellKnown = JSON.parse((await call(`${bridgeUrl}/.well-known/agent-card.json`)).text)
    expect(wellKnown).toEqual(plain)
    // Host as the client wrote it: localhost names the bridge too
    const port = new URL(bridgeUrl).port
    const viaLocalhost = JSON.parse((await call(`http://localhost:${port}/a2a/${b.peerId}`)).text)
    expect(viaLocalhost.supportedInterfaces[0].url).toBe(`http://localhost:${port}/a2a/${b.peerId}`)

    const client = await httpClient(bridgeUrl)
    const sent = await client.sendMessage(sendRequest('hi'), { signal: AbortSignal.timeout(WAIT_MS) })
    expect((sent as Task).status?.state).toBe(TaskState.TASK_STATE_COMPLETED)
    const events: string[] = []
    for await (const e of client.sendMessageStream(sendRequest('go'), { signal: AbortSignal.timeout(WAIT_MS) })) events.push(label(e))
    expect(events).toEqual(['task:1', 'status:2', 'artifact:one', 'artifact:two', 'status:3'])
    await until(() => b.services.a2a.streamStats().inbound.active === 0, WAIT_MS)
  })

  it('the HTTP client going away cancels the mesh stream: the agent\'s call signal fires', async () => {
    const { bridgeUrl, b, agent } = await setup()
    agent.gate = new Promise(() => {})
    const client = await httpClient(bridgeUrl)
    const ac = new AbortController()
    const seen: string[] = []
    const run = (async () => { for await (const e of client.sendMessageStream(sendRequest('go'), { signal: ac.signal })) seen.push(label(e)) })()
    await until(() => seen.length === 3, WAIT_MS)
    expect(b.services.a2a.streamStats().inbound.active).toBe(1)
    ac.abort()
    await expect(run).rejects.toThrow()
    await until(() => agent.signals[0]?.aborted === true, WAIT_MS)
    await until(() => b.services.a2a.streamStats().inbound.active === 0, WAIT_MS)
  })

  it('a peer without the stream protocol (an A2A HTTP server behind a2a_addr, as Go AXL) is refused at once', async () => {
    // The stub plays AXL's Python A2A server: a card claiming streaming, with AXL's relative URL.
    const stub = await stubServer(seen => seen.method === 'GET'
      ? { body: JSON.stringify({ name: 'py', description: 'd', version: '1', supportedInterfaces: [{ url: '/a2a/x', protocolBinding: 'JSONRPC', protocolVersion: '1.0' }], capabilities: { streaming: true }, defaultInputModes: [], defaultOutputModes: [], skills: [] }) }
      : { body: JSON.stringify({ jsonrpc: '2.0', id: JSON.parse(seen.body).id, result: { message: { messageId: 'm', role: 'ROLE_AGENT', parts: [{ text: 'ok' }] } } }) })
    const net = new MemoryNetwork()
    const a = await startTestNode(net)
    const b = await startTestNode(net, { a2a_addr: 'http://127.0.0.1', a2a_port: stub.port })
    const url = `${a.bridge.url}/a2a/${b.node.peerId}`
    // relative URLs are left as they are (they resolve against the bridge)
    expect(JSON.parse((await call(url)).text).supportedInterfaces[0].url).toBe('/a2a/x')
    // a plain JSON POST is relayed unchanged, as AXL does
    const plain = await call(url, { method: 'POST', body: '{"jsonrpc":"2.0","id":5,"method":"SendMessage","params":{"message":{"messageId":"q","role":"ROLE_USER","parts":[{"text":"hi"}]}}}' })
    expect(plain.status).toBe(200)
    expect(JSON.parse(plain.text).result.message.parts[0].text).toBe('ok')
    // a streaming POST: the -32004 refusal at once, as JSON, for the SDK's transport
    const t0 = Date.now()
    const r = await call(url, { method: 'POST', headers: { Accept: 'text/event-stream', 'Content-Type': 'application/json' }, body: '{"jsonrpc":"2.0","id":6,"method":"SendStreamingMessage","params":{"message":{"messageId":"q","role":"ROLE_USER","parts":[{"text":"hi"}]}}}' })
    expect(r.status).toBe(200)
    expect(r.headers['content-type']).toBe('application/json')
    const body = JSON.parse(r.text)
    expect(body).toMatchObject({ jsonrpc: '2.0', id: 6, error: { code: -32004 } })
    expect(body.error.message).toMatch(/streaming is not supported over AXL.*\/axl\/a2a-stream\/1/)
    const transport = await new JsonRpcTransportFactory().create(url, { supportedInterfaces: [], capabilities: { streaming: true } } as never)
    await expect(transport.sendMessageStream(sendRequest('go')).next()).rejects.toThrow(UnsupportedOperationError)
    expect(Date.now() - t0).toBeLessThan(2000)
    expect(stub.seen.filter(s => s.method === 'POST')).toHaveLength(1) // the streaming requests never reached it
  })
})

describe('the stock A2A SDK client through real axl-node processes (tcp:// on loopback)', () => {
  const pool = new ProcessPool()
  afterAll(async () => { await pool.close() })

  it('A\'s bridge URL for B: card rewritten, sendMessage and sendMessageStream to B\'s in-process MCP-backed agent', async () => {
    const mcpStub = await pool.stub(seen => {
      const req = JSON.parse(seen.body) as { id?: unknown }
      if (req.id === undefined) return { status: 202, body: '' }
      return { body: JSON.stringify({ jsonrpc: '2.0', id: req.id, result: { content: [{ type: 'text', text: 'sunny' }] } }) }
    })
    const link = await freePort()
    const [a, b] = await Promise.all([
      pool.start('A', { Listen: [`tcp://127.0.0.1:${link}`] }),
      pool.start('B', { Peers: [`tcp://127.0.0.1:${link}`], a2a: { name: 'Weather' }, mcp_services: { weather: `${mcpStub.url}/mcp` } })
    ])
    await waitReachable(a, b)
    const bridgeUrl = `${a.url}/a2a/${b.key}`
    const client = await httpClient(bridgeUrl)
    const card = await client.getAgentCard()
    expect(card.supportedInterfaces[0].url).toBe(bridgeUrl)
    expect(card.capabilities?.streaming).toBe(true)
    const call = '{"service":"weather","request":{"jsonrpc":"2.0","method":"tools/call","id":1,"params":{"name":"forecast"}}}'
    const sent = await client.sendMessage(sendRequest(call), { signal: AbortSignal.timeout(WAIT_MS) }) as Task
    expect(sent.status?.state).toBe(TaskState.TASK_STATE_COMPLETED)
    const t0 = performance.now()
    const events: StreamResponse[] = []
    for await (const e of client.sendMessageStream(sendRequest(call), { signal: AbortSignal.timeout(WAIT_MS) })) events.push(e)
    const ms = performance.now() - t0
    expect(events.map(label).map(l => l.replace(/^artifact:.*/s, 'artifact'))).toEqual(['task:1', 'status:2', 'artifact', 'status:3'])
    const art = events[2].payload?.$case === 'artifactUpdate' ? events[2].payload.value.artifact : undefined
    expect(art?.name).toBe('mcp_response')
    expect(art?.parts[0].content?.$case === 'text' ? art.parts[0].content.value : '').toContain('sunny')
    console.log(`axl-node processes: sendMessageStream through the bridge, ${events.length} events in ${ms.toFixed(1)} ms`)
  }, 60_000)
})
