/**
 * Churn: 10 real processes (2 relays, 8 agents each linked to both relays) over tcp:// on loopback; while agents
 * send messages to each other, a seeded chaos loop kill -9s a random process and restarts it (same key, same
 * port) every ~1.5 s. Checked afterwards, message by message: none is delivered twice; every message whose send()
 * resolved was delivered — unless its receiver was killed after it was sent (the inbox is memory only, as in Go
 * AXL: such losses are counted and printed; the durable inbox is not built yet); a failed send() may or may not
 * have been delivered (the ack can be lost with a link), but at most once.
 */
import { afterAll, describe, expect, it } from 'vitest'
import { fileURLToPath } from 'node:url'
import { createServer } from 'node:net'
import { Proc } from './helpers/proc.js'
import { prng } from '../src/testing/prng.js'

const fixture = fileURLToPath(new URL('./fixtures/ygg-node.ts', import.meta.url))
const seed = (b: number): string => b.toString(16).padStart(2, '0').repeat(32)
const TRAFFIC_MS = 15_000
const SEND_TIMEOUT_MS = 6000

async function freePort (): Promise<number> {
  return await new Promise((resolve, reject) => {
    const s = createServer()
    s.once('error', reject)
    s.listen(0, '127.0.0.1', () => { const a = s.address(); s.close(() => { resolve(typeof a === 'object' && a !== null ? a.port : 0) }) })
  })
}

/** One logical node: its key and args, and every process it has been (a restart is a new Proc). */
interface Member { name: string, key: string, args: string[], relay: boolean, lives: Proc[], killedAt: number[] }

