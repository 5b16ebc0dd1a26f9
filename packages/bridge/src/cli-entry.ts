// `@axl/bridge/cli`: the axl-node command as functions — run it in-process, parse its flags, print its usage.
export { parseArgs, USAGE, UsageError } from './cli-args.js'
export type { CliArgs } from './cli-args.js'
export { main, run } from './cli.js'
export type { MainOptions } from './cli.js'
