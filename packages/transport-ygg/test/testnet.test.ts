// `@axl/transport-ygg/testing`'s testnet(): a relay and n SDK nodes on the real overlay, in one process.
import { describe, expect, it } from 'vitest'
import { AbortError } from '@axl/core'
import { testnet } from '@axl/transport-ygg/testing'

describe('testnet()', () => {
  for (const links of ['memory', 'tcp'] as const) {
    it(`${links}: every node is linked to the relay only, and a message crosses the relay`, async () => {
      const net = await testnet(3, { links })
      try {
        const [a, b, c] = net.nodes
        for (const n of net.nodes) expect(n.topology().peers.filter(p => p.up).map(p => p.publicKey)).toEqual([net.relay.peerId])
        expect(net.relay.listenAddresses()[0]).toMatch(links === 'memory' ? /^memory:\/\/axl-testnet-/ : /^tcp:\/\/127\.0\.0\.1:\d+$/)
        await a.send(c.peerId, new TextEncoder().encode('through the relay'), { timeoutMs: 10_000 })
        const m = await c.nextMessage({ timeoutMs: 5000 })
        expect(m.from).toBe(a.peerId)
        expect(new TextDecoder().decode(m.data)).toBe('through the relay')
        expect(b.recv()).toBeUndefined()
      } finally {
        await net.stop()
      }
    })
  }

  it('rejects a bad size; an aborted wait fails with AbortError', async () => {
    await expect(testnet(-1)).rejects.toThrow(RangeError)
    await expect(testnet(1001)).rejects.toThrow(RangeError)
    await expect(testnet(2, { signal: AbortSignal.abort() })).rejects.toThrow(AbortError)
  })
})
