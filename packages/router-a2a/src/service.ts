import type { AgentExecutor, TaskStore } from '@a2a-js/sdk/server'
import { ClientFactory, ClientFactoryOptions, DefaultAgentCardResolver, JsonRpcTransportFactory, type Client } from '@a2a-js/sdk/client'
import { AxlError, ConfigError, parsePeerId, type AxlNode, type NodeComponents, type PeerId, type ServiceFactory } from '@axl/core'
import { DEFAULT_AGENT_DESCRIPTION, DEFAULT_AGENT_NAME, axlUrl, buildAgentCard } from './card.js'
import { callRpc, fetchCard, sendMessage, toMessage, type CallOptions, type MessageInput, type SendOptions } from './client.js'
import { A2aEndpoint, type A2aStreamStats } from './endpoint.js'
import { McpAgentExecutor } from './mcp-executor.js'
import { toMcpPort, type McpPort } from './mcp-port.js'
import { meshFetch, type MeshFetchOptions } from './mesh-fetch.js'
import { A2aStreamClient, type A2aStreamClientStats, type StreamCallOptions } from './stream-client.js'
import { A2A_STREAM_PROTOCOL, type A2aStreamOptions } from './stream-options.js'
import { BoundedTaskStore, DEFAULT_MAX_TASKS } from './task-store.js'
import type { AgentCardJson, AgentSkillJson, SendMessageResultJson, StreamEventJson } from './wire.js'

/** Options of a2a(). */
export interface A2aOptions {
  /** Card name. Default AXL's "MCP Router A2A Agent". */
  name?: string
  /** Card description. Default AXL's. */
  description?: string
  /** Card version. Default "1.0.0". */
  version?: string
  /** Card provider. */
  provider?: { organization: string, url: string }
  /** Card documentation link. */
  documentationUrl?: string
  /** Card icon link. */
  iconUrl?: string
  /** Skills to advertise besides the MCP ones (a skill with an MCP service's id replaces its skill). */
  skills?: AgentSkillJson[]
  /** Card input modes. Default AXL's ["text", "application/json"]. */
  defaultInputModes?: string[]
  /** Card output modes. Default AXL's ["text", "application/json"]. */
  defaultOutputModes?: string[]
  /** The interface URL in the card, from our peer id. Default `axl://<peerId>`. */
  url?: (peerId: PeerId) => string
  /**
   * The agent logic. Default: McpAgentExecutor, which routes `{"service","request"}` text to the node's MCP
   * services like AXL's A2A server. Pass any `@a2a-js/sdk` AgentExecutor for agents not backed by MCP.
   */
  executor?: AgentExecutor
  /** Advertise one skill per registered MCP service. Default: true with the default executor, false with a custom one. */
  mcpSkills?: boolean
  /** The MCP registry: an McpPort, or the name of the node service to use. Default: the node's `mcp` service. */
  mcp?: McpPort | string
  /** Where tasks are kept. Default: a BoundedTaskStore of `maxTasks`. */
  taskStore?: TaskStore
  /** Bound of the default task store. Default 1000. */
  maxTasks?: number
  /** Default deadline of outbound calls in ms. Default: the node's requestTimeoutMs. */
  timeoutMs?: number
  /**
   * A2A streaming (SendStreamingMessage, SubscribeToTask) over `/axl/a2a-stream/1`, with its bounds; `false`
   * serves no stream and advertises `capabilities.streaming: false` (outbound streams still work).
   * @default {} (served, default bounds: see A2aStreamOptions)
   */
  stream?: A2aStreamOptions | false
}

/** Options of stream() and subscribe(). */
export interface StreamOptions extends StreamCallOptions {
  /** SendStreamingMessage `configuration` (e.g. `{ historyLength: 0 }`). */
  configuration?: Record<string, unknown>
  /** SendStreamingMessage `metadata`. */
  metadata?: Record<string, unknown>
}

/** Counters of this node's A2A streams. */
export interface A2aStreamsStats {
  /** Streams this node serves. */
  inbound: A2aStreamStats
  /** Streams this node opened. */
  outbound: A2aStreamClientStats
}

