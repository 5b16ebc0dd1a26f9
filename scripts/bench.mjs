#!/usr/bin/env node
// `pnpm bench <name> [--opt v]`: bundles bench/<name>/main.ts with esbuild (our workspace packages inlined,
// everything else external) and runs it with this Node. Bundling instead of running through tsx keeps the
// TypeScript loader (and its keepNames wrappers) out of the measured hot paths.
// Its last stdout line is one JSON object of named results.
import { spawnSync } from 'node:child_process'
import { existsSync, readdirSync, mkdirSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { dirname, join } from 'node:path'
import { build } from 'esbuild'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const [name, ...args] = process.argv.slice(2)
const benches = readdirSync(join(root, 'bench'), { withFileTypes: true })
  .filter(d => d.isDirectory() && existsSync(join(root, 'bench', d.name, 'main.ts'))).map(d => d.name)
if (name === undefined || !benches.includes(name)) {
  console.error(`usage: pnpm bench <name> [--opt value]\nbenchmarks: ${benches.join(', ')}`)
  process.exit(name === undefined ? 0 : 2)
}
const outdir = join(root, 'bench', name, '.build')
mkdirSync(outdir, { recursive: true })
const outfile = join(outdir, 'main.mjs')
await build({
  entryPoints: [join(root, 'bench', name, 'main.ts')],
  outfile,
  bundle: true,
  platform: 'node',
  conditions: ['axl-source'], // our workspace packages from their TypeScript sources
  format: 'esm',
  target: 'node20',
  sourcemap: 'linked',
  logLevel: 'warning',
  banner: { js: "import { createRequire as __axlCreateRequire } from 'node:module'; const require = __axlCreateRequire(import.meta.url);" },
  plugins: [{
    name: 'externals',
    setup (b) {
      // Inline our workspace packages (from their sources, under the axl-source condition); keep npm packages external.
      b.onResolve({ filter: /^[^./]/ }, args => args.path.startsWith('@axl/') ? undefined : { path: args.path, external: true })
    }
  }]
})
const r = spawnSync(process.execPath, ['--enable-source-maps', outfile, ...args], { cwd: root, stdio: 'inherit' })
process.exit(r.status ?? 1)
