// Real `axl-node` processes for black-box tests: each in its own temp dir with its own node-config.json,
// tcp:// links on 127.0.0.1, free API ports, recording stub HTTP servers, and fetch-based HTTP calls.
// Everything started through a ProcessPool is killed by pool.close() (call it in afterAll); a process
// 'exit' hook SIGKILLs any child still alive if the test worker dies first, so no orphans are left.
import { spawn, type ChildProcess } from 'node:child_process'
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

/** axl-node from source (test/helpers/axl-node-dev.mjs; the published bin runs dist/). */
export const AXL_NODE_BIN = fileURLToPath(new URL('./axl-node-dev.mjs', import.meta.url))

/** How long a process may take to print "Listening on" (tsx compiles the sources at first start). */
const START_DEADLINE_MS = 20_000

// -- last-resort cleanup: children still alive when the worker exits are SIGKILLed --
const alive = new Set<ChildProcess>()
let exitHookInstalled = false
function track (child: ChildProcess): void {
  alive.add(child)
  child.once('exit', () => { alive.delete(child) })
  if (!exitHookInstalled) {
    exitHookInstalled = true
    process.once('exit', () => { for (const c of alive) { try { c.kill('SIGKILL') } catch {} } })
  }
}

/** A TCP port on 127.0.0.1 that was free a moment ago (bound to :0, then closed). */
export async function freePort (): Promise<number> {
  const s = createServer()
  await new Promise<void>((resolve, reject) => { s.once('error', reject); s.listen(0, '127.0.0.1', resolve) })
  const port = (s.address() as AddressInfo).port
  await new Promise(resolve => s.close(resolve))
  return port
}

/** `n` distinct free ports. */
export async function freePorts (n: number): Promise<number[]> {
  const out = new Set<number>()
  while (out.size < n) out.add(await freePort())
  return [...out]
}

/** How a process ended. */
export interface Exit { code: number | null, signal: NodeJS.Signals | null }

/** A spawned axl-node (maybe not started yet, maybe failing). */
export interface NodeProcess {
  /** A name for messages. */
  name: string
  /** Its temp dir (cwd; holds node-config.json and any extra files). */
  dir: string
  child: ChildProcess
  /** stderr so far (the `[node] …` log). */
  log: () => string
  /** stdout so far. */
  out: () => string
  exited: Promise<Exit>
  /** Whether it has exited. */
  done: () => boolean
}

/** A started axl-node: its API URL and public key, read from its startup log. */
export interface AxlNode extends NodeProcess {
  url: string
  apiPort: number
  key: string
  ipv6: string
}

/** Write `files` (name → text) into a fresh temp dir. */
export async function tempDir (files: Record<string, string>, prefix = 'axl-bb-'): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), prefix))
  for (const [name, text] of Object.entries(files)) await writeFile(join(d, name), text)
  return d
}

/** Wait until `re` matches the process log; fails early when the process exits. */
export async function waitForLog (p: NodeProcess, re: RegExp, timeoutMs = START_DEADLINE_MS): Promise<RegExpExecArray> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const m = re.exec(p.log())
    if (m !== null) return m
    if (p.done()) throw new Error(`${p.name} exited (${String(p.child.exitCode ?? p.child.signalCode)}) before logging ${String(re)}:\n${p.log()}`)
    if (Date.now() > deadline) throw new Error(`${p.name}: no ${String(re)} within ${timeoutMs} ms:\n${p.log()}`)
    await new Promise(resolve => setTimeout(resolve, 20))
  }
}

/**
 * Owns processes, temp dirs and stub servers of one describe block. `close()` kills every process
 * (SIGKILL unless it already exited), closes the servers and removes the dirs; it never throws.
 */
export class ProcessPool {
  readonly procs: NodeProcess[] = []
  private readonly servers: Server[] = []
  private readonly dirs: string[] = []

