// Real axl-node processes peered over tcp:// on loopback. A listens; B and C peer with A; B talks to C through A.
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtemp, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { call, closedPort, onCleanup, stubServer } from './helpers.js'

const BIN = fileURLToPath(new URL('./helpers/axl-node-dev.mjs', import.meta.url))

interface NodeProc { child: ChildProcess, url: string, key: string, log: () => string, exited: Promise<number | null> }

async function startProc (config: Record<string, unknown>): Promise<NodeProc> {
  const dir = await mkdtemp(join(tmpdir(), 'axl-mp-'))
  await writeFile(join(dir, 'node-config.json'), JSON.stringify({ api_port: 0, ...config }))
  const child = spawn(process.execPath, [BIN], { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] })
  let log = ''
  child.stderr?.on('data', (c: Buffer) => { log += c.toString() })
  const exited = new Promise<number | null>(resolve => { child.once('exit', code => { resolve(code) }) })
  onCleanup(async () => { if (child.exitCode === null && child.signalCode === null) { child.kill('SIGKILL'); await exited } })
  const deadline = Date.now() + 15_000
  for (;;) {
    const m = /Listening on 127\.0\.0\.1:(\d+)/.exec(log)
    const k = /Our Public Key: ([0-9a-f]{64})/.exec(log)
    if (m !== null && k !== null) return { child, url: `http://127.0.0.1:${m[1]}`, key: k[1], log: () => log, exited }
    if (child.exitCode !== null) throw new Error(`axl-node exited ${child.exitCode}:\n${log}`)
    if (Date.now() > deadline) throw new Error(`axl-node did not start within 15 s:\n${log}`)
    await new Promise(resolve => setTimeout(resolve, 20))
  }
}

/**
 * `from` delivers a /send to `to`. One request: right after start the tree is still forming, and the node waits
 * for the route itself (lookups repeated, the SYN retransmitted, up to its connect timeout) instead of the test
 * polling.
 */
async function reachable (from: NodeProc, to: NodeProc): Promise<void> {
  const r = await call(`${from.url}/send`, { method: 'POST', body: 'probe', headers: { 'X-Destination-Peer-Id': to.key }, timeoutMs: 30_000 })
  if (r.status !== 200) throw new Error(`${from.key.slice(0, 8)} cannot reach ${to.key.slice(0, 8)}: ${r.status} ${r.text}`)
  const got = await call(`${to.url}/recv?wait=5`)
  expect(got.text).toBe('probe')
}

describe('axl-node processes over tcp:// on loopback', () => {
  it('B → C through A: /send, /recv long-poll, /topology, /mcp via a router stub, /a2a via an A2A stub; clean SIGTERM', async () => {
    const linkPort = await closedPort()
    const router = await stubServer(() => ({ body: '{"response":{"jsonrpc":"2.0","id":1,"result":{"tools":[]}},"error":null}' }))
    const a2aStub = await stubServer(() => ({ body: '{"name":"C"}' }))
    const a = await startProc({ Listen: [`tcp://127.0.0.1:${linkPort}`] })
    const b = await startProc({ Peers: [`tcp://127.0.0.1:${linkPort}`] })
    const c = await startProc({ Peers: [`tcp://127.0.0.1:${linkPort}`], router_addr: 'http://127.0.0.1', router_port: router.port, a2a_addr: 'http://127.0.0.1', a2a_port: a2aStub.port })

    const topo = JSON.parse((await call(`${b.url}/topology`)).text)
    expect(topo.our_public_key).toBe(b.key)
    await reachable(b, c)
    const topoB = JSON.parse((await call(`${b.url}/topology`)).text)
    expect(topoB.peers.some((p: { up: boolean, public_key: string }) => p.up && p.public_key === a.key)).toBe(true)
    expect(topoB.tree.filter((e: { parent: string }) => e.parent === '')).toHaveLength(1)

    const bytes = Uint8Array.from({ length: 256 }, (_, i) => i)
    expect((await call(`${b.url}/send`, { method: 'POST', body: bytes, headers: { 'X-Destination-Peer-Id': c.key } })).status).toBe(200)
    const got = await call(`${c.url}/recv?wait=10`)
    expect(Buffer.compare(got.body, Buffer.from(bytes))).toBe(0)
    expect(got.headers['x-from-peer-id']).toBe(b.key)

    const mcp = await call(`${b.url}/mcp/${c.key}/weather`, { method: 'POST', body: '{"jsonrpc":"2.0","method":"tools/list","id":1}' })
    expect(mcp.text).toBe('{"jsonrpc":"2.0","id":1,"result":{"tools":[]}}')
    expect(JSON.parse(router.seen[0].body).from_peer_id).toBe(b.key)
    const card = await call(`${b.url}/a2a/${c.key}`)
    expect(card.text).toBe('{"name":"C"}')

    for (const p of [a, b, c]) p.child.kill('SIGTERM')
    for (const p of [a, b, c]) expect(await p.exited).toBe(0)
  })

  it('43: nodes with different tcp_port cannot talk (AXL\'s same-port assumption)', async () => {
    const linkPort = await closedPort()
    const a = await startProc({ Listen: [`tcp://127.0.0.1:${linkPort}`], tcp_port: 7000 })
    const b = await startProc({ Peers: [`tcp://127.0.0.1:${linkPort}`], tcp_port: 7001, request_timeout_secs: 3 })
    const r = await call(`${b.url}/send`, { method: 'POST', body: 'x', headers: { 'X-Destination-Peer-Id': a.key } })
    expect(r.status).toBeGreaterThanOrEqual(500)
  })
})
