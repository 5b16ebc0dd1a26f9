/** `--name <number>` from the command line, or `def` when absent; a value that is not a number is an error. */
export function arg (name: string, def: number): number {
  const i = process.argv.indexOf(`--${name}`)
  if (i < 0 || i + 1 >= process.argv.length) return def
  const v = Number(process.argv[i + 1])
  if (!Number.isFinite(v)) throw new Error(`--${name} needs a number, got ${JSON.stringify(process.argv[i + 1])}`)
  return v
}
