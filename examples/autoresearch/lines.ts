/** How the relay and agent processes talk to the launcher: one JSON object per line on stdout, commands on stdin. */
import { createInterface } from 'node:readline'

/** Write one event line to stdout. */
export function emit (event: string, fields: Record<string, unknown> = {}): void {
  process.stdout.write(JSON.stringify({ event, ...fields }) + '\n')
}

/** Call `onCommand` for each JSON command line on stdin. */
export function onCommand (onCommand: (c: Record<string, unknown> & { cmd: string }) => void): void {
  createInterface({ input: process.stdin }).on('line', line => {
    let c: unknown
    try { c = JSON.parse(line) } catch { process.stderr.write(`ignored a non-JSON command: ${line}\n`); return }
    if (typeof c === 'object' && c !== null && typeof (c as { cmd?: unknown }).cmd === 'string') onCommand(c as Record<string, unknown> & { cmd: string })
  })
}

/**
 * Run `stop` then exit when stdin closes (the launcher ended it, or died), on SIGTERM/SIGINT, or when `stop`
 * itself is asked for; exit code 0, or 1 if stopping failed or took over `graceMs` (default 5 s).
 */
export function onStdinClose (stop: () => Promise<void>, graceMs = 5000): () => void {
  let stopping = false
  const exit = (): void => {
    if (stopping) return
    stopping = true
    setTimeout(() => { process.stderr.write('stop took too long\n'); process.exit(1) }, graceMs).unref()
    stop().then(() => process.exit(0), (err: unknown) => { process.stderr.write(`stop failed: ${String(err)}\n`); process.exit(1) })
  }
  process.stdin.on('end', exit).on('close', exit)
  process.stdin.resume()
  process.on('SIGTERM', exit)
  process.on('SIGINT', exit)
  return exit
}
