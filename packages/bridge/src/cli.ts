/** The axl-node command: `axl-node -config node-config.json [-listen uri]`. Run through bin/axl-node.mjs. */
import { ConfigError, InvalidKeyError } from '@axl/core'
import { UsageError, USAGE, parseArgs } from './cli-args.js'
import { checkLinkUri, loadConfig, type NodeConfig } from './config.js'
import { ConfigFileError } from './errors.js'
import type { RunningNode } from './start.js'
import type { TransportProvider } from './transport.js'

/** Options of main() (tests inject a transport). */
export interface MainOptions {
  /** Transport provider; default: ygg() from @axl/transport-ygg. */
  transport?: TransportProvider
  /** Output for log lines. Default stderr (as Go's log package). */
  write?: (line: string) => void
  /** Stdout for --help. */
  out?: (text: string) => void
}

/** Run the CLI; resolves with the running node (the caller waits for signals), or rejects with an exit code. */
export async function main (argv: string[], opts: MainOptions = {}): Promise<{ running: RunningNode, code?: undefined } | { code: number }> {
  const write = opts.write ?? ((line: string) => { process.stderr.write(line + '\n') })
  const log = (msg: string): void => { write(`[node] ${msg}`) }
  let args
  try {
    args = parseArgs(argv)
  } catch (err) {
    if (!(err instanceof UsageError)) throw err
    write(err.message)
    write(USAGE)
    return { code: 2 }
  }
  if (args.help) { (opts.out ?? ((t: string) => { process.stdout.write(t) }))(USAGE); return { code: 0 } }

  let config: NodeConfig
  try {
    config = await loadConfig(args.config)
    config.listen = [...args.listen.map((u, i) => checkLinkUri(u, `-listen[${i}]`)), ...config.listen]
  } catch (err) {
    if (err instanceof ConfigFileError && err.message.startsWith('read config')) { log(`${err.message}`); return { code: 1 } }
    if (err instanceof ConfigError) { log(`parse config ${args.config}: ${err.message}`); return { code: 1 } }
    throw err
  }
  for (const w of config.warnings) log(`warning: ${w}`)
  // Loaded only now, so --help and config errors answer without loading the node's dependencies.
  const { startNode } = await import('./start.js')
  const { yggTransport } = await import('./transport.js')
  const transport = opts.transport ?? yggTransport

  let running: RunningNode
  try {
    running = await startNode(config, { transport, log })
  } catch (err) {
    if (err instanceof ConfigError || err instanceof InvalidKeyError) { log(`parse config ${args.config}: ${err.message}`); return { code: 1 } }
    const e = err as NodeJS.ErrnoException
    if (e.code === 'EADDRINUSE' || e.code === 'EACCES' || e.code === 'EADDRNOTAVAIL') {
      log(`cannot listen on ${config.bridgeAddr}:${config.apiPort}: ${e.message}`)
      return { code: 1 }
    }
    log(`failed to start: ${e instanceof Error ? e.message : String(e)}`)
    return { code: 1 }
  }
  const { node, bridge } = running
  if (running.identitySource === 'ephemeral') log('No PrivateKeyPath or PrivateKey configured: using an ephemeral identity')
  log(`Our IPv6: ${node.address}`)
  log(`Our Public Key: ${node.peerId}`)
  for (const u of config.listen) log(`Listen: ${u}`)
  for (const u of node.listenAddresses()) if (!config.listen.includes(u)) log(`Listening for links on ${u}`)
  for (const u of config.peers) log(`Peer: ${u}`)
  const l = node.limits
  log(`Limits: max_message_size=${l.maxMessageSize} max_concurrent_conns=${l.maxConcurrentStreams} conn_read_timeout=${l.readTimeoutMs}ms conn_idle_timeout=${l.idleTimeoutMs}ms recv_queue=${l.inboxMaxMessages} (${l.inboxOverflow})`)
  if (config.routerAddr !== '') log(`MCP Router URL: ${config.routerAddr}:${config.routerPort}/route`)
  else if (config.mcpServices.length > 0) log(`MCP services (in-process): ${config.mcpServices.map(s => s.name).join(', ')}`)
  if (config.a2aAddr !== '') log(`A2A Server URL: ${config.a2aAddr}:${config.a2aPort}`)
  else if (config.a2a !== undefined) log('A2A agent: in-process')
  log(`Listening on ${bridge.host.includes(':') ? `[${bridge.host}]` : bridge.host}:${bridge.port}`)
  return { running }
}

/** Entry point: run main(), stop on SIGINT/SIGTERM, exit with its code. */
export async function run (): Promise<void> {
  const r = await main(process.argv.slice(2)).catch((err: unknown) => {
    process.stderr.write(`[node] fatal: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`)
    return { code: 1 }
  })
  if (r.code !== undefined) { process.exitCode = r.code; return }
  const { running } = r
  let stopping = false
  const onSignal = (sig: NodeJS.Signals): void => {
    if (stopping) { process.stderr.write(`[node] ${sig} again: exiting now\n`); process.exit(1) }
    stopping = true
    process.stderr.write(`[node] ${sig} received: shutting down\n`)
    const force = setTimeout(() => { process.stderr.write('[node] shutdown took more than 10 s: exiting\n'); process.exit(1) }, 10_000)
    force.unref()
    running.stop().then(() => {
      process.stderr.write('[node] stopped\n')
      process.exit(0)
    }, (err: unknown) => {
      process.stderr.write(`[node] error while stopping: ${err instanceof Error ? err.message : String(err)}\n`)
      process.exit(1)
    })
  }
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)
}
