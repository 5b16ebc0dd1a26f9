// The README's first command runs `pnpm demo` (main.ts); these tests run the demos as real processes and check
// what they tell, within a deadline.
import { describe, it, expect } from 'vitest'
import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('../../', import.meta.url))

async function run (script: string, timeoutMs: number): Promise<{ code: number | null, stdout: string, stderr: string }> {
  return await new Promise(resolve => {
    // on timeout the demo gets SIGTERM, which makes it kill its children
    execFile(process.execPath, ['--conditions=axl-source', '--import', 'tsx', script], { cwd: root, encoding: 'utf8', timeout: timeoutMs }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : (typeof err.code === 'number' ? err.code : null), stdout, stderr })
    })
  })
}

function alive (pid: number): boolean {
  try { process.kill(pid, 0); return true } catch { return false }
}

describe('demo', () => {
  it('pnpm demo: relay P and agents A and B in 3 processes; A reaches B\'s MCP tool and A2A card through P', async () => {
    const r = await run('examples/demo/main.ts', 45_000)
    expect(r.stderr).toBe('')
    expect(r.code).toBe(0)
    const out = r.stdout
    const id = '[0-9a-f]{8}…'
    const pids = [...out.matchAll(/^ {3}[PAB] {2}pid (\d+), peer id/gm)].map(m => Number(m[1]))
    expect(pids).toHaveLength(3)
    expect(out).toMatch(new RegExp(`P  pid \\d+, peer id ${id}, listening on tcp://127\\.0\\.0\\.1:\\d+`))
    expect(out).toMatch(new RegExp(`B  got "hello B, this is A" from ${id} \\(A\\)`))
    // the links: P has both, A and B only P
    expect(out).toMatch(new RegExp(`P  linked to ${id} \\([AB]\\) and ${id} \\([AB]\\)`))
    expect(out).toMatch(new RegExp(`A  linked to ${id} \\(P\\) only`))
    expect(out).toMatch(new RegExp(`B  linked to ${id} \\(P\\) only`))
    expect(out).toMatch(new RegExp(`A  connected to MCP server "weather 1\\.0\\.0" on ${id} \\(B\\); its tools: forecast`))
    expect(out).toMatch(new RegExp(`B  forecast\\(\\{ city: "Lisbon" \\}\\) called by ${id} \\(A\\)`))
    expect(out).toMatch(/A {2}result "(Sunny|Cloudy) in Lisbon tomorrow, \d+ °C" in [\d.]+ ms/)
    expect(out).toMatch(/A {2}card "Agent B \(weather\)", skills: weather \("Weather Service"\)/)
    expect(out).toMatch(/A {2}A2A task TASK_STATE_COMPLETED: "(Sunny|Cloudy) in Tokyo tomorrow, \d+ °C"/)
    expect(out).toMatch(/P {2}forwarded [1-9]\d* packets/)
    expect(out).toContain('A, B and P exited with code 0; no process left behind')
    expect(out).toMatch(/Done in [\d.]+ s/)
    for (const pid of pids) expect(alive(pid)).toBe(false)
  }, 60_000)

  it('pnpm demo:memory: the in-memory demo runs to completion and shows each step', async () => {
    const r = await run('examples/demo/memory.ts', 30_000)
    expect(r.stderr).toBe('')
    expect(r.code).toBe(0)
    expect(r.stdout).toMatch(/bob\s+got "hello bob, it is alice" from [0-9a-f]{8}… \(alice, full authenticated key\)/)
    expect(r.stdout).toMatch(/alice\s+answer after [\d.]+ ms: .*Sunny in Lisbon/)
    expect(r.stdout).toMatch(/note 4 refused: inbox full/)
    expect(r.stdout).toMatch(/ERR_UNREACHABLE: .* network partition/)
    expect(r.stdout).toContain('Done: all nodes stopped.')
  }, 40_000)
})
