/**
 * Starts a swarm on 127.0.0.1: the relay, then N agent processes (each its own key) that dial it; waits until
 * they have found each other, says `go`, and collects every event with its time since `go`. Used by main.ts
 * (the demo) and by the smoke test. Every wait has a deadline; stop() (also on failure) leaves no process.
 */
import { bundle, bundleEnv, CORPUS_PATH, type Bundles } from './build.js'
import { Child, type ChildEvent } from './child.js'
import { describe as describeRecipe, type Recipe } from './recipe.js'

/** Options of a swarm run. */
export interface SwarmOptions {
  /** Agent processes. Default 6. */
  agents?: number
  /** Training multiply-adds per experiment. Default 150 M (about 0.3 s of an idle core). */
  macs?: number
  /** Validation characters scored per experiment. Default 4096. */
  evalChars?: number
  /** Experiments per agent (0 = until stopped). Default 0. */
  experiments?: number
  /** Base seed; agent i uses seed*1000+i. Default 1. */
  seed?: number
  /** Relative improvement that makes a peer's result worth validating. Default 0.01. */
  margin?: number
  /** Deadline for the relay and the agents to start and find each other. Default 60 s. */
  startMs?: number
  /** How agents share reports: 'pubsub' (@axl/pubsub gossip) or 'flood' (node.send to each). Default 'pubsub'. */
  swarm?: 'pubsub' | 'flood'
  /** Run bundles of relay.ts and agent.ts (build.ts) instead of the sources through tsx: a faster start. Default true. */
  bundled?: boolean
  /** Told each event as it arrives. */
  onEvent?: (e: SwarmEvent) => void
}

/** An event of a relay or agent, with its arrival time in seconds since `go` (-Infinity before it). */
export type SwarmEvent = ChildEvent & { t: number, proc: string }

/** Bound on events kept (the oldest are dropped beyond it). */
export const MAX_EVENTS = 200_000

/** A running swarm. */
export class SwarmRun {
  readonly events: SwarmEvent[] = []
  readonly agents: Child[] = []
  relay: Child | undefined
  goAt = 0
  private bundles: Bundles | undefined
  private stopped = false
  private readonly waiters = new Set<() => void>()
  private readonly peerCounts = new Map<string, number>()
  private readonly opts: Required<Omit<SwarmOptions, 'onEvent'>> & Pick<SwarmOptions, 'onEvent'>
  private readonly t0 = performance.now()

  constructor (opts: SwarmOptions = {}) {
    this.opts = {
      agents: 6, macs: 150e6, evalChars: 4096, experiments: 0, seed: 1, margin: 0.01, startMs: 60_000, swarm: 'pubsub', bundled: true, ...opts
    }
  }

  /** Seconds since `go` (-Infinity before it). */
  now (): number { return (performance.now() - this.t0) / 1000 - this.goAt }

  /** Start the relay and the agents, wait (bounded) until every agent knows the others, then say go. */
  async start (): Promise<void> {
    const { agents: n, startMs } = this.opts
    const deadline = performance.now() + startMs
    const left = (): number => Math.max(1, deadline - performance.now())
    this.goAt = Infinity
    if (this.opts.bundled) this.bundles = await bundle()
    if (this.stopped) throw new Error('stopped while starting')
    const b = this.bundles
    const env = b !== undefined ? bundleEnv() : undefined
    this.relay = new Child('relay', b?.relay ?? 'relay.ts', [], e => { this.add(e, 'relay') }, env)
    const ready = await this.relay.next(e => e.event === 'ready', left(), 'ready')
    const uri = (ready.listen as string[])[0]
    const key = String(ready.key)
    for (let i = 1; i <= n; i++) {
      const name = `a${String(i).padStart(2, '0')}`
      const args = ['--name', name, '--relay', uri, '--relay-key', key, '--seed', String(this.opts.seed * 1000 + i),
        '--macs', String(this.opts.macs), '--eval-chars', String(this.opts.evalChars),
        '--experiments', String(this.opts.experiments), '--margin', String(this.opts.margin), '--corpus', CORPUS_PATH, '--swarm', this.opts.swarm]
      this.agents.push(new Child(name, b?.agent ?? 'agent.ts', args, e => { this.add(e, name) }, env))
    }
    await Promise.all(this.agents.map(async a => await a.next(e => e.event === 'ready', left(), 'ready')))
    // every agent knows the n-1 others (from the relay's directory and their hellos)
    await this.waitFor(() => this.agents.every(a => this.peersOf(a.name) >= n - 1), left(), 'point where every agent knows the others').catch((err: unknown) => {
      const counts = this.agents.map(a => `${a.name}:${this.peersOf(a.name)}`).join(' ')
      throw new Error(`${err instanceof Error ? err.message : String(err)} (agents known by each: ${counts})`)
    })
    this.goAt = (performance.now() - this.t0) / 1000
    for (const a of this.agents) a.command('go')
  }

