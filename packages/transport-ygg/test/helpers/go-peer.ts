/**
 * Real yggdrasil-go nodes for interop tests: `.tools/bin/ygg-go-peer` (tools/ygg-go-peer, our harness around
 * the yggdrasil-go v0.5.12 library, built by scripts/install-go-peers.sh) run as child processes, each from
 * a NodeConfig in its own temp dir, with a unix admin socket driven through the binary's `-ctl` mode.
 * Every started peer is SIGKILLed if the test worker exits first, and stops by itself when the worker is killed
 * (its stdin pipe closes), so no orphans are left.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { createPrivateKey, createPublicKey } from 'node:crypto'
import { accessSync, constants, rmSync } from 'node:fs'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { ed25519PrivateKeyDer } from '@axl/core/wire'

const root = fileURLToPath(new URL('../../../../', import.meta.url))
const BINARY = join(root, '.tools', 'bin', 'ygg-go-peer')
const STDERR_KEEP = 64 * 1024

/** Path of the built ygg-go-peer binary, or undefined when it has not been built. */
export function goPeerBinary (): string | undefined {
  try {
    accessSync(BINARY, constants.X_OK)
    return BINARY
  } catch {
    return undefined // not built (or not executable): callers skip with goPeerSkipReason()
  }
}

/** Why Go interop tests cannot run here, or undefined when they can. */
export function goPeerSkipReason (): string | undefined {
  if (goPeerBinary() === undefined) return `ygg-go-peer not built (${BINARY}): run scripts/install-go-peers.sh (needs Go)`
  return undefined
}

/** Options of startGoPeer(); fields map to yggdrasil's NodeConfig. */
export interface GoPeerOptions {
  /** 64-byte ed25519 private key in hex (seed || public key); a fresh key when omitted. */
  privateKeyHex?: string
  /** Outbound peer URIs (NodeConfig.Peers). */
  peers?: string[]
  /** Listen URIs (port 0 allowed); the bound ones are in GoPeer.listen. */
  listen?: string[]
  /** Keys allowed to peer inbound (hex); empty = everyone. */
  allowedPublicKeys?: string[]
  /** TUN interface name; 'none' (default) runs without a TUN device. */
  ifName?: string
  /** TUN MTU. */
  ifMtu?: number
  /** Start the admin socket (a unix socket in the temp dir); default true. ctl() needs it. */
  admin?: boolean
  /** Echo every session datagram back to its sender (needs ifName 'none'). */
  echo?: boolean
  /** Run inside this network namespace (`ip netns exec <ns>`). */
  netns?: string
  /** Extra environment for the child. */
  env?: NodeJS.ProcessEnv
  /** Aborting rejects a pending start, or stops a started peer. */
  signal?: AbortSignal
  /** Deadline for the ready line (default 15000 ms). */
  timeoutMs?: number
  /** ygg-go-peer -loglevel (default info). */
  logLevel?: 'error' | 'warn' | 'info' | 'debug' | 'trace'
}

/** The ready line ygg-go-peer prints on stdout. */
interface ReadyLine {
  ready: true
  public_key: string
  address: string
  subnet: string
  listen: string[]
  admin: string
  tun: string
}

/** A running yggdrasil-go node. */
export interface GoPeer {
  /** Its ed25519 public key, 64 lowercase hex chars. */
  readonly publicKey: string
  /** Its 200::/7 address and /64 subnet. */
  readonly address: string
  readonly subnet: string
  /** Bound listen URIs, e.g. tcp://127.0.0.1:34567. */
  readonly listen: string[]
  /** The admin endpoint ('' without admin) and TUN interface name ('' without TUN). */
  readonly admin: string
  readonly tun: string
  readonly proc: ChildProcess
  /** The child's stderr so far (the last 64 KiB): the yggdrasil-go log. */
  stderr: () => string
  /** One admin request (getSelf, getPeers, getTree, getPaths, getSessions, ...); resolves to its `response`. */
  ctl: (request: string, args?: Record<string, string>) => Promise<any>
  /** SIGTERM, wait for exit (SIGKILL after 5 s), remove the temp dir. Idempotent. */
  stop: () => Promise<void>
}

// -- last-resort cleanup: peers still alive when the worker exits are SIGKILLed, their temp dirs removed --
const started = new Set<{ proc: ChildProcess, dir: string }>()
let exitHookInstalled = false
function track (entry: { proc: ChildProcess, dir: string }): void {
  started.add(entry)
  if (exitHookInstalled) return
  exitHookInstalled = true
  process.once('exit', () => {
    for (const { proc, dir } of started) {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL')
      rmSync(dir, { recursive: true, force: true })
    }
  })
}

/** Throws unless `hex` is a 64-byte ed25519 private key (seed || public key) whose halves match. */
function checkPrivateKey (hex: string): void {
  if (!/^[0-9a-f]{128}$/i.test(hex)) throw new Error('privateKeyHex must be 128 hex chars (a 64-byte ed25519 private key: seed || public key)')
  const seed = Buffer.from(hex.slice(0, 64), 'hex')
  const key = createPrivateKey({ key: ed25519PrivateKeyDer(seed), format: 'der', type: 'pkcs8' })
  const pub = createPublicKey(key).export({ format: 'der', type: 'spki' }).subarray(-32).toString('hex')
  if (pub !== hex.slice(64).toLowerCase()) throw new Error(`privateKeyHex: its second half is not the public key of its seed (expected ${pub})`)
}

