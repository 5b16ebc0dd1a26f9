import './polyfill.js'

/**
 * `@axl/core`: createNode() and the node API, the Mesh contract transports implement, identities, peer ids and
 * Yggdrasil addresses, limits, errors and the in-memory mesh. AXL's wire codecs (frames, MCP/A2A envelopes) are
 * under `@axl/core/wire`; the in-memory mesh also under `@axl/core/memory`.
 */
// Node, mesh, streams
export { createNode } from './node.js'
export type { AxlNode, CreateNodeOptions, NodeComponents, ServiceFactory, SendOptions, NodeStats, NodeEvents } from './node.js'
export type { MessageMatcher, MessageHandler, RequestContext, McpRequest, A2aRequest, McpHandler, A2aHandler, EnvelopeOptions } from './registry.js'
export type { Mesh, MeshChannel, MeshDialOptions, MeshEvent, MeshComponents, TransportFactory, Topology, TopologyPeer, TreeEntry } from './mesh.js'
export { MAX_PROTOCOL_NAME_BYTES } from './protocols.js'
export type { ProtocolHandler, ProtocolOptions, ProtocolContext } from './protocols.js'
export { MeshStream, createMeshStream } from './stream.js'
export type { StreamSink, StreamStatus, MeshStreamInit, StreamController } from './stream.js'
export { Inbox } from './inbox.js'
export type { InboxJournalOptions, JournalStats } from './journal.js'
export type { InboundMessage, InboxStats } from './inbox.js'
export { DEFAULT_LIMITS, resolveLimits } from './limits.js'
export type { Limits, OverflowPolicy } from './limits.js'
export { withDeadline, abortReason } from './deadline.js'
export type { WaitOptions } from './deadline.js'
export { MemoryNetwork } from './memory/network.js'
export type { MemoryLatency, MemoryNetworkOptions, MemoryNetworkStats, NodeRef } from './memory/network.js'
export * from './errors.js'
// Identity, peer ids, Yggdrasil addresses
export { parsePeerId, isPeerId, peerIdFromBytes, peerIdToBytes, PUBLIC_KEY_LENGTH } from './peer-id.js'
export type { PeerId } from './peer-id.js'
export {
  addressForKey, subnetForKey, addressStringForKey, keyForAddress, keyForSubnet, isAddress, isSubnet,
  formatIpv6, formatSubnet, parseIpv6, ADDRESS_LENGTH, SUBNET_LENGTH, ADDRESS_PREFIX, SUBNET_PREFIX
} from './address.js'
export {
  generateIdentity, identityFromSeed, identityFromPem, identityFromYggdrasilHex, loadIdentity, saveIdentity,
  verify, publicKeyObject, SEED_LENGTH, SIGNATURE_LENGTH, PUBLIC_KEY_CACHE_SIZE
} from './identity.js'
export type { Identity, SaveIdentityOptions } from './identity.js'
// AXL's envelopes as a handler sees them (the MCP / A2A codecs are in @axl/router-mcp / @axl/router-a2a)
export { DEFAULT_MAX_MESSAGE_SIZE } from './framing.js'
export type { RawJson, EnvelopeKind } from './envelope.js'
