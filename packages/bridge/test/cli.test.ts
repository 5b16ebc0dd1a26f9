// axl-node as a real process: --help, flags, config errors (§8 cases 4, 5, 44, 45), startup logs, signals.
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtemp, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { call, closedPort, onCleanup, SEED1_IPV6, SEED1_KEY, SEED1_PEM } from './helpers.js'

const BIN = fileURLToPath(new URL('./helpers/axl-node-dev.mjs', import.meta.url))

interface Proc { child: ChildProcess, out: () => string, err: () => string, exited: Promise<{ code: number | null, signal: NodeJS.Signals | null }> }

function start (args: string[], cwd: string): Proc {
  const child = spawn(process.execPath, [BIN, ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  let err = ''
  child.stdout?.on('data', (c: Buffer) => { out += c.toString() })
  child.stderr?.on('data', (c: Buffer) => { err += c.toString() })
  const exited = new Promise<{ code: number | null, signal: NodeJS.Signals | null }>(resolve => { child.once('exit', (code, signal) => { resolve({ code, signal }) }) })
  onCleanup(async () => {
    if (child.exitCode === null && child.signalCode === null) { child.kill('SIGKILL'); await exited }
  })
  return { child, out: () => out, err: () => err, exited }
}

/** Run to completion (deadline 15 s). */
async function run (args: string[], cwd: string): Promise<{ code: number | null, out: string, err: string }> {
  const p = start(args, cwd)
  const timer = setTimeout(() => { p.child.kill('SIGKILL') }, 15_000)
  const { code } = await p.exited
  clearTimeout(timer)
  return { code, out: p.out(), err: p.err() }
}

/** Wait for a line on stderr matching `re` (deadline 15 s); fails early if the process exits. */
async function waitFor (p: Proc, re: RegExp): Promise<RegExpExecArray> {
  const deadline = Date.now() + 15_000
  for (;;) {
    const m = re.exec(p.err())
    if (m !== null) return m
    if (p.child.exitCode !== null) throw new Error(`axl-node exited (${p.child.exitCode}) before printing ${re}:\n${p.err()}`)
    if (Date.now() > deadline) throw new Error(`no ${re} within 15 s:\n${p.err()}`)
    await new Promise(resolve => setTimeout(resolve, 20))
  }
}

async function dir (files: Record<string, string> = {}): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'axl-node-'))
  for (const [name, text] of Object.entries(files)) await writeFile(join(d, name), text)
  return d
}

