// A stranger's first program, plain Node ESM against the installed tarballs: two nodes over ygg() tcp:// on
// loopback, a message, and an MCP tool call with the MCP SDK's own Client. Prints one JSON line; exit 0 = pass.
import { createNode } from '@axl/core'
import { ygg } from '@axl/transport-ygg'
import { mcp } from '@axl/router-mcp'
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js'
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { z } from 'zod'

const deadline = setTimeout(() => { console.error('app.mjs: not done within 60 s'); process.exit(1) }, 60_000)
const alice = await createNode({ transport: ygg({ listen: ['tcp://127.0.0.1:0'] }), services: { mcp: mcp() } })
const [listen] = alice.listenAddresses()
const bob = await createNode({ transport: ygg({ peers: [listen] }), services: { mcp: mcp() } })

const tools = new McpServer({ name: 'tools', version: '1.0.0' })
tools.registerTool('add', { description: 'a + b', inputSchema: { a: z.number(), b: z.number() } },
  async ({ a, b }, extra) => ({ content: [{ type: 'text', text: `${a + b} for ${extra.authInfo?.clientId?.slice(0, 8)}` }] }))
await alice.services.mcp.register('tools', tools)

await bob.send(alice.peerId, new TextEncoder().encode('hello alice'), { timeoutMs: 20_000 })
const msg = await alice.nextMessage({ timeoutMs: 10_000 })
const text = new TextDecoder().decode(msg.data)
if (text !== 'hello alice' || msg.from !== bob.peerId) throw new Error(`wrong message: ${text} from ${msg.from}`)

const client = new Client({ name: 'bob', version: '1.0.0' })
await client.connect(bob.services.mcp.transport(alice.peerId, 'tools', { timeoutMs: 10_000 }))
const result = await client.callTool({ name: 'add', arguments: { a: 2, b: 3 } })
await client.close()
const answer = result.content[0]?.text
if (answer !== `5 for ${bob.peerId.slice(0, 8)}`) throw new Error(`wrong MCP answer: ${answer}`)

await bob.stop()
await alice.stop()
clearTimeout(deadline)
console.log(JSON.stringify({ ok: true, node: process.version, listen, message: text, mcp: answer }))
