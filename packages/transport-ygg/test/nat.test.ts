/**
 * NAT, proven: two agents, each on a private network behind its own MASQUERADE router (no port forwarded, new
 * inbound connections dropped), reach each other by key through a relay on a public host — a message, an MCP
 * request, 16 MiB — in network namespaces this test builds (helpers/nat-lab.ts). Real processes
 * (fixtures/ygg-node.ts), real kernel routing and NAT. Skips with the reason printed where namespaces or
 * iptables are unavailable.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { fileURLToPath } from 'node:url'
import { Proc } from './helpers/proc.js'
import { buildNatLab, natLabUnavailableReason, type NatLab } from './helpers/nat-lab.js'

const reason = natLabUnavailableReason()
if (reason !== undefined) console.log(`[nat] skipped: ${reason}`)

const fixture = fileURLToPath(new URL('./fixtures/ygg-node.ts', import.meta.url))
const seed = (b: number): string => b.toString(16).padStart(2, '0').repeat(32)

describe.skipIf(reason !== undefined)('agents behind NAT reach each other through a public relay', () => {
  let lab: NatLab
  const procs: Proc[] = []
  let relay: Proc, a: Proc, b: Proc
  let keys: { relay: string, a: string, b: string }
  let relayUri: string

  beforeAll(async () => {
    lab = buildNatLab()
    relay = new Proc('relay', fixture, ['--seed', seed(0x11), '--listen', `tcp://${lab.pubAddress}:0`], { netns: lab.pub })
    procs.push(relay)
    const r = await relay.waitFor(e => e.event === 'ready', 30_000, 'relay ready')
    relayUri = (r.listen as string[])[0]!
    expect(relayUri).toMatch(/^tcp:\/\/198\.18\.0\.1:\d+$/)
    a = new Proc('A', fixture, ['--seed', seed(0x22), '--peer', relayUri], { netns: lab.hostA })
    b = new Proc('B', fixture, ['--seed', seed(0x33), '--peer', relayUri], { netns: lab.hostB })
    procs.push(a, b)
    const [ra, rb] = await Promise.all([a.waitFor(e => e.event === 'ready', 30_000, 'A ready'), b.waitFor(e => e.event === 'ready', 30_000, 'B ready')])
    keys = { relay: r.key as string, a: ra.key as string, b: rb.key as string }
  }, 90_000)

  afterAll(async () => {
    await Promise.all(procs.map(async p => { await p.stop(5000) }))
    lab?.destroy()
  })

  let seq = 0
  async function command (p: Proc, cmd: Record<string, unknown>, timeoutMs: number): Promise<Record<string, unknown>> {
    const id = ++seq
    p.send({ ...cmd, id })
    return await p.waitFor(e => e.event === 'result' && e.id === id, timeoutMs, `${String(cmd.cmd)} #${id}`)
  }

  it('the lab is a NAT: B cannot open a connection to A\'s private address, and the relay sees A and B as their routers\' public addresses', async () => {
    // Straight to A's private address from B's network: no route across the public side (the routers drop it).
    const direct = (() => {
      try {
        lab.exec(lab.hostB, [process.execPath, '-e', `const s=require('net').connect({host:'${lab.privateA}',port:9,timeout:2000});s.on('connect',()=>{console.log('connected');process.exit(0)});s.on('timeout',()=>{console.log('timeout');process.exit(1)});s.on('error',e=>{console.log(e.code);process.exit(1)})`])
        return 'connected'
      } catch (e) { return (e as Error).message }
    })()
    expect(direct).not.toBe('connected')
    // The relay's inbound links come from the routers' public addresses, not from 10.x.
    const linkOf = async (key: string): Promise<string> =>
      String((await relay.waitFor(e => e.event === 'peer:connect' && e.peer === key, 20_000, `the relay's link from ${key.slice(0, 8)}`)).uri)
    const uris = [await linkOf(keys.a), await linkOf(keys.b)]
    expect(uris).toHaveLength(2)
    expect(uris[0]).toMatch(new RegExp(`^tcp://${lab.publicA.replace(/\./g, '\\.')}:\\d+$`))
    expect(uris[1]).toMatch(new RegExp(`^tcp://${lab.publicB.replace(/\./g, '\\.')}:\\d+$`))
  }, 40_000)

  it('A → B by key: a message, an MCP request and its answer, and 16 MiB, with no port forwarded', async () => {
    const hello = await command(a, { cmd: 'send', to: keys.b, text: 'hello from behind NAT A' }, 30_000)
    expect(hello.ok, String(hello.message)).toBe(true)
    const m = await b.waitFor(e => e.event === 'message' && e.head === 'hello from behind NAT A', 10_000, 'the message at B')
    expect(m.from).toBe(keys.a)

    const call = { jsonrpc: '2.0', id: 7, method: 'tools/call', params: { name: 'echo', arguments: { text: 'through two NATs' } } }
    const reply = await command(b, { cmd: 'request', to: keys.a, service: 'echo', body: call }, 30_000)
    expect(reply.ok, String(reply.message)).toBe(true)
    expect(JSON.parse(String(reply.response))).toEqual(call) // A's MCP handler answers with the request it got

    const big = await command(a, { cmd: 'send', to: keys.b, size: 16 * 1024 * 1024, tag: 5 }, 120_000)
    expect(big.ok, String(big.message)).toBe(true)
    const got = await b.waitFor(e => e.event === 'message' && e.size === 16 * 1024 * 1024, 30_000, '16 MiB at B')
    expect(got.sha256).toBe(big.sha256)
    expect(got.from).toBe(keys.a)
    console.log(`[nat] 16 MiB A → relay → B through two MASQUERADE routers in ${Number(big.ms).toFixed(0)} ms`)
  }, 200_000)
})
