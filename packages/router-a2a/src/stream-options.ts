import { ConfigError } from '@axl/core'

/** The custom protocol that carries one A2A streaming call (SendStreamingMessage, SubscribeToTask) per mesh stream. */
export const A2A_STREAM_PROTOCOL = '/axl/a2a-stream/1'

/** The JSON-RPC methods served on A2A_STREAM_PROTOCOL (A2A v1.0 names). */
export const STREAM_PROTOCOL_METHODS: ReadonlySet<string> = new Set(['SendStreamingMessage', 'SubscribeToTask'])

/** Bounds of A2A streams; the same bounds apply to streams this node serves and streams it opens. */
export interface A2aStreamOptions {
  /** Streams open at once, all peers together (per direction). @default 64 */
  maxStreams?: number
  /** Streams open at once with one peer (per direction). @default 8 */
  maxStreamsPerPeer?: number
  /** Largest event (one JSON-RPC response frame), bytes; the SDK's own SSE limit. @default 4194304 (4 MiB) */
  maxEventBytes?: number
  /** Largest request frame a server reads, bytes. @default 16777216 (16 MiB, AXL's message limit) */
  maxRequestBytes?: number
  /** Longest wait for the next event, ms; the stream then ends with an error. @default 300000 (5 min) */
  idleTimeoutMs?: number
  /** Longest life of one stream, ms; the stream then ends with an error. @default 3600000 (1 h) */
  maxDurationMs?: number
}

/** A2aStreamOptions with every default filled in. */
export type StreamLimits = Required<A2aStreamOptions>

/** The defaults of A2aStreamOptions. */
export const DEFAULT_STREAM_LIMITS: Readonly<StreamLimits> = Object.freeze({
  maxStreams: 64,
  maxStreamsPerPeer: 8,
  maxEventBytes: 4 * 1024 * 1024,
  maxRequestBytes: 16 * 1024 * 1024,
  idleTimeoutMs: 300_000,
  maxDurationMs: 3_600_000
})

/** Fills in the defaults; throws ConfigError on a bound that is not a positive integer. */
export function resolveStreamLimits (opts: A2aStreamOptions = {}): StreamLimits {
  const out = { ...DEFAULT_STREAM_LIMITS, ...Object.fromEntries(Object.entries(opts).filter(([, v]) => v !== undefined)) } as StreamLimits
  for (const [k, v] of Object.entries(out)) {
    if (!Number.isSafeInteger(v) || v < 1) throw new ConfigError(`a2a stream option ${k} must be a positive integer, got ${String(v)}`)
  }
  return out
}
