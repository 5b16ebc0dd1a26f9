/**
 * Test helper: a network namespace with a TUN device whose packets are relayed to a TcpStack in this process
 * (through tun_relay.py), and kernel-side socket programs (tun_kernel_peer.py) run inside the namespace.
 * Only the namespace this helper creates is touched; stop() deletes it.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { dirname, join } from 'node:path'

const here = dirname(fileURLToPath(import.meta.url))
const RELAY = join(here, 'tun_relay.py')
const PEER = join(here, 'tun_kernel_peer.py')

/** Why the kernel interop test cannot run here, or undefined when it can. */
export function tunUnavailableReason (): string | undefined {
  if (process.platform !== 'linux') return `not Linux (${process.platform})`
  if (process.getuid?.() !== 0) return `not root (uid ${process.getuid?.()}): creating a network namespace and a TUN device needs CAP_NET_ADMIN`
  if (!existsSync('/dev/net/tun')) {
    spawnSync('modprobe', ['tun'], { stdio: 'ignore' })
    if (!existsSync('/dev/net/tun')) return '/dev/net/tun is missing (modprobe tun failed)'
  }
  const ip = spawnSync('ip', ['-V'], { encoding: 'utf8' })
  if (ip.error !== undefined || ip.status !== 0) return 'the `ip` command (iproute2) is missing'
  const py = pythonPath()
  if (py === undefined) return 'python3 is missing'
  return undefined
}

let python: string | undefined | null = null
/** The real python3 executable (pyenv shims resolved), or undefined. */
export function pythonPath (): string | undefined {
  if (python !== null) return python
  const r = spawnSync('python3', ['-c', 'import sys; print(sys.executable)'], { encoding: 'utf8' })
  python = r.status === 0 && r.stdout.trim() !== '' ? r.stdout.trim() : undefined
  return python
}

/** Rejects with a clear message when `p` does not settle within `ms`. */
export async function within<T> (p: Promise<T>, ms: number, what: string): Promise<T> {
  let t: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_resolve, reject) => { t = setTimeout(() => { reject(new Error(`timed out after ${ms} ms waiting for ${what}`)) }, ms) })
  try { return await Promise.race([p, timeout]) } finally { clearTimeout(t) }
}

/** A kernel-side program: JSON events from its stdout. */
export class KernelPeer {
  readonly proc: ChildProcess
  private readonly events: Array<Record<string, unknown>> = []
  private waiter: (() => void) | undefined
  private exited = false
  stderr = ''

  constructor (ns: string, args: string[]) {
    this.proc = spawn('ip', ['netns', 'exec', ns, pythonPath()!, PEER, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
    let buf = ''
    this.proc.stdout!.setEncoding('utf8').on('data', (d: string) => {
      buf += d
      let i
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i)
        buf = buf.slice(i + 1)
        try { this.events.push(JSON.parse(line)) } catch { this.stderr += `bad line: ${line}\n` }
        this.waiter?.()
      }
    })
    this.proc.stderr!.setEncoding('utf8').on('data', (d: string) => { this.stderr += d })
    this.proc.on('exit', () => { this.exited = true; this.waiter?.() })
  }

  /** Waits for the event named `name` (bounded by `ms`). */
  async event (name: string, ms: number): Promise<Record<string, unknown>> {
    return await within(new Promise((resolve, reject) => {
      const check = (): void => {
        const e = this.events.find((x) => x.event === name)
        if (e !== undefined) { this.waiter = undefined; resolve(e); return }
        if (this.exited) { this.waiter = undefined; reject(new Error(`kernel peer exited without '${name}': ${this.stderr}`)) }
      }
      this.waiter = check
      check()
    }), ms, `kernel peer event '${name}' (stderr: ${this.stderr})`)
  }

  /** Kills the program if still running. */
  kill (): void { if (!this.exited) this.proc.kill('SIGKILL') }
}

/** The namespace, the TUN relay and the framing between the relay and a packet sink. */
export class TunNamespace {
  readonly ns = `axl-tcp-${process.pid}`
  readonly ifname = 'axltun0'
  private relay: ChildProcess | undefined
  private pending: Buffer | undefined
  /** Called with each IPv6 packet the kernel sends to the TUN device. */
  onPacket: (pkt: Uint8Array) => void = () => {}
  packetsIn = 0
  packetsOut = 0
  relayStderr = ''

  /** Creates the namespace and starts the relay; resolves when the device is up. */
  async start (kernelAddr: string, mtu: number): Promise<void> {
    spawnSync('ip', ['netns', 'del', this.ns], { stdio: 'ignore' }) // leftovers of a crashed run
    const r = spawnSync('ip', ['netns', 'add', this.ns], { encoding: 'utf8' })
    if (r.status !== 0) throw new Error(`ip netns add ${this.ns} failed: ${r.stderr}`)
    const relay = spawn('ip', ['netns', 'exec', this.ns, pythonPath()!, RELAY, this.ifname, kernelAddr, String(mtu)], { stdio: ['pipe', 'pipe', 'pipe'] })
    this.relay = relay
    relay.stdout!.on('data', (chunk: Buffer) => { this.onChunk(chunk) })
    relay.stdin!.on('error', () => {})
    await within(new Promise<void>((resolve, reject) => {
      relay.stderr!.setEncoding('utf8').on('data', (d: string) => {
        this.relayStderr += d
        if (this.relayStderr.includes('READY')) resolve()
      })
      relay.on('exit', (code) => { reject(new Error(`tun relay exited (${code}): ${this.relayStderr}`)) })
    }), 10_000, 'the TUN relay to come up')
  }

  /** Sends one IPv6 packet into the kernel through the TUN device. */
  send (pkt: Uint8Array): void {
    const relay = this.relay
    if (relay === undefined || relay.stdin === null || relay.stdin.destroyed) return
    const hdr = Buffer.allocUnsafe(4)
    hdr.writeUInt32BE(pkt.length, 0)
    relay.stdin.write(hdr)
    relay.stdin.write(pkt)
    this.packetsOut++
  }

  /** Runs a kernel-side program in the namespace. */
  peer (args: string[]): KernelPeer { return new KernelPeer(this.ns, args) }

  /** Stops the relay and deletes the namespace (idempotent, never throws). */
  stop (): void {
    try { this.relay?.stdin?.end() } catch {}
    try { this.relay?.kill('SIGKILL') } catch {}
    this.relay = undefined
    spawnSync('ip', ['netns', 'del', this.ns], { stdio: 'ignore' })
  }

  private onChunk (chunk: Buffer): void {
    let buf = this.pending === undefined ? chunk : Buffer.concat([this.pending, chunk])
    let off = 0
    while (buf.length - off >= 4) {
      const n = buf.readUInt32BE(off)
      if (buf.length - off - 4 < n) break
      const pkt = buf.subarray(off + 4, off + 4 + n)
      off += 4 + n
      this.packetsIn++
      this.onPacket(pkt)
    }
    this.pending = off === buf.length ? undefined : buf.subarray(off)
    buf = Buffer.alloc(0)
  }
}
