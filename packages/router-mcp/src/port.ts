/**
 * McpPort: what another part of a node (the A2A endpoint, the bridge's in-process agent) needs from an MCP
 * registry: the names of the services that are up, and a way to call one with a JSON-RPC message as an
 * inbound MCP envelope would. `McpRouter` implements it; anything else can.
 */
import type { PeerId, RawJson } from '@axl/core'
import type { EnvelopeReply } from './envelope.js'

/** The seam between an MCP registry and its in-process users (see the module comment). */
export interface McpPort {
  /** The names of the services registered and not stopping, stopped or failed. */
  services: () => string[]
  /** Call a service with one JSON-RPC message (JSON text); resolves to the MCP envelope reply, never throws for remote failures. */
  dispatch: (call: { service: string, request: RawJson | null }, ctx: { from: PeerId, signal: AbortSignal }) => Promise<EnvelopeReply>
}