describe('churn: kill -9 and restart while traffic runs', () => {
  const members: Member[] = []
  afterAll(async () => { await Promise.all(members.flatMap(m => m.lives).map(async p => { await p.stop(3000) })) })

  const current = (m: Member): Proc => m.lives[m.lives.length - 1]!
  const alive = (m: Member): boolean => { const p = current(m); return p.child.exitCode === null && p.child.signalCode === null }
  async function launch (m: Member): Promise<void> {
    const p = new Proc(`${m.name}#${m.lives.length}`, fixture, m.args)
    m.lives.push(p)
    const r = await p.waitFor(e => e.event === 'ready', 30_000, `${p.name} ready`)
    m.key = r.key as string
  }

  it('every message is delivered at most once, and every acknowledged one arrives unless its receiver crashed', async () => {
    const rand = prng(20261204)
    const ports = [await freePort(), await freePort()]
    const relays = ports.map((port, i) => ({ name: `P${i}`, key: '', args: ['--seed', seed(0x10 + i), '--listen', `tcp://127.0.0.1:${port}`], relay: true, lives: [], killedAt: [] } satisfies Member))
    const agents = Array.from({ length: 8 }, (_, i): Member => ({
      name: `A${i}`, key: '', args: ['--seed', seed(0x20 + i), '--connect-timeout-ms', '4000', ...ports.flatMap(p => ['--peer', `tcp://127.0.0.1:${p}`])], relay: false, lives: [], killedAt: []
    }))
    members.push(...relays, ...agents)
    await Promise.all(relays.map(launch))
    await Promise.all(agents.map(launch))
    // Each agent linked to both relays before traffic starts.
    await Promise.all(agents.map(async a => {
      for (const r of relays) await current(a).waitFor(e => e.event === 'peer:connect' && e.peer === r.key, 20_000, `${a.name} linked to ${r.name}`)
    }))

    interface Sent { id: number, tag: string, from: Member, to: Member, proc: Proc, at: number }
    const sent: Sent[] = []
    let nextId = 0
    const t0 = Date.now()
    let kills = 0
    let stop = false

    const traffic = (async () => {
      while (Date.now() - t0 < TRAFFIC_MS) {
        const from = agents[Math.floor(rand() * agents.length)]!
        let to = agents[Math.floor(rand() * agents.length)]!
        if (to === from) to = agents[(agents.indexOf(from) + 1) % agents.length]!
        if (alive(from)) {
          const id = ++nextId
          const tag = `churn-${id}`
          const proc = current(from)
          proc.send({ cmd: 'send', id, to: to.key, text: tag, timeoutMs: SEND_TIMEOUT_MS })
          sent.push({ id, tag, from, to, proc, at: Date.now() })
        }
        await new Promise(resolve => setTimeout(resolve, 40))
      }
    })()

    const restarts: Array<Promise<void>> = []
    const restarting = new Set<Member>()
    const chaos = (async () => {
      while (!stop && Date.now() - t0 < TRAFFIC_MS - 2000) {
        await new Promise(resolve => setTimeout(resolve, 700 + rand() * 800))
        // Never both relays down at once; a member still restarting is left alone.
        const candidates = members.filter(m => alive(m) && !restarting.has(m) && (!m.relay || relays.every(r => r === m || (alive(r) && !restarting.has(r)))))
        const victim = candidates[Math.floor(rand() * candidates.length)]!
        victim.killedAt.push(Date.now())
        await current(victim).kill()
        kills++
        restarting.add(victim)
        // Restarted in the background (same key, same port) after a short outage; the chaos goes on meanwhile.
        const down = 200 + rand() * 600
        restarts.push(new Promise<void>(resolve => setTimeout(resolve, down)).then(async () => { await launch(victim) }).finally(() => { restarting.delete(victim) }))
      }
    })()

    await traffic
    stop = true
    await chaos
    await Promise.all(restarts)
    // Every send still owned by a live process gets its result (bounded by its own timeout).
    const results = new Map<number, Record<string, unknown>>()
    await Promise.all(sent.map(async s => {
      const dead = (): boolean => s.proc.child.exitCode !== null || s.proc.child.signalCode !== null
      const before = s.proc.events.find(e => e.event === 'result' && e.id === s.id)
      if (before !== undefined) { results.set(s.id, before); return }
      if (dead()) return // killed before it could tell: the sender itself crashed
      try {
        results.set(s.id, await s.proc.waitFor(e => e.event === 'result' && e.id === s.id, SEND_TIMEOUT_MS + 5000, `result of ${s.tag}`))
      } catch (e) {
        if (!dead()) throw e // only a sender that was killed may leave a send without a result
      }
    }))
    // Deliveries: message events of every life of every agent.
    const deliveries = new Map<string, number>()
    const countDeliveries = (): void => {
      deliveries.clear()
      for (const a of agents) {
        for (const p of a.lives) {
          for (const e of p.events) if (e.event === 'message' && typeof e.head === 'string' && e.head.startsWith('churn-')) deliveries.set(e.head, (deliveries.get(e.head) ?? 0) + 1)
        }
      }
    }
    countDeliveries()

    let ok = 0; let failed = 0; let senderDied = 0; let lostToCrash = 0
    const violations: string[] = []
    for (const s of sent) {
      const n = deliveries.get(s.tag) ?? 0
      if (n > 1) violations.push(`${s.tag} delivered ${n} times`)
      const r = results.get(s.id)
      if (r === undefined) { senderDied++; continue }
      if (r.ok !== true) { failed++; continue }
      ok++
      if (n === 0) {
        if (s.to.killedAt.some(t => t >= s.at)) lostToCrash++
        else violations.push(`${s.tag} (${s.from.name} → ${s.to.name}) acknowledged but never delivered`)
      }
    }
    console.log(`[churn] ${sent.length} sends in ${TRAFFIC_MS} ms, ${kills} kill -9s: ${ok} acknowledged, ${failed} failed (sender told), ` +
      `${senderDied} with the sender killed, ${lostToCrash} acknowledged then lost when the receiver crashed, ${violations.length} violations`)
    expect(violations).toEqual([])
    expect(kills).toBeGreaterThanOrEqual(6)
    expect(ok).toBeGreaterThan(sent.length / 3) // traffic really flowed through the churn
  }, 120_000)
})
