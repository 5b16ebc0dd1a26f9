// The README's example test, kept here so it is run (and so it keeps compiling) with the suite.
import { describe, it, expect } from 'vitest'
import { createNode, MemoryNetwork, UnreachableError } from '@axl/core'

describe('my agent', () => {
  it('survives a partition', async () => {
    const net = new MemoryNetwork({ latencyMs: 1, maxMessageSize: 64 * 1024 })
    const a = await createNode({ transport: net.transport() })
    const b = await createNode({ transport: net.transport() })
    net.partition([b])                               // b is cut off from everyone else
    await expect(a.send(b.peerId, new Uint8Array([1]))).rejects.toBeInstanceOf(UnreachableError)
    net.heal()
    await a.send(b.peerId, new Uint8Array([1]))
    expect((await b.nextMessage({ timeoutMs: 1000 })).from).toBe(a.peerId)
    net.kill(a)                                      // a "crashes": its streams reset, it is unreachable
    net.restart(a)                                   // and comes back
    await a.stop(); await b.stop()
  })
})
