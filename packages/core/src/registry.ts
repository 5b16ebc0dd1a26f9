/**
 * The node's protocol registry: how an inbound stream or frame finds its handler.
 *
 * - **AXL's default protocol** (the mesh's `axl` channel, all Go AXL speaks): a stream of length-prefixed frames;
 *   each frame is sniffed by Go AXL's dispatch rule (`classifyFrame`): an MCP or A2A request envelope goes to the
 *   handler registered for its kind (`'mcp'`, `'a2a'`: `@axl/router-mcp` and `@axl/router-a2a` register them and
 *   own the codecs), a raw message to the first `handleMessages()` claim that matches, else to the inbox.
 * - **Negotiated protocols** (the mesh's `protocols` channel): the dialler names one (`'/chat/1.0.0'`, see
 *   protocols.ts) and the handler registered under that name gets the stream.
 *
 * Every registration can carry an access check (`allow`); the node asks it before a handler sees anything.
 */
import { AxlError } from './errors.js'
import type { EnvelopeKind, RawJson } from './envelope.js'
import type { Logger } from '@libp2p/logger'
import type { InboundMessage } from './inbox.js'
import type { PeerId } from './peer-id.js'
import { checkProtocolName, type ProtocolHandler, type ProtocolOptions } from './protocols.js'

/** What an inbound request handler learns about the call. */
export interface RequestContext {
  /** The caller's full, authenticated peer id. */
  from: PeerId
  /** Fires when the node stops or the request's deadline passes. */
  signal: AbortSignal
}

/** An inbound MCP envelope `{"service","request"}`. */
export interface McpRequest { service: string, request: RawJson | null }
/** An inbound A2A envelope `{"a2a":true,"agent_card"?,"request"}`. */
export interface A2aRequest { agentCard: boolean, request: RawJson | null }

/**
 * Handles inbound MCP envelopes (router-mcp registers one): resolves with the reply frame (e.g. router-mcp's
 * `encodeMcpResponse(req.service, response)`). A handler that throws or passes the deadline is answered for with an
 * error envelope.
 */
export type McpHandler = (req: McpRequest, ctx: RequestContext) => Promise<Uint8Array> | Uint8Array
/** Handles inbound A2A envelopes (router-a2a registers one): resolves with the reply frame, as McpHandler. */
export type A2aHandler = (req: A2aRequest, ctx: RequestContext) => Promise<Uint8Array> | Uint8Array

/** Options of `node.handle('mcp' | 'a2a', handler, options)`. */
export interface EnvelopeOptions {
  /** Access check: return false (or a reason string) to answer a peer's requests with an error; default: everyone. */
  allow?: (peer: PeerId, kind: EnvelopeKind) => boolean | string | Promise<boolean | string>
}

/** Decides whether a raw inbound message is claimed by a handler (see `handleMessages`); keep it cheap and synchronous. */
export type MessageMatcher = (data: Uint8Array) => boolean
/** Receives a claimed raw inbound message (see `handleMessages`); it owns `msg.data`. */
export type MessageHandler = (msg: InboundMessage) => void

/** A registered envelope handler. */
export interface EnvelopeEntry { kind: EnvelopeKind, handler: McpHandler | A2aHandler, options: EnvelopeOptions }
/** A registered negotiated protocol, with its open streams. */
export interface ProtocolEntry { handler: ProtocolHandler, options: ProtocolOptions & { maxStreams: number }, active: number }

/** Default bound on one negotiated protocol's open inbound streams (`ProtocolOptions.maxStreams`). */
export const DEFAULT_PROTOCOL_MAX_STREAMS = 64

/** The handlers of one node, by how their traffic is recognised. */
export class ProtocolRegistry {
  private readonly envelopes = new Map<EnvelopeKind, EnvelopeEntry>()
  private readonly negotiated = new Map<string, ProtocolEntry>()
  /** handleMessages() claims, in registration order (replaced, never mutated, so dispatch can iterate safely). */
  private claims: ReadonlyArray<{ match: MessageMatcher, handler: MessageHandler }> = []

