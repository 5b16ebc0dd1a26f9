// The durable inbox through axl-node (`inbox_dir`): every message /send acknowledged (200) to A survives B being
// killed with -9 before anyone read it, and B's restarted process hands each out once on /recv, in order.
// Real processes over tcp:// on loopback.
import { afterAll, describe, expect, it } from 'vitest'
import { generateKeyPairSync } from 'node:crypto'
import { stat } from 'node:fs/promises'
import { join } from 'node:path'
import { drain, freePort, ProcessPool, send, started, waitReachable } from './helpers/processes.js'

describe('durable inbox (inbox_dir) across kill -9', () => {
  const pool = new ProcessPool()
  afterAll(async () => { await pool.close() })

  it('20 acknowledged messages, B killed with -9 unread, restarted: /recv returns all 20 once, in order', async () => {
    const pem = generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()
    const linkPort = await freePort()
    const b = await pool.start('B', { Listen: [`tcp://127.0.0.1:${linkPort}`], PrivateKeyPath: 'key.pem', inbox_dir: 'inbox' }, { 'key.pem': pem })
    const a = await pool.start('A', { Peers: [`tcp://127.0.0.1:${linkPort}`] })
    await waitReachable(a, b)
    const bodies = Array.from({ length: 20 }, (_, i) => `durable ${i} ${'x'.repeat(i * 100)}`)
    for (const body of bodies) {
      const r = await send(a, b.key, body)
      expect(r.status, r.text).toBe(200)
    }
    expect((await stat(join(b.dir, 'inbox', 'inbox.journal'))).size).toBeGreaterThan(20 * 50)
    b.child.kill('SIGKILL')
    expect((await b.exited).signal).toBe('SIGKILL')

    const b2 = await started(pool.spawnIn('B2', b.dir, ['-config', 'node-config.json']))
    expect(b2.key).toBe(b.key)
    const got = (await drain(b2)).map(r => r.text).filter(t => t.startsWith('durable '))
    expect(got).toEqual(bodies)
    // Read means done: after a clean stop (SIGTERM) and another start, none of them comes again.
    b2.child.kill('SIGTERM')
    expect((await b2.exited).code).toBe(0)
    const b3 = await started(pool.spawnIn('B3', b.dir, ['-config', 'node-config.json']))
    expect((await drain(b3)).map(r => r.text).filter(t => t.startsWith('durable '))).toEqual([])
  }, 90_000)
})
