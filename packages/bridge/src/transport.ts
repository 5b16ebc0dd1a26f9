/**
 * Which mesh transport a config-driven node uses. `axl-node` uses `ygg()` from @axl/transport-ygg; tests and
 * embedders pass their own provider (e.g. a MemoryNetwork's transport).
 */
import type { PeerId, TransportFactory } from '@axl/core'
import { ygg, type YggOptions } from '@axl/transport-ygg'

/** What a transport provider learns from the config. */
export interface TransportSettings {
  /** Outbound peer URIs (tls:// tcp:// ws:// wss:// unix://, or noise+tcp:// between TS nodes). */
  peers: string[]
  /** Listen URIs. */
  listen: string[]
  /** Keys allowed to peer with us (empty: anyone). */
  allowedPublicKeys: PeerId[]
  /** The overlay stream port (AXL's tcp_port). */
  tcpPort: number
}

/** Builds the transport for a node from its config. */
export type TransportProvider = (settings: TransportSettings) => TransportFactory | Promise<TransportFactory>

/** The real overlay: `ygg({ peers, listen, allowedPublicKeys, tcpPort })` from @axl/transport-ygg. */
export const yggTransport: TransportProvider = (s) => {
  const opts: YggOptions = { peers: s.peers, listen: s.listen, tcpPort: s.tcpPort }
  if (s.allowedPublicKeys.length > 0) opts.allowedPublicKeys = s.allowedPublicKeys
  return ygg(opts)
}
