#!/usr/bin/env node
// Import-cycle check of every packages/*/src/**/*.ts: value imports only (`import type` / `export type` statements
// are erased by TypeScript and do not load a module; `import { type A }` still does under verbatimModuleSyntax, so it
// counts). Relative specifiers only; `x.js` resolves to `x.ts`, a folder to its `index.ts`. Strongly connected
// components (Tarjan) of more than one module, or a module importing itself, are cycles: printed, exit 1.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { dirname, join, relative, resolve, sep } from 'node:path'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
/** `--types`: count type-only imports too (the stricter layering check `pnpm test` runs). */
const WITH_TYPES = process.argv.includes('--types')

/** Cycles tolerated, each as the sorted list of its modules (repo-relative); keep this empty (it is). */
const KNOWN = []

/** Every .ts file below `dir` (skipping .d.ts). */
function tsFiles (dir) {
  const out = []
  for (const name of readdirSync(dir)) {
    const p = join(dir, name)
    if (statSync(p).isDirectory()) out.push(...tsFiles(p))
    else if (name.endsWith('.ts') && !name.endsWith('.d.ts')) out.push(p)
  }
  return out
}

// Statements at the start of a line: `import x, { a } from '…'`, `import * as x from '…'`, `import '…'`,
// `export { a } from '…'`, `export * from '…'`, `export * as x from '…'`; an optional `type` marks them type-only.
const CLAUSE = String.raw`(?:\{[^}]*\}|\*\s+as\s+[\w$]+|[\w$]+(?:\s*,\s*(?:\{[^}]*\}|\*\s+as\s+[\w$]+))?)`
const IMPORT_FROM = new RegExp(String.raw`^[ \t]*import\s+(type\s+)?${CLAUSE}\s*from\s*(['"])([^'"\n]+)\2`, 'gm')
const IMPORT_BARE = /^[ \t]*import\s*(['"])([^'"\n]+)\1/gm
const EXPORT_FROM = new RegExp(String.raw`^[ \t]*export\s+(type\s+)?(?:\{[^}]*\}|\*(?:\s+as\s+[\w$]+)?)\s*from\s*(['"])([^'"\n]+)\2`, 'gm')

/** Relative value-import specifiers of one source text. */
function specifiers (text) {
  const out = []
  for (const re of [IMPORT_FROM, EXPORT_FROM]) {
    for (const m of text.matchAll(re)) if (m[1] === undefined || WITH_TYPES) out.push(m[3])
  }
  for (const m of text.matchAll(IMPORT_BARE)) out.push(m[2])
  return out.filter(s => s.startsWith('./') || s.startsWith('../'))
}

/** The .ts file a relative specifier names, or undefined when it is not one of ours. */
function resolveSpec (from, spec) {
  const base = resolve(dirname(from), spec)
  const candidates = []
  if (base.endsWith('.js')) candidates.push(base.slice(0, -3) + '.ts')
  else if (base.endsWith('.ts')) candidates.push(base)
  else candidates.push(base + '.ts')
  candidates.push(join(base, 'index.ts'))
  return candidates.find(c => existsSync(c) && statSync(c).isFile())
}

/** Strongly connected components of `graph` (Map node → node[]), Tarjan's algorithm without recursion. */
function tarjan (graph) {
  let counter = 0
  const index = new Map()
  const low = new Map()
  const onStack = new Set()
  const stack = []
  const sccs = []
  for (const start of graph.keys()) {
    if (index.has(start)) continue
    const work = [{ v: start, i: 0 }]
    index.set(start, counter); low.set(start, counter); counter++
    stack.push(start); onStack.add(start)
    while (work.length > 0) {
      const top = work[work.length - 1]
      const edges = graph.get(top.v)
      if (top.i < edges.length) {
        const w = edges[top.i++]
        if (!index.has(w)) {
          index.set(w, counter); low.set(w, counter); counter++
          stack.push(w); onStack.add(w)
          work.push({ v: w, i: 0 })
        } else if (onStack.has(w)) {
          low.set(top.v, Math.min(low.get(top.v), index.get(w)))
        }
        continue
      }
      work.pop()
      if (work.length > 0) {
        const parent = work[work.length - 1].v
        low.set(parent, Math.min(low.get(parent), low.get(top.v)))
      }
      if (low.get(top.v) === index.get(top.v)) {
        const scc = []
        let w
        do { w = stack.pop(); onStack.delete(w); scc.push(w) } while (w !== top.v)
        sccs.push(scc)
      }
    }
  }
  return sccs
}

/** One shortest import chain from `start` back to itself, inside `members`. */
function exampleCycle (graph, start, members) {
  const prev = new Map()
  const queue = [start]
  while (queue.length > 0) {
    const v = queue.shift()
    for (const w of graph.get(v)) {
      if (!members.has(w)) continue
      if (w === start) {
        const path = [start]
        for (let x = v; x !== start; x = prev.get(x)) path.splice(1, 0, x)
        return [...path, start]
      }
      if (!prev.has(w)) { prev.set(w, v); queue.push(w) }
    }
  }
  return [start]
}

const pkgs = join(root, 'packages')
const files = []
for (const name of readdirSync(pkgs).sort()) {
  const src = join(pkgs, name, 'src')
  if (existsSync(src)) files.push(...tsFiles(src))
}
const graph = new Map(files.map(f => [f, []]))
for (const f of files) {
  const deps = new Set()
  for (const spec of specifiers(readFileSync(f, 'utf8'))) {
    const target = resolveSpec(f, spec)
    if (target !== undefined && graph.has(target)) deps.add(target)
  }
  graph.set(f, [...deps])
}

const rel = (f) => relative(root, f).split(sep).join('/')
const known = new Set(KNOWN.map(list => [...list].sort().join('\n')))
let failed = 0
let tolerated = 0
for (const scc of tarjan(graph)) {
  const selfLoop = scc.length === 1 && graph.get(scc[0]).includes(scc[0])
  if (scc.length < 2 && !selfLoop) continue
  const names = scc.map(rel).sort()
  if (known.has(names.join('\n'))) { tolerated++; continue }
  failed++
  const first = scc.slice().sort()[0]
  console.error(`import cycle among ${scc.length} module(s):`)
  for (const n of names) console.error(`  ${n}`)
  console.error(`  e.g. ${exampleCycle(graph, first, new Set(scc)).map(rel).join(' -> ')}`)
}
if (failed > 0) {
  console.error(`${failed} import cycle(s) in ${files.length} modules`)
  process.exit(1)
}
console.log(`no import cycles (${files.length} modules${tolerated > 0 ? `; ${tolerated} known exception(s)` : ''})`)
