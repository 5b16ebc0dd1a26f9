/**
 * Ironwood link frames, byte for byte as ironwood @743fe2f writes and reads them (`network/wire.go`,
 * `router.go`, `pathfinder.go`, `traffic.go`, `peers.go`; ygg-protocol.md §1.2–§1.3).
 *
 * A link frame is `uvarint(N) ‖ type ‖ body`, where N counts the type byte. Every `encodeX()` returns a
 * whole frame; every `decodeX()` takes the body only (the bytes after the type byte) and is as strict as
 * ironwood's decoder for that type. Numbers that are uint64 in Go (seq, nonce, watermark) are bigints;
 * ports are numbers (safe integers ≥ 1, or ≥ 0 for a SigRes port).
 *
 * Decoders copy keys and signatures out of the body (so long-lived tables never pin a link buffer), but
 * `decodeTraffic().payload` is a zero-copy view into the body.
 */
import { FrameStreamError, WireError } from '../errors.js'
import { MAX_UINT64, readUvarint, readUvarintNumber, uvarintSize, writeUvarint } from './uvarint.js'

/** Frame type bytes (`wire.go:7-18`). */
export const FrameType = {
  Dummy: 0,
  KeepAlive: 1,
  SigReq: 2,
  SigRes: 3,
  Announce: 4,
  Bloom: 5,
  PathLookup: 6,
  PathNotify: 7,
  PathBroken: 8,
  Traffic: 9
} as const

/** One of the `FrameType` values. */
export type FrameTypeCode = (typeof FrameType)[keyof typeof FrameType]

/** Largest type byte ironwood recognises; anything above is `ErrUnrecognizedMessage`. */
const MAX_FRAME_TYPE = FrameType.Traffic

/** Bytes in an ed25519 public key. */
export const KEY_SIZE = 32
/** Bytes in an ed25519 signature. */
export const SIG_SIZE = 64
/** The "infinite" watermark of a freshly sent packet: Go's `^uint64(0)`. */
export const WATERMARK_MAX: bigint = 2n ** 64n - 1n
/** Ironwood's default `peerMaxMessageSize` (largest N accepted on a link). */
export const IRONWOOD_MAX_FRAME_SIZE = 1_048_576
/** Yggdrasil's `peerMaxMessageSize` override (`65535 * 2`). */
export const YGGDRASIL_MAX_FRAME_SIZE = 131_070

/** Coordinates: port numbers from the root, each ≥ 1; on the wire uvarints terminated by a uvarint 0. */
export type Path = number[]

/** SigReq body: `seq, nonce` (`router.go:788-840`). */
export interface SigReq { seq: bigint, nonce: bigint }
/** SigRes body: `seq, nonce, port, psig(64)` (`router.go:846-910`). */
export interface SigRes extends SigReq { port: number, psig: Uint8Array }
/** Announce body: `key(32), parent(32), res (a SigRes), sig(64)` (`router.go:916-971`). */
export interface Announce { key: Uint8Array, parent: Uint8Array, res: SigRes, sig: Uint8Array }
/** PathLookup body: `source(32), dest(32), from` (`pathfinder.go:295-334`). */
export interface PathLookup { source: Uint8Array, dest: Uint8Array, from: Path }
/** The signed part of a PathNotify: `seq, path, sig(64)`. */
export interface PathNotifyInfo { seq: bigint, path: Path, sig: Uint8Array }
/** PathNotify body: `path, watermark, source(32), dest(32), info` (`pathfinder.go:354-479`). */
export interface PathNotify { path: Path, watermark: bigint, source: Uint8Array, dest: Uint8Array, info: PathNotifyInfo }
/** PathBroken body: `path, watermark, source(32), dest(32)` (`pathfinder.go:497-541`). */
export interface PathBroken { path: Path, watermark: bigint, source: Uint8Array, dest: Uint8Array }
/** Traffic body: `path, from, source(32), dest(32), watermark, payload (rest of the frame)` (`traffic.go`). */
export interface Traffic {
  path: Path
  from: Path
  source: Uint8Array
  dest: Uint8Array
  watermark: bigint
  payload: Uint8Array
  /**
   * Local only, never on the wire: bytes just before `payload`, in its buffer, that `encodeTraffic` may
   * overwrite with the frame header instead of copying the payload into a new frame. Set only by whoever owns
   * those bytes, for one encoding.
   */
  headroom?: number
}
/** One link frame as `FrameReader` yields it: the type byte and the body after it. */
export interface Frame { type: number, body: Uint8Array }

