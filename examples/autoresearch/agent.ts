/**
 * One research agent, one OS process with its own key. It dials the relay, joins the swarm, waits for the
 * launcher's `go`, then runs experiments until told to stop or out of experiments: explore (mutate its recipe),
 * or validate a peer's clearly better recipe with its own seed and adopt it if confirmed (search.ts). Each
 * result is broadcast to the swarm and written as a JSON line for the launcher.
 *
 * Flags: --name a01 --relay tcp://127.0.0.1:N --relay-key <hex> --seed 1 --macs 60e6 --eval-chars 4096
 *        --experiments 0 (0 = until stopped) --margin 0.01 --corpus <path> (default corpus.txt here)
 *        --swarm pubsub|flood (default pubsub: reports over @axl/pubsub gossip; flood: node.send to every agent)
 */
import { createNode, generateIdentity, type PeerId } from '@axl/core'
import { gossip } from '@axl/pubsub'
import { ygg } from '@axl/transport-ygg'
import { loadCorpus } from './corpus.js'
import { emit, onCommand, onStdinClose } from './lines.js'
import { mixSeed } from './random.js'
import { Research, type Report } from './search.js'
import { joinSwarm } from './swarm.js'
import { runExperiment, DEFAULT_EVAL_CHARS, DEFAULT_MACS } from './train.js'

function flag (name: string, fallback?: string): string {
  const i = process.argv.indexOf(`--${name}`)
  const v = i >= 0 ? process.argv[i + 1] : fallback
  if (v === undefined) throw new Error(`missing --${name}`)
  return v
}

const name = flag('name')
const seed = Number(flag('seed', '1'))
const macs = Number(flag('macs', String(DEFAULT_MACS)))
const evalChars = Number(flag('eval-chars', String(DEFAULT_EVAL_CHARS)))
const maxExperiments = Number(flag('experiments', '0'))
const margin = Number(flag('margin', '0.01'))

const corpus = loadCorpus(process.argv.includes('--corpus') ? flag('corpus') : undefined)
const research = new Research(name, seed, { margin })
const stop = new AbortController()
const mode = flag('swarm', 'pubsub')
if (mode !== 'pubsub' && mode !== 'flood') throw new Error('--swarm is pubsub or flood')
const node = await createNode({
  identity: await generateIdentity(),
  transport: ygg({ peers: [flag('relay')] }),
  // peers come from the relay's directory (addPeer), so no probing of topology peers; idle with --swarm flood
  services: { pubsub: gossip({ discover: false, heartbeatMs: 500 }) }
})
const swarm = await joinSwarm(node, {
  name,
  ...(mode === 'pubsub' ? { pubsub: node.services.pubsub } : {}),
  relay: flag('relay-key') as PeerId,
  onError: (err, peer) => { emit('send-failed', { name, to: peer.slice(0, 8), error: err instanceof Error ? err.message : String(err) }) }
})

swarm.onPeer(count => { emit('peers', { name, peers: count }) })
const MAX_PUBLISHING = 4
const publishing = new Set<Promise<void>>()
let heard = 0
swarm.onReport(report => {
  heard++
  research.hear(report)
})

let go: () => void = () => {}
const started = new Promise<void>(resolve => { go = resolve })
onCommand(c => {
  if (c.cmd === 'go') go()
})
onStdinClose(async () => { stop.abort(); go(); await swarm.stop(); await node.stop() })

emit('ready', { name, key: node.peerId, swarm: swarm.kind, peers: swarm.peerCount() })
await started

for (let exp = 1; !stop.signal.aborted && (maxExperiments === 0 || exp <= maxExperiments); exp++) {
  const plan = research.next()
  const runSeed = mixSeed(seed, exp)
  let outcome
  try {
    outcome = await runExperiment(plan.recipe, corpus, runSeed, { macs, evalChars, signal: stop.signal })
  } catch (err) {
    if (stop.signal.aborted) break
    throw err
  }
  const report: Report = research.record(plan, exp, runSeed, outcome.bpb, outcome.steps)
  emit('result', { ...report, skipped: plan.skipped, ms: Math.round(outcome.ms), peers: swarm.peerCount(), heard, known: research.known.size, deadEnds: research.deadEnds() })
  // publish in the background, at most MAX_PUBLISHING at once (each is bounded by the swarm's deadlines)
  const p = swarm.publish(report).finally(() => publishing.delete(p))
  publishing.add(p)
  if (publishing.size >= MAX_PUBLISHING) await Promise.race(publishing)
}
emit('finished', { name, best: research.best, hash: research.currentHash, failures: swarm.failures })
