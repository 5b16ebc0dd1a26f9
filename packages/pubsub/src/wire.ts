/**
 * The gossip wire format: AXL's Python GossipSub example (examples/python-client/gossipsub/gossipsub.py), one
 * JSON object per raw AXL message (`node.send`), `{"type":"gossipsub","msg_type":…}`. MESSAGE, GRAFT, PRUNE,
 * IHAVE and IWANT are that script's; LAZY, EAGER, TREE, PING, PONG and PEERS are ours (the script ignores unknown
 * msg_types), and so are the MESSAGE fields `timestamp_ms` and `signature` (the script copies a message dict when
 * it forwards or serves it, so they travel through Python relays unchanged).
 */
import { isPeerId, type PeerId } from '@axl/core'
import { MalformedGossipError } from './errors.js'

/** The `type` of every gossip frame. */
export const GOSSIP_TYPE = 'gossipsub'
/** Longest msg_id accepted. */
export const MAX_MSG_ID_LENGTH = 128
/** Longest topic accepted. */
export const MAX_TOPIC_LENGTH = 256

/** A MESSAGE as on the wire. */
export interface WireMessage {
  type: 'gossipsub'
  msg_type: 'MESSAGE'
  topic: string
  msg_id: string
  /** The publisher's peer id. */
  origin: string
  /** The peer that sent this copy (informative: receivers use the authenticated sender). */
  from: string
  /** Links travelled before this copy was sent (0 from the publisher). */
  hop: number
  /** The payload, base64. */
  data: string
  /** Ours: publication time, ms since the epoch (signed; bounds replays). */
  timestamp_ms?: number
  /** Ours: the origin's ed25519 signature (base64) over signedBytes(). */
  signature?: string
}

/**
 * Ours: a mesh peer's place in the topic's spanning tree (sent to every mesh peer each heartbeat and when it
 * changes). `root` is the tree's root, `seq` the root's counter (it rises while the root lives), `dist` the
 * sender's distance to the root (ms, one-way), `path` the first 16 hex characters of the sender's ancestors,
 * parent first (a receiver in it must not take the sender as parent: no loops). `t` is the sender's clock and
 * `echo`/`hold` return the receiver's last `t` with the time it was held, so each side measures the round trip.
 */
export interface WireTree {
  type: 'gossipsub'
  msg_type: 'TREE'
  topic: string
  root: string
  seq: number
  dist: number
  path: string[]
  t: number
  echo?: number
  hold?: number
}

/** A control frame. */
export type WireControl =
  | { type: 'gossipsub', msg_type: 'GRAFT', topic: string }
  | { type: 'gossipsub', msg_type: 'PRUNE', topic: string, peers: string[] }
  | { type: 'gossipsub', msg_type: 'IHAVE', topic: string, msg_ids: string[] }
  | { type: 'gossipsub', msg_type: 'IWANT', msg_ids: string[] }
  | { type: 'gossipsub', msg_type: 'LAZY' | 'EAGER', topic: string }
  | WireTree
  /** Ours: a round-trip probe (answered with PONG echoing `t`, and how long it was held). */
  | { type: 'gossipsub', msg_type: 'PING', t: number }
  | { type: 'gossipsub', msg_type: 'PONG', echo: number, hold: number }
  /**
   * Ours: peer exchange — gossip peers the sender knows, nearest first, with its measured round trip to each
   * (`rtts`, ms, parallel to `peers`); the receiver probes them before use, nearest (by its own round trip to the
   * sender + the sender's to them) first, and answers with its own list unless this is an answer (`reply`).
   */
  | { type: 'gossipsub', msg_type: 'PEERS', peers: string[], rtts?: number[], reply?: boolean }

/** Any gossip frame. */
export type WireFrame = WireMessage | WireControl

const HEAD = /^\{\s*"type"\s*:\s*"gossipsub"/

/**
 * True when a raw message is a gossip frame: a JSON object whose first member is `"type":"gossipsub"` (as our
 * encoder and Python's json.dumps write it). Looks at the first 40 bytes only.
 */
export function isGossipFrame (data: Uint8Array): boolean {
  if (data.byteLength < 20 || data[0] !== 0x7b) return false
  return HEAD.test(Buffer.from(data.buffer, data.byteOffset, Math.min(40, data.byteLength)).toString('latin1'))
}

/** Encode a frame as JSON bytes. */
export function encodeFrame (frame: WireFrame): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(frame))
}

/** Bounds applied when decoding. */
export interface DecodeBounds {
  /** Most msg_ids in one IHAVE or IWANT. */
  maxIds: number
  /** Largest base64 `data` string (characters). */
  maxDataChars: number
}

function str (v: unknown, what: string, max: number, allowEmpty = true): string {
  if (typeof v !== 'string') throw new MalformedGossipError(`${what} must be a string`)
  if (v.length > max) throw new MalformedGossipError(`${what} is ${v.length} characters, more than ${max}`)
  if (!allowEmpty && v.length === 0) throw new MalformedGossipError(`${what} is empty`)
  return v
}

/** Longest TREE path and PEERS list accepted. */
export const MAX_TREE_PATH = 64
export const MAX_PEERS_EXCHANGED = 32

function num (v: unknown, what: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw new MalformedGossipError(`${what} must be a non-negative number`)
  return v
}

function peerList (v: unknown): string[] {
  if (!Array.isArray(v)) throw new MalformedGossipError('peers must be an array')
  if (v.length > MAX_PEERS_EXCHANGED) throw new MalformedGossipError(`${v.length} peers, more than ${MAX_PEERS_EXCHANGED}`)
  return v.map(x => {
    const p = str(x, 'a peer', 64)
    if (!isPeerId(p)) throw new MalformedGossipError('a peer is not a peer id (64 lowercase hex characters)')
    return p
  })
}

