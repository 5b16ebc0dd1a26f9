/**
 * The AXL demo (`pnpm demo`): two agents reach each other by public key through a relay.
 * Three processes on 127.0.0.1 — the relay P (relay.ts) and agents A (agent-a.ts) and B (agent-b.ts), each
 * agent dialling only P over tcp:// — and this one, which starts them, drives A, and tells what happens.
 * The in-memory demo (one process, no sockets) is memory.ts.
 */
import { Child } from './lib/child.js'

const START_MS = 20_000 // deadline for a process to start (tsx compiles on first run)

const t0 = performance.now()
const children: Child[] = []
const names = new Map<string, string>()
const short = (key: unknown): string => `${String(key).slice(0, 8)}…`
const who = (key: unknown): string => `${short(key)}${names.has(String(key)) ? ` (${names.get(String(key))})` : ''}`
const step = (text: string): void => { console.log(`\n${text}`) }
const say = (name: string, text: string): void => { console.log(`   ${name}  ${text}`) }

function alive (pid: number): boolean {
  try { process.kill(pid, 0); return true } catch { return false }
}

function start (name: string, script: string, args: string[]): Child {
  const c = new Child(name, script, args)
  children.push(c)
  return c
}

async function main (): Promise<void> {
  console.log('AXL demo: two agents reach each other by public key, through a relay.')
  console.log('Three processes on 127.0.0.1: a relay P, and agents A and B that each dial only P.')

  step('1. Start the relay P: a plain node that forwards packets for others.')
  const p = start('P', 'relay.ts', ['--listen', 'tcp://127.0.0.1:0'])
  const pReady = await p.next(e => e.event === 'ready', START_MS, 'ready')
  const relayUri = (pReady.listen as string[])[0]
  names.set(String(pReady.key), 'P')
  say('P', `pid ${p.pid}, peer id ${short(pReady.key)}, listening on ${relayUri}`)

  // B and A start side by side; A is told B's peer id only in its commands.
  const b = start('B', 'agent-b.ts', ['--peer', relayUri])
  const a = start('A', 'agent-a.ts', ['--peer', relayUri])
  const [bReady, aReady] = await Promise.all([b.next(e => e.event === 'ready', START_MS, 'ready'), a.next(e => e.event === 'ready', START_MS, 'ready')])
  const bKey = String(bReady.key)
  const aKey = String(aReady.key)
  names.set(bKey, 'B')
  names.set(aKey, 'A')
  step('2. Start agent B: it dials P and serves the MCP service "weather" (tool `forecast`) and an A2A card.')
  say('B', `pid ${b.pid}, peer id ${short(bKey)}, dials ${relayUri}`)
  say('B', `its full peer id (its ed25519 public key) is ${bKey}`)

  step('3. Start agent A: it dials P too. All it is told about B is that peer id.')
  say('A', `pid ${a.pid}, peer id ${short(aKey)}, dials ${relayUri}`)

  step('4. A sends B a message, addressed by B\'s peer id.')
  const sent = await a.ask('send', { to: bKey, text: 'hello B, this is A' }, 20_000)
  say('A', `B's node accepted it after ${(Number(sent.ms) / 1000).toFixed(1)} s: a first contact waits until A and B have joined P's`)
  say(' ', 'spanning tree and a lookup has found B (a few hundred ms; a second or two when a newcomer\'s key is lower')
  say(' ', 'than P\'s and the whole tree re-forms under it as its new root)')
  const msg = await b.next(e => e.event === 'message', 5000, 'the message')
  say('B', `got "${String(msg.text)}" from ${who(msg.from)}: the sender's key, authenticated by the mesh`)

  step('5. Links: who is connected to whom (each process\'s own view).')
  const links = async (c: Child): Promise<string[]> => ((await c.ask('links')).peers as Array<{ key: string }>).map(x => who(x.key))
  const [pl, al, bl] = await Promise.all([links(p), links(a), links(b)])
  say('P', `linked to ${pl.sort().join(' and ')}`)
  say('A', `linked to ${al.join(', ')} only`)
  say('B', `linked to ${bl.join(', ')} only`)
  console.log('      A and B have no direct link: everything between them goes through P, end-to-end encrypted.')

  step('6. A calls B\'s tool with the MCP SDK\'s own Client, over the mesh (transport: B\'s peer id + "weather").')
  const tool = await a.ask('tool', { to: bKey, city: 'Lisbon' })
  say('A', `connected to MCP server "${String(tool.server)}" on ${who(bKey)}; its tools: ${(tool.tools as string[]).join(', ')}`)
  const called = await b.next(e => e.event === 'tool', 5000, 'the tool call')
  say('B', `forecast({ city: "${String(called.city)}" }) called by ${who(called.from)}`)
  say('A', `result "${String(tool.text)}" in ${Number(tool.ms).toFixed(1)} ms (A → P → B → P → A)`)

  step('7. A reads B\'s A2A agent card, then sends B an A2A message that runs the same tool.')
  const card = await a.ask('a2a', { to: bKey, city: 'Tokyo' })
  const skills = (card.skills as Array<{ id: string, name: string }>).map(s => `${s.id} ("${s.name}")`)
  say('A', `card "${String(card.name)}", skills: ${skills.join(', ')}`)
  const viaA2a = await b.next(e => e.event === 'tool', 5000, 'the tool call through A2A')
  say('B', `forecast({ city: "${String(viaA2a.city)}" }) called by ${who(viaA2a.from)}, through B's A2A endpoint`)
  say('A', `A2A task ${String(card.state)}: "${String(card.text)}"`)

  step('8. What the relay did.')
  const traffic = await p.ask('traffic')
  say('P', `forwarded ${Number(traffic.packets)} packets (${(Number(traffic.bytes) / 1024).toFixed(1)} KiB) between A and B; it holds none of their session keys`)

  step('9. Stop everything: each process stops its node and exits.')
  const codes = await Promise.all([a, b, p].map(async c => await c.stop()))
  const left = [a, b, p].filter(c => alive(c.pid)).map(c => c.name)
  if (codes.some(code => code !== 0) || left.length > 0) throw new Error(`unclean stop: exit codes ${codes.join(', ')}; still running: ${left.join(', ') || 'none'}`)
  say(' ', 'A, B and P exited with code 0; no process left behind')
  console.log(`\nDone in ${((performance.now() - t0) / 1000).toFixed(1)} s: 3 processes, 1 relay, 0 direct links between the agents.`)
}

let failing = false
async function fail (err: unknown): Promise<void> {
  if (failing) return
  failing = true
  console.error('demo failed:', err instanceof Error ? err.message : err)
  for (const c of children) c.kill()
  await Promise.all(children.map(async c => await c.exited))
  process.exit(1)
}

process.on('SIGINT', () => { void fail(new Error('interrupted')) })
process.on('SIGTERM', () => { void fail(new Error('terminated')) })
main().catch(fail)
