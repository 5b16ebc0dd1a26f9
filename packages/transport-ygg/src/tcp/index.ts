/**
 * `@axl/transport-ygg/tcp`: the userspace TCP (RFC 9293) over IPv6 that carries AXL streams between
 * Yggdrasil addresses (interoperable with gVisor, as Go AXL uses, and with the Linux kernel), and the IPv6 /
 * ICMPv6 packet helpers under it.
 */
export { TcpStack } from './stack.js'
export type { TcpStackStats, TcpConnectOptions, TcpListener } from './stack.js'
export { TcpConnection } from './connection.js'
export type { TcpState, TcpConnectionStats } from './connection.js'
export type { TcpStackOptions } from './options.js'
export { ConnectionRefusedError, ConnectionResetError, ConnectionTimeoutError, HostUnreachableError, TcpLimitError, PortInUseError } from './errors.js'
export type { TcpFailure } from './errors.js'
export { IPV6_HEADER_LENGTH, IPPROTO_TCP, IPPROTO_ICMPV6, IPV6_MIN_MTU, Ipv6Error, validateIpv6, decodeIpv6, encodeIpv6Header, buildIpv6Packet, ipv6PayloadChecksum, setIpv6PayloadChecksum, verifyIpv6PayloadChecksum } from '../ipv6/ipv6.js'
export type { Ipv6Packet, Ipv6DropReason } from '../ipv6/ipv6.js'
