import type { McpPort } from '@axl/router-mcp'

export type { McpPort } from '@axl/router-mcp'

/**
 * The node's MCP registry as an McpPort, or undefined when `value` is not one. `@axl/router-mcp`'s `McpRouter`
 * (the `mcp()` service) implements McpPort; so can anything else with `services()` and `dispatch()`.
 */
export function toMcpPort (value: unknown): McpPort | undefined {
  if (value === null || typeof value !== 'object') return undefined
  const v = value as Partial<Record<keyof McpPort, unknown>>
  return typeof v.services === 'function' && typeof v.dispatch === 'function' ? value as McpPort : undefined
}
