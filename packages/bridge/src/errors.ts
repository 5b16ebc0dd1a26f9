/** Typed errors of the bridge. */
import { ConfigError } from '@axl/core'

/** A node-config.json problem: malformed text, a wrong type or value; `key` names the offending key when there is one. */
export class ConfigFileError extends ConfigError {
  /** The config key at fault (e.g. "api_port", "Peers[1]"), or undefined for a syntax error. */
  readonly key: string | undefined
  /** The config file, when the text came from one. */
  readonly path: string | undefined
  constructor (message: string, opts: { key?: string, path?: string } = {}) {
    super(message)
    this.key = opts.key
    this.path = opts.path
  }
}

/** Lenient-JSON (HJSON subset) syntax error with a 1-based line and column. */
export class HjsonSyntaxError extends ConfigError {
  /** 1-based line of the error. */
  readonly line: number
  /** 1-based column of the error. */
  readonly column: number
  constructor (message: string, line: number, column: number) {
    super(`${message} at line ${line}, column ${column}`)
    this.line = line
    this.column = column
  }
}
