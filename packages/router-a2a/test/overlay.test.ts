/**
 * router-a2a over the real overlay: A — P — B, where A (this test process) and B (a child) each dial only
 * the relay P (another child) over tcp:// on 127.0.0.1. B runs mcp() + a2a() with server-everything over stdio
 * as MCP service "everything"; A uses the stock @a2a-js/sdk client over the mesh. C (a child) has an MCP
 * router but no A2A service.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { randomUUID } from 'node:crypto'
import { Role, TaskState, type SendMessageRequest, type Task } from '@a2a-js/sdk'
import { createNode, generateIdentity, type AxlNode } from '@axl/core'
import { encodeA2aAgentCardRequest } from '../src/envelope.js'
import { ygg } from '@axl/transport-ygg'
import { startChild, startRelay, stopAll, untilRouted, type ChildNode } from '../../router-mcp/test/fixtures/overlay-net.js'
import type { Proc } from '../../transport-ygg/test/helpers/proc.js'
import { A2aRemoteError, a2a, type A2aService } from '../src/index.js'

const TOOLS_LIST = '{"service":"everything","request":{"jsonrpc":"2.0","id":1,"method":"tools/list"}}'

const procs: Proc[] = []
let a: AxlNode<{ a2a: A2aService }>
let b: ChildNode
let c: ChildNode

function sendRequest (text: string): SendMessageRequest {
  return {
    message: {
      messageId: randomUUID(), contextId: '', taskId: '', role: Role.ROLE_USER, metadata: undefined, extensions: [], referenceTaskIds: [],
      parts: [{ content: { $case: 'text', value: text }, metadata: undefined, filename: '', mediaType: '' }]
    },
    configuration: undefined,
    metadata: undefined,
    tenant: ''
  }
}

const textOf = (task: Task): string => task.artifacts.flatMap(x => x.parts).map(p => p.content?.$case === 'text' ? p.content.value : '').join('')

beforeAll(async () => {
  const relay = await startRelay(procs)
  ;[b, c, a] = await Promise.all([
    startChild('B', ['--peer', relay.uri, '--a2a', '--name', 'Agent B', '--everything'], procs),
    startChild('C', ['--peer', relay.uri, '--mcp'], procs),
    createNode({ identity: await generateIdentity(), transport: ygg({ peers: [relay.uri] }), services: { a2a: a2a() } })
  ])
  // The first call retries until the spanning tree has formed (no fixed sleep).
  await untilRouted(async ms => await a.services.a2a.card(b.key, { timeoutMs: ms }))
}, 30_000)

afterAll(async () => {
  await a?.stop()
  await stopAll(procs)
})

describe('router-a2a over the ygg overlay (A — P — B, separate processes, tcp:// on loopback)', () => {
  it('the @a2a-js/sdk client on A reads B\'s card: its skills include the MCP service "everything"', async () => {
    const client = await a.services.a2a.client(b.key, { timeoutMs: 10_000 })
    const card = await client.getAgentCard()
    expect(card.name).toBe('Agent B')
    expect(card.supportedInterfaces[0]).toMatchObject({ url: `axl://${b.key}`, protocolBinding: 'JSONRPC' })
    expect(card.skills.map(s => s.id)).toContain('everything')
    expect(card.skills.find(s => s.id === 'everything')).toMatchObject({ name: 'Everything Service', tags: ['everything', 'mcp'] })
  })

  it('SendMessage with an MCP call as text gets a COMPLETED task carrying server-everything\'s tools/list', async () => {
    const client = await a.services.a2a.client(b.key, { timeoutMs: 10_000 })
    const result = await client.sendMessage(sendRequest(TOOLS_LIST))
    expect('status' in result).toBe(true)
    const task = result as Task
    expect(task.status?.state).toBe(TaskState.TASK_STATE_COMPLETED)
    expect(task.artifacts.map(x => x.name)).toEqual(['mcp_response'])
    const response = JSON.parse(textOf(task)) as { jsonrpc: string, id: number, result: { tools: Array<{ name: string }> } }
    expect(response).toMatchObject({ jsonrpc: '2.0', id: 1 })
    expect(response.result.tools.map(t => t.name)).toEqual(expect.arrayContaining(['echo', 'get-sum']))
    // the same through the service's own send(): AXL's JSON shape
    const json = await a.services.a2a.send(b.key, TOOLS_LIST, { timeoutMs: 10_000 })
    expect(json.task?.status.state).toBe('TASK_STATE_COMPLETED')
  })

  it('an unknown MCP service behind A2A fails the task at once with the router\'s -32010', async () => {
    const t0 = performance.now()
    const r = await a.services.a2a.send(b.key, '{"service":"nope","request":{"jsonrpc":"2.0","id":1,"method":"tools/list"}}', { timeoutMs: 10_000 })
    expect(r.task?.status.state).toBe('TASK_STATE_FAILED')
    expect(r.task?.status.message?.parts[0]?.text).toMatch(/-32010: Service not found: nope/)
    expect(performance.now() - t0).toBeLessThan(2000)
  })

  it('a peer without an A2A service (C) answers at once with an error', async () => {
    // wait (bounded) until C is routable: any reply frame will do, here C's error envelope to a raw card request
    await untilRouted(async ms => await a.request(c.key, encodeA2aAgentCardRequest(), { timeoutMs: ms }))
    const t0 = performance.now()
    await expect(a.services.a2a.card(c.key, { timeoutMs: 10_000 })).rejects.toThrow(A2aRemoteError)
    await expect(a.services.a2a.send(c.key, TOOLS_LIST, { timeoutMs: 10_000 })).rejects.toThrow(/no A2A service on this node/)
    await expect(a.services.a2a.client(c.key, { timeoutMs: 10_000 })).rejects.toThrow(/502/)
    expect(performance.now() - t0).toBeLessThan(3000)
  })
})
