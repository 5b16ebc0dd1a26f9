import './polyfill.js'

// -- wire formats, clock, link contract (lead) --
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
// Link layer: Noise-secured tcp:// ws:// memory:// (and custom) links.
export * from './links/index.js'
// Network layer (ironwood tree, greedy routing, bloom lookups) and its datagram API.
export { Overlay } from './network/overlay.js'
export type { OverlayOptions } from './network/overlay.js'
export { DEFAULT_TIMINGS } from './network/config.js'
export type { RouterTimings } from './network/config.js'
export type { RouterOptions, TrafficEventKind } from './network/router.js'
export type { RouterStats } from './network/stats.js'
export type { OverlayTopology, TopologyPeerLink, TopologyTreeEntry, TopologyPath } from './network/topology.js'
export { ed25519Signer, ed25519Verifier, INSECURE_simulationCrypto } from './crypto.js'
export type { Signer, VerifyFn } from './crypto.js'
export { PacketQueue } from './network/packet-queue.js'
export { treeDist } from './network/routing.js'
// Encrypted sessions (ironwood `encrypted` layer): init/ack handshake, ratchet, replay window.
export { SessionManager, SESSION_TIMEOUT_MS, ROTATION_INTERVAL_MS, DEFAULT_REPLAY_WINDOW, DEFAULT_MAX_PENDING } from './session/session.js'
export type { SessionManagerOptions, SessionIdentity, SessionStats, SessionInfoView } from './session/session.js'
export { SessionError } from './session/errors.js'
export { ReplayWindow } from './session/replay.js'
export type { ReplayVerdict } from './session/replay.js'
export {
  edPrivateToX25519, edPublicToX25519, x25519, x25519Reference, newBoxKeys, boxPrivateKey, boxPublicKey, boxPrecompute,
  boxSeal, boxOpen, sealParts, nonceForCounter, BoxKey, loadSodium, useSodium, sessionCryptoReady, cipherBackend,
  setCipherBackend, cipherBackends, useSodiumNative, loadSodiumNative, BOX_KEY_SIZE, BOX_OVERHEAD, BOX_NONCE_SIZE, WASM_MIN_BYTES
} from './session/crypto.js'
export type { BoxKeyPair, CipherBackend } from './session/crypto.js'
export {
  encryptInit, decryptInit, initSigBytes, encodeTraffic, parseTrafficHeader, SESSION_INIT_SIZE, SESSION_TYPE_DUMMY,
  SESSION_TYPE_INIT, SESSION_TYPE_ACK, SESSION_TYPE_TRAFFIC, SESSION_TRAFFIC_OVERHEAD, SESSION_TRAFFIC_OVERHEAD_MIN
} from './session/messages.js'
export type { SessionInit, TrafficHeader } from './session/messages.js'
// Userspace TCP (RFC 9293) over IPv6, interoperable with gVisor and Linux.
export { TcpStack } from './tcp/stack.js'
export type { TcpStackStats, TcpConnectOptions, TcpListener } from './tcp/stack.js'
export { TcpConnection } from './tcp/connection.js'
export type { TcpState, TcpConnectionStats } from './tcp/connection.js'
export type { TcpStackOptions } from './tcp/options.js'
export { ConnectionRefusedError, ConnectionResetError, ConnectionTimeoutError, HostUnreachableError, TcpLimitError, PortInUseError } from './tcp/errors.js'
export type { TcpFailure } from './tcp/errors.js'
// IPv6 / ICMPv6 packet helpers.
export { IPV6_HEADER_LENGTH, IPPROTO_TCP, IPPROTO_ICMPV6, IPV6_MIN_MTU, Ipv6Error, validateIpv6, decodeIpv6, encodeIpv6Header, buildIpv6Packet, ipv6PayloadChecksum, setIpv6PayloadChecksum, verifyIpv6PayloadChecksum } from './ipv6/ipv6.js'
export type { Ipv6Packet, Ipv6DropReason } from './ipv6/ipv6.js'
// The whole stack as a core Mesh: createNode({ transport: ygg({ peers, listen }) }).
export { ygg, YggMesh, TCP_BUFFER_BYTES } from './mesh/ygg.js'
export type { YggOptions, YggStats } from './mesh/ygg.js'
