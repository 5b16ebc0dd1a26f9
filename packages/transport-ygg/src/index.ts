/**
 * `@axl/transport-ygg`: AXL's Yggdrasil overlay as a core Mesh — `createNode({ transport: ygg({ peers, listen }) })`.
 * The root holds what an agent developer uses: `ygg()` and its options, link URIs, the link-type contract for
 * custom links, TLS credentials, and the errors. The layers underneath have subpaths of their own:
 * `/links` (link layer: meta and Noise handshakes, link types), `/overlay` (tree, routing, wire codecs),
 * `/session` (end-to-end encryption, cipher backends), `/tcp` (userspace TCP, IPv6), `/testing` (testnet,
 * overlay simulator).
 */
import './polyfill.js'
export { ygg, YggMesh, TCP_BUFFER_BYTES, DEFAULT_MTU } from './mesh/ygg.js'
export type { YggOptions, YggStats } from './mesh/ygg.js'
// Link URIs (`tcp://` `tls://` `ws://` `wss://` `unix://` `memory://`, Noise under `noise+<scheme>://`) and their options.
export { parseLinkUri, NOISE_SCHEME_PREFIX } from './links/links.js'
export type { ParsedLinkUri, LinkKind, BackoffOptions, LinkInfo, LinksStats } from './links/links.js'
// The contract of a custom link type (`ygg({ linkTypes: [myType] })`) and the built-in ones to wrap or replace.
export type { RawDuplex, LinkListener, LinkType, DialOptions } from './links/link-type.js'
export { tcpLinkType } from './links/tcp.js'
export { tlsLinkType } from './links/tls.js'
export type { TlsLinkTypeOptions } from './links/tls.js'
export { wsLinkType } from './links/ws.js'
export type { WsLinkTypeOptions, WebSocketConstructor, BrowserWebSocketLike } from './links/ws.js'
export { unixLinkType } from './links/unix.js'
export { selfSignedCertificate } from './links/certificate.js'
export type { TlsCredentials } from './links/certificate.js'
export type { RouterTimings } from './network/config.js'
export type { RouterOptions } from './network/router.js'
export type { BoxKey } from './session/crypto.js'
// Errors a node's links, overlay, sessions and streams can raise.
export { LinkDialError, HandshakeError, IncorrectPasswordError, IncompatibleVersionError, UnexpectedPeerKeyError, LinkRefusedError } from './links/errors.js'
export { WireError, FrameStreamError } from './errors.js'
export { SessionError } from './session/errors.js'
export { ConnectionRefusedError, ConnectionResetError, ConnectionTimeoutError, HostUnreachableError, TcpLimitError, PortInUseError } from './tcp/errors.js'
export type { TcpFailure } from './tcp/errors.js'
