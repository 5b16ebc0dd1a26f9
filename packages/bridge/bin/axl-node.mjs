#!/usr/bin/env node
// axl-node: the compiled CLI (dist/cli.js, built by `pnpm build`); plain Node, no TypeScript loader.
import { run } from '../dist/cli.js'

await run()
