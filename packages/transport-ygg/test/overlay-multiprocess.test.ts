/**
 * The overlay across real processes over tcp:// on loopback: A and B each dial only P; A → B and B → A
 * deliver by key alone, through P.
 */
import { afterAll, describe, expect, it } from 'vitest'
import { randomBytes } from 'node:crypto'
import { fileURLToPath } from 'node:url'
import { Proc } from './helpers/proc.js'

const fixture = fileURLToPath(new URL('./fixtures/overlay-proc.ts', import.meta.url))
const procs: Proc[] = []
afterAll(async () => { await Promise.all(procs.map(async p => { await p.stop() })) })

function start (name: string, args: string[]): Proc {
  const p = new Proc(name, fixture, ['--seed', randomBytes(32).toString('hex'), ...args])
  procs.push(p)
  return p
}

/** Send `data` from `from` to `toKey` every 200 ms until `to` reports it (the first ones may wait on the lookup). */
async function deliver (from: Proc, to: Proc, toKey: string, data: string, timeoutMs: number): Promise<Record<string, unknown>> {
  const send = (): void => { from.send({ cmd: 'send', to: toKey, data }) }
  send()
  const retry = setInterval(send, 200)
  try {
    return await to.waitFor(e => e.event === 'packet' && e.data === data, timeoutMs, `packet ${data}`)
  } finally { clearInterval(retry) }
}

describe('overlay over tcp:// in separate processes', () => {
  it('A and B reach each other through P by key alone', async () => {
    const p = start('P', ['--listen', 'tcp://127.0.0.1:0'])
    const pReady = await p.waitFor(e => e.event === 'ready', 20_000, 'P ready')
    const pUri = (pReady.listen as string[])[0]
    expect(pUri).toMatch(/^tcp:\/\/127\.0\.0\.1:\d+$/)
    const a = start('A', ['--peer', pUri])
    const b = start('B', ['--peer', pUri])
    const [aReady, bReady] = await Promise.all([a.waitFor(e => e.event === 'ready', 20_000, 'A ready'), b.waitFor(e => e.event === 'ready', 20_000, 'B ready')])
    const aKey = aReady.key as string
    const bKey = bReady.key as string

    const got = await deliver(a, b, bKey, 'cafe01', 20_000)
    expect(got.from).toBe(aKey) // the authenticated source key, in full
    const back = await deliver(b, a, aKey, 'beef02', 20_000)
    expect(back.from).toBe(bKey)

    // Neither A nor B has a link to the other: everything went through P.
    a.send({ cmd: 'topology' })
    const topo = await a.waitFor(e => e.event === 'topology', 5000, 'A topology')
    const peers = topo.peers as Array<{ key: string }>
    expect(peers.map(x => x.key)).toEqual([pReady.key])
  }, 60_000)
})
