// The README's first command runs this demo; this test runs it as a real process and checks what it tells.
import { describe, it, expect } from 'vitest'
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('../../', import.meta.url))

describe('demo', () => {
  it('runs to completion and shows each step', () => {
    const r = spawnSync(process.execPath, ['--import', 'tsx', 'examples/demo/main.ts'], { cwd: root, encoding: 'utf8', timeout: 60_000 })
    expect(r.stderr).toBe('')
    expect(r.status).toBe(0)
    expect(r.stdout).toMatch(/bob\s+got "hello bob, it is alice" from [0-9a-f]{8}… \(alice, full authenticated key\)/)
    expect(r.stdout).toMatch(/alice\s+answer after [\d.]+ ms: .*Sunny in Lisbon/)
    expect(r.stdout).toMatch(/note 4 refused: inbox full/)
    expect(r.stdout).toMatch(/ERR_UNREACHABLE: .* network partition/)
    expect(r.stdout).toContain('Done: all nodes stopped.')
  }, 60_000)
})
