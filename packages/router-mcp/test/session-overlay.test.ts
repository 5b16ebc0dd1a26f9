/**
 * MCP sessions over the real overlay: A and B (in this process, each with ygg() dialling only the relay P)
 * and P (a child process) over tcp:// on 127.0.0.1. The MCP SDK Client on A, a per-session McpServer on B:
 * progress, logging and sampling cross the relay on one session stream; B's node without the session protocol
 * falls back to envelopes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createNode, type AxlNode } from '@axl/core'
import { ygg } from '@axl/transport-ygg'
import { mcp, type McpRouter } from '../src/index.js'
import { startRelay, stopAll, untilRouted } from './fixtures/overlay-net.js'
import type { Proc } from '../../transport-ygg/test/helpers/proc.js'
import { text, twoWayClient, twoWayServer } from './session-fixtures.js'
import { until } from './helpers.js'

type McpNode = AxlNode<{ mcp: McpRouter }>
const procs: Proc[] = []
let a: McpNode
let b: McpNode
let old: McpNode

beforeAll(async () => {
  const relay = await startRelay(procs)
  ;[a, b, old] = await Promise.all([
    createNode({ transport: ygg({ peers: [relay.uri] }), services: { mcp: mcp() } }),
    createNode({ transport: ygg({ peers: [relay.uri] }), services: { mcp: mcp() } }),
    createNode({ transport: ygg({ peers: [relay.uri] }), services: { mcp: mcp({ session: false }) } })
  ])
  const { make } = twoWayServer()
  await b.services.mcp.register('two-way', { serverPerSession: () => make() })
  await old.services.mcp.register('two-way', { serverPerSession: () => make() })
  // Waits (bounded) until the spanning tree routes A to B and to the old node.
  await untilRouted(async ms => await a.services.mcp.call(b.peerId, 'two-way', { jsonrpc: '2.0', id: 0, method: 'ping' }, { timeoutMs: ms }))
  await untilRouted(async ms => await a.services.mcp.call(old.peerId, 'two-way', { jsonrpc: '2.0', id: 0, method: 'ping' }, { timeoutMs: ms }))
}, 40_000)

afterAll(async () => {
  await Promise.allSettled([a?.stop(), b?.stop(), old?.stop()])
  await stopAll(procs)
})

describe('MCP sessions over ygg() through a relay (tcp:// on loopback)', () => {
  it('progress, logging and sampling cross the relay on one session', async () => {
    const { client, seen } = twoWayClient('over-relay')
    const transport = a.services.mcp.transport(b.peerId, 'two-way', { timeoutMs: 10_000 })
    await client.connect(transport)
    try {
      expect(transport.mode).toBe('session')
      const progress: number[] = []
      expect(text(await client.callTool({ name: 'progress', arguments: { steps: 4 } }, undefined, { onprogress: p => { progress.push(p.progress) } }))).toBe('done 4')
      expect(progress).toEqual([1, 2, 3, 4])
      await client.callTool({ name: 'log', arguments: { text: 'via P' } })
      await until(() => seen.logs.length === 1, 10_000, 'log over the relay')
      expect(text(await client.callTool({ name: 'sample', arguments: { prompt: 'relay' } }))).toBe('model said: echo(relay)')
      expect(b.services.mcp.sessionStats()).toMatchObject({ open: 1 })
    } finally {
      await client.close()
    }
  })

  it('a node without the session protocol gets envelopes, and the call still works', async () => {
    const { client } = twoWayClient('to-old')
    const transport = a.services.mcp.transport(old.peerId, 'two-way', { timeoutMs: 10_000 })
    await client.connect(transport)
    try {
      expect(transport.mode).toBe('envelope')
      expect(text(await client.callTool({ name: 'bump', arguments: {} }))).toBe('1')
    } finally {
      await client.close()
    }
  })
})
