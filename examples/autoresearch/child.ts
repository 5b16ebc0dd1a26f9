/**
 * The launcher's handle on one process (relay or agent): spawned with tsx, events read as JSON lines and
 * passed to a listener, every wait bounded by a deadline, stderr kept for error reports, and a stop that
 * always ends with the process gone.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('../../', import.meta.url))

/** One JSON line of a child. */
export type ChildEvent = Record<string, unknown> & { event: string }

/** A relay or agent process. */
export class Child {
  readonly process: ChildProcess
  readonly exited: Promise<number | null>
  private readonly listeners = new Set<(e: ChildEvent) => void>()
  private stderrTail = ''
  private exitCode: number | null | undefined

  /**
   * Spawn `script` with `args`: a `.ts` file of this folder runs through tsx, an absolute `.mjs` path (a bundle,
   * see build.ts) runs with plain node and `env`. `onEvent` sees every event line.
   */
  constructor (readonly name: string, script: string, args: string[], onEvent?: (e: ChildEvent) => void, env?: NodeJS.ProcessEnv) {
    const argv = script.endsWith('.mjs')
      ? [script, ...args]
      : ['--conditions=axl-source', '--import', 'tsx', fileURLToPath(new URL(`./${script}`, import.meta.url)), ...args]
    this.process = spawn(process.execPath, argv, { cwd: root, stdio: ['pipe', 'pipe', 'pipe'], env: env ?? process.env })
    if (onEvent !== undefined) this.listeners.add(onEvent)
    this.process.stderr!.on('data', (d: Buffer) => { this.stderrTail = (this.stderrTail + d.toString()).slice(-4000) })
    this.process.stdin!.on('error', (err) => { this.stderrTail += `\n(stdin: ${err.message})` }) // the process may be gone
    createInterface({ input: this.process.stdout! }).on('line', line => {
      let e: ChildEvent
      try { e = JSON.parse(line) as ChildEvent } catch { this.stderrTail = (this.stderrTail + `\n(stdout) ${line}`).slice(-4000); return }
      for (const l of this.listeners) l(e)
    })
    this.exited = new Promise(resolve => {
      this.process.once('exit', code => {
        this.exitCode = code
        for (const l of this.listeners) l({ event: 'exit', code })
        resolve(code)
      })
    })
  }

  get pid (): number { return this.process.pid ?? -1 }
  get running (): boolean { return this.exitCode === undefined }

  /** The next event matching `match`; rejects after `timeoutMs` or if the process exits first. */
  async next (match: (e: ChildEvent) => boolean, timeoutMs: number, what: string): Promise<ChildEvent> {
    return await new Promise((resolve, reject) => {
      const timer = setTimeout(() => { done(); reject(new Error(`${this.name}: no ${what} within ${timeoutMs} ms${this.stderr()}`)) }, timeoutMs)
      const check = (e: ChildEvent): void => {
        if (match(e)) { done(); resolve(e) } else if (e.event === 'exit') { done(); reject(new Error(`${this.name} exited (code ${String(e.code)}) while we waited for ${what}${this.stderr()}`)) }
      }
      const done = (): void => { clearTimeout(timer); this.listeners.delete(check) }
      if (!this.running) { done(); reject(new Error(`${this.name} has exited${this.stderr()}`)); return }
      this.listeners.add(check)
    })
  }

  /** Write one command line to the process. */
  command (cmd: string, fields: Record<string, unknown> = {}): void {
    if (this.running) this.process.stdin!.write(JSON.stringify({ cmd, ...fields }) + '\n')
  }

  /** Close its stdin (it stops) and SIGKILL it if it has not exited within `graceMs` (default 5 s). */
  async stop (graceMs = 5000): Promise<number | null> {
    if (this.running) {
      this.process.stdin!.end()
      const timer = setTimeout(() => { this.process.kill('SIGKILL') }, graceMs)
      await this.exited
      clearTimeout(timer)
    }
    return await this.exited
  }

  /** Kill at once. */
  kill (): void { if (this.running) this.process.kill('SIGKILL') }

  /** The last lines of its stderr, for error messages. */
  stderr (): string { return this.stderrTail === '' ? '' : `\n--- ${this.name} stderr ---\n${this.stderrTail}` }
}
