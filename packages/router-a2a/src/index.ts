// `@axl/router-a2a`: the A2A service of a node (`a2a()`), its client calls, the mesh fetch for the stock A2A SDK
// client, the MCP bridge executor, the envelope codec and the errors. Building blocks the bridge and tests use
// (stream client, SSE writer, card builders, Python-compatible JSON) are under `@axl/router-a2a/internals`.
export { a2a } from './service.js'
export type { A2aOptions, A2aService, StreamOptions, A2aStreamsStats } from './service.js'
export type { CallOptions, SendOptions, MessageInput } from './client.js'
export { meshFetch, peerFromUrl } from './mesh-fetch.js'
export type { MeshFetchOptions } from './mesh-fetch.js'
export { encodeA2aRequest, encodeA2aAgentCardRequest, encodeA2aResponse, decodeA2aResponse } from './envelope.js'
export type { A2aResponseEnvelope } from './envelope.js'
export { McpAgentExecutor } from './mcp-executor.js'
export type { McpAgentExecutorOptions } from './mcp-executor.js'
export { parseMcpCall, McpCallParseError } from './mcp-call.js'
export type { McpCall } from './mcp-call.js'
export type { McpPort } from './mcp-port.js'
export { A2aEndpoint, STREAMING_NOT_SUPPORTED } from './endpoint.js'
export type { A2aEndpointOptions, A2aStreamStats } from './endpoint.js'
export { A2A_STREAM_PROTOCOL, DEFAULT_STREAM_LIMITS } from './stream-options.js'
export type { A2aStreamOptions } from './stream-options.js'
export { PeerUser, callerPeerId, callSignal } from './call-context.js'
export { BoundedTaskStore, DEFAULT_MAX_TASKS } from './task-store.js'
export { A2aRemoteError, A2aRpcError, A2aUrlError, A2aStreamingUnsupportedError, A2aStreamLimitError } from './errors.js'
export type {
  AgentCardJson, AgentSkillJson, AgentInterfaceJson, MessageJson, PartJson, TaskJson, TaskStatusJson, ArtifactJson, SendMessageResultJson,
  StreamEventJson, TaskStatusUpdateEventJson, TaskArtifactUpdateEventJson
} from './wire.js'
