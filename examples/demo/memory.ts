/**
 * The in-memory AXL demo: three agents on an in-memory mesh (one process, no sockets), exchanging messages
 * and making a request. Run it with `pnpm demo:memory` (or `npx tsx examples/demo/memory.ts`).
 * `pnpm demo` (main.ts) runs the same ideas over the real overlay, in separate processes.
 */
import { createNode, MemoryNetwork, RefusedError, UnreachableError, type AxlNode } from '@axl/core'
import { encodeMcpRequest, encodeMcpResponse, decodeMcpResponse } from '@axl/router-mcp'

const te = new TextEncoder()
const td = new TextDecoder()
const short = (id: string): string => `${id.slice(0, 8)}…`
const say = (who: string, text: string): void => { console.log(`  ${who.padEnd(6)} ${text}`) }

async function main (): Promise<void> {
  console.log('AXL demo: agents reach each other by public key.\n')
  console.log('1. Three agents join an in-memory mesh (2 ms one-way latency).')
  const net = new MemoryNetwork({ latencyMs: 2 })
  const alice = await createNode({ transport: net.transport() })
  const bob = await createNode({ transport: net.transport(), limits: { inboxMaxMessages: 3 } })
  const carol = await createNode({ transport: net.transport() })
  const names = new Map<string, string>([[alice.peerId, 'alice'], [bob.peerId, 'bob'], [carol.peerId, 'carol']])
  for (const [id, name] of names) say(name, `peer id ${id}\n         address ${nodeOf(id).address}`)

  console.log('\n2. alice sends bob a message; send() resolves once bob\'s node has accepted it.')
  await alice.send(bob.peerId, te.encode('hello bob, it is alice'))
  const msg = await bob.nextMessage({ timeoutMs: 5000 })
  say('bob', `got "${td.decode(msg.data)}" from ${short(msg.from)} (${names.get(msg.from)}, full authenticated key)`)

  console.log('\n3. carol offers a "weather" service; alice calls it with a request/response round trip.')
  carol.handle('mcp', async (req, ctx) => {
    say('carol', `request for service "${req.service}" from ${names.get(ctx.from)}: ${req.request}`)
    const call = JSON.parse(req.request ?? 'null') as { id: number, params?: { city?: string } }
    const result = { content: [{ type: 'text', text: `Sunny in ${call.params?.city ?? 'nowhere'}, 21 °C` }] }
    return encodeMcpResponse(req.service, JSON.stringify({ jsonrpc: '2.0', id: call.id, result }))
  })
  const t0 = performance.now()
  const reply = await alice.request(carol.peerId, encodeMcpRequest('weather', { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { city: 'Lisbon' } }))
  const answer = decodeMcpResponse(reply)
  say('alice', `answer after ${(performance.now() - t0).toFixed(1)} ms: ${answer.response}`)

  console.log('\n4. bob\'s inbox holds 3 messages; when it is full, senders are told (nothing is lost silently).')
  for (let i = 1; i <= 4; i++) {
    try {
      await carol.send(bob.peerId, te.encode(`note ${i}`))
      say('carol', `note ${i} accepted`)
    } catch (err) {
      if (!(err instanceof RefusedError)) throw err
      say('carol', `note ${i} refused: ${err.reason}`)
    }
  }
  const drained: string[] = []
  for (let m = bob.recv(); m !== undefined; m = bob.recv()) drained.push(td.decode(m.data))
  say('bob', `drained ${drained.length} messages: ${drained.join(', ')} (inbox refused ${bob.stats.inbox.refused})`)

  console.log('\n5. The network splits carol off; sends to her fail fast with a typed error.')
  net.partition([carol])
  try {
    await alice.send(carol.peerId, te.encode('are you there?'))
  } catch (err) {
    if (!(err instanceof UnreachableError)) throw err
    say('alice', `${err.code}: ${err.message}`)
  }
  net.heal()
  await alice.send(carol.peerId, te.encode('are you there?'))
  say('alice', `after heal(): delivered; carol has ${carol.stats.inbox.queued} message(s) waiting`)

  console.log('\n6. Topology as alice sees it:')
  const topo = alice.topology()
  say('alice', `root ${short(topo.root)}, ${topo.peers.filter(p => p.up).length} peers up`)

  await Promise.all([alice.stop(), bob.stop(), carol.stop()])
  console.log('\nDone: all nodes stopped.')

  function nodeOf (id: string): AxlNode { return [alice, bob, carol].find(n => n.peerId === id)! }
}

main().catch(err => {
  console.error('demo failed:', err)
  process.exit(1)
})
