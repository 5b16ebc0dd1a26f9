/**
 * Typed errors of the session layer. Only misuse by the caller reaches users (bad arguments, use after
 * close); bad packets from the network are dropped and counted, never thrown.
 */
import { AxlError } from '@axl/core'

/** A session-layer call was made with an invalid argument or after `close()`. */
export class SessionError extends AxlError {
  constructor (message: string) {
    super('ERR_SESSION', message)
  }
}
