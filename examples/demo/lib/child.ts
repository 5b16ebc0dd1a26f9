/**
 * main.ts's handle on one demo process: spawned with tsx, events read as JSON lines, every wait bounded by a
 * deadline, stderr kept for error reports, and a stop that always ends with the process gone.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('../../../', import.meta.url))

export type Event = Record<string, unknown> & { event: string }

export class Child {
  readonly process: ChildProcess
  readonly exited: Promise<number | null>
  private readonly events: Event[] = []
  private readonly waiters = new Set<() => void>()
  private stderrTail = ''
  private exitCode: number | null | undefined

  constructor (readonly name: string, script: string, args: string[]) {
    this.process = spawn(process.execPath, ['--conditions=axl-source', '--import', 'tsx', fileURLToPath(new URL(`../${script}`, import.meta.url)), ...args], {
      cwd: root, stdio: ['pipe', 'pipe', 'pipe']
    })
    this.process.stderr!.on('data', (d: Buffer) => { this.stderrTail = (this.stderrTail + d.toString()).slice(-4000) })
    this.process.stdin!.on('error', () => {}) // the process may be gone when we write or close
    createInterface({ input: this.process.stdout! }).on('line', line => {
      try { this.events.push(JSON.parse(line) as Event) } catch { return }
      for (const w of this.waiters) w()
    })
    this.exited = new Promise(resolve => {
      this.process.once('exit', code => {
        this.exitCode = code
        for (const w of this.waiters) w()
        resolve(code)
      })
    })
  }

  get pid (): number { return this.process.pid ?? -1 }

  /** The first event (past or future) matching `match` and not yet taken; fails after `timeoutMs` or if the process exits. */
  async next (match: (e: Event) => boolean, timeoutMs: number, what: string): Promise<Event> {
    return await new Promise((resolve, reject) => {
      const check = (): void => {
        const i = this.events.findIndex(match)
        if (i >= 0) { done(); resolve(this.events.splice(i, 1)[0]); return }
        if (this.exitCode !== undefined) { done(); reject(new Error(`${this.name} exited (code ${this.exitCode}) while we waited for ${what}${this.stderr()}`)) }
      }
      const timer = setTimeout(() => { done(); reject(new Error(`${this.name}: no ${what} within ${timeoutMs} ms${this.stderr()}`)) }, timeoutMs)
      const done = (): void => { clearTimeout(timer); this.waiters.delete(check) }
      this.waiters.add(check)
      check()
    })
  }

  /** Send a command and wait (bounded) for its answer: the `done` fields, or an Error from `failed`. */
  async ask (cmd: string, fields: Record<string, unknown> = {}, timeoutMs = 15_000): Promise<Event> {
    this.process.stdin!.write(JSON.stringify({ cmd, ...fields }) + '\n')
    const r = await this.next(e => (e.event === 'done' || e.event === 'failed') && e.cmd === cmd, timeoutMs, `an answer to "${cmd}"`)
    if (r.event === 'failed') throw new Error(`${this.name}: ${cmd} failed: ${String(r.error)}`)
    return r
  }

  /** Ask the process to stop (EOF on stdin); SIGKILL it if it has not exited within `graceMs`. Resolves to its exit code. */
  async stop (graceMs = 5000): Promise<number | null> {
    if (this.exitCode === undefined) {
      this.process.stdin!.end()
      const timer = setTimeout(() => { this.process.kill('SIGKILL') }, graceMs)
      await this.exited
      clearTimeout(timer)
    }
    return await this.exited
  }

  /** Kill at once (used when the demo fails). */
  kill (): void { if (this.exitCode === undefined) this.process.kill('SIGKILL') }

  private stderr (): string { return this.stderrTail === '' ? '' : `\n--- ${this.name} stderr ---\n${this.stderrTail}` }
}
