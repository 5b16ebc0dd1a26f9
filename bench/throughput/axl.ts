/**
 * The AXL side of a bench process: createNode() + ygg() over tcp:// links, with
 *  - an MCP handler that echoes the request (for node.request() round trips),
 *  - an inbox drain (for node.send() bulk),
 *  - a bench-only raw-stream path: the mesh's inbound handler is wrapped so that the next N streams from a
 *    given peer (announced over IPC with expectRaw) bypass the node's frame reader and go to a byte sink.
 *    The sender side is the public node.dial() → MeshStream. This is the transport's ceiling.
 */
import { createNode, generateIdentity, type AxlNode, type Identity, type MeshComponents, type MeshStream, type PeerId } from '@axl/core'
import { encodeMcpRequest, encodeMcpResponse } from '@axl/router-mcp'
import { ygg, type YggMesh } from '@axl/transport-ygg'
import { performance } from 'node:perf_hooks'
import { sleep, timeRoundTrips } from './util.js'

interface Entry {
  node: AxlNode
  mesh: YggMesh
  /** Streams from these peers still to be taken as raw bulk streams. */
  rawFrom: Map<string, number>
  /** Streams from these peers still to be taken as echo streams (every chunk sent back). */
  echoFrom: Map<string, number>
  /** Payload bytes that arrived through the inbox (node.send()). */
  received: number
  /** Raw bulk streams completed. */
  rawDone: number
}

const nodes = new Map<string, Entry>()

function prefix (p: string, o: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(o).map(([k, v]) => [p + k, v]))
}

function get (name: string): Entry {
  const e = nodes.get(name)
  if (e === undefined) throw new Error(`no AXL node ${name} in this process`)
  return e
}

/** IPv6 MTU given to every ygg() of this process (undefined: the transport's default); set by axlConfig. */
let mtu: number | undefined

/** A 100-byte MCP request envelope: {"service":"bench","request":{"p":"xxx…"}}. */
export function mcpFrame100 (): Uint8Array {
  const base = encodeMcpRequest('bench', { p: '' }).byteLength
  const f = encodeMcpRequest('bench', { p: 'x'.repeat(100 - base) })
  if (f.byteLength !== 100) throw new Error(`envelope is ${f.byteLength} bytes`)
  return f
}
const FRAME = mcpFrame100()

/** Send every chunk of `s` back until it ends. */
async function echoLoop (s: MeshStream): Promise<void> {
  try {
    for (;;) {
      const c = await s.read()
      if (c === null) break
      if (!s.send(c)) await s.onDrain()
    }
    s.close()
  } catch {
    s.abort('echo failed')
  }
}

/** Read a bulk stream: 8-byte big-endian length, then that many bytes; answer one byte, wait for EOF. */
async function rawSink (s: MeshStream, e: Entry): Promise<void> {
  try {
    let n = 0
    let total = -1
    for (;;) {
      const c = await s.read()
      if (c === null) break
      if (total < 0) {
        // the header is the sender's first write: it arrives whole in the first chunk
        total = Number(new DataView(c.buffer, c.byteOffset, 8).getBigUint64(0)) + 8
      }
      n += c.byteLength
      if (n >= total) {
        total = Infinity
        s.send(Uint8Array.of(1))
      }
    }
    s.close()
    e.rawDone++
  } catch {
    s.abort('raw sink failed')
  }
}

