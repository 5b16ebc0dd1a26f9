/**
 * Agent A: dials only the relay, and reaches agent B knowing nothing but B's peer id (`to` in the commands).
 * Commands from main.ts (JSON lines, see lib/lines.ts):
 *   links   which links this node has
 *   send    send `to` a message by peer id
 *   tool    call `to`'s MCP tool `forecast` with the MCP SDK Client, over the mesh
 *   a2a     read `to`'s A2A agent card, and send it an A2A message that runs the tool
 */
import { createNode, generateIdentity, parsePeerId } from '@axl/core'
import { a2a, Client, mcp, ygg } from './lib/deps.js'
import { arg, emit, serve } from './lib/lines.js'

const node = await createNode({
  identity: await generateIdentity(),
  transport: ygg({ peers: [arg('peer')] }),
  services: { mcp: mcp(), a2a: a2a() }
})
emit('ready', { key: node.peerId, pid: process.pid })

serve(async c => {
  const b = c.to !== undefined ? parsePeerId(String(c.to)) : ''
  if (c.cmd === 'links') {
    return { peers: node.topology().peers.filter(p => p.up).map(p => ({ key: p.publicKey, inbound: p.inbound, uri: p.uri })) }
  }
  if (c.cmd === 'send') {
    // send() resolves once B's node has accepted the message. A first contact waits until the route exists
    // (a few hundred ms after joining; the lookup and the TCP SYN are retried meanwhile), bounded by this deadline.
    const t0 = performance.now()
    await node.send(b, new TextEncoder().encode(String(c.text)), { timeoutMs: 15_000 })
    return { ms: performance.now() - t0 }
  }
  if (c.cmd === 'tool') {
    // The MCP SDK's own Client; the only AXL part is the transport: B's peer id and service name.
    const client = new Client({ name: 'agent-a', version: '1.0.0' })
    await client.connect(node.services.mcp.transport(b, 'weather', { timeoutMs: 10_000 }))
    try {
      const server = client.getServerVersion()
      const { tools } = await client.listTools()
      const t0 = performance.now()
      const result = await client.callTool({ name: 'forecast', arguments: { city: String(c.city) } })
      const ms = performance.now() - t0
      const content = result.content as Array<{ type: string, text?: string }>
      return { server: `${server?.name} ${server?.version}`, tools: tools.map(t => t.name), text: content[0]?.text, ms }
    } finally {
      await client.close()
    }
  }
  if (c.cmd === 'a2a') {
    const card = await node.services.a2a.card(b, { timeoutMs: 10_000 })
    const call = { service: 'weather', request: { jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'forecast', arguments: { city: String(c.city) } } } }
    const { task } = await node.services.a2a.send(b, JSON.stringify(call), { timeoutMs: 10_000 })
    const answer = task?.artifacts?.[0]?.parts[0]?.text
    const text = answer !== undefined ? (JSON.parse(answer) as { result?: { content?: Array<{ text?: string }> } }).result?.content?.[0]?.text : undefined
    return { name: card.name, skills: card.skills.map(s => ({ id: s.id, name: s.name })), state: task?.status.state, text }
  }
  throw new Error(`unknown command ${c.cmd}`)
}, async () => { await node.stop() })
