/**
 * `@axl/transport-ygg/overlay`: the network layer on its own — ironwood's spanning tree, greedy routing and
 * bloom-filtered lookups (`Overlay`), its wire codecs, timings, signers and clock. For embedding the overlay
 * under something other than `ygg()`, simulations and tools; agents use `ygg()` from the package root.
 */
import './polyfill.js'
export * from './network/wire.js'
export { encodeUvarint, uvarintSize, writeUvarint, readUvarint, readUvarintNumber, MAX_UINT64, MAX_UVARINT_LEN } from './network/uvarint.js'
export { murmur3x64_128, baseHashes } from './network/murmur3.js'
export { Bloom, encodeBloom, decodeBloom, identityTransform, yggdrasilTransform, bloomLocations, BLOOM_BITS, BLOOM_K } from './network/bloom.js'
export type { KeyTransform } from './network/bloom.js'
export { WireError, FrameStreamError } from './errors.js'
export { systemClock, VirtualClock } from './clock.js'
export type { Clock, TimerHandle } from './clock.js'
export { peerConnPair } from './network/peer-conn.js'
export type { PeerConn } from './network/peer-conn.js'
export { Overlay } from './network/overlay.js'
export type { OverlayOptions } from './network/overlay.js'
export { DEFAULT_TIMINGS } from './network/config.js'
export type { RouterTimings } from './network/config.js'
export type { RouterOptions, TrafficEventKind } from './network/router.js'
export type { RouterStats } from './network/stats.js'
export type { OverlayTopology, TopologyPeerLink, TopologyTreeEntry, TopologyPath } from './network/topology.js'
export { ed25519Signer, ed25519Verifier, keyStr, keyBytes, keyHex } from './crypto.js'
export type { Signer, VerifyFn, KeyStr } from './crypto.js'
export { PacketQueue } from './network/packet-queue.js'
export { treeDist } from './network/routing.js'