  /** Registers a handler under an envelope kind or a protocol name, replacing any previous one; returns the unregister function. */
  register (name: string, handler: unknown, options: ProtocolOptions | EnvelopeOptions = {}): () => void {
    if (typeof handler !== 'function') throw new AxlError('ERR_INVALID_ARGUMENT', `the handler of ${JSON.stringify(name)} must be a function`)
    if (options.allow !== undefined && typeof options.allow !== 'function') throw new AxlError('ERR_INVALID_ARGUMENT', 'allow must be a function (peer, name) => boolean | string')
    if (name === 'mcp' || name === 'a2a') {
      const entry: EnvelopeEntry = { kind: name, handler: handler as McpHandler, options: options as EnvelopeOptions }
      this.envelopes.set(name, entry)
      return () => { if (this.envelopes.get(name) === entry) this.envelopes.delete(name) }
    }
    if (typeof name === 'string' && name.startsWith('/')) {
      checkProtocolName(name)
      const maxStreams = (options as ProtocolOptions).maxStreams ?? DEFAULT_PROTOCOL_MAX_STREAMS
      if (!Number.isInteger(maxStreams) || maxStreams < 1) throw new AxlError('ERR_INVALID_ARGUMENT', `maxStreams must be a positive integer, got ${String(maxStreams)}`)
      const entry: ProtocolEntry = { handler: handler as ProtocolHandler, options: { ...(options as ProtocolOptions), maxStreams }, active: 0 }
      this.negotiated.set(name, entry)
      return () => { if (this.negotiated.get(name) === entry) this.negotiated.delete(name) }
    }
    throw new AxlError('ERR_INVALID_ARGUMENT', `unknown handler kind ${JSON.stringify(name)}: expected 'mcp', 'a2a' (AXL's envelopes) or a protocol name starting with '/'`)
  }

  /** The handler of an envelope kind, if one is registered. */
  envelope (kind: EnvelopeKind): EnvelopeEntry | undefined { return this.envelopes.get(kind) }

  /** The handler of a negotiated protocol, if one is registered. */
  protocol (name: string): ProtocolEntry | undefined { return this.negotiated.get(name) }

  /** The negotiated protocols registered. */
  protocolNames (): string[] { return [...this.negotiated.keys()] }

  /** Adds a raw-message claim (see `node.handleMessages`); returns the unregister function. */
  addClaim (match: MessageMatcher, handler: MessageHandler): () => void {
    if (typeof match !== 'function' || typeof handler !== 'function') throw new AxlError('ERR_INVALID_ARGUMENT', 'handleMessages(match, handler) takes two functions')
    const claim = { match, handler }
    this.claims = [...this.claims, claim]
    return () => { this.claims = this.claims.filter(c => c !== claim) }
  }

  /**
   * Hands a raw message to the first claim that matches it: 'claimed', 'failed' (a matcher threw: the message is
   * dropped, logged) or 'none'. The handler gets its own copy unless the view wastes at most 64 bytes of its buffer.
   */
  claim (from: PeerId, data: Uint8Array, log: Logger): 'claimed' | 'failed' | 'none' {
    for (const c of this.claims) {
      let hit: boolean
      try { hit = c.match(data) } catch (err) {
        log.error('a handleMessages matcher threw; message from %s dropped: %s', from, err)
        return 'failed'
      }
      if (!hit) continue
      const owned = data.buffer.byteLength - data.byteLength <= 64 ? data : data.slice()
      try { c.handler({ from, data: owned, receivedAt: Date.now() }) } catch (err) {
        log.error('a handleMessages handler threw on a message from %s: %s', from, err)
      }
      return 'claimed'
    }
    return 'none'
  }

  /** True when any raw-message claim is registered (dispatch skips the claim step otherwise). */
  get hasClaims (): boolean { return this.claims.length > 0 }
}

/** Runs an access check; undefined when admitted, else the reason to give the caller. */
export async function checkAccess<N extends string> (allow: ((peer: PeerId, name: N) => boolean | string | Promise<boolean | string>) | undefined, peer: PeerId, name: N): Promise<string | undefined> {
  if (allow === undefined) return undefined
  const verdict = await allow(peer, name)
  if (verdict === true) return undefined
  return typeof verdict === 'string' && verdict !== '' ? verdict : 'access denied'
}
