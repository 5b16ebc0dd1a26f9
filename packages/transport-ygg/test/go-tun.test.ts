/**
 * The whole stack against real Go and the real kernel: yggdrasil-go v0.5.12 nodes (tools/ygg-go-peer) with a
 * TUN device, each in a network namespace this test creates, linked to our SDK node over a unix:// socket
 * (namespaces share the file system, so no address outside loopback is touched). The Linux kernel's TCP in a
 * namespace then reaches, through yggdrasil-go's TUN and sessions:
 * - our node's port 7000, exchanging AXL frames (an MCP envelope answered by our handler, a raw message);
 * - through our node as the only relay, a kernel TCP server behind a second yggdrasil-go node (Go — TS — Go),
 *   with a small frame and a 16 MiB frame, byte-identical.
 * Skips, with the reason printed, without Go, root, /dev/net/tun, iproute2 or python3.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { spawn, spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createNode, UnsupportedProtocolError, type AxlNode } from '@axl/core'
import { mcpHandler, mcpRequest, readMcpReply } from './helpers/mcp-envelope.js'
import { ygg, type YggMesh } from '../src/index.js'
import { eventually } from '../../bridge/test/helpers/processes.js'
import { goPeerSkipReason, startGoPeer, type GoPeer } from './helpers/go-peer.js'
import { pythonPath, tunUnavailableReason } from './helpers/tun.js'

const FRAME_PEER = join(dirname(fileURLToPath(import.meta.url)), 'helpers', 'axl_frame_peer.py')
const reason = goPeerSkipReason() ?? tunUnavailableReason()
if (reason !== undefined) console.log(`[go-tun] skipped: ${reason}`)

const namespaces: string[] = []
function netns (name: string): string {
  const ns = `axl-${name}-${process.pid}`
  const r = spawnSync('ip', ['netns', 'add', ns], { encoding: 'utf8' })
  if (r.status !== 0) throw new Error(`ip netns add ${ns}: ${r.stderr}`)
  namespaces.push(ns)
  spawnSync('ip', ['-n', ns, 'link', 'set', 'lo', 'up'])
  return ns
}

/** Runs axl_frame_peer.py inside `ns`; resolves with its last JSON line (rejects with stderr on failure). */
async function framePeer (ns: string, args: string[], onLine?: (o: Record<string, unknown>) => void, timeoutMs = 90_000): Promise<Record<string, any>> {
  const child = spawn('ip', ['netns', 'exec', ns, pythonPath()!, FRAME_PEER, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  let err = ''
  child.stdout.on('data', (d: Buffer) => {
    out += d.toString()
    let i
    while ((i = out.indexOf('\n')) >= 0) { const line = out.slice(0, i); out = out.slice(i + 1); last = JSON.parse(line); onLine?.(last) }
  })
  child.stderr.on('data', (d: Buffer) => { err += d.toString() })
  let last: Record<string, any> = {}
  const timer = setTimeout(() => { child.kill('SIGKILL') }, timeoutMs)
  const code = await new Promise<number | null>(resolve => child.on('exit', resolve))
  clearTimeout(timer)
  if (code !== 0) throw new Error(`axl_frame_peer ${args[0]} in ${ns} exited ${code}: ${err}`)
  return last
}

describe.skipIf(reason !== undefined)('yggdrasil-go TUN + Linux kernel TCP ↔ our SDK node', () => {
  let dir: string
  let node: AxlNode
  let mesh: YggMesh
  const goPeers: GoPeer[] = []

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'axl-go-tun-'))
    node = await createNode({ transport: (c) => { mesh = ygg({ listen: [`unix://${join(dir, 'ts.sock')}`] })(c) as YggMesh; return mesh } })
    node.handle('mcp', mcpHandler((req, ctx) => JSON.stringify({ jsonrpc: '2.0', id: 1, result: { service: req.service, from: ctx.from, echo: req.request } })))
  })

  afterAll(async () => {
    await Promise.all(goPeers.map(async g => { await g.stop() }))
    await node?.stop()
    for (const ns of namespaces) spawnSync('ip', ['netns', 'del', ns])
    if (dir !== undefined) await rm(dir, { recursive: true, force: true })
  })

  it('the kernel\'s TCP in a namespace reaches our port 7000 through yggdrasil-go\'s TUN and exchanges AXL frames', async () => {
    const ns = netns('k')
    const g = await startGoPeer({ netns: ns, ifName: 'ygg0', peers: [`unix://${join(dir, 'ts.sock')}`] })
    goPeers.push(g)
    await eventually('the Go node to list us as a peer', async () => (await g.ctl('getPeers')).peers.some((p: { key: string, up: boolean }) => p.key === node.peerId && p.up), 15_000)
    expect(node.topology().peers.map(p => p.publicKey)).toContain(g.publicKey)
    // 1. an MCP envelope: our handler answers on the same connection, and sees the Go node's full key
    const request = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' })
    const env = mcpRequest('weather', request)
    const r1 = await framePeer(ns, ['client', node.address, '7000', '30', `hex:${Buffer.from(env).toString('hex')}`])
    const reply = Buffer.from(r1.reply_hex as string, 'hex')
    expect(reply.readUInt32BE(0)).toBe(reply.length - 4)
    const decoded = readMcpReply(reply.subarray(4))
    expect(decoded.service).toBe('weather')
    expect(JSON.parse(decoded.response!)).toEqual({ jsonrpc: '2.0', id: 1, result: { service: 'weather', from: g.publicKey, echo: request } })
    // 2. a raw message: accepted into our inbox (the clean close is the acknowledgement), from the Go node's key
    const text = `from the kernel through yggdrasil-go ${randomBytes(4).toString('hex')}`
    const r2 = await framePeer(ns, ['client', node.address, '7000', '30', `hex:${Buffer.from(text).toString('hex')}`])
    expect(r2.reply_hex).toBe('')
    const m = await node.nextMessage({ timeoutMs: 5000 })
    expect(m.from).toBe(g.publicKey)
    expect(new TextDecoder().decode(m.data)).toBe(text)
    console.log(`kernel → TUN → yggdrasil-go → our port 7000: first connect after ${r1.connect_ms as number} ms`)
  })

  it('Go — TS — Go: kernel TCP between two namespaces crosses our node as the only relay (a frame and 16 MiB)', async () => {
    const nsA = netns('a')
    const nsB = netns('b')
    const [ga, gb] = await Promise.all([
      startGoPeer({ netns: nsA, ifName: 'ygg0', peers: [`unix://${join(dir, 'ts.sock')}`] }),
      startGoPeer({ netns: nsB, ifName: 'ygg0', peers: [`unix://${join(dir, 'ts.sock')}`] })
    ])
    goPeers.push(ga, gb)
    await eventually('both Go nodes to be linked to us', async () => {
      const up: string[] = node.topology().peers.filter(p => p.up).map(p => p.publicKey)
      return up.includes(ga.publicKey) && up.includes(gb.publicKey)
    }, 15_000)
    const forwardedBefore = mesh.overlay.stats.forwarded
    let listening!: () => void
    const ready = new Promise<void>(resolve => { listening = resolve })
    const server = framePeer(nsB, ['server', '::', '9000'], o => { if (o.listening !== undefined) listening() })
    await ready
    const big = 16 * 1024 * 1024
    const t0 = performance.now()
    const client = await framePeer(nsA, ['client', gb.address, '9000', '30', `hex:${Buffer.from('hello B').toString('hex')}`, `rand:${big}:7`])
    const ms = performance.now() - t0 - (client.connect_ms as number)
    const served = await server
    expect(served.frames).toEqual(client.sent)
    // B's answers: one frame per frame, holding the sha256 of what it received
    const reply = Buffer.from(client.reply_hex as string, 'hex')
    const answers: string[] = []
    for (let o = 0; o < reply.length;) { const n = reply.readUInt32BE(o); answers.push(reply.subarray(o + 4, o + 4 + n).toString()); o += 4 + n }
    expect(answers).toEqual((client.sent as Array<{ sha256: string }>).map(s => s.sha256))
    expect(mesh.overlay.stats.forwarded - forwardedBefore).toBeGreaterThan(big / 65535)
    console.log(`Go — TS — Go: 16 MiB of kernel TCP through our relay in ${ms.toFixed(0)} ms (${(16 / (ms / 1000)).toFixed(1)} MiB/s)`)
  })

  it('a custom protocol to a node that only speaks AXL frames fails cleanly here and is never read as a message there', async () => {
    const ns = netns('p')
    const g = await startGoPeer({ netns: ns, ifName: 'ygg0', peers: [`unix://${join(dir, 'ts.sock')}`] })
    goPeers.push(g)
    await eventually('the Go node to be linked to us', async () => node.topology().peers.some(p => p.up && p.publicKey === g.publicKey), 15_000)
    // An AXL-frame server on the Go node's port 7000 (what Go AXL runs there): it records every frame it gets.
    let listening!: () => void
    const ready = new Promise<void>(resolve => { listening = resolve })
    const server = framePeer(ns, ['server', '::', '7000'], o => { if (o.listening !== undefined) listening() })
    await ready
    const err = await node.dialProtocol(g.publicKey, '/chat/1', { timeoutMs: 20_000 }).catch((e: Error) => e)
    expect(err).toBeInstanceOf(UnsupportedProtocolError)
    expect((err as Error).message).toMatch(new RegExp(`peer ${g.publicKey} does not speak /chat/1: its overlay port 7100 refused the connection`))
    // The first (and only) connection the AXL port saw is this ordinary message, sent after the attempt.
    await node.send(g.publicKey, new TextEncoder().encode('an AXL message'), { timeoutMs: 20_000 })
    const served = await server
    expect(served.frames).toHaveLength(1)
    expect(served.frames[0].size).toBe('an AXL message'.length)
  })
})
