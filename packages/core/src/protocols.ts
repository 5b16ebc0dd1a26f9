/**
 * Custom protocols on a node (`node.handle('/chat/1.0.0', handler)`, `node.dialProtocol(peer, '/chat/1.0.0')`),
 * negotiated on the mesh's `protocols` channel, never on the AXL channel, so a Go AXL node (which has no such
 * channel: on the Yggdrasil mesh it is another overlay TCP port) refuses the connection instead of reading our
 * bytes as a message.
 *
 * Negotiation, once per stream, before any application byte:
 * ```
 * dialler  → BE16 length ‖ protocol name (UTF-8, 1..256 bytes, starts with '/')
 * listener → 1 status byte: 0 accepted, 1 unknown protocol, 2 refused by its access check, 3 busy;
 *            a non-zero status is followed by BE16 length ‖ reason (UTF-8, ≤ 1024 bytes), then the stream ends
 * ```
 * After an accepted status the stream belongs to the protocol's handler on one side and to the caller on the
 * other; bytes that arrived with the header are kept for the application (`MeshStream.unread`).
 */
import { AxlError, ProtocolError, ProtocolRefusedError, StreamClosedError, UnsupportedProtocolError } from './errors.js'
import type { WaitOptions } from './deadline.js'
import type { PeerId } from './peer-id.js'
import type { MeshStream } from './stream.js'

/** Longest protocol name, in UTF-8 bytes. */
export const MAX_PROTOCOL_NAME_BYTES = 256
/** Longest refusal reason carried back, in UTF-8 bytes. */
const MAX_REASON_BYTES = 1024

/** Negotiation status bytes. */
export const ProtocolStatus = { accepted: 0, unknown: 1, refused: 2, busy: 3 } as const

/** What a protocol handler receives with each inbound stream. */
export interface ProtocolContext {
  /** The caller's full, authenticated peer id. */
  from: PeerId
  /** The protocol negotiated. */
  protocol: string
  /** Fires when the node stops. */
  signal: AbortSignal
}

/** Handles one inbound stream of a custom protocol; the stream is the handler's to read, write and close. */
export type ProtocolHandler = (stream: MeshStream, ctx: ProtocolContext) => void | Promise<void>

/** Options of `node.handle(protocol, handler, options)`. */
export interface ProtocolOptions {
  /** Access check: return false (or a reason string) to refuse a peer; default: everyone. */
  allow?: (peer: PeerId, protocol: string) => boolean | string | Promise<boolean | string>
  /** Inbound streams of this protocol open at once; more are refused as busy. Default 64. */
  maxStreams?: number
}

/** Throws unless `name` is a valid protocol name ('/' then 1..255 more bytes of printable ASCII or UTF-8, no spaces). */
export function checkProtocolName (name: string): Uint8Array {
  if (typeof name !== 'string' || !name.startsWith('/')) throw new AxlError('ERR_INVALID_ARGUMENT', `protocol names start with '/', e.g. '/chat/1.0.0'; got ${JSON.stringify(name)}`)
  const bytes = new TextEncoder().encode(name)
  if (bytes.byteLength < 2 || bytes.byteLength > MAX_PROTOCOL_NAME_BYTES) throw new AxlError('ERR_INVALID_ARGUMENT', `protocol name must be 2..${MAX_PROTOCOL_NAME_BYTES} bytes, got ${bytes.byteLength}`)
  if (/[\s\u0000-\u001f\u007f]/.test(name)) throw new AxlError('ERR_INVALID_ARGUMENT', `protocol name must not contain spaces or control characters: ${JSON.stringify(name)}`)
  return bytes
}

/** Reads exactly `n` bytes from the stream, putting back whatever came after them; null if it ended first. */
export async function readExactly (stream: MeshStream, n: number, opts: WaitOptions): Promise<Uint8Array | null> {
  const parts: Uint8Array[] = []
  let have = 0
  while (have < n) {
    const chunk = await stream.read(opts)
    if (chunk === null) return null
    const take = Math.min(chunk.byteLength, n - have)
    parts.push(chunk.subarray(0, take))
    have += take
    if (take < chunk.byteLength) stream.unread(chunk.subarray(take))
  }
  if (parts.length === 1) return parts[0]
  const out = new Uint8Array(n)
  let o = 0
  for (const p of parts) { out.set(p, o); o += p.byteLength }
  return out
}

/** The dialler's side: send the name, read the answer; throws UnsupportedProtocolError or ProtocolRefusedError. */
export async function negotiateOutbound (stream: MeshStream, peer: PeerId, protocol: string, opts: WaitOptions): Promise<void> {
  const name = checkProtocolName(protocol)
  const header = new Uint8Array(2 + name.byteLength)
  header[0] = name.byteLength >> 8
  header[1] = name.byteLength & 0xff
  header.set(name, 2)
  stream.send(header, true)
  let status: Uint8Array | null
  try {
    status = await readExactly(stream, 1, opts)
  } catch (err) {
    if (err instanceof StreamClosedError) throw new UnsupportedProtocolError(peer, protocol, `the peer reset the stream during negotiation (${err.message})`, { cause: err })
    throw err
  }
  if (status === null) throw new UnsupportedProtocolError(peer, protocol, 'the peer closed the stream without answering the negotiation')
  if (status[0] === ProtocolStatus.accepted) return
  const len = await readExactly(stream, 2, opts)
  const reasonLen = len === null ? 0 : Math.min(MAX_REASON_BYTES, (len[0] << 8) | len[1])
  const reasonBytes = reasonLen > 0 ? await readExactly(stream, reasonLen, opts) : null
  const reason = reasonBytes === null ? 'no reason given' : new TextDecoder().decode(reasonBytes)
  stream.close()
  if (status[0] === ProtocolStatus.unknown) throw new UnsupportedProtocolError(peer, protocol, reason)
  if (status[0] === ProtocolStatus.refused || status[0] === ProtocolStatus.busy) throw new ProtocolRefusedError(peer, protocol, reason)
  throw new ProtocolError(`peer ${peer} answered the negotiation of ${protocol} with status ${status[0]}`)
}

/** The listener's side, part 1: read the protocol name (null when the stream ended or the name is invalid). */
export async function readProtocolName (stream: MeshStream, opts: WaitOptions): Promise<string | null> {
  const len = await readExactly(stream, 2, opts)
  if (len === null) return null
  const n = (len[0] << 8) | len[1]
  if (n < 2 || n > MAX_PROTOCOL_NAME_BYTES) return null
  const name = await readExactly(stream, n, opts)
  return name === null ? null : new TextDecoder('utf-8', { fatal: false }).decode(name)
}

/** The listener's side, part 2: accept, or refuse with a status and a reason (then half-close). */
export function answerNegotiation (stream: MeshStream, status: number, reason = ''): void {
  if (status === ProtocolStatus.accepted) { stream.send(Uint8Array.of(0), true); return }
  const r = new TextEncoder().encode(reason).subarray(0, MAX_REASON_BYTES)
  const out = new Uint8Array(3 + r.byteLength)
  out[0] = status
  out[1] = r.byteLength >> 8
  out[2] = r.byteLength & 0xff
  out.set(r, 3)
  stream.send(out, true)
  stream.closeWrite()
}
