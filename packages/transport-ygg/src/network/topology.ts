/**
 * A JSON-friendly snapshot of one node's view of the overlay: itself, its links, the tree infos it holds
 * and its known paths. Keys are lowercase hex; lists are always arrays (possibly empty), never null.
 */
import { keyHex, type KeyStr } from '../crypto.js'
import type { NetworkContext } from './context.js'
import type { PathEntry } from './pathfinder.js'
import type { Tree } from './tree.js'

/** One directly connected peer link. */
export interface TopologyPeerLink {
  /** Peer key, hex. */
  key: string
  /** The port we assigned to this peer key (shared by all its links). */
  port: number
  uri: string
  up: boolean
  inbound: boolean
  priority: number
  /** Last SigReq→SigRes round trip on this link, when sampled. */
  rttMs?: number
  /** The peer's root as we know it (hex), when we hold its info. */
  root?: string
  /** True when the link is a tree edge (our parent or our child). */
  onTree: boolean
}

/** One tree info we hold. */
export interface TopologyTreeEntry { key: string, parent: string, seq: number }

/** One known path. */
export interface TopologyPath { key: string, path: number[], seq: number, broken: boolean }

/** The snapshot returned by `Overlay.topology()`. */
export interface OverlayTopology {
  key: string
  root: string
  parent: string
  coords: number[]
  peers: TopologyPeerLink[]
  tree: TopologyTreeEntry[]
  paths: TopologyPath[]
}

/** What a snapshot reads of a node: its key and peers, its tree, its known paths and its parent. */
export interface TopologyContext extends Pick<NetworkContext, 'selfKey' | 'peers'> {
  readonly tree: Pick<Tree, 'infos' | 'rootAndPath' | 'root' | 'coordsOf'>
  readonly pf: { readonly paths: ReadonlyMap<KeyStr, PathEntry> }
  parentKey: () => KeyStr
}

/** Builds the topology snapshot of a node (the Router). */
export function buildTopology (r: TopologyContext): OverlayTopology {
  const t = r.tree
  const peers: TopologyPeerLink[] = []
  for (const p of r.peers.values()) {
    const root = t.infos.has(p.key) ? keyHex(t.rootAndPath(p.key).root) : undefined
    for (const l of p.links) {
      const e: TopologyPeerLink = {
        key: keyHex(p.key),
        port: p.port,
        uri: l.conn.uri,
        up: !l.closed,
        inbound: l.conn.inbound,
        priority: l.prio,
        onTree: p.bloom.onTree
      }
      if (l.rttMs !== undefined) e.rttMs = l.rttMs
      if (root !== undefined) e.root = root
      peers.push(e)
    }
  }
  const tree: TopologyTreeEntry[] = []
  for (const [k, info] of t.infos) tree.push({ key: keyHex(k), parent: keyHex(info.parent), seq: Number(info.seq) })
  const paths: TopologyPath[] = []
  for (const [k, p] of r.pf.paths) paths.push({ key: keyHex(k), path: [...p.path], seq: Number(p.seq), broken: p.broken })
  return {
    key: keyHex(r.selfKey),
    root: keyHex(t.root()),
    parent: keyHex(r.parentKey()),
    coords: [...t.coordsOf(r.selfKey)],
    peers,
    tree,
    paths
  }
}
