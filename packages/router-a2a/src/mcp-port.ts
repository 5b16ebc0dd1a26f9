import type { EnvelopeReply, PeerId, RawJson } from '@axl/core'

/**
 * What the A2A endpoint needs from the node's MCP registry: the service names (for the card's skills) and a
 * way to call one (for SendMessage). `@axl/router-mcp`'s `mcp()` service is adapted to it automatically;
 * anything else can implement it directly.
 */
export interface McpPort {
  /** The names of the services registered now. */
  services: () => string[]
  /** Call a service with one JSON-RPC request (JSON text); resolves to the MCP envelope reply. */
  dispatch: (call: { service: string, request: RawJson }, ctx: { from: PeerId, signal: AbortSignal }) => Promise<EnvelopeReply>
}

type AnyFn = (...args: any[]) => any

function isFn (v: unknown): v is AnyFn { return typeof v === 'function' }

/** Service states that are not advertised (router-mcp's list() reports them). */
const DOWN = new Set(['stopping', 'stopped', 'failed'])

function namesOf (listed: unknown): string[] {
  if (listed instanceof Map) return [...listed.keys()].map(String)
  if (listed !== null && typeof listed === 'object' && !(Symbol.iterator in listed)) return Object.keys(listed)
  const out: string[] = []
  for (const item of listed as Iterable<unknown>) {
    if (typeof item === 'string') out.push(item)
    else if (item !== null && typeof item === 'object' && typeof (item as { name?: unknown }).name === 'string') {
      const { name, status } = item as { name: string, status?: unknown }
      if (typeof status !== 'string' || !DOWN.has(status)) out.push(name)
    }
  }
  return out
}

/**
 * Turns the node's MCP service into an McpPort, or returns undefined when it offers neither shape.
 * Accepted: an McpPort; or an object with `list()` (names, `{ name, status? }` rows as `@axl/router-mcp`
 * returns them, a Map or a record) and `dispatch({ service, request }, { from, signal })` resolving to
 * `{ response, error? }` (router-mcp's McpRouter inbound dispatch). Services whose status is stopping,
 * stopped or failed are not advertised.
 */
export function toMcpPort (value: unknown): McpPort | undefined {
  if (value === null || typeof value !== 'object') return undefined
  const v = value as Record<string, unknown>
  if (isFn(v.services) && isFn(v.dispatch)) return value as McpPort
  if (isFn(v.list) && isFn(v.dispatch)) {
    const list = v.list.bind(value) as AnyFn
    const dispatch = v.dispatch.bind(value) as AnyFn
    return {
      services: () => namesOf(list()),
      dispatch: async (call, ctx) => await dispatch(call, ctx) as EnvelopeReply
    }
  }
  return undefined
}
