// @axl/bridge: AXL's HTTP API over a node, node-config.json, and what axl-node runs.
// Subpaths: `@axl/bridge/cli` (the axl-node command: main, run, parseArgs, USAGE), `@axl/bridge/internals`
// (pieces of the HTTP API for tools and tests: MCP session table, /topology JSON, the HJSON parser; unstable).
export { createBridge } from './bridge.js'
export type { Bridge, BridgeOptions, BridgeStats } from './bridge.js'
export type { HttpDropStats } from './http-drops.js'
export { parseConfig, loadConfig, checkLinkUri, DEFAULT_CONFIG, UNSUPPORTED_LINK_MESSAGE } from './config.js'
export type { NodeConfig, ParseConfigOptions, McpServiceConfig, A2aConfig, A2aSkillConfig } from './config.js'
export { ConfigFileError, HjsonSyntaxError } from './errors.js'
export { startNode, limitsFromConfig, identityFromConfig } from './start.js'
export type { StartNodeOptions, RunningNode } from './start.js'
export { yggTransport } from './transport.js'
export type { TransportProvider, TransportSettings } from './transport.js'
export { forwardMcpToRouter, routerForwarder } from './router-forward.js'
export type { RouterForwardOptions, RouterForwarder } from './router-forward.js'
export { forwardA2aToServer, a2aForwarder } from './a2a-forward.js'
export type { A2aForwardOptions } from './a2a-forward.js'
export type { McpSessionsOptions } from './mcp-sessions.js'
export type { RootParent } from './topology-json.js'