function ids (v: unknown, max: number): string[] {
  if (!Array.isArray(v)) throw new MalformedGossipError('msg_ids must be an array')
  if (v.length > max) throw new MalformedGossipError(`${v.length} msg_ids, more than ${max}`)
  return v.map(x => str(x, 'a msg_id', MAX_MSG_ID_LENGTH, false))
}

/** Decode and validate a gossip frame; throws MalformedGossipError (unknown msg_types included). */
export function decodeFrame (data: Uint8Array, bounds: DecodeBounds): WireFrame {
  let v: unknown
  try { v = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(data)) } catch (err) {
    throw new MalformedGossipError('not UTF-8 JSON', { cause: err })
  }
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new MalformedGossipError('not a JSON object')
  const o = v as Record<string, unknown>
  if (o.type !== GOSSIP_TYPE) throw new MalformedGossipError('type is not "gossipsub"')
  const type = GOSSIP_TYPE
  switch (o.msg_type) {
    case 'MESSAGE': {
      const origin = str(o.origin, 'origin', 64)
      if (!isPeerId(origin)) throw new MalformedGossipError('origin is not a peer id (64 lowercase hex characters)')
      const hop = o.hop === undefined ? 0 : o.hop
      if (typeof hop !== 'number' || !Number.isInteger(hop) || hop < 0) throw new MalformedGossipError('hop must be a non-negative integer')
      const m: WireMessage = {
        type,
        msg_type: 'MESSAGE',
        topic: str(o.topic, 'topic', MAX_TOPIC_LENGTH, false),
        msg_id: str(o.msg_id, 'msg_id', MAX_MSG_ID_LENGTH, false),
        origin,
        from: typeof o.from === 'string' ? o.from.slice(0, 64) : '',
        hop: Math.min(hop, 0xffff),
        data: str(o.data, 'data', bounds.maxDataChars)
      }
      if (o.timestamp_ms !== undefined || o.signature !== undefined) {
        if (typeof o.timestamp_ms !== 'number' || !Number.isSafeInteger(o.timestamp_ms)) throw new MalformedGossipError('timestamp_ms must be an integer')
        m.timestamp_ms = o.timestamp_ms
        m.signature = str(o.signature, 'signature', 100, false)
      }
      return m
    }
    case 'GRAFT': return { type, msg_type: 'GRAFT', topic: str(o.topic, 'topic', MAX_TOPIC_LENGTH, false) }
    case 'PRUNE': return { type, msg_type: 'PRUNE', topic: str(o.topic, 'topic', MAX_TOPIC_LENGTH, false), peers: [] }
    case 'LAZY': case 'EAGER': return { type, msg_type: o.msg_type, topic: str(o.topic, 'topic', MAX_TOPIC_LENGTH, false) }
    case 'IHAVE': return { type, msg_type: 'IHAVE', topic: str(o.topic, 'topic', MAX_TOPIC_LENGTH, false), msg_ids: ids(o.msg_ids, bounds.maxIds) }
    case 'IWANT': return { type, msg_type: 'IWANT', msg_ids: ids(o.msg_ids, bounds.maxIds) }
    case 'TREE': {
      const root = str(o.root, 'root', 64)
      if (!isPeerId(root)) throw new MalformedGossipError('root is not a peer id (64 lowercase hex characters)')
      if (!Array.isArray(o.path) || o.path.length > MAX_TREE_PATH) throw new MalformedGossipError(`path must be an array of at most ${MAX_TREE_PATH}`)
      const f: WireTree = {
        type,
        msg_type: 'TREE',
        topic: str(o.topic, 'topic', MAX_TOPIC_LENGTH, false),
        root,
        seq: num(o.seq, 'seq'),
        dist: num(o.dist, 'dist'),
        path: o.path.map(x => str(x, 'a path entry', 16, false)),
        t: num(o.t, 't')
      }
      if (o.echo !== undefined) { f.echo = num(o.echo, 'echo'); f.hold = num(o.hold ?? 0, 'hold') }
      return f
    }
    case 'PING': return { type, msg_type: 'PING', t: num(o.t, 't') }
    case 'PONG': return { type, msg_type: 'PONG', echo: num(o.echo, 'echo'), hold: num(o.hold, 'hold') }
    case 'PEERS': {
      const peers = peerList(o.peers)
      const f: WireControl = { type, msg_type: 'PEERS', peers }
      if (o.reply === true) f.reply = true
      if (o.rtts === undefined) return f
      if (!Array.isArray(o.rtts) || o.rtts.length !== peers.length) throw new MalformedGossipError('rtts must be an array as long as peers')
      f.rtts = o.rtts.map(x => num(x, 'an rtt'))
      return f
    }
    default: throw new MalformedGossipError(`unknown msg_type ${JSON.stringify(String(o.msg_type)).slice(0, 40)}`)
  }
}

/** Decode base64 `data` strictly (canonical base64 only); throws MalformedGossipError. */
export function decodeData (b64: string): Uint8Array {
  const bytes = Buffer.from(b64, 'base64')
  if (bytes.toString('base64') !== b64) throw new MalformedGossipError('data is not canonical base64')
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength)
}

/** Bytes `b64` decodes to, without decoding. */
export function base64Length (b64: string): number {
  const pad = b64.endsWith('==') ? 2 : b64.endsWith('=') ? 1 : 0
  return Math.floor(b64.length * 3 / 4) - pad
}

/** The authenticated sender as a PeerId (narrowing helper). */
export function asPeer (s: string): PeerId { return s as PeerId }
