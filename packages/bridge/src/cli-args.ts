/** axl-node's flags, Go `flag` style: `-config x`, `-config=x`, `--config x`; `-listen` may repeat. */

/** Parsed command line. */
export interface CliArgs {
  /** The config file (default node-config.json). */
  config: string
  /** Extra listen URIs, prepended to the config's Listen. */
  listen: string[]
  /** -help / -h / --help was given. */
  help: boolean
}

/** A bad command line (Go's flag package exits 2 on these). */
export class UsageError extends Error {}

/** The --help text. */
export const USAGE = `Usage: axl-node [-config <path>] [-listen <uri>]...

Runs an AXL node: the mesh overlay and AXL's local HTTP API (default http://127.0.0.1:9002),
a drop-in replacement for gensyn-ai/axl's Go binary. Flags take one dash or two.

Flags:
  -config <path>   node-config.json to read (default "node-config.json"). The file must exist.
                   Relative paths inside it (PrivateKeyPath, stdio cwd) resolve against its directory.
  -listen <uri>    Listen on this URI too (tcp://host:port or ws://host:port); prepended to the
                   config's "Listen". May be given more than once.
  -help, -h        Show this help and exit.

Config keys (JSON; // /* */ # comments, trailing commas and HJSON basics accepted):
  PrivateKeyPath          PKCS#8 ed25519 PEM (openssl genpkey -algorithm ed25519); relative to the config file
  PrivateKey              Yggdrasil hex private key (128 hex); used when PrivateKeyPath is absent
                          (neither: a new ephemeral identity at every start)
  Peers                   ["tcp://host:port", "ws://host:port"]  (tls:// quic:// unix:// socks:// refused)
  Listen                  ["tcp://0.0.0.0:9001"]
  AllowedPublicKeys       keys allowed to peer with us (empty: anyone)
  api_port                HTTP API port (default 9002; 0 = any free port)
  bridge_addr             HTTP API address (default 127.0.0.1; IPv6 literals allowed)
  tcp_port                overlay stream port (default 7000; must match across nodes)
  router_addr/router_port inbound MCP -> POST {router_addr}:{router_port}/route (AXL's mcp_router.py)
  a2a_addr/a2a_port       inbound A2A -> {a2a_addr}:{a2a_port} (AXL's a2a_server.py; a2a_port honoured)
  max_message_size        bytes (default 16777216)
  max_concurrent_conns    inbound streams at once (default 128)
  conn_read_timeout_secs  default 60 (0 = none)
  conn_idle_timeout_secs  default 300 (0 = none)
  recv_overflow           "refuse" (default: the sender's /send gets 503), "drop-oldest" (AXL), "drop-newest"
  recv_queue_size         /recv queue, messages (default 100)
  recv_queue_bytes        /recv queue, bytes (default 67108864)
  inbox_dir               durable inbox: journal accepted messages here (relative to the config); a node killed
                          and restarted still delivers what it acknowledged (default: none, memory only)
  recv_max_wait_secs      longest /recv?wait= long-poll (default 60)
  request_timeout_secs    /send, /mcp, /a2a deadline (default 30)
  topology_root_parent    "empty" (default) or "self" (AXL)
  api_allowed_hosts       extra Host header values accepted ("*": any)
  api_allowed_origins     browser origins allowed (default none)
  mcp_sessions_max        MCP sessions remembered (default 1024)
  mcp_session_ttl_secs    idle MCP session lifetime (default 3600)
  mcp_services            in-process MCP services: {"name": {"command": ..., "args": [...]} | {"url": ...} | "http://..."}
  a2a                     in-process A2A agent: true or {"name", "description", "version", "skills", "card_url"}

Endpoints: GET /topology, POST /send, GET|POST /recv[?wait=secs], POST|DELETE /mcp/{peer}/{service},
GET|POST /a2a/{peer}. See packages/bridge/README.md for the full reference.

Signals: SIGINT/SIGTERM stop the node cleanly (a second one exits at once).
Exit status: 0 after a clean stop, 1 on a config or startup error, 2 on a bad command line.
`

/** Parse argv (without node and script). Throws UsageError. */
export function parseArgs (argv: string[]): CliArgs {
  const out: CliArgs = { config: 'node-config.json', listen: [], help: false }
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    if (a === '--' ) { if (i + 1 < argv.length) throw new UsageError(`unexpected argument ${JSON.stringify(argv[i + 1])}`); break }
    const m = /^--?([A-Za-z][\w-]*)(?:=(.*))?$/s.exec(a)
    if (m === null) throw new UsageError(`unexpected argument ${JSON.stringify(a)}`)
    const name = m[1]
    let value = m[2]
    if (name === 'help' || name === 'h') {
      if (value !== undefined && !['true', '1'].includes(value)) continue
      out.help = true
      continue
    }
    if (name !== 'config' && name !== 'listen') throw new UsageError(`flag provided but not defined: -${name}`)
    if (value === undefined) {
      if (i + 1 >= argv.length) throw new UsageError(`flag needs an argument: -${name}`)
      value = argv[++i]
    }
    if (name === 'config') out.config = value
    else out.listen.push(value)
  }
  return out
}
