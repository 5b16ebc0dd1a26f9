/**
 * node-config.json: AXL's keys (axl-reference §6.2) plus ours for in-process services, parsed strictly:
 * a malformed file or a wrong type refuses to start with a ConfigFileError naming the key.
 */
import { readFile } from 'node:fs/promises'
import { dirname, isAbsolute, resolve } from 'node:path'
import { identityFromYggdrasilHex, isPeerId, type OverflowPolicy, type PeerId } from '@axl/core'
import { parseLinkUri, type ParsedLinkUri } from '@axl/transport-ygg'
import { ConfigFileError, HjsonSyntaxError } from './errors.js'
import { parseHjson, type HjsonValue } from './hjson.js'

/** An in-process MCP service from `mcp_services` (registered with @axl/router-mcp). */
export interface McpServiceConfig {
  /** The service name callers use. */
  name: string
  /** A spawned stdio server, or a Streamable-HTTP endpoint. */
  kind: 'stdio' | 'http'
  /** stdio: the executable. */
  command?: string
  /** stdio: its arguments. */
  args?: string[]
  /** stdio: extra environment variables. */
  env?: Record<string, string>
  /** stdio: start from this process's environment (default true). */
  inheritEnv?: boolean
  /** stdio: working directory (resolved against the config file's directory). */
  cwd?: string
  /** http: the endpoint URL. */
  url?: string
  /** http: extra request headers. */
  headers?: Record<string, string>
  /** Peer ids allowed to call it; everyone when omitted. */
  allow?: PeerId[]
  /** Requests handled at once (router-mcp default 16). */
  maxConcurrent?: number
  /** Per-request deadline in seconds (router-mcp default: 90% of request_timeout_secs). */
  timeoutSecs?: number
}

/** A skill on the in-process A2A agent card. */
export interface A2aSkillConfig { id: string, name: string, description: string, tags: string[], examples?: string[] }

/** The in-process A2A agent (`a2a` key) when no `a2a_addr` is set. */
export interface A2aConfig {
  /** Card name (default AXL's "MCP Router A2A Agent"). */
  name?: string
  /** Card description. */
  description?: string
  /** Card version. */
  version?: string
  /** Extra skills. */
  skills?: A2aSkillConfig[]
  /** Interface URL on the card: "axl" (`axl://<key>`, default) or "relative" (AXL's `/a2a/<key>`). */
  cardUrl?: 'axl' | 'relative'
}

/** A parsed node-config.json with every default applied. */
export interface NodeConfig {
  /** The config file, when loaded from one. */
  path?: string
  /** Absolute path of the PKCS#8 ed25519 PEM (resolved against the config file's directory). */
  privateKeyPath?: string
  /** Yggdrasil hex private key (seed‖public, 128 hex characters). */
  privateKey?: string
  /** Outbound peer URIs (tcp:// or ws://). */
  peers: string[]
  /** Listen URIs (tcp:// or ws://); `-listen` flags are prepended. */
  listen: string[]
  /** Keys allowed to peer with us (empty: anyone). Passed to the transport. */
  allowedPublicKeys: PeerId[]
  /** HTTP API port (0: any free port). */
  apiPort: number
  /** HTTP API address (IPv6 literals allowed). */
  bridgeAddr: string
  /** The overlay stream port (AXL's 7000; must match across nodes). */
  tcpPort: number
  /** MCP router base URL (scheme and host), '' when inbound MCP does not go to an HTTP router. */
  routerAddr: string
  /** MCP router port. */
  routerPort: number
  /** A2A server base URL, '' when inbound A2A does not go to an HTTP server. */
  a2aAddr: string
  /** A2A server port (honoured, unlike AXL). */
  a2aPort: number
  /** Largest message in bytes. */
  maxMessageSize: number
  /** Inbound streams handled at once. */
  maxConcurrentConns: number
  /** Deadline for reading a frame, seconds (0: none). */
  connReadTimeoutSecs: number
  /** Idle deadline of an inbound stream, seconds (0: none). */
  connIdleTimeoutSecs: number
  /** What /recv's queue does when full. */
  recvOverflow: OverflowPolicy
  /** /recv queue capacity in messages. */
  recvQueueSize: number
  /** /recv queue capacity in bytes. */
  recvQueueBytes: number
  /** Durable inbox directory (`inbox_dir`, relative to the config file): journal accepted messages so they survive a crash. Default: none. */
  inboxDir?: string
  /** Deadline of /send, /mcp and /a2a round trips, seconds. */
  requestTimeoutSecs: number
  /** Longest `/recv?wait=` accepted, seconds. */
  recvMaxWaitSecs: number
  /** The root's `parent` in /topology: "" (default, so tree walkers find the root) or its own key (AXL). */
  topologyRootParent: 'empty' | 'self'
  /** Extra Host header values the API accepts ("*": any). */
  apiAllowedHosts: string[]
  /** Browser origins allowed to call the API (default none). */
  apiAllowedOrigins: string[]
  /** HTTP connections open at once; past it the longest-idle one is closed (default 1024). */
  apiMaxConnections: number
  /** Request-body bytes in memory across all requests, charged as they arrive (default 256 MiB). */
  apiMaxBodyBytesInFlight: number
  /** A request body must complete within this many seconds, else 408 (default 30; 0: none). */
  apiBodyTimeoutSecs: number
  /** A complete request header must arrive within this many seconds of connecting, else 408 (default 10; 0: none). */
  apiHeadersTimeoutSecs: number
  /** Idle keep-alive connections are closed after this many seconds (default 5; 0: never). */
  apiKeepaliveTimeoutSecs: number
  /** Most MCP sessions remembered by /mcp. */
  mcpSessionsMax: number
  /** Idle lifetime of an MCP session, seconds. */
  mcpSessionTtlSecs: number
  /** In-process MCP services. */
  mcpServices: McpServiceConfig[]
  /** In-process A2A agent, or undefined. */
  a2a: A2aConfig | undefined
  /** Non-fatal remarks (unknown keys, ignored Yggdrasil keys). */
  warnings: string[]
}

