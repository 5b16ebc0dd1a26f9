/**
 * The autoresearch demo: a swarm of research agents with no coordinator, on 127.0.0.1.
 * A relay and N agent processes (each its own key, dialling only the relay); each agent trains small character
 * language models for a fixed compute budget, broadcasts validation bits per byte and its recipe, and adopts a
 * peer's clearly better recipe after confirming it locally. Prints one line per experiment, then the figures,
 * and writes out/swarm.svg (best bpb per agent over time, adoptions marked), out/events.jsonl, out/summary.json.
 *
 *   npx tsx --conditions=axl-source examples/autoresearch/main.ts [--agents 6] [--seconds 80] [--macs 150e6]
 *       [--eval-chars 4096] [--seed 1] [--margin 0.01] [--swarm pubsub|flood]
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { formatEvent, SwarmRun } from './launcher.js'
import { plotSvg } from './plot.js'
import { describe as describeRecipe } from './recipe.js'
import { seriesOf, summarize } from './summary.js'

function flag (name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`)
  if (i < 0) return fallback
  const v = Number(process.argv[i + 1])
  if (!Number.isFinite(v)) throw new Error(`--${name} wants a number`)
  return v
}

const swarmIdx = process.argv.indexOf('--swarm')
const swarm = swarmIdx >= 0 ? process.argv[swarmIdx + 1] : 'pubsub'
if (swarm !== 'pubsub' && swarm !== 'flood') throw new Error('--swarm is pubsub or flood')
const agents = flag('agents', 6)
const seconds = flag('seconds', 80)
const outDir = fileURLToPath(new URL('./out/', import.meta.url))
const run = new SwarmRun({
  agents, swarm, macs: flag('macs', 150e6), evalChars: flag('eval-chars', 4096), seed: flag('seed', 1), margin: flag('margin', 0.01),
  onEvent: e => { const line = formatEvent(e); if (line !== undefined) console.log(line) }
})

async function main (): Promise<void> {
  const wall = performance.now()
  console.log(`autoresearch: ${agents} agents and a relay on 127.0.0.1, each agent its own process and key; no coordinator; reports over ${swarm === 'pubsub' ? '@axl/pubsub gossip' : 'node.send to every agent'}.`)
  console.log(`Each experiment trains a character MLP on Tiny Shakespeare for a fixed compute budget and reports validation bits per byte.\n`)
  await run.start()
  console.log(`${run.now().toFixed(1).padStart(7)}s  go: all ${agents} agents know each other (setup took ${((performance.now() - wall) / 1000).toFixed(1)} s); running for ${seconds} s`)
  await run.runFor(seconds * 1000) // a process that dies ends it early, with an error
  await run.stop()
  const results = run.results()
  const s = summarize(results)
  mkdirSync(outDir, { recursive: true })
  writeFileSync(`${outDir}events.jsonl`, run.events.map(e => JSON.stringify(e)).join('\n') + '\n')
  writeFileSync(`${outDir}summary.json`, JSON.stringify(s, null, 2) + '\n')
  const svg = plotSvg(seriesOf(results), { title: `${agents} agents, ${s.experiments} experiments, ${s.adoptions} adoptions: best validation bits per byte of each agent` })
  writeFileSync(`${outDir}swarm.svg`, svg)

  console.log(`\nDone in ${((performance.now() - wall) / 1000).toFixed(1)} s: ${s.experiments} experiments, ${s.adoptions} adoptions, ${s.rejected} validations not confirmed, ${s.deadEnds} dead ends, ${s.skipped} known recipes skipped.`)
  console.log('agent  experiments  validations  adoptions  own-bests  best bpb  recipe')
  for (const a of s.agents) {
    const recipe = results.find(r => r.hash === a.hash)?.recipe
    console.log(`${a.agent.padEnd(6)} ${String(a.experiments).padStart(11)}  ${String(a.validations).padStart(11)}  ${String(a.adoptions).padStart(9)}  ${String(a.improvements).padStart(9)}  ${a.best.toFixed(3).padStart(8)}  ${a.hash.slice(0, 6)} ${recipe !== undefined ? describeRecipe(recipe) : ''}`)
  }
  for (const sp of s.spread.slice(0, 5)) console.log(`recipe ${sp.hash.slice(0, 6)}, first found by ${sp.origin}, adopted by ${sp.adoptedBy.join(', ')}`)
  console.log(`\nPlot: ${outDir}swarm.svg`)
}

let failing = false
function fail (err: unknown): void {
  if (failing) return
  failing = true
  console.error('autoresearch failed:', err instanceof Error ? err.message : err)
  run.kill()
  process.exitCode = 1
}
process.on('SIGINT', () => { fail(new Error('interrupted')); process.exit(130) })
process.on('SIGTERM', () => { fail(new Error('terminated')); process.exit(143) })
main().catch(fail)
