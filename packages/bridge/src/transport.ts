/**
 * Which mesh transport a config-driven node uses. `axl-node` asks @axl/transport-ygg for `ygg()`; tests and
 * embedders pass their own provider (e.g. a MemoryNetwork's transport).
 */
import { MemoryNetwork, type PeerId, type TransportFactory } from '@axl/core'

/** What a transport provider learns from the config. */
export interface TransportSettings {
  /** Outbound peer URIs (tcp:// ws://). */
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

/** @axl/transport-ygg does not offer `ygg()` (yet), or failed to load. */
export class TransportUnavailableError extends Error {}

/** True when @axl/transport-ygg exports a `ygg` factory. */
export async function yggAvailable (): Promise<boolean> {
  try {
    const mod = await import('@axl/transport-ygg') as Record<string, unknown>
    return typeof mod.ygg === 'function'
  } catch { return false }
}

/** The real overlay: `ygg({ peers, listen, ... })` from @axl/transport-ygg. Throws TransportUnavailableError when it is missing. */
export const yggTransport: TransportProvider = async (s) => {
  let mod: Record<string, unknown>
  try {
    mod = await import('@axl/transport-ygg') as Record<string, unknown>
  } catch (err) {
    throw new TransportUnavailableError(`@axl/transport-ygg failed to load: ${(err as Error).message}`)
  }
  const ygg = mod.ygg
  if (typeof ygg !== 'function') throw new TransportUnavailableError('@axl/transport-ygg does not export ygg() yet')
  const opts: Record<string, unknown> = { peers: s.peers, listen: s.listen }
  if (s.allowedPublicKeys.length > 0) opts.allowedPublicKeys = s.allowedPublicKeys
  if (s.tcpPort !== 7000) opts.tcpPort = s.tcpPort
  return (ygg as (o: Record<string, unknown>) => TransportFactory)(opts)
}

/** A transport with no network at all (the node reaches only itself): what axl-node runs on without ygg(). */
export const localOnlyTransport: TransportProvider = () => new MemoryNetwork().transport()