/* ------------------------------------------------------------------------------------------------ *
 * Encoding helpers                                                                                  *
 * ------------------------------------------------------------------------------------------------ */

function checkBytes (v: Uint8Array, n: number, what: string): void {
  if (!(v instanceof Uint8Array)) throw new WireError(`${what} must be a Uint8Array`)
  if (v.length !== n) throw new WireError(`${what} must be ${n} bytes, got ${v.length}`)
}

function checkU64 (v: bigint, what: string): number {
  if (typeof v !== 'bigint' || v < 0n || v > MAX_UINT64) throw new WireError(`${what} must be a bigint in [0, 2^64 - 1], got ${String(v)}`)
  return uvarintSize(v)
}

function checkPort (p: number, min: number, what: string): number {
  if (!Number.isSafeInteger(p) || p < min) throw new WireError(`${what} must be a safe integer >= ${min}, got ${String(p)}`)
  return uvarintSize(p)
}

/** Encoded size of a path: its ports as uvarints plus the terminating 0 (`wireSizePath`). */
export function pathSize (path: Path): number {
  if (!Array.isArray(path)) throw new WireError('path must be an array of ports')
  let n = 1
  for (let i = 0; i < path.length; i++) {
    const p = path[i]
    n += (p >= 1 && p < 0x80 && (p | 0) === p) ? 1 : checkPort(p, 1, 'path port')
  }
  return n
}

/** Writes a path (already validated by `pathSize`); returns the offset after it. */
function writePath (buf: Uint8Array, o: number, path: Path): number {
  for (let i = 0; i < path.length; i++) {
    const p = path[i]
    if (p < 0x80) buf[o++] = p
    else o = writeUvarint(buf, o, p)
  }
  buf[o++] = 0
  return o
}

/** Bytes taken by the frame header (`uvarint(N) ‖ type`) in front of a body of `bodyLen` bytes. */
export function frameHeaderSize (bodyLen: number): number {
  return uvarintSize(bodyLen + 1) + 1
}

/** Writes `uvarint(bodyLen + 1) ‖ type` at `buf[0]`; returns the offset where the body starts. */
export function writeFrameHeader (buf: Uint8Array, type: number, bodyLen: number): number {
  const o = writeUvarint(buf, 0, bodyLen + 1)
  buf[o] = type
  return o + 1
}

/** A whole link frame `uvarint(N) ‖ type ‖ body` around an already-encoded body. */
export function encodeFrame (type: number, body: Uint8Array = new Uint8Array(0)): Uint8Array {
  if (!Number.isInteger(type) || type < 0 || type > 0xff) throw new WireError(`frame type must be a byte, got ${type}`)
  if (!(body instanceof Uint8Array)) throw new WireError('frame body must be a Uint8Array')
  const out = new Uint8Array(frameHeaderSize(body.length) + body.length)
  out.set(body, writeFrameHeader(out, type, body.length))
  return out
}

function newFrame (type: number, bodyLen: number): { buf: Uint8Array, o: number } {
  const buf = new Uint8Array(frameHeaderSize(bodyLen) + bodyLen)
  return { buf, o: writeFrameHeader(buf, type, bodyLen) }
}

function finish (buf: Uint8Array, o: number, what: string): Uint8Array {
  if (o !== buf.length) throw new Error(`internal: ${what} size mismatch (${o} != ${buf.length})`)
  return buf
}

/* ------------------------------------------------------------------------------------------------ *
 * Decoding helpers                                                                                  *
 * ------------------------------------------------------------------------------------------------ */