  /** Spawn `axl-node <args>` in a new temp dir holding `files` (does not wait for anything). */
  async spawn (name: string, files: Record<string, string>, args: string[] = []): Promise<NodeProcess> {
    const dir = await tempDir(files)
    this.dirs.push(dir)
    return this.spawnIn(name, dir, args)
  }

  /** Spawn `axl-node <args>` with `dir` as its cwd. */
  spawnIn (name: string, dir: string, args: string[] = []): NodeProcess {
    const child = spawn(process.execPath, [AXL_NODE_BIN, ...args], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] })
    track(child)
    let log = ''
    let out = ''
    child.stderr?.on('data', (c: Buffer) => { log += c.toString() })
    child.stdout?.on('data', (c: Buffer) => { out += c.toString() })
    const exited = new Promise<Exit>(resolve => { child.once('exit', (code, signal) => { resolve({ code, signal }) }) })
    const p: NodeProcess = { name, dir, child, log: () => log, out: () => out, exited, done: () => child.exitCode !== null || child.signalCode !== null }
    this.procs.push(p)
    return p
  }

  /**
   * Start an axl-node from `config` (written as node-config.json, `api_port` a free port unless given) plus
   * extra `files` (e.g. a PEM), and wait for its "Listening on" line.
   */
  async start (name: string, config: Record<string, unknown>, files: Record<string, string> = {}): Promise<AxlNode> {
    const cfg = { api_port: await freePort(), ...config }
    const p = await this.spawn(name, { 'node-config.json': JSON.stringify(cfg, null, 2), ...files }, ['-config', 'node-config.json'])
    return await started(p)
  }

  /** Run `axl-node <args>` in a new temp dir until it exits (SIGKILL after `timeoutMs`). */
  async runToExit (name: string, files: Record<string, string>, args: string[], timeoutMs = START_DEADLINE_MS): Promise<Exit & { log: string, out: string }> {
    const p = await this.spawn(name, files, args)
    const timer = setTimeout(() => { p.child.kill('SIGKILL') }, timeoutMs)
    const e = await p.exited
    clearTimeout(timer)
    return { ...e, log: p.log(), out: p.out() }
  }

  /** A recording stub HTTP server owned by this pool. */
  async stub (answer: StubAnswerFn = () => ({})): Promise<RecordingServer> {
    const s = await recordingServer(answer)
    this.servers.push(s.server)
    return s
  }

  /** Kill everything; safe to call twice and after failures. */
  async close (): Promise<void> {
    await Promise.all(this.procs.map(async p => {
      if (!p.done()) p.child.kill('SIGKILL')
      await p.exited
    }))
    for (const s of this.servers.splice(0)) {
      s.closeAllConnections()
      await new Promise(resolve => s.close(resolve))
    }
    for (const d of this.dirs.splice(0)) await rm(d, { recursive: true, force: true }).catch(() => {})
  }
}

/** Wait for the startup lines of `p` and return it as a started node. */
export async function started (p: NodeProcess): Promise<AxlNode> {
  const m = await waitForLog(p, /\[node\] Listening on 127\.0\.0\.1:(\d+)/)
  const k = /\[node\] Our Public Key: ([0-9a-f]{64})/.exec(p.log())
  const ip = /\[node\] Our IPv6: (\S+)/.exec(p.log())
  if (k === null || ip === null) throw new Error(`${p.name}: no key / IPv6 in the log:\n${p.log()}`)
  return Object.assign(p, { url: `http://127.0.0.1:${m[1]}`, apiPort: Number(m[1]), key: k[1], ipv6: ip[1] })
}

// -- HTTP over fetch --

/** An HTTP answer. */
export interface Reply { status: number, headers: Headers, body: Buffer, text: string, ms: number }

/** Options of http(). */
export interface HttpInit { method?: string, headers?: Record<string, string>, body?: string | Uint8Array, timeoutMs?: number }

