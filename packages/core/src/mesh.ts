import type { Identity } from './identity.js'
import type { PeerId } from './peer-id.js'
import type { MeshStream } from './stream.js'
import type { WaitOptions } from './deadline.js'
import type { ComponentLogger } from '@libp2p/logger'

/**
 * Which kind of stream a mesh carries: `axl` streams carry AXL frames (the only kind Go AXL speaks: overlay TCP
 * port 7000 on the Yggdrasil mesh); `protocols` streams start with a protocol negotiation for the user's own
 * protocols (`node.handle('/my/proto/1.0', ...)`), on a separate channel a Go AXL node refuses, so that such a
 * stream can never be misread as an AXL message there.
 */
export type MeshChannel = 'axl' | 'protocols'

/** Options of Mesh.dial. */
export interface MeshDialOptions extends WaitOptions {
  /** The channel to open the stream on (default 'axl'). */
  channel?: MeshChannel
}

/**
 * The Mesh: what every transport implements (the in-memory mesh, the Yggdrasil overlay, your own).
 * A mesh opens reliable ordered streams to peers by id and hands inbound streams to the node, each carrying
 * the authenticated full peer id of its remote. createNode() runs AXL's framing and envelopes on top.
 */
export interface Mesh {
  /** Start listening and dialling. */
  start: () => Promise<void>
  /** Stop: reset every stream, release sockets and timers. */
  stop: () => Promise<void>
  /**
   * Open a stream to `peer` on a channel (default 'axl'); rejects with UnreachableError, TimeoutError or
   * AbortError, and on the 'protocols' channel with UnsupportedProtocolError when the peer has none.
   */
  dial: (peer: PeerId, opts?: MeshDialOptions) => Promise<MeshStream>
  /** Set the handler for inbound streams (called once per stream, with its channel; a mesh without channels passes 'axl' or nothing). */
  handle: (handler: (stream: MeshStream, channel?: MeshChannel) => void) => void
  /** Channels this mesh carries (default `['axl']`: a transport that does not list 'protocols' cannot carry custom protocols). */
  readonly channels?: readonly MeshChannel[]
  /** The overlay as this node sees it. */
  topology: () => Topology
  /** Largest message this mesh can carry, if it imposes one below the node's own limit. */
  readonly maxMessageSize?: number
  /** The addresses (link URIs) this mesh listens on, with the real ports once started; default none. */
  addresses?: () => string[]
}

/** Something that happened in a mesh; the node dispatches each as an event of the same `type`. */
export type MeshEvent =
  | { type: 'peer:connect', peer: PeerId, uri: string, inbound: boolean }
  | { type: 'peer:disconnect', peer: PeerId, uri: string, inbound: boolean, error?: Error }
  | { type: 'link:error', uri: string, inbound: boolean, error: Error }
  | { type: 'listening', addresses: string[] }
  | { type: 'root:change', root: PeerId, previous: PeerId }

/** What a transport factory receives from createNode(). */
export interface MeshComponents {
  /** The node's identity (keys). */
  identity: Identity
  /** Loggers for the transport's components (`@libp2p/logger`; `DEBUG=axl:*` turns them on). Default: its defaultLogger(). */
  logger?: ComponentLogger
  /** Report a mesh event to the node (links up and down, listen addresses, root changes). Default: ignored. */
  events?: (event: MeshEvent) => void
}

/** A transport as passed to createNode({ transport }): builds the node's Mesh from its components. */
export type TransportFactory = (components: MeshComponents) => Mesh

/** One link to a directly connected peer. */
export interface TopologyPeer {
  /** Link URI, e.g. `tcp://127.0.0.1:9001` or `memory://name`. */
  uri: string
  /** Whether the link is up. */
  up: boolean
  /** True when the remote dialled us. */
  inbound: boolean
  /** The peer's key, or '' while the link is down. */
  publicKey: PeerId | ''
  /** The root of the peer's tree, or '' if unknown. */
  root: PeerId | ''
  /** The overlay port we gave this peer (0 while down). */
  port: number
  /** Round-trip time in milliseconds, where known. */
  rttMs?: number
}

/** One node of the spanning tree this node knows about. */
export interface TreeEntry {
  /** The node's key. */
  publicKey: PeerId
  /** Its parent's key (the root's parent is itself). */
  parent: PeerId
  /** Its announcement sequence number. */
  sequence: number
}

/** The overlay as one node sees it. Lists are always arrays, never null. */
export interface Topology {
  /** Our key. */
  ourPublicKey: PeerId
  /** Our Yggdrasil 200::/7 address. */
  ourIpv6: string
  /** The tree's root, as far as we know. */
  root: PeerId
  /** Our parent in the tree (ourselves when we are the root). */
  parent: PeerId
  /** Our coordinates: the ports from the root down to us. */
  coords: number[]
  /** Our links. */
  peers: TopologyPeer[]
  /** Tree entries we hold (including ourselves). */
  tree: TreeEntry[]
}
