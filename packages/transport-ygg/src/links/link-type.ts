/**
 * The link-type contract: how a transport (tcp, ws, memory, or your own) carries raw bytes between two nodes.
 * A link type only moves bytes; the link handshake (Yggdrasil `meta`, or Noise XX under `noise+<scheme>://`),
 * key checks, deadlines and redials are done above it (`meta-link.ts`, `noise-link.ts`, `links.ts`), so a new
 * transport is ~50 lines.
 *
 * Example: a link type that reuses the in-process memory transport under its own scheme.
 * ```ts
 * import { Links, memoryLinkType, type LinkType } from '@axl/transport-ygg' // re-exported from ./links/index.ts
 * const inner = memoryLinkType()
 * const pipe: LinkType = {
 *   schemes: ['pipe'],
 *   dial: async (uri, opts) => await inner.dial(new URL(`memory://${uri.host}`), opts),
 *   listen: async (uri, onConnection) => {
 *     const l = await inner.listen(new URL(`memory://${uri.host}`), onConnection)
 *     return { uri: `pipe://${uri.host}`, close: l.close }
 *   }
 * }
 * const links = new Links({ identity, linkTypes: [pipe], onConn })
 * await links.listen('pipe://a')
 * ```
 *
 * Rules for a RawDuplex implementation:
 * - The consumer assigns `onData`/`onDrain`/`onClose` synchronously right after it receives the duplex
 *   (when `dial()` resolves, or inside `onConnection`). Never call them synchronously from `dial()`/`write()`.
 * - `write()` keeps a reference to `data` (no copy needed); it returns false when the consumer should wait
 *   for `onDrain` (data is still accepted and sent).
 * - A chunk passed to `onData` is handed over: the consumer keeps views of it and decrypts it in place, so
 *   never reuse or modify a buffer after passing it (a fresh buffer per chunk, as sockets and `ws` give).
 * - `onClose` is called exactly once, after which no callback is called; `close()` is idempotent.
 */

/** A minimal reliable, ordered, unauthenticated byte stream (a socket) produced by a link type. */
export interface RawDuplex {
  /** Queue bytes for sending; returns false when the writer should wait for `onDrain`. */
  write (data: Uint8Array): boolean
  /** Optional: queue several chunks at once (e.g. one syscall / one ws message); same return value as write. */
  writev? (chunks: Uint8Array[]): boolean
  /** Close: without `err`, flush queued bytes then close gracefully; with `err`, drop the connection now. */
  close (err?: Error): void
  /** Optional: stop delivering `onData` until `resume()` (read-side backpressure). */
  pause? (): void
  /** Optional: resume delivering `onData`. */
  resume? (): void
  /** Human-readable URI of the remote end, e.g. `tcp://127.0.0.1:53122` (used for inbound links). */
  readonly remoteUri?: string
  /**
   * TLS link types only: the ed25519 public key in the remote's certificate, or null when its certificate
   * holds another kind of key (or none). Undefined when the duplex runs no TLS. An outbound Yggdrasil link
   * requires it to equal the key of the `meta` handshake.
   */
  readonly certificateKey?: Uint8Array | null
  /** Set by the consumer: received bytes (arbitrary chunk boundaries); each chunk is handed over (see above). */
  onData: (data: Uint8Array) => void
  /** Set by the consumer: the duplex can take more after a `write()` returned false. */
  onDrain: () => void
  /** Set by the consumer: called once when the duplex is closed (err set if it failed or was reset). */
  onClose: (err?: Error) => void
}

/** A listening endpoint returned by `LinkType.listen`. */
export interface LinkListener {
  /** The URI actually bound (e.g. with the real port when port 0 was asked for). */
  readonly uri: string
  /** Stop accepting; accepted connections stay open. Resolves once the listener (and, for socket servers, every accepted connection) is closed. */
  close (): Promise<void>
}

/** Options of `LinkType.dial`. */
export interface DialOptions {
  /** Abort the dial (the returned promise rejects, any half-open socket is released). */
  signal: AbortSignal
}

/** A transport for links, selected by URI scheme (without the trailing colon), e.g. `tcp`, `ws`, `memory`. */
export interface LinkType {
  /** URI schemes this type handles, e.g. `['tcp']`. */
  readonly schemes: string[]
  /** Open a raw byte stream to `uri`; must honour `opts.signal`. */
  dial (uri: URL, opts: DialOptions): Promise<RawDuplex>
  /** Accept raw byte streams on `uri`; `onConnection` is called for each accepted connection. */
  listen (uri: URL, onConnection: (raw: RawDuplex) => void): Promise<LinkListener>
  /**
   * Optional: cheaply check whether something listens at `uri` again (e.g. a bare TCP connect, no handshake),
   * so a configured peer waiting out a long redial backoff is redialled as soon as it is back. Resolves false
   * on any failure; never rejects.
   */
  probe? (uri: URL, opts: DialOptions): Promise<boolean>
}

/** A no-op handler used as the initial value of RawDuplex callbacks. */
export function noop (): void {}

/** Bytes a duplex holds for a consumer that has not set `onData` yet. */
const MAX_EARLY_BYTES = 1024 * 1024

/**
 * For RawDuplex implementations: holds bytes that arrive before the consumer has set `onData`. A WebSocket's
 * `open` (or a TLS socket's `secureConnect`) and its first data can come in one tick, before the dialler's
 * promise continuation runs, and both ends of a Yggdrasil link speak first.
 */
export class DataInlet {
  /** The consumer's handler (noop until set). */
  handler: (data: Uint8Array) => void = noop
  private early: Uint8Array[] = []
  private earlyBytes = 0

  /** Set the consumer; what arrived before is handed over at once, in order. */
  set (fn: (data: Uint8Array) => void): void {
    this.handler = fn
    if (fn === noop || this.early.length === 0) return
    const e = this.early
    this.early = []
    this.earlyBytes = 0
    for (const c of e) this.handler(c)
  }

  /** Deliver or hold a message; false when too much is held. */
  push (data: Uint8Array): boolean {
    if (this.handler !== noop) { this.handler(data); return true }
    this.early.push(data)
    this.earlyBytes += data.byteLength
    return this.earlyBytes <= MAX_EARLY_BYTES
  }
}
