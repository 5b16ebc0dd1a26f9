/**
 * The last resort against orphans: child processes (stdio MCP servers) still running when this process exits
 * are killed.
 */
import type { ChildProcess } from 'node:child_process'

const liveChildren = new Set<ChildProcess>()
let exitHookInstalled = false

/** Kill `child` with this process if it is still alive then. */
export function track (child: ChildProcess): void {
  liveChildren.add(child)
  if (!exitHookInstalled) {
    exitHookInstalled = true
    // ChildProcess.kill() reports an undeliverable signal by its return value (or an 'error' event), not by throwing.
    process.once('exit', () => { for (const c of liveChildren) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL') })
  }
}

/** Forget a child that exited. */
export function untrack (child: ChildProcess): void { liveChildren.delete(child) }
