/**
 * Interop with the Linux kernel's TCP through a TUN device inside a network namespace this test creates
 * (fd00:a71::1 = kernel, fd00:a71::2 = our TcpStack). Real time: the kernel is real. Skips, with the reason
 * printed, when not root, without /dev/net/tun, or without `ip`/python3.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { createHash, randomBytes } from 'node:crypto'
import { parseIpv6 } from '@axl/core'
import { systemClock } from '../src/clock.js'
import { TcpStack } from '../src/tcp/stack.js'
import type { TcpConnection } from '../src/tcp/connection.js'
import { ConnectionResetError } from '../src/tcp/errors.js'
import { TunNamespace, tunUnavailableReason, within } from './helpers/tun.js'

const KERNEL = 'fd00:a71::1'
const US = 'fd00:a71::2'
const MTU = Number(process.env.AXL_TCP_KERNEL_MTU ?? 1280) // AXL's gVisor NIC MTU; override to measure larger MTUs
const SIZE = 10 * 1024 * 1024

const reason = tunUnavailableReason()
if (reason !== undefined) console.warn(`[tcp-kernel] skipped: ${reason}`)

function sha256 (b: Uint8Array): string { return createHash('sha256').update(b).digest('hex') }

/** Reads a connection to its end; resolves with byte count, hash, timing; rejects on error close. */
function collect (c: TcpConnection): Promise<{ bytes: number, sha: string, secs: number, firstAt: number }> {
  return new Promise((resolve, reject) => {
    const h = createHash('sha256')
    let bytes = 0
    let firstAt = 0
    let endAt = 0
    c.onData = (d) => { if (bytes === 0) firstAt = performance.now(); bytes += d.length; h.update(d) }
    c.onEnd = () => { endAt = performance.now() }
    c.onClose = (err) => {
      if (err !== undefined) reject(err)
      else resolve({ bytes, sha: h.digest('hex'), secs: ((endAt || performance.now()) - firstAt) / 1000, firstAt })
    }
  })
}

/** Writes all of `data` honouring backpressure, then end(); resolves when everything is queued. */
function sendAll (c: TcpConnection, data: Uint8Array, chunk = 256 * 1024): Promise<void> {
  return new Promise((resolve) => {
    let off = 0
    const go = (): void => {
      while (off < data.length) {
        const n = Math.min(chunk, data.length - off)
        const ok = c.write(data.subarray(off, off + n))
        off += n
        if (!ok) return
      }
      c.end()
      resolve()
    }
    c.onDrain = go
    go()
  })
}