/** Start a yggdrasil-go node and resolve once it printed its ready line (rejects with its stderr on exit/timeout). */
export async function startGoPeer (opts: GoPeerOptions = {}): Promise<GoPeer> {
  const bin = goPeerBinary()
  if (bin === undefined) throw new Error(goPeerSkipReason())
  if (opts.privateKeyHex !== undefined) checkPrivateKey(opts.privateKeyHex)
  opts.signal?.throwIfAborted()
  const timeoutMs = opts.timeoutMs ?? 15_000
  const dir = await mkdtemp(join(tmpdir(), 'ygg-go-peer-'))
  const adminEndpoint = opts.admin === false ? 'none' : `unix://${join(dir, 'admin.sock')}`
  const config: Record<string, unknown> = {
    Peers: opts.peers ?? [],
    Listen: opts.listen ?? [],
    AllowedPublicKeys: opts.allowedPublicKeys ?? [],
    AdminListen: adminEndpoint,
    IfName: opts.ifName ?? 'none',
    MulticastInterfaces: []
  }
  if (opts.privateKeyHex !== undefined) config.PrivateKey = opts.privateKeyHex.toLowerCase()
  if (opts.ifMtu !== undefined) config.IfMTU = opts.ifMtu
  const configPath = join(dir, 'config.json')
  await writeFile(configPath, JSON.stringify(config, null, 2))

  // -stdin-eof: the node also stops when our end of its stdin closes, i.e. when this worker dies, even by SIGKILL.
  const args = ['-config', configPath, '-stdin-eof', '-loglevel', opts.logLevel ?? 'info']
  if (opts.echo === true) args.push('-echo')
  const [cmd, argv] = opts.netns !== undefined ? ['ip', ['netns', 'exec', opts.netns, bin, ...args]] : [bin, args]
  const proc = spawn(cmd, argv, { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, ...opts.env } })
  const entry = { proc, dir }
  track(entry)
  let err = ''
  proc.stderr!.setEncoding('utf8').on('data', (d: string) => { err = (err + d).slice(-STDERR_KEEP) })
  const exited = new Promise<void>(resolve => {
    proc.once('exit', () => { resolve() })
    proc.once('error', (e) => { err += `\nspawn error: ${e.message}`; resolve() })
  })

  let stopping: Promise<void> | undefined
  const stop = async (): Promise<void> => {
    stopping ??= (async () => {
      if (proc.exitCode === null && proc.signalCode === null) {
        proc.kill('SIGTERM')
        const killer = setTimeout(() => { proc.kill('SIGKILL') }, 5000)
        await exited
        clearTimeout(killer)
      }
      started.delete(entry)
      await rm(dir, { recursive: true, force: true })
    })()
    await stopping
  }

  let ready: ReadyLine
  try {
    ready = await new Promise<ReadyLine>((resolve, reject) => {
      const fail = (why: string): void => { reject(new Error(`ygg-go-peer ${why}\nstderr:\n${err}`)) }
      const timer = setTimeout(() => { fail(`printed no ready line within ${timeoutMs} ms`) }, timeoutMs)
      const onAbort = (): void => { settle(); fail('start aborted') }
      const settle = (): void => { clearTimeout(timer); opts.signal?.removeEventListener('abort', onAbort) }
      if (opts.signal?.aborted === true) { onAbort(); return }
      opts.signal?.addEventListener('abort', onAbort, { once: true })
      createInterface({ input: proc.stdout! }).on('line', line => {
        let msg: Partial<ReadyLine>
        try { msg = JSON.parse(line) as Partial<ReadyLine> } catch { err += `\n[stdout, not JSON] ${line}`; return }
        if (msg.ready === true) { settle(); resolve(msg as ReadyLine) }
      })
      void exited.then(() => { settle(); fail(`exited (code ${proc.exitCode}, signal ${proc.signalCode}) before it was ready`) })
    })
  } catch (e) {
    await stop()
    throw e
  }
  if (opts.signal?.aborted === true) {
    await stop()
    throw new Error('ygg-go-peer start aborted')
  }
  opts.signal?.addEventListener('abort', () => { void stop() }, { once: true })

  const ctl = async (request: string, ctlArgs: Record<string, string> = {}): Promise<any> => {
    if (ready.admin === '') throw new Error('ygg-go-peer: started with admin: false, no admin socket for ctl()')
    const argv = ['-ctl', ready.admin, request, ...Object.entries(ctlArgs).map(([k, v]) => `${k}=${v}`)]
    const stdout = await new Promise<string>((resolve, reject) => {
      execFile(bin, argv, { timeout: 10_000 }, (e, stdout, stderr) => {
        // A status "error" reply exits 1 but still prints its envelope: parse that below.
        if (e !== null && stdout.trim() === '') reject(new Error(`ygg-go-peer -ctl ${request}: ${e.message}\n${stderr}`))
        else resolve(stdout)
      })
    })
    const reply = JSON.parse(stdout) as { status: string, error?: string, response: unknown }
    if (reply.status !== 'success') throw new Error(`admin ${request}: ${reply.error ?? reply.status}`)
    return reply.response
  }

  return {
    publicKey: ready.public_key,
    address: ready.address,
    subnet: ready.subnet,
    listen: ready.listen,
    admin: ready.admin,
    tun: ready.tun,
    proc,
    stderr: () => err,
    ctl,
    stop
  }
}
