/**
 * A real yggdrasil-go v0.5.12 node as a relay for the throughput bench: `.tools/bin/ygg-go-peer` (built by
 * scripts/install-go-peers.sh), listening on tcp:// on loopback, no TUN, no admin socket. Its stdin is a pipe:
 * the node exits when this process does (-stdin-eof).
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'

/** A running Go relay. */
export interface GoRelay {
  /** Its bound tcp:// listen URI. */
  uri: string
  /** Its public key, hex. */
  key: string
  child: ChildProcess
  /** Terminate it and remove its temp dir. */
  stop: () => Promise<void>
}

/** The harness binary, or a reason it is missing. */
export function goRelayBinary (root: string): { bin: string } | { reason: string } {
  const bin = join(root, '.tools', 'bin', 'ygg-go-peer')
  return existsSync(bin) ? { bin } : { reason: `${bin} is not built (run scripts/install-go-peers.sh; needs Go)` }
}

/** Start the Go relay; resolves once it printed its ready line (rejects on exit or after 20 s). */
export async function startGoRelay (bin: string): Promise<GoRelay> {
  const dir = await mkdtemp(join(tmpdir(), 'axl-bench-go-'))
  const config = join(dir, 'node.json')
  await writeFile(config, JSON.stringify({ Listen: ['tcp://127.0.0.1:0'], Peers: [], AdminListen: 'none', IfName: 'none', MulticastInterfaces: [] }))
  const child = spawn(bin, ['-config', config, '-stdin-eof', '-loglevel', 'error'], { stdio: ['pipe', 'pipe', 'inherit'] })
  const ready = await new Promise<{ listen: string[], public_key: string }>((resolve, reject) => {
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error('the Go relay did not start within 20 s')) }, 20_000)
    child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`the Go relay exited with ${code} before it was ready`)) })
    createInterface({ input: child.stdout! }).once('line', (line) => { clearTimeout(timer); resolve(JSON.parse(line)) })
  })
  return {
    uri: ready.listen[0],
    key: ready.public_key,
    child,
    stop: async () => {
      if (child.exitCode === null) {
        const exited = new Promise(resolve => child.once('exit', resolve))
        child.kill('SIGTERM')
        await exited
      }
      await rm(dir, { recursive: true, force: true })
    }
  }
}
