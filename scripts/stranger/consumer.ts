// Typechecked (not run) against the shipped .d.ts files: the public API a TypeScript user writes against.
import { createNode, generateIdentity, MemoryNetwork, UnreachableError, type AxlNode, type InboundMessage, type PeerId } from '@axl/core'
import { ygg, IncorrectPasswordError, type YggOptions, type LinkType } from '@axl/transport-ygg'
import { mcp, McpClient, encodeMcpRequest, encodeMcpResponse, decodeMcpResponse, type McpRouter } from '@axl/router-mcp'
import { a2a, encodeA2aAgentCardRequest, decodeA2aResponse, type A2aService } from '@axl/router-a2a'
import { parseConfig, startNode, type NodeConfig } from '@axl/bridge'

const options: YggOptions = { peers: ['tls://127.0.0.1:9001'], listen: ['tcp://127.0.0.1:0'] }
const node: AxlNode<{ mcp: McpRouter, a2a: A2aService }> = await createNode({
  identity: await generateIdentity(),
  transport: ygg(options),
  services: { mcp: mcp(), a2a: a2a({ name: 'consumer' }) }
})
node.addEventListener('peer:connect', e => { const peer: PeerId = e.detail.peer; console.log(peer, e.detail.uri) })
node.addEventListener('root:change', e => { const root: string = e.detail.root; console.log(root) })
const addresses: string[] = node.listenAddresses()
const first: InboundMessage = await node.nextMessage({ timeoutMs: 1000 })
const client = new McpClient(node)
try { await node.send(first.from, new Uint8Array(1)) } catch (e) { if (e instanceof UnreachableError) console.log(e.message) }
// AXL's envelopes by hand: a handler registered in the protocol registry with an access check, and requests
const unhandle: () => void = node.handle('mcp', async (req, ctx) => encodeMcpResponse(req.service, JSON.stringify({ from: ctx.from })), { allow: peer => peer === first.from })
const reply: string | null = decodeMcpResponse(await node.request(first.from, encodeMcpRequest('echo', { jsonrpc: '2.0', id: 1, method: 'ping' }))).response
const card = decodeA2aResponse(await node.request(first.from, encodeA2aAgentCardRequest()))
unhandle()
console.log(reply, card.error)
const net = new MemoryNetwork()
const other = await createNode({ transport: net.transport() })
const config: NodeConfig = parseConfig('{"Peers": []}')
const running = await startNode(config)
const err: Error = new IncorrectPasswordError('x')
const linkType: LinkType | undefined = undefined
console.log(addresses, client, other.peerId, running, err, linkType)
