/**
 * The durable inbox's journal (`createNode({ inbox: { dir } })`): every raw message the node accepts is appended
 * to `<dir>/inbox.journal` — and, with `fsync` (the default), flushed to disk — before the sender is
 * acknowledged; a message leaving the inbox (read, or evicted by 'drop-oldest') appends a `done` record. After a
 * crash (kill -9, power loss with fsync) the next start replays every message not marked done, in order.
 *
 * ```
 * file   = "AXLJRNL1" ‖ record*
 * record = BE32 body length ‖ BE32 CRC-32 of body ‖ body
 * body   = 0x01 ‖ BE64 seq ‖ 32-byte sender key ‖ float64 receivedAt ‖ data     (put)
 *        | 0x02 ‖ BE64 seq                                                    (done)
 * ```
 *
 * A record that is torn (the tail of a crashed write) or fails its CRC ends the replay there: the rest of the
 * file is cut off and reported (`corruptBytes`), never parsed. Appends are batched: one write and one fsync per
 * turn of the event loop for everything appended meanwhile (group commit). The file is bounded: when nothing is
 * pending it is truncated to its header, and when it holds more than twice the live messages (+ 1 MiB) it is
 * rewritten with the live ones only; a put that would still pass `maxBytes` is refused.
 */
import { open, rename, mkdir, type FileHandle } from 'node:fs/promises'
import { join } from 'node:path'
import { crc32 } from 'node:zlib'
import { ConfigError } from './errors.js'
import { peerIdFromBytes, peerIdToBytes, type PeerId } from './peer-id.js'

const MAGIC = Buffer.from('AXLJRNL1')
const PUT = 1
const DONE = 2
const RECORD_HEADER = 8
const PUT_FIXED = 1 + 8 + 32 + 8
const DONE_BODY = 1 + 8
/** Slack above twice the live bytes before the journal is rewritten. */
const COMPACT_SLACK = 1024 * 1024

/** Options of the durable inbox. */
export interface InboxJournalOptions {
  /** Directory of the journal (created if missing); one node per directory. */
  dir: string
  /** fsync before acknowledging (survives power loss); false survives a killed process only. @default true */
  fsync?: boolean
  /** Largest journal file in bytes; a message that would pass it is refused. @default 2 × inboxMaxBytes + 16 MiB */
  maxBytes?: number
}

/** A message replayed from the journal at start. */
export interface JournalEntry { seq: number, from: PeerId, receivedAt: number, data: Uint8Array }

/** What opening the journal found. */
export interface JournalRecovery {
  /** Messages accepted before the restart and not yet read, oldest first. */
  pending: JournalEntry[]
  /** Bytes cut off at the end of the file because a record was torn or failed its CRC (0 when clean). */
  corruptBytes: number
  /** Why the cut happened, when it did. */
  corruptReason?: string
}

/** Counters of the journal. */
export interface JournalStats {
  /** Current file size in bytes. */
  bytes: number
  /** Messages in the journal not yet marked done. */
  live: number
  /** Rewrites that dropped done records. */
  compactions: number
  /** Messages refused because the journal was at maxBytes. */
  refusedFull: number
  /** Write or fsync failures (each also rejects the appends it carried). */
  writeErrors: number
}

interface Pending { buf: Buffer, seq: number, put: boolean, resolve?: () => void, reject?: (e: Error) => void }

/** The append-only journal under a durable inbox. */
export class InboxJournal {
  readonly stats: JournalStats = { bytes: 0, live: 0, compactions: 0, refusedFull: 0, writeErrors: 0 }
  private readonly live = new Map<number, { from: PeerId, receivedAt: number, data: Uint8Array }>()
  private liveBytes = 0
  /** Live messages whose put record is already in the file (the rest are still queued). */
  private readonly written = new Set<number>()
  /** Set when a put was let in on the promise of a compaction (the file would pass maxBytes otherwise). */
  private compactNeeded = false
  private nextSeq: number
  private queue: Pending[] = []
  private flushing: Promise<void> | undefined
  private closed = false

