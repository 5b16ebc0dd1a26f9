/**
 * What the link manager needs from a link handshake, whichever it is: Yggdrasil's `meta` handshake
 * (`meta-link.ts`, the real network) or Noise XX (`noise-link.ts`, TS nodes only). Both turn a RawDuplex into
 * a LinkConn: a PeerConn whose `remoteKey` the handshake established.
 */
import type { PeerConn } from '../network/peer-conn.js'
import type { RawDuplex } from './link-type.js'

/** Our ed25519 identity: the 32-byte private seed and the 32-byte public key. */
export interface LinkIdentity {
  /** 32-byte ed25519 private key seed. */
  seed: Uint8Array
  /** 32-byte ed25519 public key (must match the seed). */
  publicKey: Uint8Array
}

/** Byte counters shared by the links of one manager (bytes through PeerConns, after link crypto). */
export interface LinkByteCounters {
  bytesIn: number
  bytesOut: number
}

/** A PeerConn made by a link handshake, with the lifecycle hooks the link manager uses. */
export interface LinkConn extends PeerConn {
  /** Resolves once the link is closed (with the error, if it failed). */
  readonly closed: Promise<Error | undefined>
  /** The raw duplex under this link. */
  readonly duplex: RawDuplex
}

/** Options of one handshake (`LinkSecurer.secure`). */
export interface SecureOptions {
  /** True when the remote dialled us. */
  inbound: boolean
  /** The link URI reported by the PeerConn. */
  uri: string
  /** Outbound only: the ed25519 key the remote must authenticate as (else UnexpectedPeerKeyError). */
  expectedKey?: Uint8Array
  /** Our link priority for this link, 0..255 (default 0; lower is preferred). */
  priority?: number
  /** Yggdrasil links: the link password (at most 64 bytes; default none). Noise links ignore it. */
  password?: Uint8Array
  /** Abort the handshake. */
  signal?: AbortSignal
  /** Handshake deadline for this call (default from the securer). */
  timeoutMs?: number
  /** Called once when the raw duplex reports closed (also after a failed handshake). */
  onRawClose?: (err?: Error) => void
  /** Counters to add this link's bytes to. */
  counters?: LinkByteCounters
}

/** A link handshake: secures (or authenticates) a raw duplex and returns the link. */
export interface LinkSecurer {
  /** Run the handshake on `raw`; on failure `raw` is closed and the promise rejects with a typed error. */
  secure: (raw: RawDuplex, opts: SecureOptions) => Promise<LinkConn>
}
