// `@axl/bridge/internals`: pieces of the HTTP API for tools and tests (unstable: may change in any release).
export { McpSessions } from './mcp-sessions.js'
export { topologyJson } from './topology-json.js'
export { parseHjson } from './hjson.js'
export type { HjsonValue } from './hjson.js'
export { BoundedEventStore } from './event-store.js'
