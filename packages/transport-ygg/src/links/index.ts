/**
 * The link layer: tcp/ws/memory (and custom) byte streams secured with Noise XX, delivered as PeerConns.
 */
import '../polyfill.js'
export type { RawDuplex, LinkListener, LinkType, DialOptions } from './link-type.js'
export { LinkDialError, HandshakeError, UnexpectedPeerKeyError, LinkRefusedError } from './errors.js'
export { tcpLinkType, TcpDuplex } from './tcp.js'
export { wsLinkType } from './ws.js'
export type { WsLinkTypeOptions, WebSocketConstructor, BrowserWebSocketLike } from './ws.js'
export { memoryLinkType, MemoryRegistry, defaultMemoryRegistry } from './memory.js'
export { NoiseSecurer, NoisePeerConn } from './noise-link.js'
export type { LinkIdentity, LinkByteCounters, NoiseSecurerOptions, SecureOptions } from './noise-link.js'
export { Links } from './links.js'
export type { LinksOptions, LinkInfo, LinksStats, BackoffOptions } from './links.js'
