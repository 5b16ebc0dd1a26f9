/**
 * router-mcp through a real yggdrasil-go v0.5.12 relay (tools/ygg-go-peer): two in-process SDK nodes A and B,
 * each dialling only the Go node G over tls:// on 127.0.0.1. B serves an in-process MCP SDK McpServer as
 * "calc"; A calls it with the MCP SDK's own Client through node.services.mcp.transport(), so every MCP message
 * crosses G. Skips, with the reason printed, when the Go peer is not built.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js'
import * as z from 'zod'
import { createNode, type AxlNode } from '@axl/core'
import { ygg } from '@axl/transport-ygg'
import { mcp, type McpRouter } from '../src/index.js'
import { untilRouted } from './fixtures/overlay-net.js'
import { eventually } from '../../bridge/test/helpers/processes.js'
import { goPeerSkipReason, startGoPeer, type GoPeer } from '../../transport-ygg/test/helpers/go-peer.js'

const reason = goPeerSkipReason()
if (reason !== undefined) console.log(`[router-mcp go-relay] skipped: ${reason}`)

type McpNode = AxlNode<{ mcp: McpRouter }>

/** B's MCP server: `add` (zod schema) and `whoami` (the caller's peer id as the router passed it). */
function calcServer (): McpServer {
  const server = new McpServer({ name: 'calc', version: '1.0.0' })
  server.registerTool('add', { description: 'Add two numbers', inputSchema: { a: z.number(), b: z.number() } },
    async ({ a, b }) => ({ content: [{ type: 'text', text: String(a + b) }] }))
  server.registerTool('whoami', { description: 'The caller\'s peer id' },
    async extra => ({ content: [{ type: 'text', text: String(extra.authInfo?.clientId) }] }))
  return server
}

const upPeers = (n: McpNode): string[] => n.topology().peers.filter(p => p.up).map(p => p.publicKey)

describe.skipIf(reason !== undefined)('router-mcp: A — yggdrasil-go G — B over tls://, MCP SDK Client and McpServer', () => {
  let G: GoPeer | undefined
  const nodes: McpNode[] = []
  let a: McpNode
  let b: McpNode
  let routedMs = 0

  beforeAll(async () => {
    G = await startGoPeer({ listen: ['tls://127.0.0.1:0'] })
    const g = G
    const uri = g.listen[0]
    if (!/^tls:\/\/127\.0\.0\.1:\d+$/.test(uri)) throw new Error(`G listens on ${JSON.stringify(g.listen)}`)
    ;[a, b] = await Promise.all([0, 1].map(async () => {
      const n = await createNode({ transport: ygg({ peers: [uri] }), services: { mcp: mcp() } })
      nodes.push(n)
      return n
    }))
    await b.services.mcp.register('calc', calcServer())
    let seen = ''
    await eventually(() => `A and B linked to G only, G linked to both (last: ${seen})`, async () => {
      const gPeers = ((await g.ctl('getPeers')).peers as Array<{ key: string, up: boolean }>).filter(p => p.up).map(p => p.key).sort()
      seen = JSON.stringify({ a: upPeers(a), b: upPeers(b), g: gPeers })
      return upPeers(a).join() === g.publicKey && upPeers(b).join() === g.publicKey && gPeers.join() === [a.peerId, b.peerId].sort().join()
    }, 15_000)
    // The first call waits for the route through G itself (lookups repeated until answered).
    routedMs = (await untilRouted(async ms => await a.services.mcp.call(b.peerId, 'calc', { jsonrpc: '2.0', id: 0, method: 'ping' }, { timeoutMs: ms }))).ms
  }, 45_000)

  afterAll(async () => {
    await Promise.all(nodes.splice(0).map(async n => { await n.stop() }))
    await G?.stop()
  }, 20_000)

  it('A and B are linked only to G, and G lists both of them', async () => {
    const g = G as GoPeer
    expect(upPeers(a)).toEqual([g.publicKey])
    expect(upPeers(b)).toEqual([g.publicKey])
    const peers = (await g.ctl('getPeers')).peers as Array<{ key: string, up: boolean, inbound: boolean }>
    expect(peers.map(p => p.key).sort()).toEqual([a.peerId, b.peerId].sort())
    for (const p of peers) expect(p).toMatchObject({ up: true, inbound: true })
  })

  it('the MCP SDK Client on A lists B\'s tools and calls add through G; B sees A\'s peer id', async () => {
    const client = new Client({ name: 'go-relay-test', version: '1.0.0' })
    const t0 = performance.now()
    await client.connect(a.services.mcp.transport(b.peerId, 'calc', { timeoutMs: 15_000 }))
    try {
      expect(client.getServerVersion()).toMatchObject({ name: 'calc', version: '1.0.0' })
      const { tools } = await client.listTools()
      expect(tools.map(t => t.name).sort()).toEqual(['add', 'whoami'])
      const add = tools.find(t => t.name === 'add')!
      expect(add.inputSchema).toMatchObject({ type: 'object', properties: { a: { type: 'number' }, b: { type: 'number' } } })
      expect(await client.callTool({ name: 'add', arguments: { a: 19, b: 23 } })).toMatchObject({ content: [{ type: 'text', text: '42' }] })
      expect(await client.callTool({ name: 'add', arguments: { a: -1.5, b: 0.25 } })).toMatchObject({ content: [{ type: 'text', text: '-1.25' }] })
      // zod rejects a wrong argument on B; the SDK reports it as a tool error
      const bad = await client.callTool({ name: 'add', arguments: { a: 'x', b: 1 } })
      expect(bad.isError).toBe(true)
      expect(await client.callTool({ name: 'whoami', arguments: {} })).toMatchObject({ content: [{ type: 'text', text: a.peerId }] })
    } finally {
      await client.close()
    }
    console.log(`[router-mcp go-relay] route ${routedMs} ms; connect, list and 4 calls through G in ${(performance.now() - t0).toFixed(0)} ms`)
  })
})
