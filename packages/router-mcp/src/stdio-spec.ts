// What a stdio MCP service is (the router's spec), shared by the supervised backend and per-session processes.

/** Restart policy of a stdio server. */
export interface RestartPolicy {
  /** First delay after a crash, ms. Default 100. */
  initialDelayMs?: number
  /** Delay cap, ms. Default 30000. */
  maxDelayMs?: number
  /** A server that stayed up this long resets the backoff, ms. Default 30000. */
  resetAfterMs?: number
  /** Give up (status 'failed') after this many restarts in a row without reaching resetAfterMs. Default Infinity. */
  maxRestarts?: number
}

/** A local MCP server over stdio: the router spawns `command args` and talks NDJSON JSON-RPC to it. */
export interface StdioServerSpec {
  /** The executable, e.g. `process.execPath` or `npx`. */
  command: string
  /** Its arguments. */
  args?: string[]
  /** Extra environment variables. */
  env?: Record<string, string>
  /** Start from this process's environment (default true); false passes only `env`. */
  inheritEnv?: boolean
  /** Working directory. */
  cwd?: string
  /** What to do with the server's stderr: keep the last 4 KiB for error messages (default), inherit, or ignore. */
  stderr?: 'tail' | 'inherit' | 'ignore'
  /** Restart policy. */
  restart?: RestartPolicy
  /** Deadline for spawn + initialize, ms. Default 10000. */
  startTimeoutMs?: number
  /** Grace after SIGTERM before SIGKILL when stopping, ms. Default 2000. */
  stopTimeoutMs?: number
  /** Longest stdout line accepted; a longer one counts as a crash. Default: the node's maxMessageSize. */
  maxLineBytes?: number
  /**
   * One child process per MCP session (spawned when the session opens, initialized by the client itself,
   * killed when it ends), so sessions are isolated and everything the server sends reaches its client.
   * Envelope callers still share the supervised process. @default false
   */
  perSession?: boolean
  /** With perSession: session processes alive at once; more sessions are refused as busy. @default 8 */
  maxSessionProcesses?: number
}
