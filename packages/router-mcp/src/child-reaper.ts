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
    process.once('exit', () => { for (const c of liveChildren) { try { c.kill('SIGKILL') } catch { /* already gone */ } } })
  }
}

/** Forget a child that exited. */
export function untrack (child: ChildProcess): void { liveChildren.delete(child) }
