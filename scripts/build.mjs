#!/usr/bin/env node
// `pnpm build [package…]`: compiles each workspace package's src/ to dist/ (JS, .d.ts, source maps) with
// tsc, in dependency order (a package's @axl/* dependencies resolve to their built dist/*.d.ts). With no
// names, builds every package under packages/. A package is rebuilt from a clean dist/.
import { spawnSync } from 'node:child_process'
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { dirname, join, relative } from 'node:path'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc')
const dirs = readdirSync(join(root, 'packages'), { withFileTypes: true })
  .filter(d => d.isDirectory() && existsSync(join(root, 'packages', d.name, 'package.json'))).map(d => d.name)
const pkgs = new Map(dirs.map(dir => {
  const pkg = JSON.parse(readFileSync(join(root, 'packages', dir, 'package.json'), 'utf8'))
  const deps = Object.keys({ ...pkg.dependencies, ...pkg.optionalDependencies, ...pkg.peerDependencies }).filter(n => n.startsWith('@axl/'))
  return [pkg.name, { dir, deps }]
}))

/** Package names in dependency order (dependencies first); throws on a cycle. */
function order (names) {
  const out = []
  const state = new Map()
  const visit = (name, path) => {
    if (state.get(name) === 'done') return
    if (state.get(name) === 'visiting') throw new Error(`dependency cycle: ${[...path, name].join(' → ')}`)
    state.set(name, 'visiting')
    for (const d of pkgs.get(name)?.deps ?? []) if (pkgs.has(d)) visit(d, [...path, name])
    state.set(name, 'done')
    out.push(name)
  }
  for (const n of names) visit(n, [])
  return out
}

const wanted = process.argv.slice(2).map(a => {
  const hit = [...pkgs].find(([name, p]) => name === a || p.dir === a)
  if (hit === undefined) { console.error(`build: no package ${a} (have: ${dirs.join(', ')})`); process.exit(2) }
  return hit[0]
})
const names = order(wanted.length > 0 ? wanted : [...pkgs.keys()])
for (const name of names) {
  const dir = join(root, 'packages', pkgs.get(name).dir)
  rmSync(join(dir, 'dist'), { recursive: true, force: true })
  // A generated per-package project: the shared settings, this package's src/ in, dist/ out.
  const config = join(dir, 'tsconfig.build.json')
  writeFileSync(config, JSON.stringify({
    extends: relative(dir, join(root, 'tsconfig.build.json')),
    compilerOptions: { rootDir: 'src', outDir: 'dist' },
    include: ['src']
  }, null, 2) + '\n')
  const t0 = Date.now()
  const r = spawnSync(process.execPath, [tsc, '-p', config], { cwd: dir, stdio: 'inherit' })
  rmSync(config, { force: true })
  if (r.status !== 0) { console.error(`build: ${name} failed (exit ${r.status ?? r.signal})`); process.exit(r.status ?? 1) }
  console.log(`built ${name} in ${Date.now() - t0} ms`)
}