/** A read position in a frame body. Every method throws WireError on malformed input. */
class Cursor {
  pos = 0
  constructor (readonly buf: Uint8Array) {}

  u64 (): bigint {
    const r = readUvarint(this.buf, this.pos)
    this.pos = r.offset
    return r.value
  }

  port (): number {
    const r = readUvarintNumber(this.buf, this.pos)
    this.pos = r.offset
    return r.value
  }

  /** A copy of the next `n` bytes. */
  bytes (n: number, what: string): Uint8Array {
    if (this.buf.length - this.pos < n) throw new WireError(`truncated ${what}: need ${n} bytes, have ${this.buf.length - this.pos}`)
    const v = this.buf.slice(this.pos, this.pos + n)
    this.pos += n
    return v
  }

  /** Ports until a uvarint 0 (`wireDecodePath`); like Go, a non-minimal zero also terminates. */
  path (): Path {
    const buf = this.buf
    let p = this.pos
    const out: Path = []
    for (;;) {
      if (p >= buf.length) throw new WireError('truncated path: no terminating 0')
      const b = buf[p]
      if (b < 0x80) {
        p++
        if (b === 0) break
        out.push(b)
        continue
      }
      const r = readUvarintNumber(buf, p)
      p = r.offset
      if (r.value === 0) break
      out.push(r.value)
    }
    this.pos = p
    return out
  }

  /** Everything left, zero-copy. */
  rest (): Uint8Array {
    const v = this.buf.subarray(this.pos)
    this.pos = this.buf.length
    return v
  }

  end (): void {
    if (this.pos !== this.buf.length) throw new WireError(`${this.buf.length - this.pos} trailing bytes`)
  }
}

function decoding<T> (name: string, body: Uint8Array, fn: (c: Cursor) => T): T {
  if (!(body instanceof Uint8Array)) throw new WireError(`${name}: body must be a Uint8Array`)
  try {
    return fn(new Cursor(body))
  } catch (e) {
    if (e instanceof WireError) throw new WireError(`${name}: ${e.message}`, { cause: e })
    throw e
  }
}

/* ------------------------------------------------------------------------------------------------ *
 * Dummy / KeepAlive                                                                                 *
 * ------------------------------------------------------------------------------------------------ */

const DUMMY = Uint8Array.of(0x01, FrameType.Dummy)
const KEEPALIVE = Uint8Array.of(0x01, FrameType.KeepAlive)

/** The keepalive frame, exactly `01 01` (`peers.go:132`). */
export function encodeKeepAlive (): Uint8Array {
  return KEEPALIVE.slice()
}

/** The dummy frame with an empty body, exactly `01 00`. */
export function encodeDummy (): Uint8Array {
  return DUMMY.slice()
}

/* ------------------------------------------------------------------------------------------------ *
 * Tree: SigReq, SigRes, Announce                                                                    *
 * ------------------------------------------------------------------------------------------------ */

function sigReqSize (m: SigReq): number {
  return checkU64(m.seq, 'seq') + checkU64(m.nonce, 'nonce')
}

function sigResSize (m: SigRes): number {
  checkBytes(m.psig, SIG_SIZE, 'psig')
  return sigReqSize(m) + checkPort(m.port, 0, 'port') + SIG_SIZE
}

function writeSigRes (buf: Uint8Array, o: number, m: SigRes): number {
  o = writeUvarint(buf, o, m.seq)
  o = writeUvarint(buf, o, m.nonce)
  o = writeUvarint(buf, o, m.port)
  buf.set(m.psig, o)
  return o + SIG_SIZE
}

function readSigRes (c: Cursor): SigRes {
  const seq = c.u64()
  const nonce = c.u64()
  const port = c.port()
  const psig = c.bytes(SIG_SIZE, 'psig')
  return { seq, nonce, port, psig }
}

/** SigReq frame (type 0x02). */
export function encodeSigReq (m: SigReq): Uint8Array {
  const { buf, o } = newFrame(FrameType.SigReq, sigReqSize(m))
  return finish(buf, writeUvarint(buf, writeUvarint(buf, o, m.seq), m.nonce), 'SigReq')
}

