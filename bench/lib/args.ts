/** `--name <number>` from the command line, or `def` when absent; a value that is not a number is an error. */
export function arg (name: string, def: number): number {
  const i = process.argv.indexOf(`--${name}`)
  if (i < 0 || i + 1 >= process.argv.length) return def
  const v = Number(process.argv[i + 1])
  if (!Number.isFinite(v)) throw new Error(`--${name} needs a number, got ${JSON.stringify(process.argv[i + 1])}`)
  return v
}

/** `--name <word>` from the command line, one of `choices` (the first is the default). */
export function choice<T extends string> (name: string, choices: readonly [T, ...T[]]): T {
  const i = process.argv.indexOf(`--${name}`)
  if (i < 0) return choices[0]
  const v = process.argv[i + 1]
  if (!(choices as readonly string[]).includes(v)) throw new Error(`--${name} takes ${choices.join(' or ')}, got ${JSON.stringify(v)}`)
  return v as T
}
