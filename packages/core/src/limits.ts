import { ConfigError } from './errors.js'
import { DEFAULT_MAX_MESSAGE_SIZE } from './framing.js'

/** What the inbound queue does when a new message would exceed its bounds. */
export type OverflowPolicy = 'refuse' | 'drop-oldest' | 'drop-newest'

/** Bounds of a node. Defaults follow Go AXL where AXL has one. */
export interface Limits {
  /** Largest message (frame payload) sent or accepted, in bytes. Default 16 MiB (AXL's max_message_size). */
  maxMessageSize: number
  /** Inbound raw-message queue: most messages held. Default 100 (AXL's /recv queue). */
  inboxMaxMessages: number
  /** Inbound raw-message queue: most bytes held. Default 64 MiB (AXL has no byte cap). */
  inboxMaxBytes: number
  /**
   * What happens when the inbox is full. 'refuse' (default): the sender's send() rejects with RefusedError,
   * so no acknowledged message is ever lost. 'drop-oldest': AXL's behaviour. 'drop-newest': new ones are
   * dropped after being acknowledged. Drops are counted either way.
   */
  inboxOverflow: OverflowPolicy
  /** Inbound streams handled at once; more are refused at once (the sender is told why). Default 128 (AXL's max_concurrent_conns). */
  maxConcurrentStreams: number
  /**
   * Inbound streams one peer may hold at once, so that one sender cannot take every slot; its streams beyond it
   * are refused (the sender is told why). And when all slots are taken, a peer holding fewer takes a slot from the
   * peer holding the most (fair share). Default 64 (half of maxConcurrentStreams; our own senders open at most 64
   * streams to one peer at once).
   */
  maxStreamsPerPeer: number
  /**
   * Bytes of partly received inbound frames held at once across all streams (each peer may hold a quarter of it,
   * or one whole maxMessageSize frame if that is more); a stream that would pass it is refused ('busy', the
   * sender is told) and reset. Default 256 MiB.
   */
  inboundBufferBytes: number
  /** Deadline for request/response round trips and send acknowledgements, ms. Default 30 s (AXL's). */
  requestTimeoutMs: number
  /** Deadline for reading a frame once it has started, ms. Default 60 s (AXL's conn_read_timeout_secs). */
  readTimeoutMs: number
  /** How long an inbound stream may sit idle between frames, ms. Default 300 s (AXL's conn_idle_timeout_secs). */
  idleTimeoutMs: number
  /** Inbound MCP/A2A requests handled at once per node; more are answered with an error. Default 64. */
  maxConcurrentRequests: number
}

/** The default limits. */
export const DEFAULT_LIMITS: Readonly<Limits> = Object.freeze({
  maxMessageSize: DEFAULT_MAX_MESSAGE_SIZE,
  inboxMaxMessages: 100,
  inboxMaxBytes: 64 * 1024 * 1024,
  inboxOverflow: 'refuse',
  maxConcurrentStreams: 128,
  maxStreamsPerPeer: 64,
  inboundBufferBytes: 256 * 1024 * 1024,
  requestTimeoutMs: 30_000,
  readTimeoutMs: 60_000,
  idleTimeoutMs: 300_000,
  maxConcurrentRequests: 64
})

/** Merge user limits over the defaults, rejecting nonsense with a ConfigError naming the key. */
export function resolveLimits (partial: Partial<Limits> = {}): Limits {
  const out: Limits = { ...DEFAULT_LIMITS }
  for (const [key, value] of Object.entries(partial) as Array<[keyof Limits, unknown]>) {
    if (value === undefined) continue
    if (!Object.hasOwn(DEFAULT_LIMITS, key)) throw new ConfigError(`unknown limit "${String(key)}"`)
    if (key === 'inboxOverflow') {
      if (value !== 'refuse' && value !== 'drop-oldest' && value !== 'drop-newest') {
        throw new ConfigError(`limits.inboxOverflow must be 'refuse', 'drop-oldest' or 'drop-newest', got ${JSON.stringify(value)}`)
      }
      out.inboxOverflow = value
      continue
    }
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) {
      throw new ConfigError(`limits.${key} must be a non-negative integer, got ${JSON.stringify(value)}`)
    }
    if (key === 'maxMessageSize' && value > 0xffffffff) {
      throw new ConfigError(`limits.maxMessageSize must fit the 4-byte frame length (≤ 4294967295), got ${value}`)
    }
    (out as unknown as Record<string, number>)[key] = value
  }
  return out
}