/** Decodes a SigReq body; trailing bytes are rejected, as in ironwood. */
export function decodeSigReq (body: Uint8Array): SigReq {
  return decoding('SigReq', body, (c) => {
    const seq = c.u64()
    const nonce = c.u64()
    c.end()
    return { seq, nonce }
  })
}

/** SigRes frame (type 0x03). */
export function encodeSigRes (m: SigRes): Uint8Array {
  const { buf, o } = newFrame(FrameType.SigRes, sigResSize(m))
  return finish(buf, writeSigRes(buf, o, m), 'SigRes')
}

/** Decodes a SigRes body; trailing bytes are rejected, as in ironwood. */
export function decodeSigRes (body: Uint8Array): SigRes {
  return decoding('SigRes', body, (c) => {
    const res = readSigRes(c)
    c.end()
    return res
  })
}

/** Announce frame (type 0x04). */
export function encodeAnnounce (m: Announce): Uint8Array {
  checkBytes(m.key, KEY_SIZE, 'key')
  checkBytes(m.parent, KEY_SIZE, 'parent')
  checkBytes(m.sig, SIG_SIZE, 'sig')
  const { buf, o: start } = newFrame(FrameType.Announce, 2 * KEY_SIZE + sigResSize(m.res) + SIG_SIZE)
  let o = start
  buf.set(m.key, o); o += KEY_SIZE
  buf.set(m.parent, o); o += KEY_SIZE
  o = writeSigRes(buf, o, m.res)
  buf.set(m.sig, o); o += SIG_SIZE
  return finish(buf, o, 'Announce')
}

/** Decodes an Announce body; trailing bytes are rejected, as in ironwood. Signatures are not checked. */
export function decodeAnnounce (body: Uint8Array): Announce {
  return decoding('Announce', body, (c) => {
    const key = c.bytes(KEY_SIZE, 'key')
    const parent = c.bytes(KEY_SIZE, 'parent')
    const res = readSigRes(c)
    const sig = c.bytes(SIG_SIZE, 'sig')
    c.end()
    return { key, parent, res, sig }
  })
}

/**
 * The bytes a SigRes `psig` (by `parent`) and an Announce `sig` (by `node`) sign:
 * `node(32) ‖ parent(32) ‖ uvarint(seq) ‖ uvarint(nonce) ‖ uvarint(port)` (`router.go:793-799,857-861`).
 */
export function sigResPreimage (node: Uint8Array, parent: Uint8Array, seq: bigint, nonce: bigint, port: number): Uint8Array {
  checkBytes(node, KEY_SIZE, 'node')
  checkBytes(parent, KEY_SIZE, 'parent')
  const out = new Uint8Array(2 * KEY_SIZE + checkU64(seq, 'seq') + checkU64(nonce, 'nonce') + checkPort(port, 0, 'port'))
  out.set(node, 0)
  out.set(parent, KEY_SIZE)
  let o = writeUvarint(out, 2 * KEY_SIZE, seq)
  o = writeUvarint(out, o, nonce)
  return finish(out, writeUvarint(out, o, port), 'sigResPreimage')
}

/* ------------------------------------------------------------------------------------------------ *
 * Pathfinder: PathLookup, PathNotify, PathBroken                                                    *
 * ------------------------------------------------------------------------------------------------ */

/** PathLookup frame (type 0x06). */
export function encodePathLookup (m: PathLookup): Uint8Array {
  checkBytes(m.source, KEY_SIZE, 'source')
  checkBytes(m.dest, KEY_SIZE, 'dest')
  const { buf, o: start } = newFrame(FrameType.PathLookup, 2 * KEY_SIZE + pathSize(m.from))
  let o = start
  buf.set(m.source, o); o += KEY_SIZE
  buf.set(m.dest, o); o += KEY_SIZE
  return finish(buf, writePath(buf, o, m.from), 'PathLookup')
}

