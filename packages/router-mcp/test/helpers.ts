import { createNode, MemoryNetwork, type AxlNode, type Limits } from '@axl/core'
import { mcp, type McpRouter, type McpRouterOptions } from '../src/index.js'

export type RouterNode = AxlNode<{ mcp: McpRouter }>

/** Two nodes with an MCP router each on a fresh memory network. */
export async function pair (opts: { a?: McpRouterOptions, b?: McpRouterOptions, limits?: Partial<Limits> } = {}): Promise<{ net: MemoryNetwork, a: RouterNode, b: RouterNode, stop: () => Promise<void> }> {
  const net = new MemoryNetwork()
  const a = await createNode({ transport: net.transport(), services: { mcp: mcp(opts.a) }, limits: opts.limits })
  const b = await createNode({ transport: net.transport(), services: { mcp: mcp(opts.b) }, limits: opts.limits })
  return { net, a, b, stop: async () => { await a.stop(); await b.stop() } }
}

/** Wait for an event matching `pred`, or fail after `timeoutMs`. */
export async function nextEvent<T> (target: EventTarget, type: string, pred: (d: T) => boolean = () => true, timeoutMs = 5000): Promise<T> {
  return await new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => { target.removeEventListener(type, on); reject(new Error(`no "${type}" event within ${timeoutMs} ms`)) }, timeoutMs)
    const on = (e: Event): void => {
      const d = (e as CustomEvent<T>).detail
      if (!pred(d)) return
      clearTimeout(timer)
      target.removeEventListener(type, on)
      resolve(d)
    }
    target.addEventListener(type, on)
  })
}

/** Poll `cond` every 10 ms until true, failing after `timeoutMs` (for state with no event, e.g. a pid gone). */
export async function until (cond: () => boolean, timeoutMs = 5000, what = 'condition'): Promise<void> {
  const end = Date.now() + timeoutMs
  while (!cond()) {
    if (Date.now() > end) throw new Error(`${what} not reached within ${timeoutMs} ms`)
    await new Promise(resolve => setTimeout(resolve, 10))
  }
}

/** True while a process with this pid exists. */
export function alive (pid: number): boolean {
  try { process.kill(pid, 0); return true } catch { return false }
}