/** Options of parseConfig. */
export interface ParseConfigOptions {
  /** Directory relative paths (PrivateKeyPath, stdio cwd) are resolved against. Default: the process CWD. */
  baseDir?: string
  /** The file name, for messages. */
  path?: string
}

/** AXL's defaults (§6.2) and ours. */
export const DEFAULT_CONFIG: Readonly<Omit<NodeConfig, 'warnings' | 'path' | 'privateKeyPath' | 'privateKey' | 'a2a' | 'inboxDir'>> = Object.freeze({
  peers: [],
  listen: [],
  allowedPublicKeys: [],
  apiPort: 9002,
  bridgeAddr: '127.0.0.1',
  tcpPort: 7000,
  routerAddr: '',
  routerPort: 9003,
  a2aAddr: '',
  a2aPort: 9004,
  maxMessageSize: 16_777_216,
  maxConcurrentConns: 128,
  connReadTimeoutSecs: 60,
  connIdleTimeoutSecs: 300,
  recvOverflow: 'refuse',
  recvQueueSize: 100,
  recvQueueBytes: 64 * 1024 * 1024,
  requestTimeoutSecs: 30,
  recvMaxWaitSecs: 60,
  topologyRootParent: 'empty',
  apiAllowedHosts: [],
  apiAllowedOrigins: [],
  apiMaxConnections: 1024,
  apiMaxBodyBytesInFlight: 256 * 1024 * 1024,
  apiBodyTimeoutSecs: 30,
  apiHeadersTimeoutSecs: 10,
  apiKeepaliveTimeoutSecs: 5,
  mcpSessionsMax: 1024,
  mcpSessionTtlSecs: 3600,
  mcpServices: []
})

/** Yggdrasil keys that parse but that AXL (and we) ignore. */
const IGNORED_YGG_KEYS = ['InterfacePeers', 'MulticastInterfaces', 'AdminListen', 'NodeInfo', 'NodeInfoPrivacy', 'IfName', 'IfMTU', 'LogLookups']

/** The message for Yggdrasil link types this node cannot speak. */
export const UNSUPPORTED_LINK_MESSAGE = 'this link type is not supported (QUIC and SOCKS are not implemented); use tls://, tcp://, ws://, wss:// or unix://'

/** Link schemes a config may use: Yggdrasil's, and our Noise links between TS nodes. */
const LINK_SCHEMES = ['tcp', 'tls', 'ws', 'wss', 'unix', 'noise+tcp', 'noise+ws', 'noise+wss']

type Setter = (cfg: NodeConfig, v: HjsonValue, key: string, opts: ParseConfigOptions) => void

const fail = (key: string, message: string): ConfigFileError => new ConfigFileError(`${key}: ${message}`, { key })

