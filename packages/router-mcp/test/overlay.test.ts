/**
 * router-mcp over the real overlay: A — P — B, where A (this test process) and B (a child) each dial only
 * the relay P (another child) over tcp:// on 127.0.0.1. B serves @modelcontextprotocol/server-everything over
 * stdio as "everything"; A calls it with the MCP SDK's own Client through node.services.mcp.transport().
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { createNode, generateIdentity, type AxlNode } from '@axl/core'
import { ygg } from '@axl/transport-ygg'
import { mcp, RouterErrorCode, type McpRouter } from '../src/index.js'
import { startChild, startRelay, stopAll, topologyOf, untilRouted, type ChildNode } from './fixtures/overlay-net.js'
import type { Proc } from '../../transport-ygg/test/helpers/proc.js'

const procs: Proc[] = []
let a: AxlNode<{ mcp: McpRouter }>
let p: ChildNode
let b: ChildNode

beforeAll(async () => {
  const relay = await startRelay(procs)
  p = relay.p
  const id = await generateIdentity()
  const other = (await generateIdentity()).publicKey
  ;[b, a] = await Promise.all([
    startChild('B', ['--peer', relay.uri, '--everything', '--whoami', '--private-allow', Buffer.from(other).toString('hex')], procs),
    createNode({ identity: id, transport: ygg({ peers: [relay.uri] }), services: { mcp: mcp() } })
  ])
  // The first call retries until the spanning tree has formed (no fixed sleep).
  await untilRouted(async ms => await a.services.mcp.call(b.key, 'everything', { jsonrpc: '2.0', id: 0, method: 'ping' }, { timeoutMs: ms }))
}, 30_000)

afterAll(async () => {
  await a?.stop()
  await stopAll(procs)
})

describe('router-mcp over the ygg overlay (A — P — B, separate processes, tcp:// on loopback)', () => {
  it('A and B are linked only to the relay P', async () => {
    const keys = (t: { peers: Array<{ publicKey: string, up: boolean }> }): string[] => t.peers.filter(x => x.up).map(x => x.publicKey)
    expect(keys(a.topology())).toEqual([p.key])
    expect(keys(await topologyOf(b))).toEqual([p.key])
    expect(keys(await topologyOf(p)).sort()).toEqual([a.peerId, b.key].sort())
  })

  it('the MCP SDK Client on A lists server-everything\'s tools on B and calls echo and get-sum', async () => {
    const client = new Client({ name: 'overlay-test', version: '1.0.0' })
    await client.connect(a.services.mcp.transport(b.key, 'everything', { timeoutMs: 10_000 }))
    try {
      expect(client.getServerVersion()?.name).toMatch(/everything/)
      const { tools } = await client.listTools()
      expect(tools.map(t => t.name)).toEqual(expect.arrayContaining(['echo', 'get-sum']))
      expect(await client.callTool({ name: 'echo', arguments: { message: 'through the relay' } }))
        .toMatchObject({ content: [{ type: 'text', text: 'Echo: through the relay' }] })
      expect(await client.callTool({ name: 'get-sum', arguments: { a: 19, b: 23 } }))
        .toMatchObject({ content: [{ type: 'text', text: 'The sum of 19 and 23 is 42.' }] })
    } finally {
      await client.close()
    }
  })

  it('an in-process McpServer on B sees A\'s full, authenticated peer id', async () => {
    const client = new Client({ name: 'overlay-test', version: '1.0.0' })
    await client.connect(a.services.mcp.transport(b.key, 'whoami', { timeoutMs: 10_000 }))
    try {
      expect(await client.callTool({ name: 'whoami', arguments: {} })).toMatchObject({ content: [{ text: a.peerId }] })
    } finally {
      await client.close()
    }
  })

  it('an unknown service is answered at once with JSON-RPC -32010', async () => {
    const t0 = performance.now()
    const r = await a.services.mcp.call(b.key, 'no-such-service', { jsonrpc: '2.0', id: 'u1', method: 'tools/list' }, { timeoutMs: 10_000 })
    expect(r).toMatchObject({ jsonrpc: '2.0', id: 'u1', error: { code: RouterErrorCode.UnknownService, message: 'Service not found: no-such-service', data: { axl: 'unknown_service' } } })
    expect(performance.now() - t0).toBeLessThan(2000)
  })

  it('a caller not in the service\'s allow list gets JSON-RPC -32001', async () => {
    const t0 = performance.now()
    const r = await a.services.mcp.call(b.key, 'private', { jsonrpc: '2.0', id: 2, method: 'tools/list' }, { timeoutMs: 10_000 })
    expect(r).toMatchObject({ id: 2, error: { code: RouterErrorCode.AccessDenied, data: { axl: 'access_denied', service: 'private' } } })
    expect(performance.now() - t0).toBeLessThan(2000)
    // and through the SDK Client: connect() fails with the same code
    const client = new Client({ name: 'overlay-test', version: '1.0.0' })
    await expect(client.connect(a.services.mcp.transport(b.key, 'private', { timeoutMs: 10_000 }))).rejects.toMatchObject({ code: RouterErrorCode.AccessDenied })
    await client.close()
  })

  it('the relay P, which has no MCP router, answers an MCP envelope with an error at once', async () => {
    const t0 = performance.now()
    const r = await a.services.mcp.call(p.key, 'everything', { jsonrpc: '2.0', id: 3, method: 'tools/list' }, { timeoutMs: 10_000 })
    expect(r).toMatchObject({ id: 3, error: { code: -32603, data: { axl: 'remote_error' } } })
    expect(performance.now() - t0).toBeLessThan(2000)
  })
})
