// The MCP conformance suite's CLIENT scenarios (issue #13) with the MCP SDK's own Client over our mesh: the
// suite's scenario server is registered on node B as a Streamable HTTP service (router-mcp's HTTP backend) and
// the Client on node A reaches it over a mesh MCP session (ygg() tcp:// on loopback) — so what the suite judges
// (initialize, tool calls, elicitation answers with defaults, SSE reconnection with the server's `retry:` and
// Last-Event-ID) is our transport, session protocol and HTTP backend. The auth/* scenarios (OAuth flows of the
// HTTP client) are out of scope: the HTTP backend takes static headers only. Skips, saying why, without Node 22
// or the suite.
import { describe, expect, it } from 'vitest'
import { fileURLToPath } from 'node:url'
import { conformanceMissing, runClientScenario } from './helpers/conformance.js'

const missing = conformanceMissing()
if (missing !== undefined) console.log(`SKIPPED mcp-conformance-client.test.ts: ${missing}`)

const client = fileURLToPath(new URL('../../router-mcp/test/fixtures/conformance-client.ts', import.meta.url))
const command = `${process.execPath} --conditions=axl-source --import tsx ${client}`
const SCENARIOS = ['initialize', 'tools_call', 'elicitation-sep1034-client-defaults', 'sse-retry']

describe.skipIf(missing !== undefined)('MCP conformance: client scenarios, the SDK Client over the mesh', () => {
  it('every non-auth client scenario passes', async () => {
    const results = []
    for (const s of SCENARIOS) results.push(await runClientScenario(s, command, 45_000))
    console.log('[conformance client] ' + results.map(r => `${r.scenario}: ${r.passed ? 'pass' : 'FAIL'} (${r.summary})`).join('; '))
    for (const r of results) expect(r.passed, `${r.scenario}:\n${r.output.slice(-3000)}`).toBe(true)
  }, 200_000)
})
