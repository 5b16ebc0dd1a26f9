import './polyfill.js'

// -- node, mesh, streams (lead) --
export { createNode } from './node.js'
export type { AxlNode, CreateNodeOptions, NodeComponents, ServiceFactory, SendOptions, NodeStats, MessageMatcher, MessageHandler, NodeEvents, RequestContext, EnvelopeReply, McpRequest, A2aRequest, McpHandler, A2aHandler } from './node.js'
export type { Mesh, MeshChannel, MeshDialOptions, MeshEvent, MeshComponents, TransportFactory, Topology, TopologyPeer, TreeEntry } from './mesh.js'
export { MAX_PROTOCOL_NAME_BYTES } from './protocols.js'
export type { ProtocolHandler, ProtocolOptions, ProtocolContext } from './protocols.js'
export { MeshStream, createMeshStream } from './stream.js'
export type { StreamSink, StreamStatus, MeshStreamInit, StreamController } from './stream.js'
export { FrameReader, writeFrame } from './frame-io.js'
export { Inbox } from './inbox.js'
export type { InboundMessage, InboxStats } from './inbox.js'
export { DEFAULT_LIMITS, resolveLimits } from './limits.js'
export type { Limits, OverflowPolicy } from './limits.js'
export { withDeadline, abortReason } from './deadline.js'
export type { WaitOptions } from './deadline.js'
export { MemoryNetwork } from './memory/network.js'
export type { MemoryNetworkOptions, MemoryNetworkStats, NodeRef } from './memory/network.js'
export * from './errors.js'
// -- identity, peer ids, addresses, framing, envelopes (appended below) --
// -- identity, peer ids, addresses (identity engineer: peer-id.ts, address.ts, identity.ts) --
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
export { ed25519PrivateKeyDer, ed25519PublicKeyDer, ed25519SeedFromPrivateKeyDer } from './ed25519-der.js'
// -- end identity block --
// -- framing, envelopes (envelope engineer: framing.ts, envelope.ts, json-raw.ts) --
export {
  FRAME_HEADER_BYTES, DEFAULT_MAX_MESSAGE_SIZE, MAX_FRAME_LENGTH, EAGER_ALLOCATION_LIMIT, frameHeader, encodeFrame, FrameDecoder
} from './framing.js'
export type { FrameDecoderOptions } from './framing.js'
export {
  encodeMcpRequest, encodeA2aRequest, encodeA2aAgentCardRequest, encodeMcpResponse, encodeA2aResponse,
  classifyFrame, decodeMcpResponse, decodeA2aResponse
} from './envelope.js'
export type {
  RawJson, McpRequestEnvelope, A2aRequestEnvelope, InboundFrame, McpResponseEnvelope, A2aResponseEnvelope
} from './envelope.js'
export { compactJson, quoteJsonString, MAX_JSON_DEPTH } from './json-raw.js'
// -- end framing/envelope block --