/** Decodes a PathLookup body; trailing bytes are rejected, as in ironwood. */
export function decodePathLookup (body: Uint8Array): PathLookup {
  return decoding('PathLookup', body, (c) => {
    const source = c.bytes(KEY_SIZE, 'source')
    const dest = c.bytes(KEY_SIZE, 'dest')
    const from = c.path()
    c.end()
    return { source, dest, from }
  })
}

/**
 * The bytes a PathNotify `info.sig` (by `source`) signs: `uvarint(seq) ‖ path, 0-terminated`
 * (`pathfinder.go:375-384`).
 */
export function pathNotifyPreimage (seq: bigint, path: Path): Uint8Array {
  const out = new Uint8Array(checkU64(seq, 'info.seq') + pathSize(path))
  return finish(out, writePath(out, writeUvarint(out, 0, seq), path), 'pathNotifyPreimage')
}

/** PathNotify frame (type 0x07). */
export function encodePathNotify (m: PathNotify): Uint8Array {
  checkBytes(m.source, KEY_SIZE, 'source')
  checkBytes(m.dest, KEY_SIZE, 'dest')
  checkBytes(m.info.sig, SIG_SIZE, 'info.sig')
  const size = pathSize(m.path) + checkU64(m.watermark, 'watermark') + 2 * KEY_SIZE +
    checkU64(m.info.seq, 'info.seq') + pathSize(m.info.path) + SIG_SIZE
  const { buf, o: start } = newFrame(FrameType.PathNotify, size)
  let o = writePath(buf, start, m.path)
  o = writeUvarint(buf, o, m.watermark)
  buf.set(m.source, o); o += KEY_SIZE
  buf.set(m.dest, o); o += KEY_SIZE
  o = writeUvarint(buf, o, m.info.seq)
  o = writePath(buf, o, m.info.path)
  buf.set(m.info.sig, o); o += SIG_SIZE
  return finish(buf, o, 'PathNotify')
}

/** Decodes a PathNotify body; trailing bytes are rejected (ironwood's `info.decode` requires the exact end). */
export function decodePathNotify (body: Uint8Array): PathNotify {
  return decoding('PathNotify', body, (c) => {
    const path = c.path()
    const watermark = c.u64()
    const source = c.bytes(KEY_SIZE, 'source')
    const dest = c.bytes(KEY_SIZE, 'dest')
    const seq = c.u64()
    const infoPath = c.path()
    const sig = c.bytes(SIG_SIZE, 'info.sig')
    c.end()
    return { path, watermark, source, dest, info: { seq, path: infoPath, sig } }
  })
}

/** PathBroken frame (type 0x08). */
export function encodePathBroken (m: PathBroken): Uint8Array {
  checkBytes(m.source, KEY_SIZE, 'source')
  checkBytes(m.dest, KEY_SIZE, 'dest')
  const { buf, o: start } = newFrame(FrameType.PathBroken, pathSize(m.path) + checkU64(m.watermark, 'watermark') + 2 * KEY_SIZE)
  let o = writePath(buf, start, m.path)
  o = writeUvarint(buf, o, m.watermark)
  buf.set(m.source, o); o += KEY_SIZE
  buf.set(m.dest, o); o += KEY_SIZE
  return finish(buf, o, 'PathBroken')
}

/** Decodes a PathBroken body; trailing bytes are rejected, as in ironwood. */
export function decodePathBroken (body: Uint8Array): PathBroken {
  return decoding('PathBroken', body, (c) => {
    const path = c.path()
    const watermark = c.u64()
    const source = c.bytes(KEY_SIZE, 'source')
    const dest = c.bytes(KEY_SIZE, 'dest')
    c.end()
    return { path, watermark, source, dest }
  })
}

/* ------------------------------------------------------------------------------------------------ *
 * Traffic (hot path)                                                                                *
 * ------------------------------------------------------------------------------------------------ */

/**
 * Body bytes in front of the payload: `path ‖ from ‖ source ‖ dest ‖ watermark`. With empty paths and
 * the maximal watermark this is 76, the overhead ironwood reserves in its MTU (`packetconn.go:190-197`).
 */
