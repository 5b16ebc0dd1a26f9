/**
 * `@axl/core/wire`: AXL's wire formats — 4-byte big-endian length frames (encoder, incremental decoder, stream
 * reader/writer), Go AXL's dispatch rule for inbound frames (MCP / A2A envelope / raw) and the error replies core writes, Go
 * `encoding/json` struct semantics and raw JSON helpers that keep a peer's bytes exact (the MCP and A2A codecs
 * built on them are in `@axl/router-mcp` and `@axl/router-a2a`), and ed25519 DER key encodings. For routers, bridges and tools
 * that speak AXL's frames themselves; agents use the node API of `@axl/core`.
 */
export {
  FRAME_HEADER_BYTES, DEFAULT_MAX_MESSAGE_SIZE, MAX_FRAME_LENGTH, EAGER_ALLOCATION_LIMIT, frameHeader, encodeFrame, FrameDecoder
} from './framing.js'
export type { FrameDecoderOptions } from './framing.js'
export { FrameReader, writeFrame } from './frame-io.js'
export { classifyFrame, encodeEnvelopeError } from './envelope.js'
export type { McpRequestEnvelope, A2aRequestEnvelope, InboundFrame, EnvelopeKind } from './envelope.js'
export { GoStructDecoder, rawJsonBytes, concatBytes, omitEmptyString } from './go-json.js'
export type { RawJson, GoField, GoFieldKind, GoStructValue } from './go-json.js'
export { compactJson, quoteJsonString, MAX_JSON_DEPTH } from './json-raw.js'
export { ed25519PrivateKeyDer, ed25519PublicKeyDer, ed25519SeedFromPrivateKeyDer } from './ed25519-der.js'
