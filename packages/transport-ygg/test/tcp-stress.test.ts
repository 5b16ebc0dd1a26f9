import { describe, it, expect } from 'vitest'
import { VirtualClock } from '../src/clock.js'
import type { TcpConnection } from '../src/tcp/connection.js'
import { StackPair, Sink, pump, randomBytesSeeded, sha256, ADDR_B } from './fixtures/tcp-link.js'

/**
 * Randomised impairment sweep: loss 1–20 %, reordering, duplication, jitter, bandwidth limits, small and
 * large windows and MTUs, delayed ACKs on and off. Every run must deliver both directions byte-identical
 * and close cleanly (TIME_WAIT long enough to absorb lost final ACKs).
 */
describe('TCP under randomised impairments', () => {
  it('120 seeded scenarios deliver every byte once, in order, and close cleanly', async () => {
    const failures: unknown[] = []
    for (let seed = 1000; seed < 1120; seed++) {
      const loss = [0.01, 0.05, 0.1, 0.2][seed % 4]
      const p = new StackPair(new VirtualClock(), {
        delayMs: 1 + (seed % 7), loss, reorder: 0.1, reorderDelayMs: 7, duplicate: 0.05, jitterMs: 4, seed,
        bytesPerMs: [undefined, 5000, 500][seed % 3]
      }, { timeWaitMs: 30_000, recvBuffer: [65536, 1 << 20, 20_000][seed % 3], mtu: seed % 5 === 0 ? 9000 : 1280 },
      { timeWaitMs: 30_000, delayedAckMs: seed % 2 === 1 ? 0 : 40, sendBuffer: [1 << 20, 30_000][seed % 2] })
      let server: TcpConnection | undefined
      let client: TcpConnection | undefined
      p.b.listen(7000, (c) => { server = c })
      p.a.connect(ADDR_B, 7000).then((c) => { client = c }, () => {})
      for (let i = 0; i < 20_000 && (client === undefined || server === undefined); i++) { p.clock.advance(5); await Promise.resolve() }
      if (client === undefined || server === undefined) { failures.push([seed, 'no connection']); continue }
      const up = randomBytesSeeded(150_000 + seed, seed)
      const down = randomBytesSeeded(100_000, seed + 50)
      const atServer = new Sink(server)
      const atClient = new Sink(client)
      pump(client, up, 10_000 + seed)
      pump(server, down)
      const ok = p.run(() => atServer.closed && atClient.closed, 3_000_000)
      const good = ok && atServer.error === undefined && atClient.error === undefined &&
        atServer.digest() === sha256(up) && atClient.digest() === sha256(down)
      if (!good) failures.push([seed, loss, ok, atServer.error?.message, atClient.error?.message, client.state, server.state])
    }
    expect(failures).toEqual([])
  }, 60_000)
})
