/**
 * The relay: a plain AXL node the agents dial (tcp://127.0.0.1:<free port>). It forwards their packets and,
 * for discovery only, keeps a directory: an agent that says hello is told the other agents it knows (agents ask
 * again every few seconds, so they also learn those that came after them).
 * It runs no experiments and judges no results. Started by the launcher; JSON lines on stdout; it exits when
 * its stdin closes (the launcher is done or died).
 */
import { createNode, generateIdentity, type PeerId } from '@axl/core'
import { ygg } from '@axl/transport-ygg'
import { decode, encode } from './swarm.js'
import { emit, onStdinClose } from './lines.js'

const MAX_AGENTS = 1024 // the directory's bound

const node = await createNode({ identity: await generateIdentity(), transport: ygg({ listen: ['tcp://127.0.0.1:0'] }) })
const directory: PeerId[] = []
const stop = new AbortController()
emit('ready', { key: node.peerId, listen: node.listenAddresses() })

onStdinClose(async () => { stop.abort(); await node.stop() })

for await (const msg of node.messages({ signal: stop.signal })) {
  const m = decode(msg.data)
  if (m?.ar !== 'hello') continue
  const others = directory.filter(p => p !== msg.from)
  const isNew = !directory.includes(msg.from) && directory.length < MAX_AGENTS
  if (isNew) directory.push(msg.from)
  node.send(msg.from, encode({ ar: 'peers', peers: others }), { timeoutMs: 10_000 }).then(
    () => { if (isNew) emit('joined', { name: m.name, key: msg.from, agents: directory.length }) },
    (err: unknown) => { emit('error', { error: String(err), to: msg.from }) }
  )
}
