#!/usr/bin/env node
// axl-node from source, for tests and development in the workspace: runs src/cli.ts through tsx (a root
// devDependency) in this process, so signals reach the node directly. Run it with `--conditions=axl-source`
// (vitest sets it in NODE_OPTIONS) so @axl/* imports resolve to the sources too. The published bin
// (bin/axl-node.mjs) runs the compiled dist/ instead.
import { register } from 'tsx/esm/api'

register()
const { run } = await import('../../src/cli.ts')
await run()