function typeName (v: HjsonValue): string {
  if (v === null) return 'null'
  if (Array.isArray(v)) return 'an array'
  if (typeof v === 'object') return 'an object'
  return `${typeof v === 'string' ? 'a string' : typeof v === 'number' ? 'a number' : 'a boolean'} (${JSON.stringify(v)})`
}

function str (v: HjsonValue, key: string): string {
  if (typeof v !== 'string') throw fail(key, `expected a string, got ${typeName(v)}`)
  return v
}

function int (v: HjsonValue, key: string, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v)) throw fail(key, `expected an integer, got ${typeName(v)}`)
  if (v < min || v > max) throw fail(key, `must be between ${min} and ${max}, got ${v}`)
  return v
}

function secs (v: HjsonValue, key: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v)) throw fail(key, `expected a number of seconds, got ${typeName(v)}`)
  if (v < 0) throw fail(key, `must not be negative, got ${v}`)
  if (v > 2_000_000) throw fail(key, `must be at most 2000000 seconds, got ${v}`)
  return v
}

function bool (v: HjsonValue, key: string): boolean {
  if (typeof v !== 'boolean') throw fail(key, `expected true or false, got ${typeName(v)}`)
  return v
}

function strings (v: HjsonValue, key: string): string[] {
  if (!Array.isArray(v)) throw fail(key, `expected an array of strings, got ${typeName(v)}`)
  return v.map((x, i) => str(x, `${key}[${i}]`))
}

function stringMap (v: HjsonValue, key: string): Record<string, string> {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw fail(key, `expected an object of strings, got ${typeName(v)}`)
  const out: Record<string, string> = {}
  for (const [k, x] of Object.entries(v)) out[k] = str(x, `${key}.${k}`)
  return out
}

function peerIds (v: HjsonValue, key: string): PeerId[] {
  return strings(v, key).map((s, i) => {
    const t = s.trim().toLowerCase()
    if (!isPeerId(t)) throw fail(`${key}[${i}]`, `expected a 64-hex-character public key, got ${JSON.stringify(s)}`)
    return t as PeerId
  })
}

/**
 * Checks a peering or listen URI: Yggdrasil's link types as yggdrasil-go reads them (`tcp://`, `tls://`,
 * `ws://`, `wss://`, `unix://`, with `key=`, `priority=`, `password=`, `maxbackoff=`, `sni=`), or our Noise links
 * (`noise+tcp://`…); QUIC and SOCKS are refused with a clear message.
 */
export function checkLinkUri (uri: string, key: string): string {
  const t = uri.trim()
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(t)?.[1]?.toLowerCase()
  if (scheme === undefined) throw fail(key, `${JSON.stringify(uri)} is not a URI (expected e.g. tls://1.2.3.4:9001)`)
  if (['quic', 'socks', 'sockstls'].includes(scheme)) throw fail(key, `${JSON.stringify(uri)}: ${UNSUPPORTED_LINK_MESSAGE}`)
  if (!LINK_SCHEMES.includes(scheme)) throw fail(key, `${JSON.stringify(uri)}: unsupported link type "${scheme}://"; use ${LINK_SCHEMES.map(s => `${s}://`).join(', ')}`)
  let parsed: ParsedLinkUri
  try {
    parsed = parseLinkUri(t)
  } catch (err) {
    throw fail(key, (err as Error).message)
  }
  const u = parsed.url
  if (scheme === 'unix') {
    if (u.pathname === '' || u.pathname === '/') throw fail(key, `${JSON.stringify(uri)} has no socket path (expected e.g. unix:///run/axl.sock)`)
    return t
  }
  if (u.hostname === '') throw fail(key, `${JSON.stringify(uri)} has no host`)
  if (!u.protocol.startsWith('ws') && u.port === '') throw fail(key, `${JSON.stringify(uri)} has no port (expected e.g. ${scheme}://1.2.3.4:9001)`)
  return t
}

/** router_addr / a2a_addr: '' (off), or a base URL with a scheme; trailing slashes and blanks trimmed. */
function baseUrl (v: HjsonValue, key: string): string {
  const t = str(v, key).trim().replace(/\/+$/, '')
  if (t === '') return ''
  if (!/^https?:\/\/[^/]+$/i.test(t)) throw fail(key, `expected a base URL with a scheme and no path, e.g. "http://127.0.0.1", got ${JSON.stringify(v)}`)
  if (/:\d+$/.test(t.replace(/^https?:\/\/\[[^\]]*\]/i, ''))) throw fail(key, `must not contain a port (set ${key === 'router_addr' ? 'router_port' : 'a2a_port'}), got ${JSON.stringify(v)}`)
  return t
}

