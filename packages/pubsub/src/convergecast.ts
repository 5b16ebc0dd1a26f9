/**
 * Convergecast: every node contributes a value, each node merges its children's aggregates with its own and
 * sends the result to its parent in the overlay's spanning tree, so the root ends up with the aggregate of all
 * (optionally broadcast back down). A child that does not report by its parent's deadline is reported missing
 * and the partial aggregate goes on. Wire format: AXL's convergecast.py, msgpack
 * `{"type":"convergecast_data","session_id","from","data"}` as a raw AXL message to the parent; our extra
 * fields `contributors` and `missing` (ignored by the script) and the `convergecast_result` broadcast are ours.
 */
import { decode, encode } from '@msgpack/msgpack'
import {
  AbortError, ConfigError, isPeerId, NotStartedError, parsePeerId, abortReason,
  type AxlNode, type InboundMessage, type NodeComponents, type PeerId, type Topology
} from '@axl/core'
import type { Logger } from '@libp2p/logger'
import { BoundedMap } from './bounded-map.js'
import { MalformedGossipError } from './errors.js'

/** A node's place in the aggregation tree. */
export interface TreePosition {
  /** Our parent, or undefined at the root. */
  parent?: PeerId
  /** The children we wait for. */
  children: PeerId[]
  /** Our depth (root 0): deeper nodes stop waiting earlier, so their partial result reaches the root in time. */
  depth: number
}

/** Options of convergecast(). */
export interface ConvergecastServiceOptions {
  /** How much earlier than its parent a node stops waiting for its children, per tree level. @default 500 */
  hopMarginMs?: number
  /** Sessions running or buffered at once. @default 64 */
  maxSessions?: number
  /** Contributions kept per session (waiting for run(), or received). @default 1024 */
  maxContributions?: number
  /** How long contributions for a session not started here yet are kept. @default 60000 */
  bufferTtlMs?: number
  /** Largest value (encoded bytes) accepted from a child. @default 1048576 */
  maxValueBytes?: number
}

/** Options of one run(). */
export interface ConvergecastOptions<T> {
  /** The session id: every node of one aggregation uses the same. @default 'default' (as convergecast.py) */
  session?: string
  /** Deadline of the root (deeper nodes stop waiting hopMarginMs earlier per level). @default 30000 (convergecast.py) */
  timeoutMs?: number
  /** Merge a child's aggregate into ours. @default AXL's dict.update: `{ ...ours, ...child }` (values must be plain objects) */
  merge?: (ours: T, child: T) => T
  /** Send the root's result back down the tree; every node's run() then resolves with it. @default false */
  broadcast?: boolean
  /** Our place in the tree. @default from node.topology(): its parent, and tree entries whose parent is us */
  tree?: TreePosition
  /** Abort the run (rejects with AbortError). */
  signal?: AbortSignal
}

/** What run() resolves with. */
export interface ConvergecastResult<T> {
  /** The aggregate: of our subtree, or (at the root, or with broadcast) of the whole tree. */
  value: T
  /** True at the root. */
  isRoot: boolean
  /** True when nobody is missing. */
  complete: boolean
  /** Nodes whose contributions are in `value`. */
  contributors: PeerId[]
  /** Nodes known to be missing: children that did not report in time, and those their subtrees reported. */
  missing: PeerId[]
  /** Our children that reported. */
  receivedFrom: PeerId[]
}

/** Counters. */
export interface ConvergecastStats {
  /** Aggregates received from children. */
  received: number
  /** Frames dropped: malformed (logged). */
  malformed: number
  /** Frames dropped: `from` was not the authenticated sender. */
  forged: number
  /** Contributions dropped: the session had finished, or buffers were full. */
  dropped: number
}

/** The service: `node.services.convergecast`. */
export interface Convergecast {
  /** Contribute `value` to a session and wait for the aggregate (see ConvergecastOptions). */
  run: <T>(value: T, opts?: ConvergecastOptions<T>) => Promise<ConvergecastResult<T>>
  /** Counters. */
  readonly stats: ConvergecastStats
  /** @internal */
  start: () => Promise<void>
  /** @internal */
  stop: () => Promise<void>
}

/** The convergecast service factory for createNode({ services: { convergecast: convergecast() } }). */
export function convergecast (opts: ConvergecastServiceOptions = {}): (components: NodeComponents) => Convergecast {
  return (components) => new ConvergecastService(components, opts)
}

/** Our place in the overlay's spanning tree, as convergecast.py derives it (children: tree entries whose parent is us). */
export function treeFromTopology (t: Topology): TreePosition {
  const self = t.ourPublicKey
  const parent = t.parent === self || (t.parent as string) === '' ? undefined : t.parent
  return {
    parent,
    children: [...new Set(t.tree.filter(e => e.parent === self && e.publicKey !== self).map(e => e.publicKey))],
    depth: parent === undefined ? 0 : Math.max(1, t.coords.length)
  }
}

const DATA = 'convergecast_data'
const RESULT = 'convergecast_result'

interface Report { value: unknown, contributors: PeerId[], missing: PeerId[] }

