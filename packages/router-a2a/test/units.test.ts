import { describe, expect, test } from 'vitest'
import { Role, TaskState, type Message, type Part, type Task } from '@a2a-js/sdk'
import { ServerCallContext } from '@a2a-js/sdk/server'
import { BoundedTaskStore, McpCallParseError, PeerUser, parseMcpCall, peerFromUrl, A2aUrlError } from '../src/index.js'
import { buildAgentCard, mcpSkill, pythonJsonDumps, pythonTitle, toMcpPort, MCP_PROXY_SKILL, type CardInput } from '../src/internals.js'
import { createNode, MemoryNetwork, type PeerId } from '@axl/core'
import { mcp } from '@axl/router-mcp'

const PEER = 'ab'.repeat(32)

function text (value: string): Part { return { content: { $case: 'text', value }, metadata: undefined, filename: '', mediaType: '' } }
function data (value: unknown): Part { return { content: { $case: 'data', value }, metadata: undefined, filename: '', mediaType: '' } }
function msg (...parts: Part[]): Message {
  return { messageId: 'm', contextId: '', taskId: '', role: Role.ROLE_USER, parts, metadata: undefined, extensions: [], referenceTaskIds: [] }
}

describe('card', () => {
  test('pythonTitle follows str.title()', () => {
    expect(pythonTitle('weather')).toBe('Weather')
    expect(pythonTitle('my_service')).toBe('My_Service')
    expect(pythonTitle('get-DATA2x')).toBe('Get-Data2X')
  })

  test('mcpSkill is AXL\'s skill for a service', () => {
    expect(mcpSkill('weather')).toEqual({
      id: 'weather',
      name: 'Weather Service',
      description: 'MCP service: weather. Forward JSON-RPC requests to this service.',
      tags: ['weather', 'mcp'],
      examples: ['{"service": "weather", "request": {"jsonrpc": "2.0", "method": "tools/list", "id": 1}}']
    })
  })

  const base: CardInput = {
    peerId: PEER, name: 'n', description: 'd', version: '1', url: `axl://${PEER}`, mcpServices: [], skills: [],
    defaultInputModes: ['text'], defaultOutputModes: ['text'], extra: {}
  }

  test('an MCP-backed card with no services falls back to AXL\'s mcp_proxy skill', () => {
    const card = buildAgentCard(base)
    expect(card.skills).toEqual([MCP_PROXY_SKILL])
    expect(card.capabilities).toEqual({ streaming: false, pushNotifications: false })
    expect(card.supportedInterfaces).toEqual([{ url: `axl://${PEER}`, protocolBinding: 'JSONRPC', protocolVersion: '1.0' }])
  })

  test('user skills replace MCP skills of the same id and follow the MCP ones', () => {
    const mine = { id: 'weather', name: 'Mine', description: 'x', tags: [] }
    const other = { id: 'other', name: 'Other', description: 'y', tags: ['t'] }
    const card = buildAgentCard({ ...base, mcpServices: ['calc', 'weather'], skills: [mine, other] })
    expect(card.skills.map(s => s.name)).toEqual(['Calc Service', 'Mine', 'Other'])
  })

  test('a card not backed by MCP lists only user skills (possibly none)', () => {
    expect(buildAgentCard({ ...base, mcpServices: undefined }).skills).toEqual([])
  })
})

describe('pythonJsonDumps', () => {
  test('matches json.dumps(indent=2): separators, ASCII escapes, exact integers, float repr', () => {
    expect(pythonJsonDumps('{"a":1,"b":[],"c":{},"d":[true,null]}')).toBe('{\n  "a": 1,\n  "b": [],\n  "c": {},\n  "d": [\n    true,\n    null\n  ]\n}')
    expect(pythonJsonDumps('"h\\u00e9\\ud83d\\ude00\\/"')).toBe('"h\\u00e9\\ud83d\\ude00/"')
    expect(pythonJsonDumps('123456789012345678901234567890')).toBe('123456789012345678901234567890')
    expect(pythonJsonDumps('[1.0, 1e16, 1e-5, 2.50, -0, 1E400]')).toBe('[\n  1.0,\n  1e+16,\n  1e-05,\n  2.5,\n  0,\n  Infinity\n]')
  })

  test('rejects invalid JSON', () => {
    expect(() => pythonJsonDumps('{"a":')).toThrow(SyntaxError)
    expect(() => pythonJsonDumps('[1] x')).toThrow(SyntaxError)
  })
})

describe('parseMcpCall', () => {
  const call = '{"service":"weather","request":{"jsonrpc":"2.0","method":"tools/list","id":1}}'

  test('one text part, as AXL', () => {
    expect(parseMcpCall(msg(text(call)))).toEqual({ service: 'weather', request: { jsonrpc: '2.0', method: 'tools/list', id: 1 } })
  })

  test('parts joined with "\\n" when that is JSON (AXL), else each part alone, else data parts', () => {
    expect(parseMcpCall(msg(text('{"service":"a",'), text('"request":{}}'))).service).toBe('a')
    expect(parseMcpCall(msg(text('please run this:'), text(call))).service).toBe('weather')
    expect(parseMcpCall(msg(text('{"note":1}'), text(call))).service).toBe('weather')
    expect(parseMcpCall(msg(text('hi'), data({ service: 'calc', request: { id: 2 } })))).toEqual({ service: 'calc', request: { id: 2 } })
  })

  test('AXL\'s rules for other JSON: request defaults to {}, bare JSON-RPC names no service', () => {
    expect(parseMcpCall(msg(text('{"service":"x"}')))).toEqual({ service: 'x', request: {} })
    expect(() => parseMcpCall(msg(text('{"jsonrpc":"2.0","method":"tools/list","id":1}')))).toThrow(/No service specified/)
    expect(() => parseMcpCall(msg(text('{"request":{}}')))).toThrow(/No service specified/)
    expect(() => parseMcpCall(msg(text('{"service":5,"request":{}}')))).toThrow(/must be a string/)
  })

  test('no JSON object → Could not parse', () => {
    expect(() => parseMcpCall(msg(text('hello')))).toThrow(McpCallParseError)
    expect(() => parseMcpCall(msg(text('[1,2]')))).toThrow(/Could not parse MCP request from message: expected a JSON object/)
    expect(() => parseMcpCall(msg())).toThrow(/no JSON found/)
  })
})

