/**
 * The relay P: a plain AXL node with no services. It listens on tcp://127.0.0.1:<free port> and forwards
 * packets between the nodes that dial it. It holds no session key of theirs: what it forwards is ciphertext.
 * Started by main.ts; speaks JSON lines (see lib/lines.ts).
 */
import { createNode, generateIdentity } from '@axl/core'
import { ygg, type YggMesh } from './lib/deps.js'
import { arg, emit, serve } from './lib/lines.js'

const traffic = { packets: 0, bytes: 0 }
let mesh: YggMesh | undefined
const factory = ygg({
  listen: [arg('listen')],
  overlay: {
    // count what P forwards for others (the demo prints it at the end)
    onTrafficEvent: (kind, tr) => { if (kind === 'forward') { traffic.packets++; traffic.bytes += tr.payload.length } }
  }
})
const node = await createNode({ identity: await generateIdentity(), transport: c => (mesh = factory(c) as YggMesh) })
emit('ready', { key: node.peerId, listen: mesh?.listening ?? [], pid: process.pid })

serve(async c => {
  if (c.cmd === 'links') return { peers: node.topology().peers.filter(p => p.up).map(p => ({ key: p.publicKey, inbound: p.inbound, uri: p.uri })) }
  if (c.cmd === 'traffic') return { ...traffic }
  throw new Error(`unknown command ${c.cmd}`)
}, async () => { await node.stop() })