describe('axl-node CLI', () => {
  it('--help documents the flags and every config key, exit 0', async () => {
    const r = await run(['--help'], await dir())
    expect(r.code).toBe(0)
    expect(r.out).toMatch(/^Usage: axl-node \[-config <path>\] \[-listen <uri>\]/)
    for (const key of ['PrivateKeyPath', 'PrivateKey', 'Peers', 'Listen', 'AllowedPublicKeys', 'api_port', 'bridge_addr', 'tcp_port', 'router_addr', 'router_port',
      'a2a_addr', 'a2a_port', 'max_message_size', 'max_concurrent_conns', 'conn_read_timeout_secs', 'conn_idle_timeout_secs', 'recv_overflow', 'mcp_services', 'a2a']) {
      expect(r.out).toContain(key)
    }
    expect((await run(['-h'], await dir())).code).toBe(0)
  })

  it('an unknown flag exits 2 (Go flag style)', async () => {
    const r = await run(['-bogus'], await dir())
    expect(r.code).toBe(2)
    expect(r.err).toMatch(/^flag provided but not defined: -bogus/)
  })

  it('a missing config file exits 1 naming it (the default is node-config.json)', async () => {
    const r = await run([], await dir())
    expect(r.code).toBe(1)
    expect(r.err).toContain('[node] read config node-config.json: no such file or directory')
  })

  it('45: a type error refuses to start (AXL: starts on 9002 with every override dropped)', async () => {
    const r = await run(['-config', 'c.json'], await dir({ 'c.json': '{"api_port":"9012"}' }))
    expect(r.code).toBe(1)
    expect(r.err).toContain('[node] parse config c.json: api_port: expected an integer, got a string ("9012")')
  })

  it('5: a missing or bad PEM exits non-zero with the key error', async () => {
    let r = await run(['-config', 'c.json'], await dir({ 'c.json': '{"PrivateKeyPath":"missing.pem"}' }))
    expect(r.code).toBe(1)
    expect(r.err).toMatch(/\[node\] parse config c\.json: PrivateKeyPath: .*missing\.pem/)
    r = await run(['--config=c.json'], await dir({ 'c.json': '{"PrivateKeyPath":"bad.pem"}', 'bad.pem': '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n' }))
    expect(r.code).toBe(1)
    expect(r.err).toMatch(/PrivateKeyPath: .*bad\.pem/)
  })

  it('quic:// peers are refused with a clear message (tls:// is accepted: see go-interop.test.ts)', async () => {
    const r = await run(['-config', 'c.json'], await dir({ 'c.json': '{"Peers":["quic://127.0.0.1:9001"]}' }))
    expect(r.code).toBe(1)
    expect(r.err).toContain('this link type is not supported (QUIC and SOCKS are not implemented)')
  })

  it('44 + 1: starts on the configured api_port with the PEM identity, logs like AXL, stops cleanly on SIGTERM', async () => {
    const port = await closedPort()
    const d = await dir({ 'node-config.json': `{ // comments are fine\n "PrivateKeyPath": "private.pem", "api_port": ${port}, "unknown_thing": 1 }`, 'private.pem': SEED1_PEM })
    const p = start([], d)
    await waitFor(p, /\[node\] Listening on 127\.0\.0\.1:(\d+)/)
    expect(p.err()).toContain(`[node] Our IPv6: ${SEED1_IPV6}`)
    expect(p.err()).toContain(`[node] Our Public Key: ${SEED1_KEY}`)
    expect(p.err()).toContain(`[node] Listening on 127.0.0.1:${port}`)
    expect(p.err()).toContain('[node] warning: unknown key "unknown_thing" ignored')
    const t = await call(`http://127.0.0.1:${port}/topology`)
    expect(t.status).toBe(200)
    expect(JSON.parse(t.text).our_public_key).toBe(SEED1_KEY)
    p.child.kill('SIGTERM')
    expect(await p.exited).toEqual({ code: 0, signal: null })
    expect(p.err()).toContain('[node] stopped')
    await expect(call(`http://127.0.0.1:${port}/topology`)).rejects.toThrow()
  })

  it('4: without a key every start has a new identity; SIGINT stops cleanly', async () => {
    const d = await dir({ 'c.json': '{"api_port": 0}' })
    const p1 = start(['-config', 'c.json'], d)
    const p2 = start(['-config', 'c.json'], d)
    const k1 = (await waitFor(p1, /Our Public Key: ([0-9a-f]{64})/))[1]
    const k2 = (await waitFor(p2, /Our Public Key: ([0-9a-f]{64})/))[1]
    expect(k1).not.toBe(k2)
    expect(p1.err()).toContain('ephemeral identity')
    await waitFor(p1, /Listening on/)
    await waitFor(p2, /Listening on/)
    p1.child.kill('SIGINT')
    p2.child.kill('SIGINT')
    expect((await p1.exited).code).toBe(0)
    expect((await p2.exited).code).toBe(0)
  })

  it('a busy api_port exits 1 with a clear message', async () => {
    const d = await dir({ 'c.json': '{"api_port": 0}' })
    const p = start(['-config', 'c.json'], d)
    const port = (await waitFor(p, /Listening on 127\.0\.0\.1:(\d+)/))[1]
    await writeFile(join(d, 'c2.json'), `{"api_port": ${port}}`)
    const r = await run(['-config', 'c2.json'], d)
    expect(r.code).toBe(1)
    expect(r.err).toContain(`[node] cannot listen on 127.0.0.1:${port}`)
  })
})
