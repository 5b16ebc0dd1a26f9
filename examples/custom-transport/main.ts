/**
 * Custom transports, end to end (`pnpm example:custom-transport`):
 *  1. two nodes on directTcp() (direct-tcp.ts, a Mesh of our own): a message, an MCP tool call with the MCP SDK's
 *     Client, and a custom protocol (`/echo/1`);
 *  2. three nodes on ygg() over pipeLinkType() (pipe-link.ts, a link type of our own): A and B each link only to
 *     P, and A's message reaches B through P.
 * Everything runs in this process, on 127.0.0.1 and unix sockets in a temp directory.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createNode, withDeadline, type AxlNode } from '@axl/core'
import { ygg } from '@axl/transport-ygg'
import { mcp } from '@axl/router-mcp'
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js'
import * as z from 'zod'
import { directTcp } from './direct-tcp.js'
import { pipeLinkType } from './pipe-link.js'

const te = new TextEncoder()
const td = new TextDecoder()
const short = (id: string): string => `${id.slice(0, 12)}…`
const say = (who: string, text: string): void => { console.log(`  ${who.padEnd(5)} ${text}`) }

async function directTcpPart (): Promise<void> {
  console.log('1. directTcp(): a Mesh of our own — one TCP connection per stream, mutually authenticated.')
  const directory = new Map<string, string>()
  const alice = await createNode({ transport: directTcp({ directory }), services: { mcp: mcp() } })
  const bob = await createNode({ transport: directTcp({ directory }), services: { mcp: mcp() } })
  try {
    for (const [name, node] of [['alice', alice], ['bob', bob]] as const) {
      directory.set(node.peerId, node.listenAddresses()[0])
      say(name, `${short(node.peerId)} listens on ${node.listenAddresses()[0]}`)
    }

    await alice.send(bob.peerId, te.encode('hello bob, over plain TCP'), { timeoutMs: 5_000 })
    const msg = await bob.nextMessage({ timeoutMs: 5_000 })
    say('bob', `got "${td.decode(msg.data)}" from ${short(msg.from)} (${msg.from === alice.peerId ? 'alice, authenticated by the handshake' : 'someone else?'})`)

    const weather = new McpServer({ name: 'weather', version: '1.0.0' })
    weather.registerTool('forecast', { description: 'Tomorrow\'s weather in a city', inputSchema: { city: z.string() } },
      async ({ city }) => ({ content: [{ type: 'text', text: `Sunny in ${city} tomorrow, 21 °C` }] }))
    await bob.services.mcp.register('weather', weather)
    const client = new Client({ name: 'alice', version: '1.0.0' })
    await client.connect(alice.services.mcp.transport(bob.peerId, 'weather', { timeoutMs: 5_000 }))
    try {
      const t0 = performance.now()
      const result = await client.callTool({ name: 'forecast', arguments: { city: 'Lisbon' } })
      const text = (result.content as Array<{ text?: string }>)[0]?.text
      say('alice', `MCP tools/call forecast → "${text}" in ${(performance.now() - t0).toFixed(1)} ms`)
    } finally {
      await client.close()
    }

    bob.handle('/echo/1', async (stream) => {
      for await (const chunk of stream) stream.send(chunk)
      stream.closeWrite()
    })
    const s = await alice.dialProtocol(bob.peerId, '/echo/1', { timeoutMs: 5_000 })
    s.send(te.encode('ping over /echo/1'))
    s.closeWrite()
    const parts: Uint8Array[] = []
    for (let c = await s.read({ timeoutMs: 5_000 }); c !== null; c = await s.read({ timeoutMs: 5_000 })) parts.push(c)
    say('alice', `/echo/1 answered "${td.decode(Buffer.concat(parts))}"`)
  } finally {
    await Promise.all([alice.stop(), bob.stop()])
  }
}

async function pipeLinkPart (): Promise<void> {
  console.log('\n2. ygg() over pipeLinkType(): a link type of our own under the full overlay; A and B link only to P.')
  const dir = await mkdtemp(join(tmpdir(), 'axl-pipes-'))
  const pipes = pipeLinkType({ dir })
  const nodes: AxlNode[] = []
  try {
    const p = await createNode({ transport: ygg({ linkTypes: [pipes], listen: ['pipe://relay'] }) })
    nodes.push(p)
    say('P', `${short(p.peerId)} listens on ${p.listenAddresses().join(', ')} (${dir}/relay.sock)`)
    const [a, b] = await Promise.all([0, 1].map(async () => {
      const node = await createNode({ start: false, transport: ygg({ linkTypes: [pipes], peers: ['pipe://relay'] }) })
      nodes.push(node)
      const linked = new Promise<void>(resolve => {
        node.addEventListener('peer:connect', e => { if (e.detail.peer === p.peerId) resolve() })
      })
      await node.start()
      await withDeadline(linked, { timeoutMs: 10_000 }, 'linking to P')
      return node
    }))
    say('A', `${short(a.peerId)} links: ${a.topology().peers.filter(l => l.up).map(l => `${l.uri} → ${short(l.publicKey)}`).join(', ')}`)
    say('B', `${short(b.peerId)} links: ${b.topology().peers.filter(l => l.up).map(l => `${l.uri} → ${short(l.publicKey)}`).join(', ')}`)
    const t0 = performance.now()
    await a.send(b.peerId, te.encode('hello B, via P'), { timeoutMs: 15_000 })
    const msg = await b.nextMessage({ timeoutMs: 5_000 })
    say('B', `got "${td.decode(msg.data)}" from ${short(msg.from)} (${msg.from === a.peerId ? 'A' : '?'}) in ${(performance.now() - t0).toFixed(0)} ms, relayed by P`)
  } finally {
    await Promise.all(nodes.map(async n => { await n.stop() }))
    await rm(dir, { recursive: true, force: true })
  }
}

try {
  await directTcpPart()
  await pipeLinkPart()
  console.log('\nDone: every node stopped.')
} catch (err) {
  console.error('example failed:', err)
  process.exitCode = 1
}
