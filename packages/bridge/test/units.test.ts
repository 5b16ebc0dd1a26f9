import { describe, expect, it } from 'vitest'
import type { Topology } from '@axl/core'
import { parseArgs, UsageError } from '../src/cli-entry.js'
import { McpSessions, topologyJson } from '../src/internals.js'
import { cleanPath } from '../src/go-path.js'
import { probeJsonRpc } from '../src/jsonrpc-probe.js'
import { goJsonString } from '../src/http-response.js'

const enc = (s: string): Uint8Array => new TextEncoder().encode(s)

describe('McpSessions', () => {
  it('ids follow AXL\'s format and increase', () => {
    const s = new McpSessions()
    const a = s.newId('weather', 'abcdef0123')
    const b = s.newId('weather', 'abcdef0123')
    expect(a).toMatch(/^mcp-weather-abcdef01-\d{19}$/)
    expect(BigInt(b.split('-').pop() as string) > BigInt(a.split('-').pop() as string)).toBe(true)
  })

  it('is bounded (least recently used dropped) and expires idle sessions', () => {
    let now = 0
    const s = new McpSessions({ max: 2, ttlMs: 100, now: () => now })
    s.add('a', 'e'); s.add('b', 'e')
    expect(s.touch('a', 'e')).toBe(true) // a is now the most recent
    s.add('c', 'e')
    expect(s.size).toBe(2)
    expect(s.touch('b', 'e')).toBe(false)
    expect(s.touch('a', 'e')).toBe(true)
    expect(s.touch('a', 'other')).toBe(false)
    now = 150
    expect(s.touch('a', 'e')).toBe(false)
    s.sweep()
    expect(s.size).toBe(0)
  })
})

describe('probeJsonRpc (Go struct{Method string; ID any} semantics)', () => {
  it('reads method and the raw id; keys case-insensitive, last wins', () => {
    expect(probeJsonRpc(enc('{"jsonrpc":"2.0","method":"tools/list","id":1}'))).toMatchObject({ method: 'tools/list', idRaw: '1' })
    expect(probeJsonRpc(enc('{ "METHOD" : "a", "Id": "x\\"y", "method": "b" }'))).toMatchObject({ method: 'b', idRaw: '"x\\"y"' })
    expect(probeJsonRpc(enc('{"id":{"a":[1,{"b":"}"}]},"method":null}'))).toMatchObject({ method: '', idRaw: '{"a":[1,{"b":"}"}]}' })
    expect(probeJsonRpc(enc('null'))).toMatchObject({ method: '', idRaw: undefined })
    expect(probeJsonRpc(enc('{"id":123456789012345678901234567890}'))?.idRaw).toBe('123456789012345678901234567890')
  })

  it('rejects what Go rejects', () => {
    for (const s of ['', 'x', '[1]', '"s"', '1', 'true', '{"method":1}', '{"method":[]}', '{"a":1,}']) expect(probeJsonRpc(enc(s)), s).toBeUndefined()
  })
})

describe('cleanPath (Go ServeMux)', () => {
  it('cleans like path.Clean and keeps a trailing slash', () => {
    expect(cleanPath('//topology')).toBe('/topology')
    expect(cleanPath('/mcp/./x/../')).toBe('/mcp/')
    expect(cleanPath('/a/.')).toBe('/a')
    expect(cleanPath('/../x')).toBe('/x')
    expect(cleanPath('/mcp/')).toBe('/mcp/')
    expect(cleanPath('')).toBe('/')
  })
})

describe('topologyJson', () => {
  const t: Topology = {
    ourPublicKey: 'aa'.repeat(32) as never, ourIpv6: '200::1', root: 'bb'.repeat(32) as never, parent: 'bb'.repeat(32) as never, coords: [1],
    peers: [{ uri: 'tcp://h:1?a=1&b=<2>', up: true, inbound: true, publicKey: 'bb'.repeat(32) as never, root: 'bb'.repeat(32) as never, port: 1 }],
    tree: [{ publicKey: 'bb'.repeat(32) as never, parent: 'bb'.repeat(32) as never, sequence: 3 }, { publicKey: 'aa'.repeat(32) as never, parent: 'bb'.repeat(32) as never, sequence: 1 }]
  }

  it('writes AXL\'s field order, Go\'s HTML escaping and a trailing newline; the root\'s parent is "" by default', () => {
    const s = topologyJson(t)
    expect(s.endsWith('\n')).toBe(true)
    expect(s).toContain('"uri":"tcp://h:1?a=1\\u0026b=\\u003c2\\u003e"')
    const j = JSON.parse(s)
    expect(Object.keys(j.peers[0])).toEqual(['uri', 'up', 'inbound', 'public_key', 'root', 'port', 'coords'])
    expect(j.tree[0].parent).toBe('')
    expect(j.tree[1].parent).toBe('bb'.repeat(32))
    expect(JSON.parse(topologyJson(t, 'self')).tree[0].parent).toBe('bb'.repeat(32))
  })

  it('goJsonString escapes like encoding/json', () => {
    expect(goJsonString('<a>&\u2028\n"')).toBe('"\\u003ca\\u003e\\u0026\\u2028\\n\\""')
  })
})

describe('parseArgs', () => {
  it('takes Go-style and GNU-style flags', () => {
    expect(parseArgs([])).toEqual({ config: 'node-config.json', listen: [], help: false })
    expect(parseArgs(['-config', 'a.json', '--listen=tcp://0.0.0.0:1', '-listen', 'ws://h:2'])).toEqual({ config: 'a.json', listen: ['tcp://0.0.0.0:1', 'ws://h:2'], help: false })
    expect(parseArgs(['--config=b.json', '-help']).help).toBe(true)
    expect(() => parseArgs(['-config'])).toThrow(UsageError)
    expect(() => parseArgs(['extra'])).toThrow(/unexpected argument/)
    expect(() => parseArgs(['--port', '1'])).toThrow(/flag provided but not defined: -port/)
  })
})
