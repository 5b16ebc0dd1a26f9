/**
 * `@axl/transport-ygg/session`: ironwood's `encrypted` layer — the session init/ack handshake, key ratchet,
 * replay window, traffic codecs — and the XSalsa20-Poly1305 cipher backends (sodium-native, libsodium WASM,
 * @noble/ciphers) with the switch between them.
 */
import '../polyfill.js'
export { SessionManager, SESSION_TIMEOUT_MS, ROTATION_INTERVAL_MS, DEFAULT_REPLAY_WINDOW, DEFAULT_MAX_PENDING } from './session.js'
export type { SessionManagerOptions, SessionIdentity, SessionStats, SessionInfoView } from './session.js'
export { SessionError } from './errors.js'
export { ReplayWindow } from './replay.js'
export type { ReplayVerdict } from './replay.js'
export {
  edPrivateToX25519, edPublicToX25519, x25519, x25519Reference, newBoxKeys, boxPrivateKey, boxPublicKey, boxPrecompute,
  boxSeal, boxOpen, sealParts, nonceForCounter, BoxKey, loadSodium, useSodium, sessionCryptoReady, cipherBackend,
  setCipherBackend, cipherBackends, useSodiumNative, loadSodiumNative, BOX_KEY_SIZE, BOX_OVERHEAD, BOX_NONCE_SIZE, WASM_MIN_BYTES
} from './crypto.js'
export type { BoxKeyPair, CipherBackend } from './crypto.js'
export { wasmBackend } from './sodium.js'
export {
  encryptInit, decryptInit, initSigBytes, encodeTraffic, parseTrafficHeader, SESSION_INIT_SIZE, SESSION_TYPE_DUMMY,
  SESSION_TYPE_INIT, SESSION_TYPE_ACK, SESSION_TYPE_TRAFFIC, SESSION_TRAFFIC_OVERHEAD, SESSION_TRAFFIC_OVERHEAD_MIN
} from './messages.js'
export type { SessionInit, TrafficHeader } from './messages.js'
