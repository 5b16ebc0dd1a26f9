// A2A streaming across the mesh (/axl/a2a-stream/1): the stock @a2a-js/sdk client's sendMessageStream and
// resubscribeTask through the mesh fetch, a2a.stream()/subscribe(), cancellation, bounds, and the refusal
// of peers without the stream protocol. MemoryNetwork, plus one run over real ygg() tcp:// on loopback.
import { afterEach, beforeEach, describe, expect, test } from 'vitest'
import { randomUUID } from 'node:crypto'
import { Role, TaskState, type Message, type SendMessageRequest, type StreamResponse } from '@a2a-js/sdk'
import { AgentEvent, type AgentExecutor, type ExecutionEventBus, type RequestContext } from '@a2a-js/sdk/server'
import { ClientFactory, ClientFactoryOptions, DefaultAgentCardResolver, JsonRpcTransportFactory, type Client } from '@a2a-js/sdk/client'
import { UnsupportedOperationError } from '@a2a-js/sdk/errors'
import { AbortError, MemoryNetwork, ProtocolRefusedError, createNode, withDeadline, type AxlNode, type TransportFactory } from '@axl/core'
import { ygg } from '@axl/transport-ygg'
import {
  A2A_STREAM_PROTOCOL, A2aRpcError, A2aStreamLimitError, A2aStreamingUnsupportedError, STREAMING_NOT_SUPPORTED, a2a, callSignal,
  type A2aOptions, type A2aService, type StreamEventJson
} from '../src/index.js'

type A2aNode = AxlNode<{ a2a: A2aService }>

/** Deadline of every wait in these tests. */
const WAIT_MS = 10_000

function deferred<T = void> (): { promise: Promise<T>, resolve: (v: T) => void } {
  let resolve!: (v: T) => void
  const promise = new Promise<T>(r => { resolve = r })
  return { promise, resolve }
}

/** Resolves when cond() holds, polling on a timer; rejects after `ms`. */
async function until (what: string, cond: () => boolean, ms = WAIT_MS): Promise<void> {
  const end = Date.now() + ms
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await new Promise(resolve => setTimeout(resolve, 5))
  }
}

function textPart (value: string): Message['parts'][number] {
  return { content: { $case: 'text', value }, metadata: undefined, filename: '', mediaType: 'text/plain' }
}

/**
 * An agent that streams: task SUBMITTED → WORKING → artifact chunk "one" → (waits for `gate`) → chunk "two"
 * (appended, last) → COMPLETED. `started` fires with the call's signal once the first events are out.
 */
class SteppingAgent implements AgentExecutor {
  gate: Promise<void> = Promise.resolve()
  readonly calls: Array<{ signal: AbortSignal | undefined, taskId: string }> = []
  readonly started = deferred<{ signal: AbortSignal | undefined, taskId: string }>()

  async execute (rc: RequestContext, bus: ExecutionEventBus): Promise<void> {
    const { taskId, contextId } = rc
    const status = (state: TaskState, text?: string): void => {
      bus.publish(AgentEvent.statusUpdate({
        taskId, contextId, metadata: undefined,
        status: {
          state, timestamp: new Date().toISOString(),
          message: text === undefined ? undefined : { messageId: randomUUID(), contextId, taskId, role: Role.ROLE_AGENT, parts: [textPart(text)], metadata: undefined, extensions: [], referenceTaskIds: [] }
        }
      }))
    }
    const chunk = (value: string, append: boolean, lastChunk: boolean): void => {
      bus.publish(AgentEvent.artifactUpdate({
        taskId, contextId, append, lastChunk, metadata: undefined,
        artifact: { artifactId: 'answer', name: 'answer', description: '', parts: [textPart(value)], metadata: undefined, extensions: [] }
      }))
    }
    bus.publish(AgentEvent.task({ id: taskId, contextId, status: { state: TaskState.TASK_STATE_SUBMITTED, message: undefined, timestamp: new Date().toISOString() }, artifacts: [], history: [rc.userMessage], metadata: undefined }))
    status(TaskState.TASK_STATE_WORKING, 'step 1')
    chunk('one', false, false)
    const call = { signal: callSignal(rc), taskId }
    this.calls.push(call)
    this.started.resolve(call)
    await this.gate
    chunk('two', true, true)
    status(TaskState.TASK_STATE_COMPLETED, 'done')
    bus.finished()
  }

