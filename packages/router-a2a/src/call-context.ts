import type { PeerId } from '@axl/core'
import { ServerCallContext, type RequestContext, type User } from '@a2a-js/sdk/server'

const FROM_KEY = 'axl.from'
const SIGNAL_KEY = 'axl.signal'

/** The A2A `User` of a mesh call: the caller's authenticated peer id (also the task-store owner scope). */
export class PeerUser implements User {
  /** The caller's full peer id. */
  readonly peerId: PeerId
  constructor (peerId: PeerId) { this.peerId = peerId }
  /** Always true: the mesh authenticated the caller's key. */
  get isAuthenticated (): boolean { return true }
  /** The caller's peer id. */
  get userName (): string { return this.peerId }
}

/** Builds the SDK call context of an inbound mesh request (protocol version 1.0, caller as user). */
export function createCallContext (from: PeerId, signal: AbortSignal): ServerCallContext {
  const state = new Map<string, unknown>([[FROM_KEY, from], [SIGNAL_KEY, signal]])
  return new ServerCallContext({ requestedVersion: '1.0', user: new PeerUser(from), state })
}

function callContextOf (ctx: RequestContext | ServerCallContext): ServerCallContext {
  return 'state' in ctx ? ctx : ctx.context
}

/** The caller's peer id in an executor's RequestContext (or a ServerCallContext), if the call came over the mesh. */
export function callerPeerId (ctx: RequestContext | ServerCallContext): PeerId | undefined {
  const v = callContextOf(ctx)?.state.get(FROM_KEY)
  return typeof v === 'string' ? v as PeerId : undefined
}

/** The AbortSignal of the mesh call (fires on deadline or node stop), if the call came over the mesh. */
export function callSignal (ctx: RequestContext | ServerCallContext): AbortSignal | undefined {
  const v = callContextOf(ctx)?.state.get(SIGNAL_KEY)
  return v instanceof AbortSignal ? v : undefined
}
