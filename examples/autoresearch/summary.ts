/** What a run amounted to, from the agents' result events: per-agent figures, the spread of recipes, plot series. */
import type { ResultFields, SwarmEvent } from './launcher.js'
import type { Series } from './plot.js'

type Result = SwarmEvent & ResultFields

/** Per-agent figures of a run. */
export interface AgentSummary { agent: string, experiments: number, validations: number, adoptions: number, improvements: number, best: number, hash: string }

/** The figures of a run. */
export interface RunSummary {
  agents: AgentSummary[]
  experiments: number
  adoptions: number
  /** Validations that did not confirm (the recipe was not adopted). */
  rejected: number
  /** Explorations that did not beat their agent's best (broadcast as dead ends). */
  deadEnds: number
  /** Mutations skipped because the swarm already knew their result. */
  skipped: number
  best: { bpb: number, agent: string, hash: string }
  /** Recipes adopted by at least one agent: who found them first, who adopted them. */
  spread: Array<{ hash: string, origin: string, adoptedBy: string[] }>
}

/** Best-so-far series per agent (in name order), for plotSvg. */
export function seriesOf (results: Result[]): Series[] {
  const by = new Map<string, Series>()
  for (const r of results) {
    let s = by.get(r.agent)
    if (s === undefined) by.set(r.agent, s = { agent: r.agent, points: [] })
    s.points.push({ t: r.t, best: r.best, improved: r.improved, adopted: r.adopted, ...(r.from !== undefined ? { from: r.from } : {}) })
  }
  return [...by.values()].sort((a, b) => a.agent.localeCompare(b.agent))
}

/** The run's figures. */
export function summarize (results: Result[]): RunSummary {
  const agents = new Map<string, AgentSummary>()
  const spread = new Map<string, { hash: string, origin: string, adoptedBy: string[] }>()
  let best = { bpb: Infinity, agent: '', hash: '' }
  for (const r of results) {
    let a = agents.get(r.agent)
    if (a === undefined) agents.set(r.agent, a = { agent: r.agent, experiments: 0, validations: 0, adoptions: 0, improvements: 0, best: Infinity, hash: '' })
    a.experiments++
    if (r.kind === 'validate') a.validations++
    if (r.adopted) a.adoptions++
    if (r.improved && !r.adopted) a.improvements++
    if (r.improved) { a.best = r.best; a.hash = r.hash }
    if (r.bpb < best.bpb) best = { bpb: r.bpb, agent: r.agent, hash: r.hash }
    if (r.adopted) {
      const s = spread.get(r.hash) ?? { hash: r.hash, origin: r.origin, adoptedBy: [] }
      s.adoptedBy.push(r.agent)
      spread.set(r.hash, s)
    }
  }
  return {
    agents: [...agents.values()].sort((a, b) => a.agent.localeCompare(b.agent)),
    experiments: results.length,
    adoptions: results.filter(r => r.adopted).length,
    rejected: results.filter(r => r.kind === 'validate' && !r.adopted).length,
    deadEnds: results.filter(r => r.kind === 'explore' && !r.improved).length,
    skipped: results.reduce((n, r) => n + r.skipped, 0),
    best,
    spread: [...spread.values()].sort((a, b) => b.adoptedBy.length - a.adoptedBy.length)
  }
}
