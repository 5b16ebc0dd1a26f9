#!/usr/bin/env node
// axl-node launcher: runs src/cli.ts through tsx (a root devDependency) in this process, so signals
// reach the node directly.
import { register } from 'tsx/esm/api'

register()
const { run } = await import('../src/cli.ts')
await run()