export const axlHandlers = {
  axlConfig (o: { mtu?: number }): void { mtu = o.mtu },

  /** Start a node; `listen` binds tcp://127.0.0.1:0, `peers` are dialled. */
  async axlStart ({ name, listen, peers, identity }: { name: string, listen?: boolean, peers?: string[], identity?: Identity }): Promise<{ peerId: string, uri?: string }> {
    const rawFrom = new Map<string, number>()
    const echoFrom = new Map<string, number>()
    let mesh: YggMesh | undefined
    let entry: Entry | undefined
    const f = ygg({ listen: listen === true ? ['tcp://127.0.0.1:0'] : [], peers: peers ?? [], ...(mtu !== undefined ? { mtu } : {}) })
    const transport = (c: MeshComponents): YggMesh => {
      const m = f(c) as YggMesh
      const handle = m.handle.bind(m)
      m.handle = h => {
        handle(s => {
          const echo = echoFrom.get(s.remotePeer) ?? 0
          if (echo > 0) {
            echoFrom.set(s.remotePeer, echo - 1)
            void echoLoop(s)
            return
          }
          const n = rawFrom.get(s.remotePeer) ?? 0
          if (n > 0 && entry !== undefined) {
            rawFrom.set(s.remotePeer, n - 1)
            void rawSink(s, entry)
            return
          }
          h(s)
        })
      }
      mesh = m
      return m
    }
    const node = await createNode({ transport, ...(identity !== undefined ? { identity } : {}) })
    node.handle('mcp', async req => encodeMcpResponse(req.service, req.request))
    entry = { node, mesh: mesh!, rawFrom, echoFrom, received: 0, rawDone: 0 }
    const e = entry
    void (async () => {
      for await (const m of node.messages()) e.received += m.data.byteLength
    })()
    nodes.set(name, e)
    return { peerId: node.peerId, uri: e.mesh.listening[0] }
  },

  async axlStop ({ name }: { name: string }): Promise<void> {
    const e = nodes.get(name)
    nodes.delete(name)
    await e?.node.stop()
  },

  /** Retry a request until `to` answers (the tree and paths form within a second or two). */
  async axlWaitReachable ({ name, to, timeoutMs = 60_000 }: { name: string, to: string, timeoutMs?: number }): Promise<number> {
    const { node, mesh } = get(name)
    const t0 = performance.now()
    for (;;) {
      try {
        await node.request(to, FRAME, { timeoutMs: 3000 })
        return performance.now() - t0
      } catch (err) {
        if (performance.now() - t0 > timeoutMs) {
          const t = node.topology()
          throw new Error(`${name} → ${to.slice(0, 16)} unreachable: ${String(err)}; root ${t.root.slice(0, 16)} parent ${t.parent.slice(0, 16)} peers ${JSON.stringify(t.peers.map(p => [p.uri, p.up]))} sessions ${JSON.stringify(mesh.sessions.stats)}`)
        }
        await sleep(100)
      }
    }
  },

  /** The receiver: take the next `count` inbound streams from `from` as raw bulk streams. */
  axlExpectRaw ({ name, from, count = 1 }: { name: string, from: string, count?: number }): void {
    const e = get(name)
    e.rawFrom.set(from, (e.rawFrom.get(from) ?? 0) + count)
  },

  /** The receiver: take the next `count` inbound streams from `from` as echo streams. */
  axlExpectEcho ({ name, from, count = 1 }: { name: string, from: string, count?: number }): void {
    const e = get(name)
    e.echoFrom.set(from, (e.echoFrom.get(from) ?? 0) + count)
  },

  /** `n` round trips of 100 bytes on one raw MeshStream to an echo (the transport alone, like libp2p's echo); µs each. */
  async axlEchoRtt ({ name, to, n, warm }: { name: string, to: string, n: number, warm: number }): Promise<number[]> {
    const { node } = get(name)
    const s = await node.dial(to)
    const msg = new Uint8Array(100).fill(7)
    const one = async (): Promise<void> => {
      s.send(msg)
      let got = 0
      while (got < 100) {
        const c = await s.read()
        if (c === null) throw new Error('echo stream ended')
        got += c.byteLength
      }
    }
    const out = await timeRoundTrips(one, n, warm)
    s.close()
    return out
  },

  /** Counters of every layer of a node (for deltas around a run). */
  axlStats ({ name }: { name: string }): Record<string, unknown> {
    const { mesh } = get(name)
    const { droppedBy, ...tcp } = mesh.tcp.stats
    // per-connection TCP counters, summed (the stack keeps its connections in a private map: diagnostics only)
    const conn: Record<string, number> = {}
    const conns = (mesh.tcp as unknown as { conns: Map<number, Array<{ stats: Record<string, number> }>> }).conns
    for (const list of conns?.values() ?? []) {
      for (const c of list) {
        for (const k of ['retransmits', 'fastRetransmits', 'timeouts', 'dupAcksReceived', 'segmentsSent', 'segmentsReceived', 'outOfOrderDropped']) conn[k] = (conn[k] ?? 0) + c.stats[k]
      }
    }
    return { router: { ...mesh.overlay.stats }, session: { ...mesh.sessions.stats }, tcp: { ...tcp, ...prefix('dropped.', droppedBy) }, conn, glue: { ...mesh.stats } }
  },

  /** Inbox bytes received so far (node.send() bulk). */
  axlReceived ({ name }: { name: string }): number { return get(name).received },

  /** One raw MeshStream from node.dial(): `total` bytes in `chunk`-byte send()s; ms from first byte to the ack. */
  async axlBulkRaw ({ name, to, total, chunk }: { name: string, to: string, total: number, chunk: number }): Promise<number> {
    const { node } = get(name)
    const s = await node.dial(to)
    const buf = new Uint8Array(chunk).fill(0xab)
    const hdr = new Uint8Array(8)
    new DataView(hdr.buffer).setBigUint64(0, BigInt(total))
    const ack = s.read()
    const t0 = performance.now()
    if (!s.send(hdr)) await s.onDrain()
    for (let sent = 0; sent < total; sent += chunk) {
      if (!s.send(buf)) await s.onDrain()
    }
    const a = await ack
    const ms = performance.now() - t0
    if (a === null || a[0] !== 1) throw new Error('raw bulk: no ack')
    s.close()
    return ms
  },

  /** node.send() of `msg`-byte messages, `inflight` at a time, until `total` bytes were accepted; ms. */
  async axlBulkSend ({ name, to, total, msg, inflight }: { name: string, to: string, total: number, msg: number, inflight: number }): Promise<number> {
    const { node } = get(name)
    const buf = new Uint8Array(msg).fill(0xcd)
    const count = Math.ceil(total / msg)
    let started = 0
    const t0 = performance.now()
    await Promise.all(Array.from({ length: inflight }, async () => {
      while (started < count) {
        started++
        await node.send(to, buf)
      }
    }))
    return performance.now() - t0
  },

  /** `n` sequential node.request()s of the 100-byte MCP envelope after `warm` unmeasured ones; µs each. */
  async axlRtt ({ name, to, n, warm }: { name: string, to: string, n: number, warm: number }): Promise<number[]> {
    const { node } = get(name)
    return await timeRoundTrips(async () => await node.request(to, FRAME), n, warm)
  },

  /**
   * A fresh node behind `peers` (a never-contacted key); resolves once its link is up and had `settleMs` to
   * spread. Its key is drawn above the current root (`rootOf`'s view): a new lowest key would become the root
   * and re-form the whole tree, which takes longer than settleMs (see the report), and is not the case measured.
   */
  async axlColdNode ({ name, peers, settleMs, rootOf }: { name: string, peers: string[], settleMs: number, rootOf: string }): Promise<string> {
    const root = get(rootOf).node.topology().root
    let identity = generateIdentity()
    while (identity.peerId <= root) identity = generateIdentity()
    const { peerId } = await axlHandlers.axlStart({ name, peers, identity })
    const { node } = get(name)
    const t0 = performance.now()
    while (!node.topology().peers.some(p => p.up)) {
      if (performance.now() - t0 > 20_000) throw new Error('cold node: link did not come up')
      await sleep(20)
    }
    await sleep(settleMs)
    return peerId
  },

  /** The first request to `to` (ms), and then a second one on the now-warm path (ms). */
  async axlColdRequest ({ name, to }: { name: string, to: string }): Promise<{ firstMs: number, secondMs: number }> {
    const { node } = get(name)
    let t0 = performance.now()
    await node.request(to as PeerId, FRAME)
    const firstMs = performance.now() - t0
    t0 = performance.now()
    await node.request(to as PeerId, FRAME)
    return { firstMs, secondMs: performance.now() - t0 }
  }
}
