/** startNode(): a node, its inbound forwarders or in-process services, and the HTTP API, from a NodeConfig. */
import {
  createNode, generateIdentity, identityFromYggdrasilHex, loadIdentity,
  type AxlNode, type Identity, type Limits, type ServiceFactory
} from '@axl/core'
import type { InitialService } from '@axl/router-mcp'
import type { A2aOptions } from '@axl/router-a2a'
import { forwardA2aToServer } from './a2a-forward.js'
import { createBridge, type Bridge } from './bridge.js'
import type { NodeConfig } from './config.js'
import { ConfigFileError } from './errors.js'
import { routerForwarder } from './router-forward.js'
import { yggTransport, type TransportProvider } from './transport.js'

/** Options of startNode(). */
export interface StartNodeOptions {
  /** Builds the transport. Default: ygg() from @axl/transport-ygg. */
  transport?: TransportProvider
  /** Use this identity instead of the config's key. */
  identity?: Identity
  /** Log lines (without the "[node] " prefix). */
  log?: (line: string) => void
  /** Stops the node when it fires (also while starting: the start then rejects). */
  signal?: AbortSignal
}

/** A node started from a config, with its HTTP API. */
export interface RunningNode {
  /** The node. */
  node: AxlNode<Record<string, unknown>>
  /** The HTTP API. */
  bridge: Bridge
  /** The effective config. */
  config: NodeConfig
  /** The identity's origin: 'PrivateKeyPath', 'PrivateKey', 'option' or 'ephemeral'. */
  identitySource: 'PrivateKeyPath' | 'PrivateKey' | 'option' | 'ephemeral'
  /** Stop the API, the forwarders and the node. Idempotent. */
  stop: () => Promise<void>
}

/** Largest timer value; "0 = no timeout" maps to it. */
const NO_TIMEOUT_MS = 0x7fffffff

/** Seconds to ms, 0 meaning "no timeout". */
export function timeoutMs (secs: number): number {
  return secs === 0 ? NO_TIMEOUT_MS : Math.min(NO_TIMEOUT_MS, Math.round(secs * 1000))
}

/** Seconds to ms for the HTTP API's deadlines, where createBridge() itself reads 0 as "none". */
function apiTimeoutMs (secs: number): number {
  return Math.min(NO_TIMEOUT_MS, Math.round(secs * 1000))
}

/** The node limits a config asks for. */
export function limitsFromConfig (c: NodeConfig): Partial<Limits> {
  return {
    maxMessageSize: c.maxMessageSize,
    inboxMaxMessages: c.recvQueueSize,
    inboxMaxBytes: c.recvQueueBytes,
    inboxOverflow: c.recvOverflow,
    maxConcurrentStreams: c.maxConcurrentConns,
    requestTimeoutMs: timeoutMs(c.requestTimeoutSecs),
    readTimeoutMs: timeoutMs(c.connReadTimeoutSecs),
    idleTimeoutMs: timeoutMs(c.connIdleTimeoutSecs)
  }
}

/** The node's identity from the config: PrivateKeyPath (PEM), PrivateKey (hex), or a fresh ephemeral one. */
export async function identityFromConfig (c: NodeConfig): Promise<{ identity: Identity, source: RunningNode['identitySource'] }> {
  if (c.privateKeyPath !== undefined) {
    try {
      return { identity: await loadIdentity(c.privateKeyPath), source: 'PrivateKeyPath' }
    } catch (err) {
      const e = err as Error & { cause?: NodeJS.ErrnoException }
      const why = e.cause?.code === 'ENOENT' ? 'no such file or directory' : e.message
      throw new ConfigFileError(`PrivateKeyPath: ${c.privateKeyPath}: ${why}`, { key: 'PrivateKeyPath', path: c.path })
    }
  }
  if (c.privateKey !== undefined) return { identity: identityFromYggdrasilHex(c.privateKey), source: 'PrivateKey' }
  return { identity: generateIdentity(), source: 'ephemeral' }
}