export function trafficHeaderSize (t: Omit<Traffic, 'payload'>): number {
  return pathSize(t.path) + pathSize(t.from) + 2 * KEY_SIZE + checkU64(t.watermark, 'watermark')
}

/** Total bytes of the Traffic frame for `t`, header and payload included. */
export function trafficFrameSize (t: Traffic): number {
  const bodyLen = trafficHeaderSize(t) + t.payload.length
  return frameHeaderSize(bodyLen) + bodyLen
}

/** Traffic frame (type 0x09), sized first and written into one buffer. */
export function encodeTraffic (t: Traffic): Uint8Array {
  checkBytes(t.source, KEY_SIZE, 'source')
  checkBytes(t.dest, KEY_SIZE, 'dest')
  if (!(t.payload instanceof Uint8Array)) throw new WireError('payload must be a Uint8Array')
  const bodyLen = trafficHeaderSize(t) + t.payload.length
  const n = bodyLen + 1
  const headerLen = uvarintSize(n) + n - t.payload.length
  const room = t.headroom ?? 0
  if (room >= headerLen && t.payload.byteOffset >= headerLen) {
    // Write the header into the owned bytes before the payload: the frame is a view, nothing is copied.
    const frame = new Uint8Array(t.payload.buffer, t.payload.byteOffset - headerLen, headerLen + t.payload.length)
    t.headroom = 0 // the bytes are used now
    writeTrafficHeader(frame, t, n)
    return frame
  }
  const buf = new Uint8Array(uvarintSize(n) + n)
  writeTrafficHeader(buf, t, n)
  buf.set(t.payload, buf.length - t.payload.length)
  return buf
}

/** Writes `uvarint(n) ‖ type ‖ path ‖ from ‖ source ‖ dest ‖ watermark` at the start of `buf`. */
function writeTrafficHeader (buf: Uint8Array, t: Traffic, n: number): void {
  let o = writeUvarint(buf, 0, n)
  buf[o++] = FrameType.Traffic
  o = writePath(buf, o, t.path)
  o = writePath(buf, o, t.from)
  buf.set(t.source, o); o += KEY_SIZE
  buf.set(t.dest, o); o += KEY_SIZE
  o = writeUvarint(buf, o, t.watermark)
  if (o + t.payload.length !== buf.length) throw new Error(`internal: Traffic size mismatch (${o + t.payload.length} != ${buf.length})`)
}

/**
 * Decodes a Traffic body. Like ironwood, everything after the watermark is the payload (so there are no
 * trailing bytes to reject). `payload` is a zero-copy view into `body`.
 */
export function decodeTraffic (body: Uint8Array): Traffic {
  return decoding('Traffic', body, (c) => {
    const path = c.path()
    const from = c.path()
    const source = c.bytes(KEY_SIZE, 'source')
    const dest = c.bytes(KEY_SIZE, 'dest')
    const watermark = c.u64()
    return { path, from, source, dest, watermark, payload: c.rest() }
  })
}

/* ------------------------------------------------------------------------------------------------ *
 * FrameReader                                                                                       *
 * ------------------------------------------------------------------------------------------------ */

/** 128^i for i = 0..9 (the frame length is accumulated in a number). */
const POW128: readonly number[] = Array.from({ length: 10 }, (_, i) => 128 ** i)

/**
 * Incremental decoder of the link byte stream (ironwood `peer.handler`, `peers.go:230-301`): splits it
 * into frames whatever the chunk boundaries. It fails, and stays failed, on exactly what makes ironwood
 * drop the link: a length uvarint overflowing 64 bits, N > `maxFrameSize` (detected from the length
 * prefix, before any body byte is buffered), N = 0, or a type byte above 9.
 *
 * Bodies of frames that arrive whole inside one chunk are zero-copy views of that chunk; a frame split
 * across chunks is assembled once it is complete (memory grows only with bytes actually received).
 * Pushed chunks must therefore not be modified afterwards.
 */
