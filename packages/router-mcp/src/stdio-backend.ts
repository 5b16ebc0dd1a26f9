/**
 * A local MCP server spoken to over stdio (NDJSON on stdin/stdout), spawned by the router. One process per
 * service, shared by all callers (ids multiplexed). The router initializes it itself before it counts as
 * ready, restarts it on exit with capped exponential backoff, and kills it when the service or node stops
 * (and, as a last resort, when this process exits).
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { withDeadline } from '@axl/core'
import { LATEST_PROTOCOL_VERSION } from '@modelcontextprotocol/sdk/types.js'
import type { Backend, BackendSession, CallContext, ServiceStatus, SessionContext, SessionSink } from './backend.js'
import { StdioSession } from './stdio-session.js'
import type { RestartPolicy, StdioServerSpec } from './stdio-spec.js'
import { JsonRpcChannel } from './channel.js'
import { BackendError, unavailable } from './errors.js'
import { RouterErrorCode } from './error-codes.js'
import type { JsonRpcId, JsonRpcRequest } from './jsonrpc.js'
import { LineSplitter } from './lines.js'
import { track, untrack } from './child-reaper.js'

export type { RestartPolicy, StdioServerSpec } from './stdio-spec.js'

/** True when `v` looks like a StdioServerSpec. */
export function isStdioSpec (v: unknown): v is StdioServerSpec {
  return v !== null && typeof v === 'object' && typeof (v as { command?: unknown }).command === 'string'
}

const STDERR_TAIL = 4096

interface Incarnation {
  child: ChildProcess
  channel: JsonRpcChannel
  ended: Promise<void>
  /** Aborts when the process ends. */
  alive: AbortController
  stderrTail: string
}

/** Internal: a stdio MCP server with supervision. */
export class StdioBackend implements Backend {
  readonly kind = 'stdio' as const
  status: ServiceStatus = 'starting'
  /** Observe status changes. */
  onStatus?: (status: ServiceStatus, detail: Record<string, unknown>) => void
  private current: Incarnation | undefined
  private ready: Promise<void> | undefined
  private started = false
  private stopping = false
  private restarts = 0
  private failures = 0
  private readyAt: number | undefined
  private restartTimer: NodeJS.Timeout | undefined
  private nextAttemptAt = 0
  private lastExit: string | undefined
  private readonly policy: Required<RestartPolicy>

  constructor (private readonly spec: StdioServerSpec, private readonly service: string, private readonly defaultMaxLine: number) {
    const r = spec.restart ?? {}
    this.policy = {
      initialDelayMs: r.initialDelayMs ?? 100,
      maxDelayMs: r.maxDelayMs ?? 30_000,
      resetAfterMs: r.resetAfterMs ?? 30_000,
      maxRestarts: r.maxRestarts ?? Infinity
    }
  }

  /** With perSession: the live session processes. */
  private readonly sessionChildren = new Set<StdioSession>()

  /** A session (only with `perSession`): its own child process; see stdio-session.ts. */
  get openSession (): ((ctx: SessionContext, sink: SessionSink) => Promise<BackendSession>) | undefined {
    if (this.spec.perSession !== true) return undefined
    return async (ctx, sink) => {
      if (this.stopping || this.status === 'stopped') throw unavailable(`service "${this.service}" is ${this.status}`)
      const max = this.spec.maxSessionProcesses ?? 8
      if (this.sessionChildren.size >= max) throw new BackendError(RouterErrorCode.Busy, 'busy', `service "${this.service}" has ${max} session processes running`)
      const s = await StdioSession.spawn(this.spec, this.service, this.spec.maxLineBytes ?? this.defaultMaxLine, sink)
      this.sessionChildren.add(s)
      s.ended.then(() => { this.sessionChildren.delete(s) }, () => { this.sessionChildren.delete(s) })
      return s
    }
  }