describe('peerFromUrl', () => {
  test('axl://<peer>, AXL bridge /a2a/<peer> paths, relative or absolute', () => {
    expect(peerFromUrl(`axl://${PEER}`)).toBe(PEER)
    expect(peerFromUrl(`axl://${PEER.toUpperCase()}/.well-known/agent-card.json`)).toBe(PEER)
    expect(peerFromUrl(`/a2a/${PEER}`)).toBe(PEER)
    expect(peerFromUrl(`http://127.0.0.1:9002/a2a/${PEER}/.well-known/agent-card.json`)).toBe(PEER)
  })

  test('anything else is an A2aUrlError', () => {
    expect(() => peerFromUrl('https://example.com/')).toThrow(A2aUrlError)
    expect(() => peerFromUrl('axl://nothex')).toThrow(A2aUrlError)
  })
})

describe('toMcpPort', () => {
  test('takes anything with services() and dispatch(), and nothing else', async () => {
    const port = { services: () => ['a'], dispatch: async (call: { service: string }) => ({ response: JSON.stringify(call.service) }) }
    expect(toMcpPort(port)).toBe(port)
    expect(await toMcpPort(port)?.dispatch({ service: 'a', request: '{}' }, { from: PEER as PeerId, signal: new AbortController().signal })).toEqual({ response: '"a"' })
    expect(toMcpPort({ list: () => [] })).toBeUndefined()
    expect(toMcpPort(undefined)).toBeUndefined()
  })

  test('router-mcp\'s McpRouter is an McpPort: services() lists what is up, dispatch() answers as for an inbound envelope', async () => {
    const node = await createNode({ transport: new MemoryNetwork().transport(), services: { mcp: mcp() } })
    try {
      await node.services.mcp.register('echo', async (req: { params?: unknown }) => req.params ?? null)
      const port = toMcpPort(node.services.mcp)!
      expect(port.services()).toEqual(['echo'])
      const r = await port.dispatch({ service: 'echo', request: '{"jsonrpc":"2.0","id":7,"method":"x","params":{"v":1}}' }, { from: PEER as PeerId, signal: new AbortController().signal })
      expect(JSON.parse(r.response!)).toEqual({ jsonrpc: '2.0', id: 7, result: { v: 1 } })
    } finally { await node.stop() }
  })
})

describe('BoundedTaskStore', () => {
  const ctx = (peer: string): ServerCallContext => new ServerCallContext({ user: new PeerUser(peer as PeerId), requestedVersion: '1.0' })
  const task = (id: string, ts: string): Task => ({
    id, contextId: 'c', status: { state: TaskState.TASK_STATE_COMPLETED, message: undefined, timestamp: ts }, artifacts: [], history: [], metadata: undefined
  })

  test('scopes tasks per caller and drops the least recently saved beyond the bound', async () => {
    const store = new BoundedTaskStore(2)
    await store.save(task('t1', '2026-01-01T00:00:01Z'), ctx('p1'))
    await store.save(task('t2', '2026-01-01T00:00:02Z'), ctx('p1'))
    expect(await store.load('t1', ctx('p2'))).toBeUndefined()
    await store.save(task('t1', '2026-01-01T00:00:03Z'), ctx('p1')) // refreshes t1
    await store.save(task('t3', '2026-01-01T00:00:04Z'), ctx('p1')) // evicts t2
    expect(store.size).toBe(2)
    expect(await store.load('t2', ctx('p1'))).toBeUndefined()
    expect((await store.load('t1', ctx('p1')))?.id).toBe('t1')
  })

  test('lists newest first with page tokens', async () => {
    const store = new BoundedTaskStore()
    for (let i = 1; i <= 3; i++) await store.save(task(`t${i}`, `2026-01-01T00:00:0${i}Z`), ctx('p'))
    const first = await store.list({ tenant: '', contextId: '', status: TaskState.TASK_STATE_UNSPECIFIED, pageSize: 2, pageToken: '', statusTimestampAfter: undefined }, ctx('p'))
    expect(first.tasks.map(t => t.id)).toEqual(['t3', 't2'])
    expect(first.totalSize).toBe(3)
    const second = await store.list({ tenant: '', contextId: '', status: TaskState.TASK_STATE_UNSPECIFIED, pageSize: 2, pageToken: first.nextPageToken, statusTimestampAfter: undefined }, ctx('p'))
    expect(second.tasks.map(t => t.id)).toEqual(['t1'])
    expect(second.nextPageToken).toBe('')
  })
})
