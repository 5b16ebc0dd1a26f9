import { afterEach, describe, expect, it } from 'vitest'
import { createRequire } from 'node:module'
import { fileURLToPath } from 'node:url'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { RouterErrorCode, type ServiceStatusDetail } from '../src/index.js'
import { alive, nextEvent, pair, until } from './helpers.js'

const everything = createRequire(import.meta.url).resolve('@modelcontextprotocol/server-everything/dist/index.js')
const tiny = fileURLToPath(new URL('./fixtures/tiny-stdio-server.mjs', import.meta.url))

const cleanups: Array<() => Promise<void>> = []
afterEach(async () => { for (const c of cleanups.splice(0)) await c() })

async function setup (): ReturnType<typeof pair> {
  const p = await pair()
  cleanups.push(p.stop)
  return p
}

const pidOf = (r: { list: () => Array<{ name: string, details: Record<string, unknown> }> }, name: string): number =>
  r.list().find(s => s.name === name)?.details.pid as number

describe('stdio MCP servers', () => {
  it('server-everything on node B, listed and called by an SDK Client on node A', async () => {
    const { a, b } = await setup()
    await b.services.mcp.register('everything', { command: process.execPath, args: [everything, 'stdio'] })
    const client = new Client({ name: 'test', version: '1.0.0' })
    await client.connect(a.services.mcp.transport(b.peerId, 'everything'))
    expect(client.getServerVersion()?.name).toMatch(/everything/)
    const { tools } = await client.listTools()
    expect(tools.map(t => t.name)).toEqual(expect.arrayContaining(['echo', 'get-sum']))
    expect(await client.callTool({ name: 'echo', arguments: { message: 'over the mesh' } })).toMatchObject({ content: [{ type: 'text', text: 'Echo: over the mesh' }] })
    expect(await client.callTool({ name: 'get-sum', arguments: { a: 1, b: 2 } })).toMatchObject({ content: [{ text: 'The sum of 1 and 2 is 3.' }] })
    const { resources } = await client.listResources()
    expect(resources.length).toBeGreaterThan(0)
    const { prompts } = await client.listPrompts()
    expect(prompts.length).toBeGreaterThan(0)
    await client.close()
    const pid = pidOf(b.services.mcp, 'everything')
    expect(alive(pid)).toBe(true)
    await b.stop()
    expect(alive(pid)).toBe(false) // node.stop() waited for the child to exit
  })

  it('restarts a crashed server with backoff; in-flight calls fail at once; calls work again after', async () => {
    const { a, b } = await setup()
    const r = b.services.mcp
    await r.register('tiny', { command: process.execPath, args: [tiny], restart: { initialDelayMs: 50, maxDelayMs: 1000 } })
    const pid1 = pidOf(r, 'tiny')
    const hang = a.services.mcp.call(b.peerId, 'tiny', { jsonrpc: '2.0', id: 'h', method: 'tools/call', params: { name: 'hang' } })
    const restarting = nextEvent<ServiceStatusDetail>(r, 'service:status', d => d.status === 'restarting')
    const ready = nextEvent<ServiceStatusDetail>(r, 'service:status', d => d.status === 'ready')
    const crash = await a.services.mcp.call(b.peerId, 'tiny', { jsonrpc: '2.0', id: 'c', method: 'tools/call', params: { name: 'crash' } })
    expect(crash).toMatchObject({ id: 'c', error: { code: RouterErrorCode.Unavailable } })
    expect((crash as { error: { message: string } }).error.message).toMatch(/exited \(code 3/)
    expect(await hang).toMatchObject({ id: 'h', error: { code: RouterErrorCode.Unavailable } })
    expect((await restarting).delayMs).toBe(50)
    // while waiting for the restart, callers get "unavailable" at once rather than a hang
    const during = await a.services.mcp.call(b.peerId, 'tiny', { jsonrpc: '2.0', id: 2, method: 'tools/list' })
    if (r.list()[0].status === 'restarting') expect(during).toMatchObject({ error: { code: RouterErrorCode.Unavailable } })
    const up = await ready
    expect(up.restarts).toBe(1)
    const pid2 = pidOf(r, 'tiny')
    expect(pid2).not.toBe(pid1)
    expect(await a.services.mcp.call(b.peerId, 'tiny', { jsonrpc: '2.0', id: 3, method: 'tools/call', params: { name: 'echo', arguments: { text: 'back' } } }))
      .toMatchObject({ result: { content: [{ text: 'back' }] } })
    // a second crash right after doubles the delay
    const again = nextEvent<ServiceStatusDetail>(r, 'service:status', d => d.status === 'restarting')
    await a.services.mcp.call(b.peerId, 'tiny', { jsonrpc: '2.0', id: 4, method: 'tools/call', params: { name: 'crash' } })
    expect((await again).delayMs).toBe(100)
  })

  it('a crash loop backs off exponentially up to the cap; node.stop() ends it and leaves no child', async () => {
    const { a, b } = await setup()
    const dir = mkdtempSync(join(tmpdir(), 'axl-mcp-'))
    cleanups.push(async () => { rmSync(dir, { recursive: true, force: true }) })
    const r = b.services.mcp
    await r.register('loop', {
      command: process.execPath,
      args: [tiny],
      env: { STATE_FILE: join(dir, 'starts'), CRASH_AFTER_STARTS: '1' },
      restart: { initialDelayMs: 20, maxDelayMs: 80 }
    })
    const delays: number[] = []
    const fifth = new Promise<void>(resolve => {
      r.addEventListener('service:status', e => {
        const d = (e as CustomEvent<ServiceStatusDetail>).detail
        if (d.status === 'restarting') { delays.push(d.delayMs as number); if (delays.length === 5) resolve() }
      })
    })
    await a.services.mcp.call(b.peerId, 'loop', { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'crash' } })
    await Promise.race([fifth, new Promise((_resolve, reject) => setTimeout(() => { reject(new Error('no 5 restarts within 5 s')) }, 5000))])
    expect(delays).toEqual([20, 40, 80, 80, 80])
    await b.stop()
    expect(r.list()).toEqual([])
  })

  it('deregister kills the child; a command that cannot start makes register() reject', async () => {
    const { b } = await setup()
    const r = b.services.mcp
    await r.register('tiny', { command: process.execPath, args: [tiny] })
    const pid = pidOf(r, 'tiny')
    expect(alive(pid)).toBe(true)
    await r.deregister('tiny')
    await until(() => !alive(pid), 3000, 'child exit')
    await expect(r.register('nope', { command: '/nonexistent/mcp-server' })).rejects.toThrow(/could not be started.*ENOENT/)
    expect(r.has('nope')).toBe(false)
    await expect(r.register('mute', { command: process.execPath, args: ['-e', 'setInterval(() => {}, 1000)'], startTimeoutMs: 200 })).rejects.toThrow(/did not answer initialize/)
    expect(r.has('mute')).toBe(false)
  })
})