  info (): Record<string, unknown> {
    return {
      command: this.spec.command,
      ...(this.spec.perSession === true ? { sessionProcesses: [...this.sessionChildren].map(s => s.pid) } : {}),
      pid: this.current?.child.pid,
      restarts: this.restarts,
      lastExit: this.lastExit,
      ...(this.current?.channel.stats ?? {})
    }
  }

  /** The running child's pid (undefined while down). */
  get pid (): number | undefined { return this.current?.child.pid }

  async start (signal: AbortSignal): Promise<void> {
    const p = this.launch()
    try {
      await withDeadline(p, { signal }, 'starting the stdio server')
    } catch (err) {
      await this.stop()
      throw err
    }
    this.started = true
  }

  private setStatus (status: ServiceStatus, detail: Record<string, unknown> = {}): void {
    this.status = status
    this.onStatus?.(status, { pid: this.current?.child.pid, restarts: this.restarts, ...detail })
  }

  /** Spawn and initialize one process; resolves when it answered initialize. */
  private launch (): Promise<void> {
    const spec = this.spec
    this.readyAt = undefined
    this.setStatus('starting')
    const env = spec.inheritEnv === false ? { ...spec.env } : { ...process.env, ...spec.env }
    const stderrMode = spec.stderr ?? 'tail'
    const child = spawn(spec.command, spec.args ?? [], {
      cwd: spec.cwd,
      env,
      stdio: ['pipe', 'pipe', stderrMode === 'tail' ? 'pipe' : stderrMode],
      windowsHide: true
    })
    track(child)
    const alive = new AbortController()
    const channel = new JsonRpcChannel(m => {
      if (child.stdin === null || !child.stdin.writable) throw unavailable(`the stdio server of "${this.service}" is not accepting input`)
      child.stdin.write(JSON.stringify(m) + '\n')
    })
    let endedResolve!: () => void
    const inc: Incarnation = { child, channel, alive, ended: new Promise<void>(resolve => { endedResolve = resolve }), stderrTail: '' }
    this.current = inc
    child.stdin?.on('error', () => { /* EPIPE after exit: the exit handler reports it */ })
    child.stderr?.setEncoding('utf8')
    child.stderr?.on('data', (s: string) => { inc.stderrTail = (inc.stderrTail + s).slice(-STDERR_TAIL) })
    const lines = new LineSplitter(spec.maxLineBytes ?? this.defaultMaxLine, line => {
      let msg: unknown
      try { msg = JSON.parse(line) } catch { return /* not JSON-RPC: a stray log line */ }
      channel.receive(msg)
    }, bytes => {
      inc.stderrTail += `\n[router] stdout line of ${bytes}+ bytes exceeds the limit; killing the server`
      child.kill('SIGKILL')
    })
    child.stdout?.on('data', (chunk: Buffer) => { lines.push(chunk) })
    let done = false
    const onEnd = (code: number | null, sig: NodeJS.Signals | null, err?: Error): void => {
      if (done) return
      done = true
      untrack(child)
      const tail = inc.stderrTail.trim()
      const why = err !== undefined ? `could not be started: ${err.message}` : `exited (code ${code}, signal ${sig})`
      this.lastExit = why
      const e = unavailable(`the stdio server of "${this.service}" ${why}${tail === '' ? '' : `; stderr: ${tail.slice(-500)}`}`)
      alive.abort(e)
      channel.failAll(e)
      endedResolve()
      if (this.current === inc) this.current = undefined
      if (!this.stopping && this.started) this.scheduleRestart(why)
    }
    child.once('exit', (code, sig) => { onEnd(code, sig) })
    child.once('close', (code: number | null, sig: NodeJS.Signals | null) => { onEnd(code, sig) })
    child.once('error', err => { if (child.pid === undefined) onEnd(null, null, err) })

    const p = (async () => {
      const deadline = AbortSignal.timeout(spec.startTimeoutMs ?? 10_000)
      const signal = AbortSignal.any([alive.signal, deadline])
      try {
        const r = await channel.request({
          jsonrpc: '2.0',
          id: 0,
          method: 'initialize',
          params: { protocolVersion: LATEST_PROTOCOL_VERSION, capabilities: {}, clientInfo: { name: 'axl-router-mcp', version: '0.1.0' } }
        }, undefined, signal)
        if ('error' in r) throw new BackendError(RouterErrorCode.Unavailable, 'unavailable', `the stdio server of "${this.service}" refused initialize: ${JSON.stringify(r.error)}`)
        channel.notify({ jsonrpc: '2.0', method: 'notifications/initialized' }, undefined)
      } catch (err) {
        if (!alive.signal.aborted) {
          child.kill('SIGKILL') // the exit handler schedules the next attempt
          if (deadline.aborted) throw unavailable(`the stdio server of "${this.service}" did not answer initialize within ${spec.startTimeoutMs ?? 10_000} ms`)
        }
        throw err
      }
      if (this.current !== inc || this.stopping) throw unavailable(`the stdio server of "${this.service}" stopped while starting`)
      this.readyAt = Date.now()
      this.setStatus('ready')
    })()
    p.catch(() => { /* reported through ready waiters and the exit handler */ })
    this.ready = p
    return p
  }

