// §8 cases 46–48 need AXL's Python clients and Debian's python3 packages (requests, msgpack, torch, httpx,
// aiohttp) for /usr/bin/python3. They are skipped, with the reason printed, when those are absent.
import { execFileSync } from 'node:child_process'
import { describe, it } from 'vitest'

function missing (modules: string[]): string[] {
  return modules.filter(m => {
    try { execFileSync('/usr/bin/python3', ['-c', `import ${m}`], { stdio: 'ignore', timeout: 10_000 }); return false } catch { return true }
  })
}

const CASES: Array<[string, string[]]> = [
  ['46: client.py recv / tensor (python3-requests, python3-msgpack, python3-torch)', ['requests', 'msgpack', 'torch']],
  ['47: a2a_client.py against a stub A2A server (python3-httpx)', ['httpx']],
  ['48: the real mcp_router.py with a JSON-mode stub MCP server (python3-aiohttp)', ['aiohttp']]
]

describe('§8 Python client cases', () => {
  for (const [name, modules] of CASES) {
    it(name, (ctx) => {
      const absent = missing(modules)
      // Even with the modules present, AXL's Python sources (client.py, a2a_client.py, mcp_router.py) are not
      // vendored in this repository, so the cases cannot run here yet.
      const reason = absent.length > 0
        ? `/usr/bin/python3 lacks ${absent.join(', ')} (apt-get install ${absent.map(m => `python3-${m}`).join(' ')})`
        : 'AXL\'s Python clients are not vendored in this repository'
      console.log(`skipping §8 case ${name.split(':')[0]}: ${reason}`)
      ctx.skip()
    })
  }
})
