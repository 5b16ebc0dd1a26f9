import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import {
  DEFAULT_MAX_MESSAGE_SIZE, FRAME_HEADER_BYTES, FrameDecoder, encodeFrame, frameHeader
} from '../src/framing.js'
import { AxlError, ConfigError, FrameTooLargeError, TruncatedFrameError } from '../src/errors.js'

const enc = new TextEncoder()
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex')
const concat = (parts: Uint8Array[]): Uint8Array => new Uint8Array(Buffer.concat(parts))

const MCP_PAYLOAD = '{"service":"weather","request":{"jsonrpc":"2.0","method":"tools/list","id":1,"params":{}}}'
const CARD_PAYLOAD = '{"a2a":true,"agent_card":true,"request":null}'

/** Decodes `stream` split at the given cut points, then end(). */
function decodeSplit (stream: Uint8Array, cuts: number[], maxFrameSize = DEFAULT_MAX_MESSAGE_SIZE): Uint8Array[] {
  const d = new FrameDecoder({ maxFrameSize })
  const out: Uint8Array[] = []
  let prev = 0
  for (const c of [...cuts, stream.length]) {
    out.push(...d.push(stream.subarray(prev, c)))
    prev = c
  }
  d.end()
  return out.map(f => f.slice())
}

describe('constants and headers', () => {
  it('has AXL constants', () => {
    expect(FRAME_HEADER_BYTES).toBe(4)
    expect(DEFAULT_MAX_MESSAGE_SIZE).toBe(16_777_216)
  })

  it('frameHeader writes uint32 big-endian', () => {
    expect(hex(frameHeader(0))).toBe('00000000')
    expect(hex(frameHeader(5))).toBe('00000005')
    expect(hex(frameHeader(0x01020304))).toBe('01020304')
    expect(hex(frameHeader(0xffffffff))).toBe('ffffffff')
  })

  it('frameHeader rejects lengths a uint32 cannot carry', () => {
    expect(() => frameHeader(0x100000000)).toThrow(FrameTooLargeError)
    expect(() => frameHeader(0x100000000)).toThrow('frame of 4294967296 bytes exceeds the limit of 4294967295 bytes')
    for (const bad of [-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(() => frameHeader(bad)).toThrow(AxlError)
    }
    expect(() => frameHeader(-1)).toThrow(ConfigError)
    expect(() => frameHeader(-1)).toThrow('frame length must be an integer between 0 and 4294967295, got -1')
  })
})

describe('encodeFrame: AXL wire examples (§2.1)', () => {
  it('/send "hello"', () => {
    expect(hex(encodeFrame(enc.encode('hello')))).toBe('000000056865' + '6c6c6f')
  })

  it('the 90-byte MCP frame', () => {
    const f = encodeFrame(enc.encode(MCP_PAYLOAD))
    expect(MCP_PAYLOAD.length).toBe(90)
    expect(hex(f.subarray(0, 4))).toBe('0000005a')
    expect(Buffer.from(f.subarray(4)).toString()).toBe(MCP_PAYLOAD)
    expect(f.length).toBe(94)
  })

  it('the 45-byte agent-card frame', () => {
    const f = encodeFrame(enc.encode(CARD_PAYLOAD))
    expect(hex(f.subarray(0, 4))).toBe('0000002d')
    expect(f.length).toBe(49)
  })

  it('zero-length frame', () => {
    expect(hex(encodeFrame(new Uint8Array(0)))).toBe('00000000')
  })
})

describe('FrameDecoder', () => {
  const payloads = ['hello', MCP_PAYLOAD, '', CARD_PAYLOAD, 'x'].map(s => enc.encode(s))
  const stream = concat(payloads.map(encodeFrame))

  it('decodes AXL example frames from one chunk, zero copy', () => {
    const d = new FrameDecoder({ maxFrameSize: 1024 })
    const frames = d.push(stream)
    expect(frames.map(f => Buffer.from(f).toString())).toEqual(['hello', MCP_PAYLOAD, '', CARD_PAYLOAD, 'x'])
    for (const f of frames) expect(f.buffer).toBe(stream.buffer) // subarrays of the chunk
    expect(d.bufferedBytes).toBe(0)
    expect(d.pendingFrameLength).toBeUndefined()
    d.end()
  })

  it('decodes `/send "hello"` bytes exactly', () => {
    const d = new FrameDecoder({ maxFrameSize: 16 })
    const frames = d.push(Uint8Array.from([0, 0, 0, 5, 0x68, 0x65, 0x6c, 0x6c, 0x6f]))
    expect(frames.map(f => Buffer.from(f).toString())).toEqual(['hello'])
  })

  it('gives the same frames for every single split point and every pair of split points', () => {
    const expected = payloads.map(hex)
    for (let a = 0; a <= stream.length; a++) {
      expect(decodeSplit(stream, [a]).map(hex)).toEqual(expected)
      for (let b = a; b <= stream.length; b += 3) {
        expect(decodeSplit(stream, [a, b]).map(hex)).toEqual(expected)
      }
    }
  })

  it('gives the same frames when fed one byte at a time, tracking progress', () => {
    const d = new FrameDecoder({ maxFrameSize: 1024 })
    const out: string[] = []
    const one = encodeFrame(enc.encode('hello'))
    for (let i = 0; i < one.length; i++) {
      const frames = d.push(one.subarray(i, i + 1))
      if (i < 3) {
        expect(d.bufferedBytes).toBe(i + 1)
        expect(d.pendingFrameLength).toBeUndefined()
      } else if (i < one.length - 1) {
        expect(d.pendingFrameLength).toBe(5)
        expect(d.bufferedBytes).toBe(i - 3)
      }
      out.push(...frames.map(f => Buffer.from(f).toString()))
    }
    expect(out).toEqual(['hello'])
    expect(d.bufferedBytes).toBe(0)
    d.end()
  })

  it('copies frames that span chunks into an exact-size buffer', () => {
    const d = new FrameDecoder({ maxFrameSize: 1024 })
    const f = encodeFrame(enc.encode('hello world'))
    expect(d.push(f.subarray(0, 7))).toEqual([])
    const [frame] = d.push(f.subarray(7))
    expect(frame.length).toBe(11)
    expect(frame.buffer.byteLength).toBe(11)
    expect(Buffer.from(frame).toString()).toBe('hello world')
  })

  it('accepts a frame of exactly maxFrameSize and zero-length frames', () => {
    const d = new FrameDecoder({ maxFrameSize: 3 })
    expect(d.push(concat([encodeFrame(enc.encode('abc')), encodeFrame(new Uint8Array(0))])).map(f => f.length)).toEqual([3, 0])
    const z = new FrameDecoder({ maxFrameSize: 0 })
    expect(z.push(new Uint8Array(8)).map(f => f.length)).toEqual([0, 0])
  })

  it('rejects a header claiming 0xffffffff immediately, before allocating, and stays failed', () => {
    const d = new FrameDecoder({ maxFrameSize: DEFAULT_MAX_MESSAGE_SIZE })
    const header = Uint8Array.from([0xff, 0xff, 0xff, 0xff])
    let err: unknown
    try { d.push(header) } catch (e) { err = e }
    expect(err).toBeInstanceOf(FrameTooLargeError)
    expect((err as Error).message).toBe('frame of 4294967295 bytes exceeds the limit of 16777216 bytes')
    expect((err as FrameTooLargeError).length).toBe(0xffffffff)
    expect((err as FrameTooLargeError).limit).toBe(16777216)
    expect(d.allocatedBytes).toBe(0)
    expect(d.bufferedBytes).toBe(0)
    expect(d.error).toBe(err)
    expect(() => d.push(Uint8Array.from([1, 2, 3]))).toThrow(err as Error)
    expect(() => d.end()).toThrow(err as Error)
  })

  it('checks the limit when the header arrives split across chunks', () => {
    const d = new FrameDecoder({ maxFrameSize: 100 })
    expect(d.push(Uint8Array.from([0, 0]))).toEqual([])
    expect(d.push(Uint8Array.from([0]))).toEqual([])
    expect(() => d.push(Uint8Array.from([101]))).toThrow('frame of 101 bytes exceeds the limit of 100 bytes')
  })

  it('checks the limit of a later frame in the same chunk', () => {
    const d = new FrameDecoder({ maxFrameSize: 5 })
    expect(() => d.push(concat([encodeFrame(enc.encode('ok')), frameHeader(6)]))).toThrow(FrameTooLargeError)
    expect(() => d.push(new Uint8Array(0))).toThrow('frame of 6 bytes exceeds the limit of 5 bytes')
  })

  it('a peer claiming 16 MiB and sending 10 bytes costs ~10 bytes', () => {
    const d = new FrameDecoder({ maxFrameSize: DEFAULT_MAX_MESSAGE_SIZE })
    const before = process.memoryUsage().arrayBuffers
    d.push(frameHeader(DEFAULT_MAX_MESSAGE_SIZE))
    expect(d.allocatedBytes).toBe(0)
    expect(d.pendingFrameLength).toBe(DEFAULT_MAX_MESSAGE_SIZE)
    d.push(new Uint8Array(10))
    expect(d.allocatedBytes).toBe(10)
    expect(d.bufferedBytes).toBe(10)
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(1024 * 1024)
    expect(() => d.end()).toThrow(TruncatedFrameError)
  })

  it('grows a large frame with the data and ends with an exact-size buffer', () => {
    const size = 1_000_003
    const payload = new Uint8Array(size).map((_, i) => (i * 31) & 0xff)
    const f = encodeFrame(payload)
    const d = new FrameDecoder({ maxFrameSize: DEFAULT_MAX_MESSAGE_SIZE })
    const out: Uint8Array[] = []
    for (let i = 0; i < f.length; i += 7919) {
      out.push(...d.push(f.subarray(i, Math.min(f.length, i + 7919))))
      expect(d.allocatedBytes).toBeLessThanOrEqual(Math.max(2 * d.bufferedBytes, 7919))
    }
    expect(out.length).toBe(1)
    expect(out[0].length).toBe(size)
    expect(out[0].buffer.byteLength).toBe(size)
    expect(Buffer.compare(out[0], payload)).toBe(0)
  })

  it('small frames spanning chunks are allocated once, exactly', () => {
    const d = new FrameDecoder({ maxFrameSize: 1 << 20 })
    d.push(frameHeader(1000))
    d.push(new Uint8Array(1))
    expect(d.allocatedBytes).toBe(1000)
  })

  it('end() reports a truncated header or payload', () => {
    const h = new FrameDecoder({ maxFrameSize: 100 })
    h.push(Uint8Array.from([0, 0, 0]))
    expect(() => h.end()).toThrow(TruncatedFrameError)
    expect(() => h.end()).toThrow('stream ended inside a frame header (3 of 4 bytes)')
    expect(() => h.push(new Uint8Array(1))).toThrow(TruncatedFrameError)

    const p = new FrameDecoder({ maxFrameSize: 100 })
    p.push(Uint8Array.from([0, 0, 0, 10, 1, 2]))
    expect(() => p.end()).toThrow('stream ended after 2 of 10 payload bytes of a frame')

    const hOnly = new FrameDecoder({ maxFrameSize: 100 })
    hOnly.push(frameHeader(10))
    expect(() => hOnly.end()).toThrow('stream ended after 0 of 10 payload bytes of a frame')

    const ok = new FrameDecoder({ maxFrameSize: 100 })
    ok.push(encodeFrame(new Uint8Array(3)))
    expect(() => ok.end()).not.toThrow()
  })

  it('validates maxFrameSize', () => {
    expect(() => new FrameDecoder({ maxFrameSize: -1 })).toThrow(ConfigError)
    expect(() => new FrameDecoder({ maxFrameSize: 1.5 })).toThrow('maxFrameSize must be an integer between 0 and 4294967295, got 1.5')
    expect(new FrameDecoder().maxFrameSize).toBe(DEFAULT_MAX_MESSAGE_SIZE)
  })
})

describe('FrameDecoder properties', () => {
  const framesArb = fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 12 })

  /** Random cut points of a stream of length n. */
  const cutsFor = (n: number, seeds: number[]): number[] => seeds.map(s => s % (n + 1)).sort((a, b) => a - b)

  it('random frame lists round-trip through random chunkings', () => {
    fc.assert(fc.property(framesArb, fc.array(fc.nat(), { maxLength: 20 }), (frames, seeds) => {
      const stream = concat(frames.map(encodeFrame))
      const got = decodeSplit(stream, cutsFor(stream.length, seeds), 300)
      expect(got.map(hex)).toEqual(frames.map(hex))
    }), { numRuns: 4000 })
  })

  it('random byte streams only ever throw AxlError subclasses', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), fc.array(fc.nat(), { maxLength: 10 }),
      fc.integer({ min: 0, max: 70000 }), (bytes, seeds, limit) => {
        const d = new FrameDecoder({ maxFrameSize: limit })
        let prev = 0
        let total = 0
        try {
          for (const c of [...cutsFor(bytes.length, seeds), bytes.length]) {
            for (const f of d.push(bytes.subarray(prev, c))) total += f.length
            prev = c
            expect(d.allocatedBytes).toBeLessThanOrEqual(Math.max(bytes.length, 64 * 1024))
          }
          d.end()
          expect(total).toBeLessThanOrEqual(bytes.length)
        } catch (err) {
          expect(err).toBeInstanceOf(AxlError)
          expect(err instanceof FrameTooLargeError || err instanceof TruncatedFrameError).toBe(true)
        }
      }), { numRuns: 4000 })
  })

  it('a frame over the limit is rejected whatever the chunking', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 1000 }), fc.nat({ max: 4 }), (limit, split) => {
      const d = new FrameDecoder({ maxFrameSize: limit })
      const h = frameHeader(limit + 1)
      expect(() => { d.push(h.subarray(0, split)); d.push(h.subarray(split)) }).toThrow(FrameTooLargeError)
      expect(d.allocatedBytes).toBe(0)
    }), { numRuns: 2000 })
  })
})