  /** The highest peer count an agent reported. */
  peersOf (name: string): number { return this.peerCounts.get(name) ?? 0 }

  /** Resolve when `done()` holds (checked on each event); reject after `timeoutMs` or if a process exits. */
  async waitFor (done: () => boolean, timeoutMs: number, what: string): Promise<void> {
    await this.watch(done, timeoutMs, () => new Error(`no ${what} within ${Math.round(timeoutMs)} ms`), what)
  }

  /** Let the swarm run for `ms` (the length of a demo run); rejects early if a process exits. */
  async runFor (ms: number): Promise<void> {
    await this.watch(() => false, ms, undefined, `the end of the run`)
  }

  private async watch (done: () => boolean, timeoutMs: number, onTimeout: (() => Error) | undefined, what: string): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => { finish(); if (onTimeout === undefined) resolve(); else reject(onTimeout()) }, timeoutMs)
      const check = (): void => {
        if (done()) { finish(); resolve(); return }
        const dead = [this.relay, ...this.agents].find(c => c !== undefined && !c.running)
        if (dead !== undefined) { finish(); reject(new Error(`${dead.name} exited while we waited for ${what}${dead.stderr()}`)) }
      }
      const finish = (): void => { clearTimeout(timer); this.waiters.delete(check) }
      this.waiters.add(check)
      check()
    })
  }

  /** Results reported so far. */
  results (): Array<SwarmEvent & ResultFields> {
    return this.events.filter((e): e is SwarmEvent & ResultFields => e.event === 'result')
  }

  /** Stop every process (stdin closed, SIGKILL after 5 s); resolves when all have exited. */
  async stop (): Promise<void> {
    this.stopped = true
    await Promise.all(this.agents.map(async a => await a.stop()))
    await this.relay?.stop()
    this.bundles?.dispose()
  }

  /** Kill every process at once (on failure or SIGINT), and delete the bundles. */
  kill (): void {
    this.stopped = true
    for (const c of [this.relay, ...this.agents]) c?.kill()
    this.bundles?.dispose()
  }

  private add (e: ChildEvent, proc: string): void {
    const ev: SwarmEvent = { ...e, proc, t: this.now() }
    if ((e.event === 'peers' || e.event === 'ready') && typeof e.peers === 'number') this.peerCounts.set(proc, Math.max(e.peers, this.peersOf(proc)))
    this.events.push(ev)
    if (this.events.length > MAX_EVENTS) this.events.splice(0, this.events.length - MAX_EVENTS)
    this.opts.onEvent?.(ev)
    for (const w of this.waiters) w()
  }
}

/** The fields of an agent's `result` event (a search.ts Report plus bookkeeping). */
export interface ResultFields {
  agent: string, exp: number, kind: 'explore' | 'validate', hash: string, recipe: Recipe, bpb: number, best: number
  improved: boolean, adopted: boolean, origin: string, from?: string, claimed?: number, seed: number, steps: number
  skipped: number, ms: number, peers: number, heard: number, known: number, deadEnds: number
}

/** One human line for an event worth showing (undefined for the others). */
export function formatEvent (e: SwarmEvent): string | undefined {
  const t = Number.isFinite(e.t) ? `${e.t.toFixed(1).padStart(7)}s` : '   setup'
  if (e.event === 'result') {
    const r = e as SwarmEvent & ResultFields
    const head = `${t}  ${r.agent}  #${String(r.exp).padEnd(3)} ${r.kind.padEnd(8)}  bpb ${r.bpb.toFixed(3)}  best ${r.best.toFixed(3)}`
    const recipe = `${r.hash.slice(0, 6)} ${describeRecipe(r.recipe)}`
    if (r.kind === 'validate') {
      return r.adopted
        ? `${head}  ADOPTED ${recipe} from ${r.from ?? '?'} (claimed ${r.claimed?.toFixed(3) ?? '?'}, first found by ${r.origin})`
        : `${head}  not confirmed: ${r.hash.slice(0, 6)} from ${r.from ?? '?'} (claimed ${r.claimed?.toFixed(3) ?? '?'})`
    }
    const skipped = r.skipped > 0 ? ` (skipped ${r.skipped} known)` : ''
    return r.improved ? `${head}  new best  ${recipe}${skipped}` : `${head}  dead end  ${r.hash.slice(0, 6)}${skipped}`
  }
  if (e.event === 'ready' && e.proc === 'relay') return `${t}  relay  listening on ${(e.listen as string[]).join(', ')}, peer id ${String(e.key).slice(0, 8)}…`
  if (e.event === 'ready') return `${t}  ${e.proc}  pid up, peer id ${String(e.key).slice(0, 8)}…, swarm: ${String(e.swarm)}`
  if (e.event === 'send-failed') return `${t}  ${e.proc}  a delivery failed: ${String(e.error)}`
  if (e.event === 'exit' && e.code !== 0 && e.code !== null) return `${t}  ${e.proc}  exited with code ${String(e.code)}`
  return undefined
}