  async cancelTask (): Promise<void> {}
}

function sendRequest (text: string): SendMessageRequest {
  return {
    message: { messageId: randomUUID(), contextId: '', taskId: '', role: Role.ROLE_USER, parts: [textPart(text)], metadata: undefined, extensions: [], referenceTaskIds: [] },
    configuration: undefined, metadata: undefined, tenant: ''
  }
}

/** The stock SDK client for `peer`, with its fetch carried over the mesh by `node`. */
async function sdkClient (node: A2aNode, peer: string): Promise<Client> {
  const fetchImpl = node.services.a2a.fetchImpl()
  const factory = new ClientFactory(ClientFactoryOptions.createFrom(ClientFactoryOptions.default, {
    cardResolver: new DefaultAgentCardResolver({ fetchImpl }),
    transports: [new JsonRpcTransportFactory({ fetchImpl })]
  }))
  return await factory.createFromUrl(`axl://${peer}`)
}

/** One SDK stream event as a short label: "task:1", "status:2", "artifact:one", "message". */
function sdkLabel (e: StreamResponse): string {
  const p = e.payload
  if (p?.$case === 'task') return `task:${p.value.status?.state ?? '?'}`
  if (p?.$case === 'statusUpdate') return `status:${p.value.status?.state ?? '?'}`
  if (p?.$case === 'artifactUpdate') return `artifact:${p.value.artifact?.parts.map(x => x.content?.$case === 'text' ? x.content.value : '').join('') ?? ''}`
  return 'message'
}

/** The same label for a wire-JSON event of a2a.stream(). */
function jsonLabel (e: StreamEventJson): string {
  if (e.task !== undefined) return `task:${e.task.status.state}`
  if (e.statusUpdate !== undefined) return `status:${e.statusUpdate.status.state}`
  if (e.artifactUpdate !== undefined) return `artifact:${e.artifactUpdate.artifact.parts.map(p => p.text ?? '').join('')}`
  return 'message'
}

const SDK_ORDER = ['task:1', 'status:2', 'artifact:one', 'artifact:two', 'status:3']
const JSON_ORDER = ['task:TASK_STATE_SUBMITTED', 'status:TASK_STATE_WORKING', 'artifact:one', 'artifact:two', 'status:TASK_STATE_COMPLETED']

async function startPair (transport: () => TransportFactory, bOpts: A2aOptions = {}): Promise<{ a: A2aNode, b: A2aNode, agent: SteppingAgent }> {
  const agent = new SteppingAgent()
  const b = await createNode({ transport: transport(), services: { a2a: a2a({ name: 'Streamer', executor: agent, ...bOpts }) } })
  const a = await createNode({ transport: transport(), services: { a2a: a2a() } })
  nodes.push(a, b)
  return { a, b, agent }
}

let nodes: A2aNode[] = []
let net: MemoryNetwork

beforeEach(() => { net = new MemoryNetwork(); nodes = [] })
afterEach(async () => { await Promise.all(nodes.map(async n => { await n.stop() })) })