interface Session {
  id: string
  parent?: PeerId
  expected: Set<PeerId>
  reports: Map<PeerId, Report>
  onReport?: () => void
  onResult?: (r: Report) => void
}

/** True for a msgpack map whose first member is `"type": "convergecast_…"` (how convergecast.py packs it). */
export function isConvergecastFrame (d: Uint8Array): boolean {
  if (d.byteLength < 20) return false
  let i = (d[0] & 0xf0) === 0x80 ? 1 : d[0] === 0xde ? 3 : -1
  if (i < 0 || d[i] !== 0xa4 || d[i + 1] !== 0x74 || d[i + 2] !== 0x79 || d[i + 3] !== 0x70 || d[i + 4] !== 0x65) return false
  i += 5
  i += (d[i] & 0xe0) === 0xa0 ? 1 : d[i] === 0xd9 ? 2 : 99
  return Buffer.from(d.buffer, d.byteOffset + Math.min(i, d.byteLength), Math.max(0, Math.min(13, d.byteLength - i))).toString('latin1') === 'convergecast_'
}

class ConvergecastService implements Convergecast {
  readonly stats: ConvergecastStats = { received: 0, malformed: 0, forged: 0, dropped: 0 }
  private readonly node: AxlNode<Record<string, unknown>>
  private readonly self: PeerId
  private readonly log: Logger
  private readonly hopMarginMs: number
  private readonly maxSessions: number
  private readonly maxContributions: number
  private readonly maxValueBytes: number
  private readonly sessions = new Map<string, Session>()
  /** Frames for sessions not started here yet. */
  private readonly early: BoundedMap<string, Array<{ from: PeerId, body: Record<string, unknown> }>>
  private unregister: (() => void) | undefined
  private readonly stopping = new AbortController()

  constructor (components: NodeComponents, opts: ConvergecastServiceOptions) {
    this.node = components.node
    this.self = components.identity.peerId
    this.log = components.logger.forComponent('axl:pubsub:convergecast')
    this.hopMarginMs = opts.hopMarginMs ?? 500
    this.maxSessions = opts.maxSessions ?? 64
    this.maxContributions = opts.maxContributions ?? 1024
    this.maxValueBytes = opts.maxValueBytes ?? 1024 * 1024
    this.early = new BoundedMap(this.maxSessions, opts.bufferTtlMs ?? 60_000, { onEvict: (_k, v) => { this.stats.dropped += v.length } })
  }

  async start (): Promise<void> {
    this.unregister ??= this.node.handleMessages(isConvergecastFrame, m => { this.onFrame(m) })
  }

  async stop (): Promise<void> {
    this.unregister?.()
    this.unregister = undefined
    this.stopping.abort(new NotStartedError('the node is stopping'))
  }

  async run<T>(value: T, opts: ConvergecastOptions<T> = {}): Promise<ConvergecastResult<T>> {
    if (this.unregister === undefined) throw new NotStartedError('the convergecast service is not running')
    const id = opts.session ?? 'default'
    if (this.sessions.has(id)) throw new ConfigError(`convergecast session "${id}" is already running on this node`)
    if (this.sessions.size >= this.maxSessions) throw new ConfigError(`${this.maxSessions} convergecast sessions are running`)
    const merge = opts.merge ?? mergeObjects as unknown as (a: T, b: T) => T
    const timeoutMs = opts.timeoutMs ?? 30_000
    const tree = opts.tree ?? treeFromTopology(this.node.topology())
    const parent = tree.parent === undefined ? undefined : parsePeerId(tree.parent)
    const start = Date.now()
    const s: Session = { id, parent, expected: new Set(tree.children.map(c => parsePeerId(c))), reports: new Map() }
    this.sessions.set(id, s)
    const signals = [this.stopping.signal, ...(opts.signal === undefined ? [] : [opts.signal])]
    const signal = AbortSignal.any(signals)
    try {
      for (const f of this.early.get(id) ?? []) this.onBody(f.from, f.body)
      this.early.delete(id)
      // wait for the children, until our deadline (earlier the deeper we are)
      const waitMs = Math.max(0, timeoutMs - tree.depth * this.hopMarginMs)
      await this.until(s, () => [...s.expected].every(c => s.reports.has(c)), start + waitMs, signal)
      let agg = value
      const contributors = [this.self]
      const missing: PeerId[] = []
      for (const [child, r] of s.reports) {
        agg = merge(agg, r.value as T)
        contributors.push(...r.contributors.filter(c => c !== child), child)
        missing.push(...r.missing)
      }
      for (const c of s.expected) if (!s.reports.has(c)) missing.push(c)
      const receivedFrom = [...s.reports.keys()]
      if (missing.length > 0) this.log('session %s: missing %o', id, missing)
      let result: ConvergecastResult<T> = {
        value: agg, isRoot: parent === undefined, complete: missing.length === 0, contributors: unique(contributors), missing: unique(missing), receivedFrom
      }
      if (parent !== undefined) {
        const body = { type: DATA, session_id: id, from: this.self, data: agg, contributors: result.contributors, missing: result.missing }
        try {
          await this.node.send(parent, encode(body), { signal, timeoutMs: Math.max(1000, start + timeoutMs - Date.now()) })
        } catch (err) {
          if (signal.aborted) throw abortReason(signal)
          this.log.error('session %s: sending to parent %s failed: %s', id, parent, err)
        }
      }
      if (opts.broadcast === true) {
        if (parent !== undefined) {
          // wait for the root's result from our parent: one more timeout at most
          let final: Report | undefined
          s.onResult = r => { final = r }
          await this.until(s, () => final !== undefined, start + 2 * timeoutMs, signal)
          if (final === undefined) throw new AbortError(`convergecast session "${id}": no result from parent ${parent} in time`)
          const f: Report = final
          result = { ...result, value: f.value as T, complete: f.missing.length === 0, contributors: f.contributors, missing: f.missing }
        }
        const down = encode({ type: RESULT, session_id: id, from: this.self, data: result.value, contributors: result.contributors, missing: result.missing })
        await Promise.all(receivedFrom.map(async c => {
          try { await this.node.send(c, down, { signal, timeoutMs: Math.max(1000, timeoutMs) }) } catch (err) {
            this.log.error('session %s: sending the result to %s failed: %s', id, c, err)
          }
        }))
      }
      return result
    } finally {
      this.sessions.delete(id)
    }
  }