describe.skipIf(reason !== undefined)('TCP interop with the Linux kernel through TUN', () => {
  const tun = new TunNamespace()
  let stack: TcpStack
  let port = 17000

  beforeAll(async () => {
    try {
      await tun.start(`${KERNEL}/64`, MTU)
    } catch (e) {
      tun.stop()
      throw e
    }
    stack = new TcpStack({ address: parseIpv6(US), output: (p) => { tun.send(p) }, clock: systemClock(), mtu: MTU, timeWaitMs: 1000 })
    tun.onPacket = (p) => { stack.input(p) }
  }, 20_000)

  afterAll(() => {
    stack?.close()
    tun.stop()
  })

  it('we connect, send 10 MB to the kernel, then receive 10 MB, orderly close both ways', async () => {
    const p = port++
    const kernel = tun.peer(['server', KERNEL, String(p), String(SIZE), '7'])
    try {
      await kernel.event('listening', 10_000)
      const c = await stack.connect(parseIpv6(KERNEL), p, { timeoutMs: 5000 })
      expect(c.stats.mss).toBe(MTU - 60)
      const received = collect(c)
      const up = randomBytes(SIZE)
      const t0 = performance.now()
      await within(sendAll(c, up), 15_000, 'our send queue to drain')
      const done = await kernel.event('done', 20_000)
      const got = await within(received, 10_000, 'our side to close')
      const upSecs = done.recvSecs as number
      expect(done.received).toBe(SIZE)
      expect(done.receivedSha).toBe(sha256(up))
      expect(got.bytes).toBe(SIZE)
      expect(got.sha).toBe(done.sentSha)
      expect(c.state === 'TIME_WAIT' || c.state === 'CLOSED').toBe(true)
      console.log(`[tcp-kernel] us→kernel ${(SIZE / 1e6 / upSecs).toFixed(1)} MB/s, kernel→us ${(SIZE / 1e6 / got.secs).toFixed(1)} MB/s ` +
        `(MTU ${MTU}, total ${((performance.now() - t0) / 1000).toFixed(2)} s, our retransmits ${c.stats.retransmits}, srtt ${c.stats.srttMs.toFixed(2)} ms)`)
    } finally {
      kernel.kill()
    }
  }, 40_000)

  it('the kernel connects, sends 10 MB and receives 10 MB back, orderly close', async () => {
    const p = port++
    let accepted: TcpConnection | undefined
    const l = stack.listen(p, (c) => {
      accepted = c
      const h = createHash('sha256')
      let n = 0
      c.onData = (d) => { n += d.length; h.update(d) }
      c.onEnd = () => {
        // Echo-style reply after the kernel's half-close: 10 MB of our own.
        (c as TcpConnection & { meta?: unknown }).meta = { n, sha: h.digest('hex') }
        void sendAll(c, reply)
      }
    })
    const reply = randomBytes(SIZE)
    const closed = new Promise<void>((resolve) => {
      const iv = setInterval(() => { if (accepted !== undefined && (accepted.state === 'CLOSED' || accepted.state === 'TIME_WAIT')) { clearInterval(iv); resolve() } }, 20)
    })
    const kernel = tun.peer(['client', US, String(p), String(SIZE), '9'])
    try {
      const done = await kernel.event('done', 30_000)
      await within(closed, 10_000, 'our side to close')
      const meta = (accepted as TcpConnection & { meta: { n: number, sha: string } }).meta
      expect(meta.n).toBe(SIZE)
      expect(meta.sha).toBe(done.sentSha)
      expect(done.received).toBe(SIZE)
      expect(done.receivedSha).toBe(sha256(reply))
      console.log(`[tcp-kernel] kernel-initiated: kernel→us ${(SIZE / 1e6 / (done.sendSecs as number)).toFixed(1)} MB/s, us→kernel ${(SIZE / 1e6 / (done.recvSecs as number)).toFixed(1)} MB/s`)
    } finally {
      kernel.kill()
      l.close()
    }
  }, 40_000)

  it('a kernel RST mid-stream reaches us as ConnectionResetError', async () => {
    const p = port++
    const kernel = tun.peer(['rst-server', KERNEL, String(p), String(300_000)])
    try {
      await kernel.event('listening', 10_000)
      const c = await stack.connect(parseIpv6(KERNEL), p, { timeoutMs: 5000 })
      const closed = new Promise<Error | undefined>((resolve) => { c.onClose = resolve })
      c.onData = () => {}
      void sendAll(c, randomBytes(5_000_000)).catch(() => {})
      const done = await kernel.event('done', 10_000)
      expect(done.resetSent).toBe(true)
      const err = await within(closed, 10_000, 'the reset to reach us')
      expect(err).toBeInstanceOf(ConnectionResetError)
      expect(c.state).toBe('CLOSED')
    } finally {
      kernel.kill()
    }
  }, 30_000)

  it('our RST mid-stream reaches the kernel as ECONNRESET', async () => {
    const p = port++
    const kernel = tun.peer(['victim', KERNEL, String(p)])
    try {
      await kernel.event('listening', 10_000)
      const c = await stack.connect(parseIpv6(KERNEL), p, { timeoutMs: 5000 })
      const data = randomBytes(5_000_000)
      let off = 0
      const reset = new Promise<void>((resolve) => {
        const go = (): void => {
          while (off < data.length) {
            if (c.stats.bytesAcked > 500_000) { c.reset(); resolve(); return }
            const ok = c.write(data.subarray(off, off + 65536))
            off += 65536
            if (!ok) return
          }
        }
        c.onDrain = go
        const iv = setInterval(() => { if (c.state === 'CLOSED') { clearInterval(iv); return } if (c.stats.bytesAcked > 500_000) { clearInterval(iv); c.reset(); resolve() } }, 5)
        go()
      })
      await within(reset, 10_000, 'our transfer to reach 500 kB')
      const done = await kernel.event('done', 10_000)
      expect(done.error).toBe('ConnectionResetError')
      expect(done.received as number).toBeGreaterThan(500_000)
      expect(c.state).toBe('CLOSED')
    } finally {
      kernel.kill()
    }
  }, 30_000)

  it('a kernel connect to a port without a listener is refused by our RST', async () => {
    const kernel = tun.peer(['client', US, '17999', '10', '1'])
    try {
      await within(new Promise<void>((resolve) => { kernel.proc.on('exit', () => { resolve() }) }), 10_000, 'the kernel client to fail')
      expect(kernel.stderr).toContain('ConnectionRefusedError')
    } finally {
      kernel.kill()
    }
  }, 20_000)
})
