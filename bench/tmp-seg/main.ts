import { createNode } from '@axl/core'
import { ygg } from '@axl/transport-ygg'
const sleep = async (ms: number): Promise<void> => await new Promise(resolve => setTimeout(resolve, ms))
let echo = false
async function start (listen: boolean, peers: string[]): Promise<{ node: any, mesh: any }> {
  const f = ygg({ listen: listen ? ['tcp://127.0.0.1:0'] : [], peers })
  let mesh: any
  const node = await createNode({
    transport: (c) => {
      const m = f(c) as any
      const handle = m.handle.bind(m)
      m.handle = (h: any) => handle((s: any) => {
        if (!echo) { h(s); return }
        void (async () => { for (;;) { const c = await s.read(); if (c === null) break; s.send(c) } s.close() })()
      })
      mesh = m
      return m
    }
  })
  return { node, mesh }
}
const B = await start(true, [])
const A = await start(false, [B.mesh.listening[0]])
B.node.handle('mcp', async (req: any) => ({ response: req.request }))
const frame = new TextEncoder().encode(JSON.stringify({ service: 'x', request: { jsonrpc: '2.0', id: 1, method: 'tools/list' } }))
for (;;) { try { await A.node.request(B.node.peerId, frame, { timeoutMs: 2000 }); break } catch { await sleep(100) } }
const segs = (m: any): number => { let n = 0; for (const list of m.tcp.conns.values()) for (const c of list) n += c.stats.segmentsSent; return n }
const frames = (m: any): number => m.overlay.stats.framesOut
for (let i = 0; i < 500; i++) await A.node.request(B.node.peerId, frame)
let a0 = segs(A.mesh); let b0 = segs(B.mesh); let fa = frames(A.mesh); let fb = frames(B.mesh)
let t = performance.now()
for (let i = 0; i < 20000; i++) await A.node.request(B.node.peerId, frame)
console.log(`request: ${((performance.now() - t) / 20).toFixed(0)} µs/rtt in-process; segments per request A ${(segs(A.mesh) - a0) / 20000} B ${(segs(B.mesh) - b0) / 2000}; frames A ${(frames(A.mesh) - fa) / 2000} B ${(frames(B.mesh) - fb) / 2000}`)
echo = true
const s = await A.mesh.dial(B.node.peerId)
const msg = new Uint8Array(100).fill(7)
const one = async (): Promise<void> => { s.send(msg); let got = 0; while (got < 100) { const c = await s.read(); got += c.byteLength } }
for (let i = 0; i < 500; i++) await one()
a0 = segs(A.mesh); b0 = segs(B.mesh); fa = frames(A.mesh); fb = frames(B.mesh)
t = performance.now()
for (let i = 0; i < 20000; i++) await one()
console.log(`echo: ${((performance.now() - t) / 20).toFixed(0)} µs/rtt in-process; segments per rtt A ${(segs(A.mesh) - a0) / 2000} B ${(segs(B.mesh) - b0) / 2000}; frames A ${(frames(A.mesh) - fa) / 2000} B ${(frames(B.mesh) - fb) / 2000}`)
s.close()
await Promise.all([A.node.stop(), B.node.stop()])
console.log('{}')
