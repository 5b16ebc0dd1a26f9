/**
 * Child processes speaking JSON lines, for multi-process tests: spawn a TypeScript fixture with tsx,
 * wait for events with deadlines, send commands, and always clean up.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('../../../../', import.meta.url))

/** A JSON-lines child process. */
export class Proc {
  readonly child: ChildProcess
  readonly events: Array<Record<string, unknown>> = []
  private waiters: Array<{ match: (e: Record<string, unknown>) => boolean, resolve: (e: Record<string, unknown>) => void }> = []
  private stderr = ''
  private exited: Promise<number | null>

  /** `opts.netns`: run the child inside that network namespace (`ip netns exec`; needs root). */
  constructor (readonly name: string, script: string, args: string[], opts: { netns?: string } = {}) {
    const argv = [process.execPath, '--conditions=axl-source', '--import', 'tsx', script, ...args]
    const [cmd, ...rest] = opts.netns === undefined ? argv : ['ip', 'netns', 'exec', opts.netns, ...argv]
    this.child = spawn(cmd!, rest, { cwd: root, stdio: ['pipe', 'pipe', 'pipe'] })
    this.child.stderr!.on('data', (d: Buffer) => { this.stderr = (this.stderr + d.toString()).slice(-8192) })
    // A command written as the child dies (kill -9 in chaos tests) fails with EPIPE: note it, the waits report it.
    this.child.stdin!.on('error', (e: Error) => { this.stderr = (this.stderr + `\n[stdin] ${e.message}`).slice(-8192) })
    createInterface({ input: this.child.stdout! }).on('line', line => {
      let e: Record<string, unknown>
      try { e = JSON.parse(line) as Record<string, unknown> } catch { return }
      this.events.push(e)
      for (const w of [...this.waiters]) {
        if (w.match(e)) { this.waiters = this.waiters.filter(x => x !== w); w.resolve(e) }
      }
    })
    this.exited = new Promise(resolve => this.child.once('exit', code => { resolve(code) }))
  }

  /** Wait for the first event (past or future) matching `match`, failing after `timeoutMs` with the child's stderr. */
  async waitFor (match: (e: Record<string, unknown>) => boolean, timeoutMs: number, what: string): Promise<Record<string, unknown>> {
    const past = this.events.find(match)
    if (past !== undefined) return past
    return await new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter(w => w.resolve !== done)
        reject(new Error(`${this.name}: timed out after ${timeoutMs} ms waiting for ${what}\nstderr: ${this.stderr}`))
      }, timeoutMs)
      const done = (e: Record<string, unknown>): void => { clearTimeout(timer); resolve(e) }
      this.waiters.push({ match, resolve: done })
      void this.exited.then(code => {
        clearTimeout(timer)
        reject(new Error(`${this.name} exited (code ${code}) while waiting for ${what}\nstderr: ${this.stderr}`))
      })
    })
  }

  /** Send one command line. */
  send (cmd: Record<string, unknown>): void { this.child.stdin!.write(JSON.stringify(cmd) + '\n') }

  /** Ask the child to exit; kill it if it has not within `timeoutMs`. */
  async stop (timeoutMs = 5000): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return
    this.child.stdin!.end()
    const timer = setTimeout(() => { this.child.kill('SIGKILL') }, timeoutMs)
    await this.exited
    clearTimeout(timer)
  }

  /** Kill at once (a crash). */
  async kill (): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return
    this.child.kill('SIGKILL')
    await this.exited
  }
}