  /** Resolve when `done()` holds (checked on each report), at `deadline`, or reject when `signal` fires. */
  private async until (s: Session, done: () => boolean, deadline: number, signal: AbortSignal): Promise<void> {
    if (signal.aborted) throw abortReason(signal)
    if (done()) return
    await new Promise<void>((resolve, reject) => {
      const finish = (): void => { clearTimeout(timer); signal.removeEventListener('abort', onAbort); s.onReport = undefined; resolve() }
      const onAbort = (): void => { clearTimeout(timer); s.onReport = undefined; reject(abortReason(signal)) }
      const timer = setTimeout(finish, Math.max(0, deadline - Date.now()))
      signal.addEventListener('abort', onAbort, { once: true })
      s.onReport = () => { if (done()) finish() }
    })
  }

  private onFrame (m: InboundMessage): void {
    let body: unknown
    try {
      body = decode(m.data, { maxStrLength: this.maxValueBytes, maxBinLength: this.maxValueBytes, maxArrayLength: 100_000, maxMapLength: 100_000, maxExtLength: 0 })
      if (body === null || typeof body !== 'object' || Array.isArray(body)) throw new MalformedGossipError('not a msgpack map')
      const o = body as Record<string, unknown>
      if (typeof o.session_id !== 'string' || o.session_id.length > 256) throw new MalformedGossipError('session_id must be a string of at most 256 characters')
      if (typeof o.from !== 'string') throw new MalformedGossipError('from must be a string')
    } catch (err) {
      this.stats.malformed++
      this.log('malformed convergecast frame from %s: %s', m.from, err instanceof Error ? err.message : String(err))
      return
    }
    const o = body as Record<string, unknown>
    if (o.from !== m.from) { this.stats.forged++; return }
    const s = this.sessions.get(o.session_id as string)
    if (s !== undefined) { this.onBody(m.from, o); return }
    if (o.type !== DATA) { this.stats.dropped++; return }
    const list = this.early.get(o.session_id as string) ?? []
    if (list.length >= this.maxContributions) { this.stats.dropped++; return }
    list.push({ from: m.from, body: o })
    this.early.set(o.session_id as string, list)
  }

  private onBody (from: PeerId, o: Record<string, unknown>): void {
    const s = this.sessions.get(o.session_id as string)
    if (s === undefined) { this.stats.dropped++; return }
    const report: Report = { value: o.data, contributors: peers(o.contributors, from), missing: peers(o.missing) }
    if (o.type === RESULT) {
      if (from === s.parent) s.onResult?.(report)
      else this.stats.dropped++
      s.onReport?.()
      return
    }
    if (o.type !== DATA || s.reports.has(from) || s.reports.size >= this.maxContributions) { this.stats.dropped++; return }
    this.stats.received++
    s.reports.set(from, report)
    s.onReport?.()
  }
}

/** AXL's merge: Python's dict.update on plain objects. */
function mergeObjects (a: unknown, b: unknown): unknown {
  if (!isPlain(a) || !isPlain(b)) throw new ConfigError('the default convergecast merge takes plain objects (as convergecast.py\'s dicts); pass opts.merge for other values')
  return { ...a, ...b }
}

function isPlain (v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v) && !(v instanceof Uint8Array)
}

/** Peer ids from an untrusted list (others dropped), plus `self` when given. */
function peers (v: unknown, self?: PeerId): PeerId[] {
  const out = Array.isArray(v) ? v.filter((x): x is PeerId => isPeerId(x)).slice(0, 100_000) : []
  if (self !== undefined && !out.includes(self)) out.push(self)
  return out
}

function unique (a: PeerId[]): PeerId[] { return [...new Set(a)] }
