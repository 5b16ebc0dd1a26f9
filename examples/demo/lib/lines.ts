/**
 * How the demo's processes talk to main.ts: one JSON object per line, events on stdout, commands on stdin.
 * When stdin ends (main.ts is done, or died), the process stops its node and exits: no orphans.
 */
import { createInterface } from 'node:readline'

/** Write one event line to stdout. */
export function emit (event: string, fields: Record<string, unknown> = {}): void {
  process.stdout.write(JSON.stringify({ event, ...fields }) + '\n')
}

/** A command from main.ts. */
export interface Command { cmd: string, [k: string]: unknown }

/**
 * Serve commands from stdin: `run(cmd)` returns the fields of the `done` event answered for it (or throws, and
 * an `failed` event carries the message). `stop()` runs on `{cmd:'exit'}`, stdin EOF or SIGTERM, then the
 * process exits 0 (1 if stopping failed).
 */
export function serve (run: (c: Command) => Promise<Record<string, unknown>>, stop: () => Promise<void>): void {
  let stopping = false
  const exit = (): void => {
    if (stopping) return
    stopping = true
    stop().then(() => process.exit(0), err => { process.stderr.write(`stop failed: ${String(err)}\n`); process.exit(1) })
  }
  createInterface({ input: process.stdin }).on('line', line => {
    let c: Command
    try { c = JSON.parse(line) as Command } catch { return }
    if (c.cmd === 'exit') { exit(); return }
    run(c).then(
      fields => { emit('done', { cmd: c.cmd, ...fields }) },
      (err: unknown) => { emit('failed', { cmd: c.cmd, error: err instanceof Error ? `${err.name}: ${err.message}` : String(err) }) }
    )
  }).on('close', exit)
  process.on('SIGTERM', exit)
  process.on('SIGINT', exit)
}

/** The value of `--name value` in argv. */
export function arg (name: string): string {
  const i = process.argv.indexOf(`--${name}`)
  const v = i >= 0 ? process.argv[i + 1] : undefined
  if (v === undefined) throw new Error(`missing --${name}`)
  return v
}
