/**
 * A stand-in for a node running AXL's Python GossipSub example (examples/python-client/gossipsub/gossipsub.py
 * over an AXL node's /send and /recv), written from its wire format and documented behaviour: JSON frames
 * `{"type": "gossipsub", "msg_type": …}` as Python's json.dumps writes them, unsigned MESSAGEs with
 * `msg_id = node_id[:8]:NNNNNN`, lazy-first forwarding (eager to one mesh peer, IHAVE to the rest), IWANT
 * deduplication, GRAFT/PRUNE upkeep on a heartbeat, explicit peers only, unknown fields and msg_types ignored,
 * message dicts copied as they are (so extra fields travel on). It runs on a plain node (no pubsub service):
 * everything arrives in its inbox, exactly like the script's recv loop.
 */
import type { AxlNode, PeerId } from '@axl/core'

type Dict = Record<string, unknown>

/** Python's json.dumps with default separators (", " and ": "), for the flat dicts the script sends. */
export function pyDumps (v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(pyDumps).join(', ')}]`
  if (v !== null && typeof v === 'object') return `{${Object.entries(v).map(([k, x]) => `${JSON.stringify(k)}: ${pyDumps(x)}`).join(', ')}}`
  return JSON.stringify(v)
}

export class PythonGossipPeer {
  readonly peers = new Set<string>()
  readonly mesh = new Map<string, Set<string>>()
  readonly subscriptions = new Set<string>()
  readonly seen = new Set<string>()
  readonly cache = new Map<string, Dict>()
  readonly pendingIwant = new Set<string>()
  /** Deliveries (first copies) and every MESSAGE frame received. */
  readonly received: Dict[] = []
  totalReceived = 0
  /** Non-gossip frames the loop consumed (the script drops them too). */
  ignored = 0
  private counter = 0
  private running = true
  private readonly loop: Promise<void>
  private readonly timer: ReturnType<typeof setInterval>

  constructor (readonly node: AxlNode, readonly D = 3, readonly Dlo = 2, readonly Dhi = 4, heartbeatMs = 100) {
    this.loop = this.recvLoop()
    this.timer = setInterval(() => { this.heartbeat() }, heartbeatMs)
  }

  get id (): string { return this.node.peerId }
  addPeer (p: string): void { this.peers.add(p) }
  subscribe (topic: string): void { this.subscriptions.add(topic); if (!this.mesh.has(topic)) this.mesh.set(topic, new Set()) }

  publish (topic: string, data: Uint8Array): string {
    const msgId = `${this.id.slice(0, 8)}:${String(++this.counter).padStart(6, '0')}`
    this.seen.add(msgId)
    const msg = { type: 'gossipsub', msg_type: 'MESSAGE', topic, msg_id: msgId, origin: this.id, from: this.id, hop: 0, data: Buffer.from(data).toString('base64') }
    this.cache.set(msgId, msg)
    const m = this.mesh.get(topic)
    for (const p of (m !== undefined && m.size > 0) ? m : this.peers) this.send(p, msg)
    return msgId
  }

  async stop (): Promise<void> { this.running = false; clearInterval(this.timer); await this.node.stop(); await this.loop }

  send (peer: string, msg: Dict): void {
    this.node.send(peer, new TextEncoder().encode(pyDumps(msg))).catch(() => { /* the script swallows send errors too */ })
  }

  private async recvLoop (): Promise<void> {
    for await (const m of this.node.messages()) {
      if (!this.running) return
      let msg: Dict
      try { msg = JSON.parse(new TextDecoder().decode(m.data)) as Dict } catch { this.ignored++; continue }
      if (msg === null || typeof msg !== 'object' || msg.type !== 'gossipsub') { this.ignored++; continue }
      this.handle(m.from, msg)
    }
  }

  private handle (from: PeerId, msg: Dict): void {
    const topic = String(msg.topic ?? '')
    switch (msg.msg_type) {
      case 'MESSAGE': {
        const id = String(msg.msg_id ?? '')
        this.totalReceived++
        if (this.seen.has(id)) return
        this.seen.add(id)
        this.cache.set(id, msg)
        this.received.push(msg)
        if (!this.subscriptions.has(topic)) return
        const fwd = { ...msg, hop: Number(msg.hop ?? 0) + 1, from: this.id }
        const candidates = shuffle([...(this.mesh.get(topic) ?? [])].filter(p => p !== from && p !== msg.origin))
        if (candidates.length > 0) this.send(candidates[0], fwd)
        for (const p of candidates.slice(1)) this.send(p, { type: 'gossipsub', msg_type: 'IHAVE', topic, msg_ids: [id] })
        return
      }
      case 'GRAFT': {
        if (!this.subscriptions.has(topic)) return
        const mesh = this.mesh.get(topic) ?? new Set()
        this.mesh.set(topic, mesh)
        if (mesh.size < this.Dhi) mesh.add(from)
        else this.send(from, { type: 'gossipsub', msg_type: 'PRUNE', topic, peers: [] })
        return
      }
      case 'PRUNE': this.mesh.get(topic)?.delete(from); return
      case 'IHAVE': {
        if (!this.subscriptions.has(topic)) return
        const wanted = (msg.msg_ids as string[] ?? []).filter(id => !this.seen.has(id) && !this.pendingIwant.has(id))
        if (wanted.length === 0) return
        for (const id of wanted) this.pendingIwant.add(id)
        this.send(from, { type: 'gossipsub', msg_type: 'IWANT', msg_ids: wanted.slice(0, 64) })
        return
      }
      case 'IWANT':
        for (const id of msg.msg_ids as string[] ?? []) {
          const c = this.cache.get(id)
          if (c !== undefined) this.send(from, { ...c, from: this.id })
        }
    }
  }

  private heartbeat (): void {
    for (const topic of this.subscriptions) {
      const mesh = new Set([...(this.mesh.get(topic) ?? [])].filter(p => this.peers.has(p)))
      this.mesh.set(topic, mesh)
      if (mesh.size < this.Dlo) {
        for (const p of shuffle([...this.peers].filter(p => !mesh.has(p))).slice(0, this.D - mesh.size)) {
          mesh.add(p)
          this.send(p, { type: 'gossipsub', msg_type: 'GRAFT', topic })
        }
      } else if (mesh.size > this.Dhi) {
        for (const p of shuffle([...mesh]).slice(0, mesh.size - this.D)) {
          mesh.delete(p)
          this.send(p, { type: 'gossipsub', msg_type: 'PRUNE', topic, peers: [] })
        }
      }
      const recent = [...this.seen].slice(-5000)
      const nonMesh = [...this.peers].filter(p => !mesh.has(p))
      if (recent.length > 0 && nonMesh.length > 0) this.send(shuffle(nonMesh)[0], { type: 'gossipsub', msg_type: 'IHAVE', topic, msg_ids: recent })
    }
  }
}

function shuffle<T> (a: T[]): T[] {
  for (let i = a.length - 1; i > 0; i--) { const j = Math.floor(Math.random() * (i + 1)); [a[i], a[j]] = [a[j], a[i]] }
  return a
}
