/**
 * `@axl/core/wire`: AXL's wire formats — 4-byte big-endian length frames (encoder, incremental decoder, stream
 * reader/writer), the MCP and A2A JSON envelopes of Go AXL (encoders, decoders, inbound classification), raw
 * JSON helpers that keep a peer's bytes exact, and ed25519 DER key encodings. For routers, bridges and tools
 * that speak AXL's frames themselves; agents use the node API of `@axl/core`.
 */
export {
  FRAME_HEADER_BYTES, DEFAULT_MAX_MESSAGE_SIZE, MAX_FRAME_LENGTH, EAGER_ALLOCATION_LIMIT, frameHeader, encodeFrame, FrameDecoder
} from './framing.js'
export type { FrameDecoderOptions } from './framing.js'
export { FrameReader, writeFrame } from './frame-io.js'
export {
  encodeMcpRequest, encodeA2aRequest, encodeA2aAgentCardRequest, encodeMcpResponse, encodeA2aResponse,
  classifyFrame, decodeMcpResponse, decodeA2aResponse
} from './envelope.js'
export type {
  RawJson, McpRequestEnvelope, A2aRequestEnvelope, InboundFrame, McpResponseEnvelope, A2aResponseEnvelope
} from './envelope.js'
export { compactJson, quoteJsonString, MAX_JSON_DEPTH } from './json-raw.js'
export { ed25519PrivateKeyDer, ed25519PublicKeyDer, ed25519SeedFromPrivateKeyDer } from './ed25519-der.js'