  private constructor (private fh: FileHandle, private readonly path: string, private readonly fsync: boolean, private readonly maxBytes: number, size: number, nextSeq: number) {
    this.stats.bytes = size
    this.nextSeq = nextSeq
  }

  /** Opens (or creates) the journal in `opts.dir` and reads back what it holds. */
  static async open (opts: InboxJournalOptions, defaultMaxBytes: number): Promise<{ journal: InboxJournal, recovery: JournalRecovery }> {
    if (typeof opts.dir !== 'string' || opts.dir === '') throw new ConfigError('inbox.dir must be a directory path')
    const maxBytes = opts.maxBytes ?? defaultMaxBytes
    if (!Number.isSafeInteger(maxBytes) || maxBytes < MAGIC.length + 1024) throw new ConfigError(`inbox.maxBytes must be an integer ≥ ${MAGIC.length + 1024}, got ${String(opts.maxBytes)}`)
    await mkdir(opts.dir, { recursive: true })
    const path = join(opts.dir, 'inbox.journal')
    const fh = await open(path, 'a+')
    try {
      const file = await fh.readFile()
      const { entries, goodEnd, corruptReason, nextSeq } = parse(file)
      let size = file.byteLength
      if (goodEnd < MAGIC.length) {
        // New file, or not even a valid header: start over (reported as corrupt when there were bytes).
        await fh.truncate(0)
        await fh.write(MAGIC, 0, MAGIC.length, null)
        size = MAGIC.length
      } else if (goodEnd < file.byteLength) {
        await fh.truncate(goodEnd)
        size = goodEnd
      }
      if (opts.fsync !== false) await fh.datasync()
      const journal = new InboxJournal(fh, path, opts.fsync !== false, maxBytes, size, nextSeq)
      for (const e of entries) {
        journal.live.set(e.seq, e)
        journal.written.add(e.seq)
        journal.liveBytes += RECORD_HEADER + PUT_FIXED + e.data.byteLength
      }
      journal.stats.live = journal.live.size
      const corruptBytes = file.byteLength - goodEnd
      return {
        journal,
        recovery: { pending: entries, corruptBytes, ...(corruptBytes > 0 ? { corruptReason: corruptReason ?? 'invalid header' } : {}) }
      }
    } catch (e) {
      await fh.close()
      throw e
    }
  }

  /**
   * Appends a message; resolves once it is on disk (with fsync: flushed). Rejects with a RangeError when the
   * journal is full (maxBytes), or with the I/O error. Returns the message's sequence number synchronously via `seq`.
   */
  put (from: PeerId, receivedAt: number, data: Uint8Array): { seq: number, written: Promise<void> } {
    const recordBytes = RECORD_HEADER + PUT_FIXED + data.byteLength
    if (this.closed) return { seq: -1, written: Promise.reject(new Error('the inbox journal is closed')) }
    if (this.projectedBytes() + recordBytes > this.maxBytes) {
      // Full as the file stands: let it in only if the live messages alone (with it) fit, and compact first.
      if (MAGIC.length + this.liveBytes + recordBytes > this.maxBytes) {
        this.stats.refusedFull++
        return { seq: -1, written: Promise.reject(new RangeError(`the inbox journal is full (${this.maxBytes} bytes)`)) }
      }
      this.compactNeeded = true
    }
    const seq = this.nextSeq++
    const body = Buffer.allocUnsafe(PUT_FIXED + data.byteLength)
    body[0] = PUT
    body.writeBigUInt64BE(BigInt(seq), 1)
    body.set(peerIdToBytes(from), 9)
    body.writeDoubleBE(receivedAt, 41)
    body.set(data, PUT_FIXED)
    this.live.set(seq, { from, receivedAt, data })
    this.liveBytes += recordBytes
    this.stats.live = this.live.size
    return { seq, written: this.enqueue(body, seq, true) }
  }