  private scheduleRestart (why: string): void {
    if (this.readyAt !== undefined && Date.now() - this.readyAt >= this.policy.resetAfterMs) this.failures = 0
    if (this.failures >= this.policy.maxRestarts) {
      this.setStatus('failed', { reason: `${why}; gave up after ${this.failures} restarts` })
      return
    }
    const delayMs = Math.min(this.policy.maxDelayMs, this.policy.initialDelayMs * 2 ** this.failures)
    this.failures++
    this.nextAttemptAt = Date.now() + delayMs
    this.setStatus('restarting', { delayMs, reason: why })
    this.restartTimer = setTimeout(() => {
      this.restartTimer = undefined
      if (this.stopping) return
      this.restarts++
      void this.launch().catch(() => { /* the exit handler schedules the next attempt */ })
    }, delayMs)
  }

  async stop (): Promise<void> {
    if (this.status === 'stopped') return
    this.stopping = true
    const sessions = [...this.sessionChildren]
    this.sessionChildren.clear()
    await Promise.allSettled(sessions.map(async s => { await s.close() }))
    clearTimeout(this.restartTimer)
    this.setStatus('stopping')
    const inc = this.current
    if (inc !== undefined) {
      inc.child.stdin?.end()
      inc.child.kill('SIGTERM')
      const grace = this.spec.stopTimeoutMs ?? 2000
      const killed = await Promise.race([inc.ended.then(() => true), sleep(grace).then(() => false)])
      if (!killed) {
        inc.child.kill('SIGKILL')
        await Promise.race([inc.ended, sleep(2000)])
      }
    }
    this.current = undefined
    this.setStatus('stopped')
  }

  async request (message: JsonRpcRequest & { id: JsonRpcId }, ctx: CallContext): Promise<unknown> {
    const inc = await this.whenReady(ctx.signal)
    return await inc.channel.request(message, ctx.from, ctx.signal)
  }

  async notify (message: JsonRpcRequest, ctx: CallContext): Promise<void> {
    const inc = await this.whenReady(ctx.signal)
    inc.channel.notify(message, ctx.from)
  }

  private async whenReady (signal: AbortSignal): Promise<Incarnation> {
    if (this.status === 'starting' && this.ready !== undefined) await withDeadline(this.ready, { signal }, 'waiting for the stdio server')
    const inc = this.current
    if (this.status !== 'ready' || inc === undefined) {
      const retry = this.status === 'restarting' ? ` (next attempt in ${Math.max(0, this.nextAttemptAt - Date.now())} ms)` : ''
      throw unavailable(`the stdio server of "${this.service}" is ${this.status}${retry}${this.lastExit === undefined ? '' : `; it ${this.lastExit}`}`)
    }
    return inc
  }
}

async function sleep (ms: number): Promise<void> {
  await new Promise<void>(resolve => { setTimeout(resolve, ms).unref() })
}