/** One request with fetch (no redirects followed), body read fully; `ms` is the time until the body ended. */
export async function http (url: string, init: HttpInit = {}): Promise<Reply> {
  const t0 = Date.now()
  const res = await fetch(url, {
    method: init.method ?? 'GET',
    headers: init.headers,
    body: init.body,
    redirect: 'manual',
    signal: AbortSignal.timeout(init.timeoutMs ?? 15_000)
  })
  const body = Buffer.from(await res.arrayBuffer())
  return { status: res.status, headers: res.headers, body, text: body.toString('utf8'), ms: Date.now() - t0 }
}

/** POST /send from `from` to `to`. */
export async function send (from: { url: string }, to: string, body: string | Uint8Array, headers: Record<string, string> = {}): Promise<Reply> {
  return await http(`${from.url}/send`, { method: 'POST', body, headers: { 'X-Destination-Peer-Id': to, 'Content-Type': 'application/octet-stream', ...headers } })
}

/** Pop /recv until 204; the bodies in order. */
export async function drain (node: { url: string }): Promise<Reply[]> {
  const out: Reply[] = []
  for (;;) {
    const r = await http(`${node.url}/recv`)
    if (r.status === 204) return out
    if (r.status !== 200) throw new Error(`/recv answered ${r.status}: ${r.text}`)
    out.push(r)
  }
}

/** Go's http.Error: status, text/plain; charset=utf-8, nosniff, body = message + "\n". */
export function goErrorProblems (r: Reply, status: number, message: string | RegExp): string[] {
  const problems: string[] = []
  if (r.status !== status) problems.push(`status ${r.status} (want ${status})`)
  if (r.headers.get('content-type') !== 'text/plain; charset=utf-8') problems.push(`content-type ${String(r.headers.get('content-type'))}`)
  if (r.headers.get('x-content-type-options') !== 'nosniff') problems.push('no nosniff')
  const ok = typeof message === 'string' ? r.text === message + '\n' : message.test(r.text) && r.text.endsWith('\n')
  if (!ok) problems.push(`body ${JSON.stringify(r.text)} (want ${typeof message === 'string' ? JSON.stringify(message + '\n') : String(message)})`)
  return problems
}

/** Throw unless `r` is Go's http.Error(status, message). */
export function expectGoError (r: Reply, status: number, message: string | RegExp): void {
  const p = goErrorProblems(r, status, message)
  if (p.length > 0) throw new Error(`not Go's http.Error(${status}, ${String(message)}): ${p.join('; ')}`)
}

// -- overlay readiness --

/** Poll `fn` until it returns true (no fixed sleeps beyond a short poll interval), failing after `timeoutMs`. */
export async function eventually (what: string | (() => string), fn: () => Promise<boolean>, timeoutMs = 20_000, everyMs = 100): Promise<void> {
  const deadline = Date.now() + timeoutMs
  let last: unknown
  for (;;) {
    try { if (await fn()) return } catch (err) { last = err }
    if (Date.now() > deadline) {
      const w = typeof what === 'string' ? what : what()
      throw new Error(`${w}: not within ${timeoutMs} ms${last !== undefined ? ` (last error: ${String(last)})` : ''}`)
    }
    await new Promise(resolve => setTimeout(resolve, everyMs))
  }
}

/** A /topology answer. */
export interface Topology {
  our_ipv6: string
  our_public_key: string
  peers: Array<{ uri: string, up: boolean, inbound: boolean, public_key: string, root: string, port: number, coords: null }>
  tree: Array<{ public_key: string, parent: string, sequence: number }>
}

/** GET /topology, parsed. */
export async function topology (node: { url: string }): Promise<Topology> {
  const r = await http(`${node.url}/topology`)
  if (r.status !== 200) throw new Error(`/topology answered ${r.status}`)
  return JSON.parse(r.text) as Topology
}

/**
 * Wait until the spanning tree has formed over `nodes` (a connected overlay): every node sees the same root,
 * the smallest key (ironwood's rule), with parent "" (our root marker), and lists itself in its tree. A node
 * only knows the tree entries of its peers and ancestors, so this is the strongest per-node check.
 */