/** `node.services.a2a`: this node's A2A endpoint, and an A2A client for other peers. */
export interface A2aService {
  /** Fetch a peer's agent card (A2A v1.0 JSON). */
  card: (peer: PeerId | string, opts?: CallOptions) => Promise<AgentCardJson>
  /** Send a message (text or a v1.0 message) to a peer with `SendMessage`; resolves to `{ task }` or `{ message }`. */
  send: (peer: PeerId | string, message: MessageInput, opts?: SendOptions) => Promise<SendMessageResultJson>
  /** Call any JSON-RPC method of a peer's A2A endpoint (e.g. "GetTask"); resolves to its `result`. */
  rpc: (peer: PeerId | string, method: string, params: unknown, opts?: CallOptions) => Promise<unknown>
  /** A `fetch` over the mesh for the stock `@a2a-js/sdk` client; bound to `peer` when given, else routed by URL. */
  fetchImpl: (peer?: PeerId | string, opts?: Omit<MeshFetchOptions, 'peer'>) => typeof fetch
  /** The stock `@a2a-js/sdk` Client for a peer, carried over the mesh (card fetched from the peer). */
  client: (peer: PeerId | string, opts?: Omit<MeshFetchOptions, 'peer'> & { clientOptions?: Partial<ClientFactoryOptions> }) => Promise<Client>
  /**
   * `SendStreamingMessage` to a peer: its events (`{ task }`, `{ statusUpdate }`, `{ artifactUpdate }`,
   * `{ message }`, the wire JSON) as they come, over one mesh stream; the iteration ends after the final event.
   * Breaking out of the loop or aborting `signal` cancels the remote call. Throws A2aStreamingUnsupportedError
   * at once for a peer without streams (Go AXL), A2aRpcError on a JSON-RPC error event.
   */
  stream: (peer: PeerId | string, message: MessageInput, opts?: StreamOptions) => AsyncGenerator<StreamEventJson, void, undefined>
  /** `SubscribeToTask`: the current task, then its further events until it ends (same rules as stream()). */
  subscribe: (peer: PeerId | string, taskId: string, opts?: StreamCallOptions) => AsyncGenerator<StreamEventJson, void, undefined>
  /** Counters of streams served and opened. */
  streamStats: () => A2aStreamsStats
  /** This node's current agent card. */
  localCard: () => AgentCardJson
  /** Add (or replace, by id) a skill on this node's card. */
  addSkill: (skill: AgentSkillJson) => void
  /** Remove a skill added with `skills`/addSkill; returns whether it existed. */
  removeSkill: (id: string) => boolean
  /** Start answering A2A envelopes (called by createNode). */
  start: () => void
  /** Stop answering, abort running MCP calls (called by node.stop()). */
  stop: () => void
}

/** The A2A service for createNode({ services: { a2a: a2a(options) } }). */
export function a2a (options: A2aOptions = {}): ServiceFactory<A2aService> {
  return (components: NodeComponents) => new A2aServiceImpl(components, options)
}

class A2aServiceImpl implements A2aService {
  private readonly node: AxlNode<Record<string, unknown>>
  private readonly opts: A2aOptions
  private readonly skills = new Map<string, AgentSkillJson>()
  private readonly stopController = new AbortController()
  private readonly endpoint: A2aEndpoint
  private readonly mcpSkills: boolean
  private readonly streams: A2aStreamClient
  private readonly serveStreams: boolean
  private unhandle: (() => void) | undefined
  private unhandleStream: (() => void) | undefined

  constructor (components: NodeComponents, opts: A2aOptions) {
    this.node = components.node
    this.opts = opts
    if (opts.timeoutMs !== undefined && (!Number.isFinite(opts.timeoutMs) || opts.timeoutMs < 0)) throw new ConfigError(`a2a timeoutMs must be a non-negative number, got ${opts.timeoutMs}`)
    for (const s of opts.skills ?? []) this.addSkill(s)
    this.mcpSkills = opts.mcpSkills ?? opts.executor === undefined
    const executor = opts.executor ?? new McpAgentExecutor({ mcp: () => this.mcpPort(), signal: this.stopController.signal })
    const log = components.logger.forComponent('axl:a2a')
    const streamOpts = opts.stream === false ? {} : opts.stream
    this.serveStreams = opts.stream !== false
    this.endpoint = new A2aEndpoint({
      card: () => this.localCard(),
      executor,
      taskStore: opts.taskStore ?? new BoundedTaskStore(opts.maxTasks ?? DEFAULT_MAX_TASKS),
      stream: streamOpts,
      log: (format, ...args) => { log.error(format, ...args) }
    })
    this.streams = new A2aStreamClient(this.node, streamOpts)
  }

  start (): void {
    if (this.unhandle !== undefined) return
    this.unhandle = this.node.handle('a2a', this.endpoint.handle)
    if (this.serveStreams) {
      this.unhandleStream = this.node.handle(A2A_STREAM_PROTOCOL, this.endpoint.handleStream, {
        allow: this.endpoint.allowStream,
        maxStreams: this.endpoint.streamLimits.maxStreams
      })
    }
  }

  stop (): void {
    this.unhandle?.()
    this.unhandle = undefined
    this.unhandleStream?.()
    this.unhandleStream = undefined
    this.stopController.abort(new Error('the A2A service is stopping'))
  }

