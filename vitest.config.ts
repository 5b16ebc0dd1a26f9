import { defineConfig, defaultClientConditions, defaultServerConditions } from 'vite'

// Workspace packages export their TypeScript sources under the `axl-source` condition (published builds use
// dist/): tests run from source, and so do the processes they spawn (NODE_OPTIONS below).
const conditions = ['axl-source']
const nodeOptions = [process.env.NODE_OPTIONS, '--conditions=axl-source'].filter(Boolean).join(' ')

export default defineConfig({
  resolve: { conditions: [...conditions, ...defaultClientConditions] },
  ssr: { resolve: { conditions: [...conditions, ...defaultServerConditions], externalConditions: conditions } },
  test: {
    include: ['packages/*/test/**/*.test.ts', 'examples/**/*.test.ts'],
    setupFiles: ['packages/core/src/polyfill.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: 'forks',
    reporters: ['default'],
    env: { NODE_OPTIONS: nodeOptions }
  }
})
