import { AxlError } from '@axl/core'
import { RouterErrorCode } from './error-codes.js'

/** A service name is already registered (use replace()). */
export class ServiceExistsError extends AxlError {
  constructor (name: string) { super('ERR_SERVICE_EXISTS', `an MCP service named "${name}" is already registered (use replace() to swap it)`) }
}

/** A service definition could not be understood (not a function, server, stdio spec or URL). */
export class InvalidServiceError extends AxlError {
  constructor (message: string) { super('ERR_INVALID_SERVICE', message) }
}

/**
 * A backend failure that maps to a specific JSON-RPC error code when answered to a caller
 * (e.g. Unavailable while a stdio server restarts).
 */
export class BackendError extends AxlError {
  /** The JSON-RPC code sent back to the caller. */
  readonly rpcCode: number
  /** The `data.axl` reason sent back to the caller. */
  readonly reason: string
  constructor (rpcCode: number, reason: string, message: string, options?: { cause?: unknown }) {
    super('ERR_MCP_BACKEND', message, options)
    this.rpcCode = rpcCode
    this.reason = reason
  }
}

/** The backend is not running (stopped, restarting, unreachable). */
export function unavailable (message: string, cause?: unknown): BackendError {
  return new BackendError(RouterErrorCode.Unavailable, 'unavailable', message, cause === undefined ? undefined : { cause })
}