  localCard (): AgentCardJson {
    const o = this.opts
    const extra: Partial<AgentCardJson> = {}
    if (o.provider !== undefined) extra.provider = o.provider
    if (o.documentationUrl !== undefined) extra.documentationUrl = o.documentationUrl
    if (o.iconUrl !== undefined) extra.iconUrl = o.iconUrl
    return buildAgentCard({
      peerId: this.node.peerId,
      name: o.name ?? DEFAULT_AGENT_NAME,
      description: o.description ?? DEFAULT_AGENT_DESCRIPTION,
      version: o.version ?? '1.0.0',
      url: (o.url ?? axlUrl)(this.node.peerId),
      mcpServices: this.mcpSkills ? (this.mcpPort()?.services() ?? []) : undefined,
      skills: [...this.skills.values()],
      defaultInputModes: o.defaultInputModes ?? ['text', 'application/json'],
      defaultOutputModes: o.defaultOutputModes ?? ['text', 'application/json'],
      extra,
      streaming: this.serveStreams
    })
  }

  addSkill (skill: AgentSkillJson): void {
    if (skill === null || typeof skill !== 'object' || typeof skill.id !== 'string' || skill.id === '') throw new ConfigError('a skill needs a non-empty string id')
    if (typeof skill.name !== 'string' || typeof skill.description !== 'string' || !Array.isArray(skill.tags)) {
      throw new ConfigError(`skill "${skill.id}" needs a name, a description and tags`)
    }
    this.skills.set(skill.id, structuredClone(skill))
  }

  removeSkill (id: string): boolean { return this.skills.delete(id) }

  async card (peer: PeerId | string, opts: CallOptions = {}): Promise<AgentCardJson> {
    return await fetchCard(this.node, peer, this.wait(opts))
  }

  async send (peer: PeerId | string, message: MessageInput, opts: SendOptions = {}): Promise<SendMessageResultJson> {
    return await sendMessage(this.node, peer, message, { ...opts, ...this.wait(opts) })
  }

  async rpc (peer: PeerId | string, method: string, params: unknown, opts: CallOptions = {}): Promise<unknown> {
    return await callRpc(this.node, peer, method, params, this.wait(opts))
  }

  async * stream (peer: PeerId | string, message: MessageInput, opts: StreamOptions = {}): AsyncGenerator<StreamEventJson, void, undefined> {
    const params: Record<string, unknown> = { message: toMessage(message) }
    if (opts.configuration !== undefined) params.configuration = opts.configuration
    if (opts.metadata !== undefined) params.metadata = opts.metadata
    yield * this.streams.events(peer, 'SendStreamingMessage', params, { ...opts, ...this.wait(opts) })
  }

  async * subscribe (peer: PeerId | string, taskId: string, opts: StreamCallOptions = {}): AsyncGenerator<StreamEventJson, void, undefined> {
    if (typeof taskId !== 'string' || taskId === '') throw new AxlError('ERR_INVALID_ARGUMENT', 'subscribe() needs a non-empty task id')
    yield * this.streams.events(peer, 'SubscribeToTask', { id: taskId }, { ...opts, ...this.wait(opts) })
  }

  streamStats (): A2aStreamsStats {
    return { inbound: this.endpoint.streamStats(), outbound: this.streams.stats() }
  }

  fetchImpl (peer?: PeerId | string, opts: Omit<MeshFetchOptions, 'peer'> = {}): typeof fetch {
    return meshFetch(this.node, { peer, timeoutMs: opts.timeoutMs ?? this.opts.timeoutMs, streams: opts.streams ?? this.streams })
  }

  async client (peer: PeerId | string, opts: Omit<MeshFetchOptions, 'peer'> & { clientOptions?: Partial<ClientFactoryOptions> } = {}): Promise<Client> {
    const fetchImpl = this.fetchImpl(peer, opts)
    const factory = new ClientFactory(ClientFactoryOptions.createFrom(ClientFactoryOptions.default, {
      cardResolver: new DefaultAgentCardResolver({ fetchImpl }),
      transports: [new JsonRpcTransportFactory({ fetchImpl })],
      ...opts.clientOptions
    }))
    return await factory.createFromUrl(axlUrl(parsePeerId(String(peer))))
  }

  private wait (opts: CallOptions): CallOptions {
    return { signal: opts.signal, timeoutMs: opts.timeoutMs ?? this.opts.timeoutMs }
  }

  private mcpPort (): McpPort | undefined {
    const m = this.opts.mcp
    if (m !== undefined && typeof m !== 'string') return m
    return toMcpPort(this.node.services[m ?? 'mcp'])
  }
}
