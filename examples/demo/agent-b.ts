/**
 * Agent B: dials only the relay, serves an MCP tool and an A2A agent card, and reports what reaches it.
 *  - MCP service "weather": an in-process McpServer (the MCP SDK's own) with one tool, `forecast`.
 *  - A2A: its card lists one skill per MCP service; an A2A message `{"service","request"}` is routed to it.
 * Started by main.ts; speaks JSON lines (see lib/lines.ts).
 */
import { createNode, generateIdentity } from '@axl/core'
import { a2a, mcp, McpServer, ygg, z } from './lib/deps.js'
import { arg, emit, serve } from './lib/lines.js'

const node = await createNode({
  identity: await generateIdentity(),
  transport: ygg({ peers: [arg('peer')] }),
  services: { mcp: mcp(), a2a: a2a({ name: 'Agent B (weather)', description: 'Weather forecasts, over AXL' }) }
})

const weather = new McpServer({ name: 'weather', version: '1.0.0' })
weather.registerTool('forecast', {
  description: 'Tomorrow\'s weather in a city',
  inputSchema: { city: z.string() }
}, async ({ city }, extra) => {
  // extra.authInfo.clientId is the caller's full peer id, authenticated by the mesh
  emit('tool', { tool: 'forecast', city, from: extra.authInfo?.clientId })
  const t = 12 + [...city].reduce((n, ch) => n + ch.charCodeAt(0), 0) % 15
  return { content: [{ type: 'text', text: `${t % 2 === 0 ? 'Sunny' : 'Cloudy'} in ${city} tomorrow, ${t} °C` }] }
})
await node.services.mcp.register('weather', weather)

void (async () => {
  for await (const m of node.messages()) emit('message', { from: m.from, text: new TextDecoder().decode(m.data) })
})()

emit('ready', { key: node.peerId, pid: process.pid, services: node.services.mcp.list().map(s => s.name) })

serve(async c => {
  if (c.cmd === 'links') return { peers: node.topology().peers.filter(p => p.up).map(p => ({ key: p.publicKey, inbound: p.inbound, uri: p.uri })) }
  throw new Error(`unknown command ${c.cmd}`)
}, async () => { await node.stop() })
