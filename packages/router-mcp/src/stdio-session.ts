/**
 * A stdio MCP server process owned by one MCP session (`{ command, perSession: true }`): spawned when the
 * session opens, NDJSON both ways with nothing rewritten (the client initializes it itself), stdout read no
 * faster than the mesh takes it, killed (SIGTERM, then SIGKILL) when the session ends; its exit ends the
 * session.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import type { BackendSession, SessionSink } from './backend.js'
import { unavailable } from './errors.js'
import { LineSplitter } from './lines.js'
import { track, untrack } from './child-reaper.js'
import type { StdioServerSpec } from './stdio-spec.js'

const STDERR_TAIL = 2048

/** One session's child process. */
export class StdioSession implements BackendSession {
  /** Resolves when the process is gone. */
  readonly ended: Promise<void>
  private closing = false
  private stderrTail = ''

  private constructor (private readonly child: ChildProcess, private readonly spec: StdioServerSpec, ended: Promise<void>) {
    this.ended = ended
  }

  /** The process id. */
  get pid (): number | undefined { return this.child.pid }

  /** Spawn the process; resolves once it runs (rejects if it cannot be started within startTimeoutMs). */
  static async spawn (spec: StdioServerSpec, service: string, maxLineBytes: number, sink: SessionSink): Promise<StdioSession> {
    const env = spec.inheritEnv === false ? { ...spec.env } : { ...process.env, ...spec.env }
    const stderrMode = spec.stderr ?? 'tail'
    const child = spawn(spec.command, spec.args ?? [], { cwd: spec.cwd, env, stdio: ['pipe', 'pipe', stderrMode === 'tail' ? 'pipe' : stderrMode], windowsHide: true })
    track(child)
    let endedResolve!: () => void
    const s = new StdioSession(child, spec, new Promise<void>(resolve => { endedResolve = resolve }))
    child.stderr?.setEncoding('utf8')
    child.stderr?.on('data', (t: string) => { s.stderrTail = (s.stderrTail + t).slice(-STDERR_TAIL) })
    child.stdin?.on('error', (err: Error) => { if (!s.closing) sink.close(`the stdio server of "${service}" stopped reading: ${err.message}`) })
    const lines = new LineSplitter(maxLineBytes, line => {
      let msg: unknown
      try { msg = JSON.parse(line) } catch { return } // not JSON-RPC: a stray log line on stdout, skipped
      if (msg === null || typeof msg !== 'object' || Array.isArray(msg)) return
      const p = sink.message(msg as Record<string, unknown>)
      if (p !== undefined) {
        // Backpressure: stop reading the child until the frame left.
        child.stdout?.pause()
        void p.then(() => { child.stdout?.resume() })
      }
    }, bytes => {
      s.stderrTail += `\n[router] stdout line of ${bytes}+ bytes exceeds the limit; killing the server`
      child.kill('SIGKILL')
    })
    child.stdout?.on('data', (chunk: Buffer) => { lines.push(chunk) })
    const started = new Promise<void>((resolve, reject) => {
      child.once('spawn', resolve)
      child.once('error', err => { if (child.pid === undefined) reject(unavailable(`the stdio server of "${service}" could not be started: ${err.message}`, err)) })
    })
    child.once('exit', (code, sig) => {
      untrack(child)
      endedResolve()
      if (!s.closing) {
        const tail = s.stderrTail.trim()
        sink.close(`the stdio server of "${service}" exited (code ${code}, signal ${sig})${tail === '' ? '' : `; stderr: ${tail.slice(-300)}`}`)
      }
    })
    let timer: NodeJS.Timeout | undefined
    const deadline = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => { reject(unavailable(`the stdio server of "${service}" did not start within ${spec.startTimeoutMs ?? 10_000} ms`)) }, spec.startTimeoutMs ?? 10_000)
    })
    try {
      await Promise.race([started, deadline])
    } catch (err) {
      s.closing = true
      child.kill('SIGKILL')
      throw err
    } finally { clearTimeout(timer) }
    return s
  }

  send (m: Record<string, unknown>): void {
    const stdin = this.child.stdin
    if (this.closing || stdin === null || !stdin.writable) throw unavailable('the session\'s stdio server is not accepting input')
    stdin.write(JSON.stringify(m) + '\n')
  }

  /** End the process: EOF on stdin and SIGTERM, SIGKILL after stopTimeoutMs; resolves once it is gone (bounded). */
  async close (): Promise<void> {
    if (this.closing) { await this.ended; return }
    this.closing = true
    this.child.stdin?.end()
    this.child.kill('SIGTERM')
    const grace = this.spec.stopTimeoutMs ?? 2000
    const gone = await Promise.race([this.ended.then(() => true), sleep(grace).then(() => false)])
    if (!gone) {
      this.child.kill('SIGKILL')
      await Promise.race([this.ended, sleep(2000)])
    }
  }
}

async function sleep (ms: number): Promise<void> {
  await new Promise<void>(resolve => { setTimeout(resolve, ms).unref() })
}