  /** Marks a message read (or evicted): it will not be replayed. Written with the next batch, not awaited. */
  done (seq: number): void {
    const entry = this.live.get(seq)
    if (entry === undefined || this.closed) return
    this.live.delete(seq)
    this.liveBytes -= RECORD_HEADER + PUT_FIXED + entry.data.byteLength
    const inFile = this.written.delete(seq)
    this.stats.live = this.live.size
    // Not awaited: a done record lost in a crash only means the message is delivered again after the restart.
    // A put still queued needs no done record: the flush skips puts of messages no longer live.
    if (inFile) this.markDone(seq)
  }

  /** Queues the done record of a message whose put is in the file. */
  private markDone (seq: number): void {
    const body = Buffer.allocUnsafe(DONE_BODY)
    body[0] = DONE
    body.writeBigUInt64BE(BigInt(seq), 1)
    void this.enqueue(body, seq, false)
  }

  /** After a write put `seq` in the file: track it, or, if it was read meanwhile, mark it done. */
  private settleWritten (seq: number): void {
    if (this.live.has(seq)) this.written.add(seq)
    else this.markDone(seq)
  }

  /** Writes what is queued and closes the file. */
  async close (): Promise<void> {
    if (this.closed) return
    this.closed = true
    while (this.flushing !== undefined) await this.flushing
    if (this.queue.length > 0) await this.flush()
    await this.fh.close()
  }

  private projectedBytes (): number {
    let queued = 0
    for (const p of this.queue) queued += p.buf.byteLength
    return this.stats.bytes + queued
  }

  private async enqueue (body: Buffer, seq: number, put: boolean): Promise<void> {
    const waited = put
    const buf = Buffer.allocUnsafe(RECORD_HEADER + body.byteLength)
    buf.writeUInt32BE(body.byteLength, 0)
    buf.writeUInt32BE(crc32(body), 4)
    body.copy(buf, RECORD_HEADER)
    const p: Pending = { buf, seq, put }
    const written = waited ? new Promise<void>((resolve, reject) => { p.resolve = resolve; p.reject = reject }) : Promise.resolve()
    this.queue.push(p)
    if (this.flushing === undefined) {
      // Group commit: everything appended during this turn of the event loop goes in one write (and one fsync).
      this.flushing = new Promise<void>(resolve => setImmediate(resolve)).then(async () => { await this.flush() }).finally(() => {
        this.flushing = undefined
        if (this.queue.length > 0 && !this.closed) void this.enqueueFlush()
      })
    }
    return await written
  }

  private enqueueFlush (): void {
    if (this.flushing !== undefined) return
    this.flushing = this.flush().finally(() => {
      this.flushing = undefined
      if (this.queue.length > 0 && !this.closed) this.enqueueFlush()
    })
  }

  private async flush (): Promise<void> {
    const batch = this.queue
    this.queue = []
    if (batch.length === 0) return
    try {
      if (this.compactNeeded || this.stats.bytes > this.liveBytes * 2 + COMPACT_SLACK + MAGIC.length) {
        // The rewrite holds every live message, this batch's puts included: nothing of the batch is left to write.
        const inFile = await this.compact()
        this.compactNeeded = false
        for (const seq of inFile) this.settleWritten(seq)
      } else {
        // No live message in the file any more: the whole file is garbage, start it over at its header.
        if (this.written.size === 0 && this.stats.bytes > MAGIC.length) {
          await this.fh.truncate(MAGIC.length)
          this.stats.bytes = MAGIC.length
        }
        // Puts of messages already read need not be written; done records of them neither (the flush skipped them).
        const keep = batch.filter(p => !p.put || this.live.has(p.seq))
        if (keep.length > 0) {
          const all = Buffer.concat(keep.map(p => p.buf))
          await this.fh.write(all, 0, all.byteLength, null)
          this.stats.bytes += all.byteLength
          for (const p of keep) if (p.put) this.settleWritten(p.seq)
        }
      }
      if (this.fsync) await this.fh.datasync()
      for (const p of batch) p.resolve?.()
    } catch (e) {
      this.stats.writeErrors++
      const err = e instanceof Error ? e : new Error(String(e))
      for (const p of batch) p.reject?.(err)
    }
  }

