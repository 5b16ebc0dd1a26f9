// Config-driven in-process services (mcp_services, a2a) reached through the HTTP API of another node.
import { mkdtemp, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { MemoryNetwork } from '@axl/core'
import { call, pair, startTestNode, stubServer } from './helpers.js'
import { parseConfig, startNode } from '../src/index.js'
import { onCleanup } from './helpers.js'

const TOOLS_LIST = '{"jsonrpc":"2.0","method":"tools/list","id":1}'

/** A JSON-mode Streamable-HTTP MCP server stub: answers every request with a tools list. */
async function mcpStub (): Promise<Awaited<ReturnType<typeof stubServer>>> {
  return await stubServer(seen => {
    const req = JSON.parse(seen.body) as { id?: unknown }
    if (req.id === undefined) return { status: 202, body: '' }
    return { body: JSON.stringify({ jsonrpc: '2.0', id: req.id, result: { tools: [{ name: 'forecast' }] } }) }
  })
}

const STDIO_SERVER = `
const rl = require('node:readline').createInterface({ input: process.stdin })
rl.on('line', line => {
  const m = JSON.parse(line)
  if (m.id === undefined) return
  const result = m.method === 'initialize'
    ? { protocolVersion: m.params.protocolVersion, capabilities: { tools: {} }, serverInfo: { name: 'stub', version: '1' } }
    : { tools: [{ name: 'from-' + require('node:path').basename(process.cwd()) }] }
  process.stdout.write(JSON.stringify({ jsonrpc: '2.0', id: m.id, result }) + '\\n')
})
`

describe('mcp_services (in-process @axl/router-mcp)', () => {
  it('an http service: A calls it through B; the endpoint sees the caller\'s full key and the service', async () => {
    const stub = await mcpStub()
    const { a, b } = await pair({ mcp_services: { weather: `${stub.url}/mcp` } })
    const r = await call(`${a.bridge.url}/mcp/${b.node.peerId}/weather`, { method: 'POST', body: TOOLS_LIST })
    expect(r.status).toBe(200)
    expect(JSON.parse(r.text)).toEqual({ jsonrpc: '2.0', id: 1, result: { tools: [{ name: 'forecast' }] } })
    expect(stub.seen[0].url).toBe('/mcp')
    expect(stub.seen[0].headers['x-from-peer-id']).toBe(a.node.peerId)
    expect(stub.seen[0].headers['x-service']).toBe('weather')
    // an unknown service: the router's JSON-RPC error comes back as is
    const u = JSON.parse((await call(`${a.bridge.url}/mcp/${b.node.peerId}/nope`, { method: 'POST', body: TOOLS_LIST })).text)
    expect(u.error.message).toBe('Service not found: nope')
  })

  it('a stdio service, its cwd resolved against the config file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'axl-bridge-'))
    await writeFile(join(dir, 'server.cjs'), STDIO_SERVER)
    const net = new MemoryNetwork()
    const a = await startTestNode(net)
    const cfg = parseConfig(JSON.stringify({ api_port: 0, mcp_services: { local: { command: process.execPath, args: ['server.cjs'], cwd: '.' } } }), { baseDir: dir })
    const b = await startNode(cfg, { transport: () => net.transport() })
    onCleanup(async () => { await b.stop() })
    const r = await call(`${a.bridge.url}/mcp/${b.node.peerId}/local`, { method: 'POST', body: TOOLS_LIST })
    expect(JSON.parse(r.text).result.tools[0].name).toBe(`from-${dir.split('/').pop() as string}`)
  })
})

describe('a2a (in-process @axl/router-a2a)', () => {
  it('the card lists the MCP services; SendMessage routes to the MCP service', async () => {
    const stub = await mcpStub()
    const { a, b } = await pair({ mcp_services: { weather: `${stub.url}/mcp` }, a2a: { name: 'Weather node', card_url: 'relative' } })
    const card = JSON.parse((await call(`${a.bridge.url}/a2a/${b.node.peerId}`)).text)
    expect(card.name).toBe('Weather node')
    expect(card.skills.map((s: { id: string }) => s.id)).toEqual(['weather'])
    expect(card.supportedInterfaces[0].url).toBe(`/a2a/${b.node.peerId}`)
    const msg = { jsonrpc: '2.0', method: 'SendMessage', id: 'x1', params: { message: { role: 'ROLE_USER', messageId: 'm1', parts: [{ text: JSON.stringify({ service: 'weather', request: JSON.parse(TOOLS_LIST) }) }] } } }
    const r = await call(`${a.bridge.url}/a2a/${b.node.peerId}`, { method: 'POST', body: JSON.stringify(msg) })
    expect(r.status).toBe(200)
    const task = JSON.parse(r.text).result.task
    expect(task.status.state).toBe('TASK_STATE_COMPLETED')
    expect(JSON.parse(task.artifacts[0].parts[0].text).result.tools[0].name).toBe('forecast')
  })

  it('with router_addr, the in-process agent calls AXL\'s HTTP router (replacing a2a_server.py)', async () => {
    const router = await stubServer(seen => {
      if (seen.url === '/services') return { body: '{"weather":{"endpoint":"http://x","healthy":true}}' }
      return { body: '{"response":{"jsonrpc":"2.0","id":1,"result":{"ok":true}},"error":null}' }
    })
    const { a, b } = await pair({ router_addr: 'http://127.0.0.1', router_port: router.port, a2a: true })
    const msg = { jsonrpc: '2.0', method: 'SendMessage', id: 2, params: { message: { role: 'ROLE_USER', messageId: 'm2', parts: [{ text: JSON.stringify({ service: 'weather', request: JSON.parse(TOOLS_LIST) }) }] } } }
    const task = JSON.parse((await call(`${a.bridge.url}/a2a/${b.node.peerId}`, { method: 'POST', body: JSON.stringify(msg) })).text).result.task
    expect(task.status.state).toBe('TASK_STATE_COMPLETED')
    const route = router.seen.find(s => s.url === '/route')
    expect(JSON.parse(route?.body ?? '{}')).toEqual({ service: 'weather', request: JSON.parse(TOOLS_LIST), from_peer_id: a.node.peerId })
  })
})
