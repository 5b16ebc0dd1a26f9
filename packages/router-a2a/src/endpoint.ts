import { AgentCard } from '@a2a-js/sdk'
import { UnsupportedOperationError } from '@a2a-js/sdk/errors'
import { DefaultRequestHandler, JsonRpcTransportHandler, type AgentExecutor, type TaskStore } from '@a2a-js/sdk/server'
import { withDeadline, type A2aRequest, type MeshStream, type PeerId, type ProtocolContext, type RequestContext } from '@axl/core'
import { encodeA2aResponse } from './envelope.js'
import { createCallContext } from './call-context.js'
import { resolveStreamLimits, type A2aStreamOptions, type StreamLimits } from './stream-options.js'
import { serveA2aStream } from './stream-server.js'
import { StreamSlots } from './stream-slots.js'
import type { AgentCardJson } from './wire.js'

/** JSON-RPC methods that answer with a stream (SSE over HTTP), which one AXL reply frame cannot carry (see A2A_STREAM_PROTOCOL). */
export const STREAMING_METHODS: ReadonlySet<string> = new Set(['SendStreamingMessage', 'SubscribeToTask', 'message/stream', 'tasks/resubscribe'])

/** The JSON-RPC error message for streaming methods. */
export const STREAMING_NOT_SUPPORTED = 'streaming is not supported over AXL: a mesh request carries exactly one reply frame, so use SendMessage (and GetTask to poll a task)'

interface JsonRpcError { code: number, message: string, data?: unknown }

function rpcError (id: unknown, error: JsonRpcError): string {
  const safeId = typeof id === 'string' || (typeof id === 'number' && Number.isInteger(id)) ? id : null
  return JSON.stringify({ jsonrpc: '2.0', id: safeId, error })
}

function isAsyncIterable (v: unknown): v is AsyncGenerator<unknown> {
  return v !== null && typeof v === 'object' && Symbol.asyncIterator in v
}

/** Options of A2aEndpoint. */
export interface A2aEndpointOptions {
  /** Builds the current agent card (called per card request and per JSON-RPC request). */
  card: () => AgentCardJson
  /** Runs the agent. */
  executor: AgentExecutor
  /** Where tasks live. */
  taskStore: TaskStore
  /** Bounds of the streams served by handleStream (see A2aStreamOptions for the defaults). */
  stream?: A2aStreamOptions
  /** Reports failures that reach no caller (e.g. a stream whose caller vanished). @default no output */
  log?: (format: string, ...args: unknown[]) => void
}

/** Counters of the streams an endpoint serves. */
export interface A2aStreamStats {
  /** Streams being served now. */
  active: number
  /** Streams refused because a bound (per peer, per node) was reached. */
  refused: number
}

/**
 * The inbound side: answers A2A envelopes with the SDK's DefaultRequestHandler + JsonRpcTransportHandler
 * in-process (protocol 1.0, no HTTP). Card requests get the current card; streaming methods get a clear
 * JSON-RPC error; everything else is the SDK's answer, with the caller's peer id in the call context.
 */
export class A2aEndpoint {
  private readonly card: () => AgentCardJson
  /** The card object the SDK handler reads (capabilities, input modes); refreshed before each request. */
  private readonly handlerCard: AgentCard
  private readonly rpc: JsonRpcTransportHandler
  /** The bounds of served streams. */
  readonly streamLimits: StreamLimits
  private readonly slots: StreamSlots
  private readonly log: (format: string, ...args: unknown[]) => void

  constructor (opts: A2aEndpointOptions) {
    this.card = opts.card
    this.handlerCard = AgentCard.fromJSON(opts.card())
    this.rpc = new JsonRpcTransportHandler(new DefaultRequestHandler(this.handlerCard, opts.taskStore, opts.executor))
    this.streamLimits = resolveStreamLimits(opts.stream)
    this.slots = new StreamSlots(this.streamLimits.maxStreams, this.streamLimits.maxStreamsPerPeer)
    this.log = opts.log ?? (() => {})
  }

  /** Counters of served streams. */
  streamStats (): A2aStreamStats { return { active: this.slots.active, refused: this.slots.refused } }

  /** The access check of A2A_STREAM_PROTOCOL: true, or why `peer` is refused now (per-peer and per-node bounds). */
  readonly allowStream = (peer: PeerId): true | string => {
    const why = this.slots.check(peer)
    if (why === undefined) return true
    this.slots.countRefusal()
    return why
  }

  /** The `node.handle(A2A_STREAM_PROTOCOL, …)` handler: one SendStreamingMessage or SubscribeToTask per stream. */
  readonly handleStream = async (stream: MeshStream, ctx: ProtocolContext): Promise<void> => {
    await serveA2aStream(stream, ctx, {
      limits: this.streamLimits,
      slots: this.slots,
      log: this.log,
      dispatch: async (body, from, signal) => {
        this.refreshHandlerCard()
        return await this.rpc.handle(body, createCallContext(from, signal))
      }
    })
  }

  /** The core `node.handle('a2a', …)` handler: the reply frame. */
  readonly handle = async (req: A2aRequest, ctx: RequestContext): Promise<Uint8Array> => {
    if (req.agentCard) return encodeA2aResponse(JSON.stringify(this.card()))
    return encodeA2aResponse(await this.jsonRpc(req.request, ctx))
  }

  /** Answers one JSON-RPC request (JSON text) as JSON text. */
  async jsonRpc (request: string | null, ctx: RequestContext): Promise<string> {
    if (request === null) return rpcError(null, { code: -32600, message: 'Invalid JSON-RPC Request: the A2A envelope has no request' })
    let body: unknown
    try { body = JSON.parse(request) } catch (err) {
      return rpcError(null, { code: -32700, message: `Parse error: ${(err as Error).message}` })
    }
    if (Array.isArray(body)) return rpcError(null, { code: -32600, message: 'Invalid JSON-RPC Request: batches are not supported' })
    if (body === null || typeof body !== 'object') return rpcError(null, { code: -32600, message: 'Invalid JSON-RPC Request: expected a JSON object' })
    const { id, method } = body as { id?: unknown, method?: unknown }
    if (typeof method === 'string' && STREAMING_METHODS.has(method)) {
      return rpcError(id, JsonRpcTransportHandler.mapToJSONRPCError(new UnsupportedOperationError(`${method}: ${STREAMING_NOT_SUPPORTED}`)))
    }
    this.refreshHandlerCard()
    const out = await withDeadline(this.rpc.handle(body as Record<string, unknown>, createCallContext(ctx.from, ctx.signal)), { signal: ctx.signal }, 'the A2A request')
    if (isAsyncIterable(out)) { // not reachable with the methods filtered above; never leave a generator running
      void out.return(undefined)
      return rpcError(id, JsonRpcTransportHandler.mapToJSONRPCError(new UnsupportedOperationError(STREAMING_NOT_SUPPORTED)))
    }
    return JSON.stringify(out)
  }

  private refreshHandlerCard (): void {
    const fresh = AgentCard.fromJSON(this.card())
    Object.assign(this.handlerCard, fresh)
  }
}