export class FrameReader {
  /** Largest accepted N (type byte + body). */
  readonly maxFrameSize: number
  #failed: WireError | undefined
  #lenValue = 0
  #lenBytes = 0
  #frameLen = 0
  #have = 0
  #pieces: Uint8Array[] = []

  constructor (maxFrameSize: number = IRONWOOD_MAX_FRAME_SIZE) {
    if (!Number.isSafeInteger(maxFrameSize) || maxFrameSize < 1) throw new WireError(`maxFrameSize must be a positive safe integer, got ${maxFrameSize}`)
    this.maxFrameSize = maxFrameSize
  }

  /** The error that failed the stream, if any. */
  get error (): WireError | undefined {
    return this.#failed
  }

  /** Bytes held for an incomplete frame (length prefix included). */
  get buffered (): number {
    return this.#lenBytes + this.#have
  }

  /**
   * Feeds received bytes; returns the frames they complete, in order. Throws `FrameStreamError` (a
   * WireError) on a malformed stream, carrying in `.frames` the good frames that preceded the error in
   * this chunk; every later call throws too.
   */
  push (chunk: Uint8Array): Frame[] {
    if (this.#failed !== undefined) {
      throw new FrameStreamError(`frame stream already failed: ${this.#failed.message}`, [], { cause: this.#failed })
    }
    const frames: Frame[] = []
    try {
      if (!(chunk instanceof Uint8Array)) throw new WireError('chunk must be a Uint8Array')
      this.#consume(chunk, frames)
    } catch (e) {
      const err = e instanceof WireError ? e : new WireError(String(e), { cause: e })
      this.#failed = err
      this.#pieces = []
      this.#have = 0
      throw new FrameStreamError(err.message, frames, { cause: err })
    }
    return frames
  }

  #consume (chunk: Uint8Array, frames: Frame[]): void {
    const n = chunk.length
    const max = this.maxFrameSize
    let p = 0
    while (p < n) {
      if (this.#frameLen === 0) {
        // Reading the length uvarint, possibly continued from the previous chunk.
        const b = chunk[p++]
        const i = this.#lenBytes
        if (i === 9 && b > 1) throw new WireError('frame length uvarint overflows 64 bits')
        const v = this.#lenValue + (b & 0x7f) * POW128[i]
        if (v > max) throw new WireError(`frame of ${b & 0x80 ? 'at least ' : ''}${v} bytes exceeds the limit of ${max} bytes`)
        if ((b & 0x80) !== 0) { this.#lenValue = v; this.#lenBytes = i + 1; continue }
        this.#lenValue = 0
        this.#lenBytes = 0
        if (v === 0) throw new WireError('empty frame (length 0)')
        const avail = n - p
        if (avail > 0 && chunk[p] > MAX_FRAME_TYPE) throw new WireError(`unrecognized frame type ${chunk[p]}`)
        if (avail >= v) {
          frames.push({ type: chunk[p], body: chunk.subarray(p + 1, p + v) })
          p += v
        } else {
          this.#frameLen = v
          if (avail > 0) { this.#pieces.push(chunk.subarray(p)); this.#have = avail }
          p = n
        }
      } else {
        if (this.#have === 0 && chunk[p] > MAX_FRAME_TYPE) throw new WireError(`unrecognized frame type ${chunk[p]}`)
        const take = Math.min(this.#frameLen - this.#have, n - p)
        this.#pieces.push(chunk.subarray(p, p + take))
        this.#have += take
        p += take
        if (this.#have === this.#frameLen) {
          // One buffer with the length prefix in front (as it came on the wire), so that a relay can rewrite
          // the header of a reassembled traffic frame in place, as it does for frames that arrived whole.
          const prefix = uvarintSize(this.#frameLen)
          const buf = new Uint8Array(prefix + this.#frameLen)
          writeUvarint(buf, 0, this.#frameLen)
          let o = prefix
          for (const piece of this.#pieces) { buf.set(piece, o); o += piece.length }
          this.#pieces = []
          this.#have = 0
          this.#frameLen = 0
          frames.push({ type: buf[prefix], body: buf.subarray(prefix + 1) })
        }
      }
    }
  }
}