describe('A2A streaming over the in-memory mesh', () => {
  test('the stock SDK client\'s sendMessageStream gets every status and artifact event in order, then the final task state', async () => {
    const { a, b } = await startPair(() => net.transport())
    const client = await sdkClient(a, b.peerId)
    expect((await client.getAgentCard()).capabilities?.streaming).toBe(true)
    const events: StreamResponse[] = []
    for await (const e of client.sendMessageStream(sendRequest('go'), { signal: AbortSignal.timeout(WAIT_MS) })) events.push(e)
    expect(events.map(sdkLabel)).toEqual(SDK_ORDER)
    const taskId = events[0].payload?.$case === 'task' ? events[0].payload.value.id : ''
    const final = await client.getTask({ id: taskId, historyLength: undefined, tenant: '' })
    expect(final.status?.state).toBe(TaskState.TASK_STATE_COMPLETED)
    expect(final.artifacts[0].parts.map(p => p.content?.$case === 'text' ? p.content.value : '').join('')).toBe('onetwo')
    await until('the streams to close', () => b.services.a2a.streamStats().inbound.active === 0 && a.services.a2a.streamStats().outbound.active === 0)
  })

  test('a2a.stream() yields the wire JSON events in order; a2a.subscribe() follows a running task to its end', async () => {
    const { a, b, agent } = await startPair(() => net.transport())
    const got: string[] = []
    for await (const e of a.services.a2a.stream(b.peerId, 'go', { timeoutMs: WAIT_MS })) got.push(jsonLabel(e))
    expect(got).toEqual(JSON_ORDER)

    // A task started without streaming (returnImmediately), held at the gate; subscribe() picks it up.
    const gate = deferred()
    agent.gate = gate.promise
    const { task } = await a.services.a2a.send(b.peerId, 'go', { configuration: { returnImmediately: true } })
    expect(task).toBeDefined()
    await agent.started.promise
    const sub = a.services.a2a.subscribe(b.peerId, task!.id, { timeoutMs: WAIT_MS })
    const first = await sub.next()
    expect(first.done).toBe(false)
    expect((first.value as StreamEventJson).task?.id).toBe(task!.id) // SubscribeToTask starts with the task as it is
    gate.resolve()
    const rest: string[] = []
    for await (const e of sub) rest.push(jsonLabel(e))
    expect(rest).toEqual(['artifact:two', 'status:TASK_STATE_COMPLETED'])
  })

  test('the stock SDK client\'s resubscribeTask picks up a running task', async () => {
    const { a, b, agent } = await startPair(() => net.transport())
    const gate = deferred()
    agent.gate = gate.promise
    const client = await sdkClient(a, b.peerId)
    const req = sendRequest('go')
    req.configuration = { acceptedOutputModes: [], taskPushNotificationConfig: undefined, historyLength: undefined, returnImmediately: true }
    const sent = await client.sendMessage(req)
    expect('id' in sent).toBe(true)
    const taskId = (sent as { id: string }).id
    await agent.started.promise
    const labels: string[] = []
    for await (const e of client.resubscribeTask({ id: taskId, tenant: '' }, { signal: AbortSignal.timeout(WAIT_MS) })) {
      labels.push(sdkLabel(e))
      if (labels.length === 1) gate.resolve()
    }
    expect(labels[0]).toMatch(/^task:[12]$/)
    expect(labels.slice(1)).toEqual(['artifact:two', 'status:3'])
  })

  test('the caller aborting cancels the remote stream: the call\'s signal fires and both sides free their slots', async () => {
    const { a, b, agent } = await startPair(() => net.transport())
    agent.gate = new Promise(() => {}) // the agent never finishes on its own
    const client = await sdkClient(a, b.peerId)
    const ac = new AbortController()
    const labels: string[] = []
    const consumed = (async () => {
      for await (const e of client.sendMessageStream(sendRequest('go'), { signal: ac.signal })) labels.push(sdkLabel(e))
    })()
    const { signal } = await agent.started.promise
    expect(signal).toBeDefined()
    await until('the first events', () => labels.length >= 3)
    expect(b.services.a2a.streamStats().inbound.active).toBe(1)
    ac.abort()
    await expect(consumed).rejects.toThrow()
    await until('the remote call signal', () => signal!.aborted)
    await until('both slots to be free', () => b.services.a2a.streamStats().inbound.active === 0 && a.services.a2a.streamStats().outbound.active === 0)
    expect(labels).toEqual(SDK_ORDER.slice(0, 3))
  })

  test('breaking out of a2a.stream() cancels the remote call; an AbortSignal does too', async () => {
    const { a, b, agent } = await startPair(() => net.transport())
    agent.gate = new Promise(() => {})
    for await (const e of a.services.a2a.stream(b.peerId, 'go', { timeoutMs: WAIT_MS })) {
      if (e.artifactUpdate !== undefined) break
    }
    const first = await agent.started.promise
    await until('the remote signal after break', () => first.signal?.aborted === true)
    const ac = new AbortController()
    const it = a.services.a2a.stream(b.peerId, 'go', { signal: ac.signal })
    expect((await it.next()).done).toBe(false)
    await until('the second call', () => agent.calls.length === 2)
    ac.abort()
    await expect(it.next()).rejects.toThrow(AbortError)
    await until('the remote signal after abort', () => agent.calls[1].signal?.aborted === true)
    await until('no stream left', () => b.services.a2a.streamStats().inbound.active === 0)
  })

  test('a peer without the stream protocol is refused at once with the clear -32004 error (a2a.stream, the SDK client)', async () => {
    const { a, b } = await startPair(() => net.transport(), { stream: false })
    const t0 = Date.now()
    const err = await a.services.a2a.stream(b.peerId, 'go', { timeoutMs: WAIT_MS }).next().catch((e: unknown) => e)
    expect(err).toBeInstanceOf(A2aStreamingUnsupportedError)
    expect(err).toBeInstanceOf(A2aRpcError)
    expect(err).toMatchObject({ rpcCode: -32004, peer: b.peerId })
    expect((err as Error).message).toContain(STREAMING_NOT_SUPPORTED)
    expect((err as Error).message).toContain(A2A_STREAM_PROTOCOL)
    // The stock SDK client against a card that (wrongly, like AXL's Python server) claims streaming.
    const card = await a.services.a2a.card(b.peerId)
    expect(card.capabilities.streaming).toBe(false)
    const transport = await new JsonRpcTransportFactory({ fetchImpl: a.services.a2a.fetchImpl() }).create(card.supportedInterfaces[0].url, { ...card, capabilities: { streaming: true } } as never)
    const sdkErr = await transport.sendMessageStream(sendRequest('go')).next().catch((e: unknown) => e)
    expect(sdkErr).toBeInstanceOf(UnsupportedOperationError)
    expect((sdkErr as Error).message).toContain(STREAMING_NOT_SUPPORTED)
    // A node with no A2A service at all: the same.
    const bare = await createNode({ transport: net.transport() }) as unknown as A2aNode
    nodes.push(bare)
    await expect(a.services.a2a.stream(bare.peerId, 'go').next()).rejects.toThrow(A2aStreamingUnsupportedError)
    expect(Date.now() - t0).toBeLessThan(2000) // at once: no deadline was waited for
  })

  test('JSON-RPC errors come back as A2aRpcError: unknown task, terminal task', async () => {
    const { a, b } = await startPair(() => net.transport())
    await expect(a.services.a2a.subscribe(b.peerId, 'no-such-task').next()).rejects.toMatchObject({ rpcCode: -32001 })
    let taskId = ''
    for await (const e of a.services.a2a.stream(b.peerId, 'go')) taskId = e.task?.id ?? taskId
    const err = await a.services.a2a.subscribe(b.peerId, taskId).next().catch((e: unknown) => e)
    expect(err).toBeInstanceOf(A2aRpcError)
    expect((err as Error).message).toMatch(/terminal state/)
  })

  test('bounds: streams per peer (outbound at once, inbound through the access check), event size, idle deadline', async () => {
    const { a, b, agent } = await startPair(() => net.transport(), { stream: { maxStreamsPerPeer: 1, maxEventBytes: 64 * 1024, idleTimeoutMs: 300 } })
    agent.gate = new Promise(() => {})
    // a: default bounds (8 per peer) but b serves one stream per peer: the second is refused by b's access check
    const first = a.services.a2a.stream(b.peerId, 'go', { timeoutMs: WAIT_MS })
    expect((await first.next()).done).toBe(false)
    await expect(a.services.a2a.stream(b.peerId, 'go').next()).rejects.toThrow(ProtocolRefusedError)
    expect(b.services.a2a.streamStats().inbound.refused).toBe(1)
    // b goes idle (the agent waits forever): after 300 ms b ends the stream with a JSON-RPC error
    const rest = (async () => { for await (const e of first) void e })()
    await expect(rest).rejects.toThrow(/no event for 300 ms/)
    await until('b to free the slot', () => b.services.a2a.streamStats().inbound.active === 0)

    // outbound bound on the caller: c allows one stream per peer, the second fails before dialling
    const c = await createNode({ transport: net.transport(), services: { a2a: a2a({ stream: { maxStreamsPerPeer: 1 } }) } })
    nodes.push(c)
    const one = c.services.a2a.stream(b.peerId, 'go', { timeoutMs: WAIT_MS })
    expect((await one.next()).done).toBe(false)
    await expect(c.services.a2a.stream(b.peerId, 'go').next()).rejects.toThrow(A2aStreamLimitError)
    expect(c.services.a2a.streamStats().outbound).toEqual({ active: 1, refused: 1 })
    await one.return(undefined)
    expect(c.services.a2a.streamStats().outbound.active).toBe(0)
  })

  test('an event larger than maxEventBytes ends the stream with an error, not a truncated event', async () => {
    const big: AgentExecutor = {
      async execute (rc, bus) {
        bus.publish(AgentEvent.message({ messageId: randomUUID(), contextId: rc.contextId, taskId: '', role: Role.ROLE_AGENT, parts: [textPart('x'.repeat(100_000))], metadata: undefined, extensions: [], referenceTaskIds: [] }))
        bus.finished()
      },
      async cancelTask () {}
    }
    const b = await createNode({ transport: net.transport(), services: { a2a: a2a({ executor: big, stream: { maxEventBytes: 10_000 } }) } })
    const a = await createNode({ transport: net.transport(), services: { a2a: a2a() } })
    nodes.push(a, b)
    await expect(a.services.a2a.stream(b.peerId, 'go').next()).rejects.toThrow(/event of \d+ bytes exceeds the stream's limit of 10000 bytes/)
    // and the caller's own bound: b allows big events, a does not
    const b2 = await createNode({ transport: net.transport(), services: { a2a: a2a({ executor: big }) } })
    const a2 = await createNode({ transport: net.transport(), services: { a2a: a2a({ stream: { maxEventBytes: 10_000 } }) } })
    nodes.push(a2, b2)
    await expect(a2.services.a2a.stream(b2.peerId, 'go').next()).rejects.toThrow(/exceeds|too large/i)
  })
})

describe('A2A streaming over real ygg() (tcp:// on loopback)', () => {
  test('the stock SDK client\'s sendMessageStream across two ygg nodes', async () => {
    const agent = new SteppingAgent()
    const b = await createNode({ transport: ygg({ listen: ['tcp://127.0.0.1:0'] }), services: { a2a: a2a({ name: 'Streamer', executor: agent }) } })
    nodes.push(b)
    const a = await createNode({ transport: ygg({ peers: b.listenAddresses() }), services: { a2a: a2a() }, start: false })
    nodes.push(a)
    // Wait for A's link to B (the event), then one call: the first contact itself waits for the route.
    const linked = new Promise<void>(resolve => { a.addEventListener('peer:connect', e => { if (e.detail.peer === b.peerId) resolve() }) })
    await a.start()
    await withDeadline(linked, { timeoutMs: 10_000 }, 'A linked to B')
    const client = await sdkClient(a, b.peerId)
    const t0 = performance.now()
    const events: StreamResponse[] = []
    for await (const e of client.sendMessageStream(sendRequest('go'), { signal: AbortSignal.timeout(WAIT_MS) })) events.push(e)
    expect(events.map(sdkLabel)).toEqual(SDK_ORDER)
    console.log(`ygg sendMessageStream: ${events.length} events in ${(performance.now() - t0).toFixed(1)} ms`)
  }, 30_000)
})
