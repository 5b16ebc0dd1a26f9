/**
 * The js-libp2p peer baseline in a bench process: tcp + noise + yamux with default options (as
 * /work/shared/bench-baselines measured it). Loaded with dynamic imports so the Promise.withResolvers
 * polyfill of @axl/core (Node 20) is installed before any libp2p module runs.
 */
import type { Libp2p, Stream } from '@libp2p/interface'
import { timeRoundTrips } from './util.js'
import { performance } from 'node:perf_hooks'

const SINK = '/axl-bench/sink/1.0.0'
const ECHO = '/axl-bench/echo/1.0.0'
let node: Libp2p | undefined

/** Bytes of a message event (a Uint8Array or a Uint8ArrayList). */
function len (d: { byteLength: number }): number { return d.byteLength }

/** Sink: 8-byte big-endian length then that many bytes; answers one byte. */
function sink (stream: Stream): void {
  let n = 0
  let total = -1
  stream.addEventListener('message', e => {
    const d = e.data
    if (total < 0) {
      const h = d.subarray(0, 8)
      total = Number(new DataView(h.buffer, h.byteOffset, 8).getBigUint64(0)) + 8
    }
    n += len(d)
    if (n >= total) {
      total = Infinity
      stream.send(Uint8Array.of(1))
      stream.close().catch(() => {})
    }
  })
}

function echo (stream: Stream): void {
  stream.addEventListener('message', e => { stream.send(e.data) })
  stream.addEventListener('remoteCloseWrite', () => { stream.close().catch(() => {}) })
}

/** fn(size): resolves once `size` more bytes arrived on the stream. */
function byteWaiter (stream: Stream): (size: number) => Promise<void> {
  let got = 0
  let want = Infinity
  let wake: (() => void) | undefined
  stream.addEventListener('message', e => {
    got += len(e.data)
    if (got >= want && wake !== undefined) {
      got -= want
      want = Infinity
      const w = wake
      wake = undefined
      w()
    }
  })
  return async size => {
    if (got >= size) { got -= size; return }
    await new Promise<void>(resolve => { want = size; wake = resolve })
  }
}

function need (): Libp2p {
  if (node === undefined) throw new Error('libp2p node not started')
  return node
}

export const p2pHandlers = {
  async p2pStart (): Promise<string> {
    const [{ createLibp2p }, { tcp }, { noise }, { yamux }] = await Promise.all([
      import('libp2p'), import('@libp2p/tcp'), import('@chainsafe/libp2p-noise'), import('@chainsafe/libp2p-yamux')
    ])
    node = await createLibp2p({
      addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
      transports: [tcp()],
      connectionEncrypters: [noise()],
      streamMuxers: [yamux()],
      connectionManager: { inboundConnectionThreshold: 1e9, maxIncomingPendingConnections: 1e4, maxConnections: 1e5 }
    })
    await node.handle(SINK, sink)
    await node.handle(ECHO, echo)
    return node.getMultiaddrs()[0].toString()
  },

  async p2pStop (): Promise<void> { await node?.stop() },

  /** One stream: `total` bytes in `chunk`-byte send()s; ms from the first byte to the sink's ack. */
  async p2pBulk ({ ma, total, chunk }: { ma: string, total: number, chunk: number }): Promise<number> {
    const { multiaddr } = await import('@multiformats/multiaddr')
    const conn = await need().dial(multiaddr(ma))
    const stream = await conn.newStream(SINK)
    const ack = byteWaiter(stream)(1)
    const buf = new Uint8Array(chunk).fill(0xab)
    const hdr = new Uint8Array(8)
    new DataView(hdr.buffer).setBigUint64(0, BigInt(total))
    const t0 = performance.now()
    if (!stream.send(hdr)) await stream.onDrain()
    for (let sent = 0; sent < total; sent += chunk) {
      if (!stream.send(buf)) await stream.onDrain()
    }
    await ack
    const ms = performance.now() - t0
    await stream.close().catch(() => {})
    return ms
  },

  /** `n` 100-byte echoes on one open stream after `warm` unmeasured ones; µs each. */
  async p2pRtt ({ ma, n, warm }: { ma: string, n: number, warm: number }): Promise<number[]> {
    const { multiaddr } = await import('@multiformats/multiaddr')
    const conn = await need().dial(multiaddr(ma))
    const stream = await conn.newStream(ECHO)
    const wait = byteWaiter(stream)
    const msg = new Uint8Array(100).fill(7)
    const one = async (): Promise<void> => {
      const p = wait(100)
      stream.send(msg)
      await p
    }
    const out = await timeRoundTrips(one, n, warm)
    await stream.close().catch(() => {})
    return out
  }
}