/** Start a node as `axl-node` does: identity, transport, inbound routing, HTTP API. */
export async function startNode (config: NodeConfig, opts: StartNodeOptions = {}): Promise<RunningNode> {
  opts.signal?.throwIfAborted()
  const { identity, source } = opts.identity !== undefined ? { identity: opts.identity, source: 'option' as const } : await identityFromConfig(config)
  const provider = opts.transport ?? yggTransport
  const transport = await provider({ peers: config.peers, listen: config.listen, allowedPublicKeys: config.allowedPublicKeys, tcpPort: config.tcpPort })
  const requestMs = timeoutMs(config.requestTimeoutSecs)
  const backendMs = Math.max(1, Math.floor(requestMs * 0.9))

  const services: Record<string, ServiceFactory<unknown>> = {}
  if (config.mcpServices.length > 0) {
    const initial: InitialService[] = config.mcpServices.map(s => {
      const service = s.kind === 'stdio'
        ? { command: s.command as string, args: s.args, env: s.env, cwd: s.cwd, inheritEnv: s.inheritEnv }
        : { url: s.url as string, headers: s.headers }
      const def: InitialService = { name: s.name, service }
      if (s.allow !== undefined) def.allow = s.allow
      if (s.maxConcurrent !== undefined) def.maxConcurrent = s.maxConcurrent
      if (s.timeoutSecs !== undefined) def.timeoutMs = timeoutMs(s.timeoutSecs)
      return def
    })
    const { mcp } = await import('@axl/router-mcp')
    services.mcp = mcp({ services: initial })
  }
  const router = config.routerAddr !== '' ? routerForwarder({ url: `${config.routerAddr}:${config.routerPort}`, timeoutMs: backendMs, maxBytes: config.maxMessageSize + 1024 }) : undefined
  if (config.a2a !== undefined && config.a2aAddr === '') {
    const a: A2aOptions = {}
    if (config.a2a.name !== undefined) a.name = config.a2a.name
    if (config.a2a.description !== undefined) a.description = config.a2a.description
    if (config.a2a.version !== undefined) a.version = config.a2a.version
    if (config.a2a.skills !== undefined) a.skills = config.a2a.skills.map(s => ({ ...s }))
    if (config.a2a.cardUrl === 'relative') a.url = id => `/a2a/${id}`
    if (router !== undefined) {
      a.mcp = router.port
      void router.refresh() // skills for the first card request
    }
    const { a2a } = await import('@axl/router-a2a')
    services.a2a = a2a(a)
  }

  const node = await createNode<Record<string, unknown>>({
    identity, transport, services, limits: limitsFromConfig(config), start: false,
    ...(config.inboxDir !== undefined ? { inbox: { dir: config.inboxDir } } : {})
  })
  const log = opts.log
  if (log !== undefined) {
    // Before start: the first links may come up before start() resolves.
    node.addEventListener('peer:connect', (e) => { log(`Link up: ${e.detail.peer} (${e.detail.inbound ? 'inbound' : 'outbound'}, ${e.detail.uri})`) })
    node.addEventListener('peer:disconnect', (e) => { log(`Link down: ${e.detail.peer} (${e.detail.uri})${e.detail.error !== undefined ? `: ${e.detail.error.message}` : ''}`) })
    node.addEventListener('root:change', (e) => { log(`Tree root: ${e.detail.root}`) })
  }
  await node.start()
  const undo: Array<() => void> = []
  let bridge: Bridge
  try {
    if (router !== undefined) {
      const unhandle = node.handle('mcp', router.handler)
      undo.push(() => { unhandle(); router.close() })
    }
    if (config.a2aAddr !== '') {
      undo.push(forwardA2aToServer(node, { url: `${config.a2aAddr}:${config.a2aPort}`, timeoutMs: backendMs, maxBytes: config.maxMessageSize + 1024 }))
    }
    bridge = await createBridge(node, {
      port: config.apiPort,
      host: config.bridgeAddr,
      allowedHosts: config.apiAllowedHosts,
      allowedOrigins: config.apiAllowedOrigins,
      rootParent: config.topologyRootParent,
      requestTimeoutMs: requestMs,
      maxRecvWaitMs: timeoutMs(config.recvMaxWaitSecs),
      maxBodyBytesInFlight: config.apiMaxBodyBytesInFlight,
      maxConnections: config.apiMaxConnections,
      bodyTimeoutMs: apiTimeoutMs(config.apiBodyTimeoutSecs),
      headersTimeoutMs: apiTimeoutMs(config.apiHeadersTimeoutSecs),
      keepAliveTimeoutMs: apiTimeoutMs(config.apiKeepaliveTimeoutSecs),
      mcpSessions: { max: config.mcpSessionsMax, ttlMs: timeoutMs(config.mcpSessionTtlSecs) },
      log: opts.log
    })
  } catch (err) {
    for (const u of undo) u()
    router?.close()
    await node.stop()
    throw err
  }
  let stopped: Promise<void> | undefined
  const stop = async (): Promise<void> => {
    stopped ??= (async () => {
      await bridge.close()
      for (const u of undo) u()
      await node.stop()
    })()
    await stopped
  }
  if (opts.signal !== undefined) {
    if (opts.signal.aborted) { await stop(); opts.signal.throwIfAborted() }
    opts.signal.addEventListener('abort', () => { void stop() }, { once: true })
  }
  return { node, bridge, config, identitySource: source, stop }
}
