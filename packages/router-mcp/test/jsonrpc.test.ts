import { describe, expect, it } from 'vitest'
import { errorResponse, parseInbound, rawIdOf, serializeResponse } from '../src/jsonrpc.js'
import { readSse, SseTooLargeError, type SseEvent } from '../src/sse.js'
import { LineSplitter } from '../src/lines.js'

describe('JSON-RPC helpers', () => {
  it('keeps the raw id of numbers exactly', () => {
    expect(rawIdOf('{"jsonrpc":"2.0","id":12345678901234567890,"method":"x"}', 12345678901234567000)).toBe('12345678901234567890')
    expect(rawIdOf('{"params":{"id":5},"id":1.0,"method":"x"}', 1)).toBe('1.0')
    expect(rawIdOf('{"a":[1,{"id":2}],"b":"}\\"id","id" : -3e2 }', -300)).toBe('-3e2')
    expect(rawIdOf('{"id":"abc"}', 'abc')).toBe('"abc"')
    expect(rawIdOf('{"id":null}', null)).toBe('null')
  })

  it('parses requests, notifications and invalid input', () => {
    expect(parseInbound('{"jsonrpc":"2.0","id":1,"method":"m"}')).toMatchObject({ kind: 'request', rawId: '1' })
    expect(parseInbound('{"jsonrpc":"2.0","method":"m"}')).toMatchObject({ kind: 'notification' })
    expect(parseInbound(null)).toMatchObject({ kind: 'invalid', code: -32600 })
    expect(parseInbound('nope')).toMatchObject({ kind: 'invalid', code: -32700 })
    expect(parseInbound('[]')).toMatchObject({ kind: 'invalid', code: -32600 })
    expect(parseInbound('{"id":{},"method":"m"}')).toMatchObject({ kind: 'invalid', rawId: 'null' })
    expect(parseInbound('{"id":7,"method":"m","params":3}')).toMatchObject({ kind: 'invalid', rawId: '7' })
  })

  it('serializes responses with the caller id', () => {
    expect(JSON.parse(serializeResponse({ jsonrpc: '2.0', id: 99, result: { a: 1 } }, '"x"'))).toEqual({ jsonrpc: '2.0', id: 'x', result: { a: 1 } })
    expect(serializeResponse({ result: 1 }, '12345678901234567890')).toBe('{"jsonrpc":"2.0","id":12345678901234567890,"result":1}')
    expect(JSON.parse(errorResponse('1', -32001, 'no', { axl: 'access_denied' }))).toEqual({ jsonrpc: '2.0', id: 1, error: { code: -32001, message: 'no', data: { axl: 'access_denied' } } })
  })
})

describe('SSE reader and line splitter', () => {
  it('reads events split across chunks, CRLF and comments', async () => {
    const chunks = [': hi\r\nevent: message\r\ndata: {"a"', ':1}\r', '\n\r\ndata: x\ndata: y\n\n']
    const body = new ReadableStream<Uint8Array>({ start (c) { for (const s of chunks) c.enqueue(new TextEncoder().encode(s)); c.close() } })
    const out = []
    for await (const ev of readSse(body, 1024)) out.push(ev)
    expect(out).toEqual([{ event: 'message', data: '{"a":1}' }, { event: 'message', data: 'x\ny' }])
  })

  it('refuses an SSE event over the cap', async () => {
    const body = new ReadableStream<Uint8Array>({ start (c) { c.enqueue(new TextEncoder().encode(`data: ${'x'.repeat(100)}\n\n`)); c.close() } })
    await expect((async () => { for await (const _ of readSse(body, 50)) { /* drain */ } })()).rejects.toThrow(/exceeds/)
  })

  const sseOf = (chunks: string[]): ReadableStream<Uint8Array> =>
    new ReadableStream<Uint8Array>({ start (c) { for (const s of chunks) c.enqueue(new TextEncoder().encode(s)); c.close() } })
  const drain = async (body: ReadableStream<Uint8Array>, cap: number, out: SseEvent[] = []): Promise<SseEvent[]> => {
    for await (const ev of readSse(body, cap)) out.push(ev)
    return out
  }

  it('the cap counts data lines and their separators; events before an oversized one are delivered', async () => {
    // 'a'*9 + '\n' + 'b'*9 = 19 characters of data, + 1 = 20: at the cap of 20, over a cap of 19.
    const ev = `data: ${'a'.repeat(9)}\ndata: ${'b'.repeat(9)}\n\n`
    expect(await drain(sseOf([ev]), 20)).toEqual([{ event: 'message', data: `${'a'.repeat(9)}\n${'b'.repeat(9)}` }])
    const got: SseEvent[] = []
    const err = await drain(sseOf(['data: ok\n\n' + ev]), 19, got).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(SseTooLargeError)
    expect(err).toMatchObject({ code: 'ERR_SSE_TOO_LARGE', limit: 19, message: 'SSE event exceeds 19 bytes' })
    expect(got).toEqual([{ event: 'message', data: 'ok' }])
  })

  it('an endless line is refused once it outgrows the buffer bound, without reading the rest of the body', async () => {
    let pulled = 0
    const body = new ReadableStream<Uint8Array>({
      pull (c) { pulled++; c.enqueue(new TextEncoder().encode('data: ' + 'x'.repeat(1000))) } // never a newline, never ends
    })
    const err = await drain(body, 1000).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(SseTooLargeError)
    expect((err as Error).message).toBe('SSE line exceeds 1000 bytes')
    expect(pulled).toBeLessThan(10) // 2 × 1000 + 4096 characters at most
  })

  it('keeps the last event id, names events, ignores unknown fields and delivers an unterminated last event', async () => {
    const out = await drain(sseOf(['id: 7\nevent: note\ndata: a\n\n', 'bogus: 1\nretry: x\ndata: b\r\rdata', ': c\n']), 100)
    expect(out).toEqual([{ event: 'note', data: 'a', id: '7' }, { event: 'message', data: 'b', id: '7' }, { event: 'message', data: 'c', id: '7' }])
  })

  it('splits NDJSON lines with a cap', () => {
    const lines: string[] = []
    let over = 0
    const s = new LineSplitter(10, l => lines.push(l), n => { over = n })
    s.push(Buffer.from('ab\ncd'))
    s.push(Buffer.from('e\r\n\n'))
    expect(lines).toEqual(['ab', 'cde'])
    s.push(Buffer.from('0123456789abc'))
    expect(over).toBeGreaterThan(10)
  })
})
