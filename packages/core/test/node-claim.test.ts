import { describe, expect, it } from 'vitest'
import type { InboundMessage } from '../src/inbox.js'
import { network, node, str, text } from './node-helpers.js'
import { mcpRequest } from './envelope-helpers.js'

const isGossip = (d: Uint8Array): boolean => str(d.subarray(0, 12)) === '{"gossip":1,'

describe('handleMessages(): claiming raw inbound messages before the inbox', () => {
  it('matching messages go to the handler (acknowledged, not queued); others still reach the inbox', async () => {
    const net = network()
    const a = await node(net); const b = await node(net)
    const claimed: InboundMessage[] = []
    let events = 0
    b.addEventListener('message', () => { events++ })
    b.handleMessages(isGossip, m => { claimed.push(m) })
    await a.send(b.peerId, text('{"gossip":1,"x":2}'))
    await a.send(b.peerId, text('plain'))
    expect(claimed.map(m => [m.from, str(m.data)])).toEqual([[a.peerId, '{"gossip":1,"x":2}']])
    expect(b.recv()?.data).toEqual(text('plain'))
    expect(b.recv()).toBeUndefined()
    expect(b.stats.messagesClaimed).toBe(1)
    expect(b.stats.inbox.accepted).toBe(1)
    expect(events).toBe(1)
  })

  it('the first registered match wins; unregistering hands the messages back to the inbox', async () => {
    const net = network()
    const a = await node(net); const b = await node(net)
    const first: string[] = []; const second: string[] = []
    const off = b.handleMessages(isGossip, m => { first.push(str(m.data)) })
    b.handleMessages(d => d[0] === 0x7b, m => { second.push(str(m.data)) })
    await a.send(b.peerId, text('{"gossip":1,"n":1}'))
    await a.send(b.peerId, text('{"other":1}'))
    off()
    await a.send(b.peerId, text('{"gossip":1,"n":2}'))
    expect(first).toEqual(['{"gossip":1,"n":1}'])
    expect(second).toEqual(['{"other":1}', '{"gossip":1,"n":2}'])
  })

  it('MCP envelopes are never claimed; a throwing handler does not break the node', async () => {
    const net = network()
    const a = await node(net); const b = await node(net)
    const seen: string[] = []
    b.handleMessages(() => true, m => { seen.push(str(m.data)); throw new Error('handler bug') })
    const env = mcpRequest('svc', { jsonrpc: '2.0', id: 1, method: 'x' })
    await a.request(b.peerId, env, { timeoutMs: 2000 })  // no MCP handler: answered with an error envelope
    expect(b.recv()?.data).toEqual(env)                   // and queued as AXL does, not claimed
    await a.send(b.peerId, text('anything'))
    await a.send(b.peerId, text('again'))
    expect(seen).toEqual(['anything', 'again'])
    expect(b.stats.messagesClaimed).toBe(2)
  })

  it('rejects non-function arguments', async () => {
    const net = network()
    const b = await node(net)
    expect(() => b.handleMessages(undefined as unknown as () => boolean, () => {})).toThrow(/two functions/)
  })
})