function mcpServices (v: HjsonValue, key: string, opts: ParseConfigOptions): McpServiceConfig[] {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw fail(key, `expected an object mapping service names to definitions, got ${typeName(v)}`)
  return Object.entries(v).map(([name, def]) => {
    const k = `${key}.${name}`
    if (name === '') throw fail(key, 'service names must not be empty')
    if (typeof def === 'string') {
      if (!/^https?:\/\//i.test(def)) throw fail(k, `a string definition must be an http(s) URL, got ${JSON.stringify(def)}`)
      return { name, kind: 'http', url: def }
    }
    if (def === null || typeof def !== 'object' || Array.isArray(def)) throw fail(k, `expected a URL or an object with "command" (stdio) or "url" (http), got ${typeName(def)}`)
    const out: McpServiceConfig = { name, kind: 'stdio' }
    const known = new Set(['command', 'args', 'env', 'inherit_env', 'cwd', 'url', 'headers', 'allow', 'max_concurrent', 'timeout_secs'])
    for (const [f, x] of Object.entries(def)) {
      const fk = `${k}.${f}`
      if (!known.has(f)) throw fail(fk, `unknown field (expected one of ${[...known].join(', ')})`)
      if (x === null) continue
      if (f === 'command') out.command = str(x, fk)
      else if (f === 'args') out.args = strings(x, fk)
      else if (f === 'env') out.env = stringMap(x, fk)
      else if (f === 'inherit_env') out.inheritEnv = bool(x, fk)
      else if (f === 'cwd') out.cwd = resolve(opts.baseDir ?? process.cwd(), str(x, fk))
      else if (f === 'url') out.url = str(x, fk)
      else if (f === 'headers') out.headers = stringMap(x, fk)
      else if (f === 'allow') out.allow = peerIds(x, fk)
      else if (f === 'max_concurrent') out.maxConcurrent = int(x, fk, 1, 1_000_000)
      else if (f === 'timeout_secs') out.timeoutSecs = secs(x, fk)
    }
    if ((out.command === undefined) === (out.url === undefined)) throw fail(k, 'needs exactly one of "command" (a stdio server) or "url" (a Streamable-HTTP endpoint)')
    if (out.url !== undefined) {
      if (!/^https?:\/\//i.test(out.url)) throw fail(`${k}.url`, `must be an http(s) URL, got ${JSON.stringify(out.url)}`)
      if (out.args !== undefined || out.env !== undefined || out.cwd !== undefined || out.inheritEnv !== undefined) throw fail(k, 'args, env, cwd and inherit_env apply to stdio servers ("command") only')
      out.kind = 'http'
    } else if (out.headers !== undefined) throw fail(`${k}.headers`, 'applies to http services ("url") only')
    return out
  })
}

function a2aConfig (v: HjsonValue, key: string): A2aConfig | undefined {
  if (v === false) return undefined
  if (v === true) return {}
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw fail(key, `expected true, false or an object, got ${typeName(v)}`)
  const out: A2aConfig = {}
  for (const [f, x] of Object.entries(v)) {
    const fk = `${key}.${f}`
    if (x === null) continue
    if (f === 'name') out.name = str(x, fk)
    else if (f === 'description') out.description = str(x, fk)
    else if (f === 'version') out.version = str(x, fk)
    else if (f === 'card_url') {
      const u = str(x, fk)
      if (u !== 'axl' && u !== 'relative') throw fail(fk, `expected "axl" or "relative", got ${JSON.stringify(u)}`)
      out.cardUrl = u
    } else if (f === 'skills') {
      if (!Array.isArray(x)) throw fail(fk, `expected an array of skills, got ${typeName(x)}`)
      out.skills = x.map((s, i) => {
        const sk = `${fk}[${i}]`
        if (s === null || typeof s !== 'object' || Array.isArray(s)) throw fail(sk, `expected an object, got ${typeName(s)}`)
        const skill: A2aSkillConfig = {
          id: str(s.id ?? null, `${sk}.id`),
          name: str(s.name ?? null, `${sk}.name`),
          description: str(s.description ?? null, `${sk}.description`),
          tags: strings(s.tags ?? [], `${sk}.tags`)
        }
        if (s.examples !== undefined) skill.examples = strings(s.examples, `${sk}.examples`)
        if (skill.id === '') throw fail(`${sk}.id`, 'must not be empty')
        return skill
      })
    } else throw fail(fk, 'unknown field (expected name, description, version, skills, card_url)')
  }
  return out
}

const port = (min: number) => (key: keyof NodeConfig): Setter => (c, v, k) => { (c as unknown as Record<string, unknown>)[key] = int(v, k, min, 65535) }
const seconds = (key: keyof NodeConfig): Setter => (c, v, k) => { (c as unknown as Record<string, unknown>)[key] = secs(v, k) }
const count = (key: keyof NodeConfig, max = Number.MAX_SAFE_INTEGER): Setter => (c, v, k) => { (c as unknown as Record<string, unknown>)[key] = int(v, k, 0, max) }
const hosts = (key: 'apiAllowedHosts' | 'apiAllowedOrigins'): Setter => (c, v, k) => { c[key] = strings(v, k).map(s => s.trim().toLowerCase()) }

/** Every key we read, by its canonical spelling. */
const KEYS: Record<string, Setter> = {
  // -- Yggdrasil's half (HJSON in AXL) --
  PrivateKeyPath: (c, v, k, o) => {
    const p = str(v, k).trim()
    if (p !== '') c.privateKeyPath = isAbsolute(p) ? p : resolve(o.baseDir ?? process.cwd(), p)
  },
  PrivateKey: (c, v, k) => {
    const h = str(v, k).trim()
    if (h === '') return
    try { identityFromYggdrasilHex(h) } catch (err) { throw fail(k, (err as Error).message) }
    c.privateKey = h
  },
  Peers: (c, v, k) => { c.peers = strings(v, k).map((s, i) => checkLinkUri(s, `${k}[${i}]`)) },
  Listen: (c, v, k) => { c.listen = strings(v, k).map((s, i) => checkLinkUri(s, `${k}[${i}]`)) },
  AllowedPublicKeys: (c, v, k) => { c.allowedPublicKeys = peerIds(v, k) },
  // -- AXL's half --
  api_port: port(0)('apiPort'),
  bridge_addr: (c, v, k) => {
    const a = str(v, k).trim().replace(/^\[(.*)\]$/, '$1')
    if (a === '') throw fail(k, 'must not be empty')
    c.bridgeAddr = a
  },
  tcp_port: port(1)('tcpPort'),
  router_addr: (c, v, k) => { c.routerAddr = baseUrl(v, k) },
  router_port: port(1)('routerPort'),
  a2a_addr: (c, v, k) => { c.a2aAddr = baseUrl(v, k) },
  a2a_port: port(1)('a2aPort'),
  max_message_size: count('maxMessageSize', 0xffffffff),
  max_concurrent_conns: count('maxConcurrentConns', 1_000_000),
  conn_read_timeout_secs: seconds('connReadTimeoutSecs'),
  conn_idle_timeout_secs: seconds('connIdleTimeoutSecs'),
  // -- ours --
  recv_overflow: (c, v, k) => {
    const s = str(v, k)
    if (s !== 'refuse' && s !== 'drop-oldest' && s !== 'drop-newest') throw fail(k, `expected "refuse", "drop-oldest" or "drop-newest", got ${JSON.stringify(s)}`)
    c.recvOverflow = s
  },
  recv_queue_size: count('recvQueueSize', 10_000_000),
  recv_queue_bytes: count('recvQueueBytes'),
  inbox_dir: (c, v, k, o) => {
    const p = str(v, k).trim()
    if (p !== '') c.inboxDir = isAbsolute(p) ? p : resolve(o.baseDir ?? process.cwd(), p)
  },
  request_timeout_secs: seconds('requestTimeoutSecs'),
  recv_max_wait_secs: seconds('recvMaxWaitSecs'),
  topology_root_parent: (c, v, k) => {
    const s = str(v, k)
    if (s !== 'empty' && s !== 'self') throw fail(k, `expected "empty" or "self", got ${JSON.stringify(s)}`)
    c.topologyRootParent = s
  },
  api_allowed_hosts: hosts('apiAllowedHosts'),
  api_allowed_origins: hosts('apiAllowedOrigins'),
  api_max_connections: (c, v, k) => { c.apiMaxConnections = int(v, k, 1, 1_000_000) },
  api_max_body_bytes_in_flight: count('apiMaxBodyBytesInFlight'),
  api_body_timeout_secs: seconds('apiBodyTimeoutSecs'),
  api_headers_timeout_secs: seconds('apiHeadersTimeoutSecs'),
  api_keepalive_timeout_secs: seconds('apiKeepaliveTimeoutSecs'),
  mcp_sessions_max: count('mcpSessionsMax', 10_000_000),
  mcp_session_ttl_secs: seconds('mcpSessionTtlSecs'),
  mcp_services: (c, v, k, o) => { c.mcpServices = mcpServices(v, k, o) },
  a2a: (c, v, k) => { c.a2a = a2aConfig(v, k) }
}

const BY_FOLDED = new Map(Object.keys(KEYS).map(k => [k.toLowerCase(), k]))
const IGNORED_FOLDED = new Set(IGNORED_YGG_KEYS.map(k => k.toLowerCase()))

/** Parse node-config.json text (lenient JSON: comments, trailing commas, HJSON basics). Throws ConfigFileError (message names the key; `path` set from opts). */
export function parseConfig (text: string, opts: ParseConfigOptions = {}): NodeConfig {
  let root: HjsonValue
  try {
    root = parseHjson(text)
  } catch (err) {
    if (err instanceof HjsonSyntaxError) throw new ConfigFileError(`not valid JSON: ${err.message}`, { path: opts.path })
    throw err
  }
  if (root === null || typeof root !== 'object' || Array.isArray(root)) {
    throw new ConfigFileError(`the config must be a JSON object, got ${typeName(root)}`, { path: opts.path })
  }
  const cfg: NodeConfig = { ...structuredClone(DEFAULT_CONFIG as NodeConfig), a2a: undefined, warnings: [] }
  if (opts.path !== undefined) cfg.path = opts.path
  const ignored: string[] = []
  const seen = new Map<string, string>()
  for (const [key, value] of Object.entries(root)) {
    // Go's encoding/json matches keys case-insensitively; the exact spelling wins.
    const canonical = Object.hasOwn(KEYS, key) ? key : BY_FOLDED.get(key.toLowerCase())
    if (canonical === undefined) {
      if (IGNORED_FOLDED.has(key.toLowerCase())) ignored.push(key)
      else cfg.warnings.push(`unknown key "${key}" ignored`)
      continue
    }
    const prev = seen.get(canonical)
    if (prev !== undefined && prev !== key) cfg.warnings.push(`"${key}" and "${prev}" name the same key; the later one wins`)
    seen.set(canonical, key)
    if (value === null) continue // Go leaves the default
    try {
      KEYS[canonical](cfg, value, key, opts)
    } catch (err) {
      if (err instanceof ConfigFileError) throw new ConfigFileError(err.message, { key: err.key, path: opts.path })
      throw err
    }
  }
  if (ignored.length > 0) cfg.warnings.push(`Yggdrasil keys ignored (as in AXL): ${ignored.join(', ')}`)
  if (cfg.privateKey !== undefined && cfg.privateKeyPath !== undefined) {
    cfg.warnings.push('both PrivateKey and PrivateKeyPath are set; PrivateKeyPath is used (as Yggdrasil does)')
    delete cfg.privateKey
  }
  if (cfg.routerAddr !== '' && cfg.mcpServices.length > 0) {
    throw new ConfigFileError(`mcp_services: cannot be combined with router_addr (inbound MCP goes either to the HTTP router or to in-process services)`, { key: 'mcp_services', path: opts.path })
  }
  if (cfg.a2aAddr !== '' && cfg.a2a !== undefined) {
    throw new ConfigFileError(`a2a: cannot be combined with a2a_addr (inbound A2A goes either to the HTTP A2A server or to the in-process agent)`, { key: 'a2a', path: opts.path })
  }
  return cfg
}

/** Read and parse a config file; relative paths in it resolve against its directory. Throws ConfigFileError. */
export async function loadConfig (path: string): Promise<NodeConfig> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (err) {
    const e = err as NodeJS.ErrnoException
    const why = e.code === 'ENOENT' ? 'no such file or directory' : e.code === 'EACCES' ? 'permission denied' : e.code === 'EISDIR' ? 'is a directory' : e.message
    throw new ConfigFileError(`read config ${path}: ${why}`, { path })
  }
  return parseConfig(text, { baseDir: dirname(resolve(path)), path })
}
