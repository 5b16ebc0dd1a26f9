// `@axl/router-a2a/internals`: building blocks of the A2A service for the bridge, tools and tests (unstable: may
// change in any release). Agents use the package root.
export { toMcpPort } from './mcp-port.js'
export { STREAMING_METHODS } from './endpoint.js'
export { A2aStreamClient, A2aStreamCall, parseStreamRequest } from './stream-client.js'
export type { StreamCallOptions, StreamRequest, A2aStreamClientStats } from './stream-client.js'
export { STREAM_PROTOCOL_METHODS } from './stream-options.js'
export { sseEvent, SSE_CONTENT_TYPE } from './sse.js'
export { createCallContext } from './call-context.js'
export { buildAgentCard, mcpSkill, pythonTitle, axlUrl, MCP_PROXY_SKILL, DEFAULT_AGENT_NAME, DEFAULT_AGENT_DESCRIPTION, AXL_URL_SCHEME } from './card.js'
export type { CardInput } from './card.js'
export { pythonJsonDumps } from './py-json.js'