export async function waitForTree (nodes: Array<{ url: string, name: string, key: string }>, timeoutMs = 20_000): Promise<void> {
  const root = nodes.map(n => n.key).sort()[0]
  await Promise.all(nodes.map(async n => {
    let seen = ''
    await eventually(() => `${n.name}'s tree has root ${root.slice(0, 8)} (last: ${seen})`, async () => {
      const t = await topology(n)
      seen = JSON.stringify(t.tree)
      return t.tree.some(e => e.public_key === root && e.parent === '') && t.tree.some(e => e.public_key === n.key)
    }, timeoutMs)
  }))
}

/**
 * Wait until `from` can deliver a /send to `to` (retrying the first /send until 200, with a deadline), then
 * take the probe off `to`'s /recv so its queue is empty again. The probe is not JSON, so no node sniffs it.
 */
export async function waitReachable (from: AxlNode, to: AxlNode, timeoutMs = 20_000): Promise<void> {
  const probe = `probe ${from.name}->${to.name}`
  let last = ''
  await eventually(() => `${from.name} reaches ${to.name} (last /send: ${last})`, async () => {
    const r = await send(from, to.key, probe)
    last = `${r.status} ${r.text.trim()}`
    return r.status === 200
  }, timeoutMs, 100)
  const got = await http(`${to.url}/recv?wait=10`)
  if (got.text !== probe) throw new Error(`${to.name}'s /recv after the probe: ${got.status} ${JSON.stringify(got.text)}`)
}

// -- recording stub servers --

/** A request a stub server saw. */
export interface Seen { method: string, url: string, headers: IncomingHttpHeaders, body: string }

/** What a stub answers. */
export interface StubAnswer { status?: number, headers?: Record<string, string>, body?: string }
export type StubAnswerFn = (seen: Seen) => StubAnswer | Promise<StubAnswer>

/** A real HTTP server on 127.0.0.1 that records every request; its answer can be swapped between tests. */
export interface RecordingServer {
  server: Server
  url: string
  port: number
  seen: Seen[]
  /** The current answer (replace it per test). */
  answer: StubAnswerFn
  /** Forget what was seen. */
  reset: () => void
  /** Wait for the next request after those already taken by next() (deadline 10 s). */
  next: () => Promise<Seen>
}

/** Start a recording server on 127.0.0.1:0 (close it yourself, or use ProcessPool.stub()). */
export async function recordingServer (answer: StubAnswerFn): Promise<RecordingServer> {
  const waiters: Array<(s: Seen) => void> = []
  let taken = 0
  const rs: RecordingServer = {
    server: undefined as unknown as Server,
    url: '',
    port: 0,
    seen: [],
    answer,
    reset: () => { rs.seen.length = 0; taken = 0 },
    next: async () => {
      if (taken < rs.seen.length) return rs.seen[taken++]
      return await new Promise<Seen>((resolve, reject) => {
        const t = setTimeout(() => { reject(new Error('the stub saw no request within 10 s')) }, 10_000)
        waiters.push(s => { clearTimeout(t); taken++; resolve(s) })
      })
    }
  }
  rs.server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const s: Seen = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8') }
      rs.seen.push(s)
      waiters.shift()?.(s)
      void Promise.resolve().then(async () => await rs.answer(s)).then(a => { // a throwing answer function is a 599 too
        res.writeHead(a.status ?? 200, a.headers ?? { 'Content-Type': 'application/json' })
        res.end(a.body ?? '')
      }, (err: Error) => { res.writeHead(599); res.end(String(err)) })
    })
  })
  await new Promise<void>(resolve => rs.server.listen(0, '127.0.0.1', resolve))
  rs.port = (rs.server.address() as AddressInfo).port
  rs.url = `http://127.0.0.1:${rs.port}`
  return rs
}