  /** Rewrites the file with the live messages only (write a temp file, fsync, rename over). */
  private async compact (): Promise<number[]> {
    const tmp = `${this.path}.tmp`
    const inFile: number[] = []
    const out = await open(tmp, 'w')
    let size = MAGIC.length
    try {
      await out.write(MAGIC, 0, MAGIC.length, null)
      for (const [seq, e] of this.live) {
        const body = Buffer.allocUnsafe(PUT_FIXED + e.data.byteLength)
        body[0] = PUT
        body.writeBigUInt64BE(BigInt(seq), 1)
        body.set(peerIdToBytes(e.from), 9)
        body.writeDoubleBE(e.receivedAt, 41)
        body.set(e.data, PUT_FIXED)
        const head = Buffer.allocUnsafe(RECORD_HEADER)
        head.writeUInt32BE(body.byteLength, 0)
        head.writeUInt32BE(crc32(body), 4)
        await out.write(head, 0, RECORD_HEADER, null)
        await out.write(body, 0, body.byteLength, null)
        size += RECORD_HEADER + body.byteLength
        inFile.push(seq)
      }
      await out.datasync()
    } finally {
      await out.close()
    }
    await rename(tmp, this.path)
    await this.fh.close()
    this.fh = await open(this.path, 'a+')
    this.stats.bytes = size
    this.stats.compactions++
    return inFile
  }
}

/** Reads records until the end or the first invalid one; returns the live puts and where the valid part ends. */
function parse (file: Buffer): { entries: JournalEntry[], goodEnd: number, corruptReason?: string, nextSeq: number } {
  if (file.byteLength < MAGIC.length || !file.subarray(0, MAGIC.length).equals(MAGIC)) {
    return { entries: [], goodEnd: 0, ...(file.byteLength > 0 ? { corruptReason: 'not an inbox journal (bad header)' } : {}), nextSeq: 1 }
  }
  const live = new Map<number, JournalEntry>()
  let off = MAGIC.length
  let nextSeq = 1
  let corruptReason: string | undefined
  while (off < file.byteLength) {
    if (file.byteLength - off < RECORD_HEADER) { corruptReason = `torn record header at byte ${off}`; break }
    const len = file.readUInt32BE(off)
    const crc = file.readUInt32BE(off + 4)
    if (len < DONE_BODY || len > file.byteLength - off - RECORD_HEADER) { corruptReason = `record at byte ${off} claims ${len} bytes (torn or corrupt)`; break }
    const body = file.subarray(off + RECORD_HEADER, off + RECORD_HEADER + len)
    if (crc32(body) !== crc) { corruptReason = `record at byte ${off} fails its CRC`; break }
    const type = body[0]
    const seqBig = body.readBigUInt64BE(1)
    if (seqBig > BigInt(Number.MAX_SAFE_INTEGER)) { corruptReason = `record at byte ${off} has an impossible sequence number`; break }
    const seq = Number(seqBig)
    if (type === PUT && len >= PUT_FIXED) {
      // Copy out of the file buffer: a replayed message must not pin the whole file in memory.
      live.set(seq, { seq, from: peerIdFromBytes(body.subarray(9, 41)), receivedAt: body.readDoubleBE(41), data: Uint8Array.prototype.slice.call(body, PUT_FIXED) })
    } else if (type === DONE && len === DONE_BODY) {
      live.delete(seq)
    } else { corruptReason = `record at byte ${off} has an unknown type ${type}`; break }
    nextSeq = Math.max(nextSeq, seq + 1)
    off += RECORD_HEADER + len
  }
  return { entries: [...live.values()].sort((a, b) => a.seq - b.seq), goodEnd: off, ...(corruptReason !== undefined ? { corruptReason } : {}), nextSeq }
}
