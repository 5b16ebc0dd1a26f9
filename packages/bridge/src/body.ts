/**
 * Request bodies: a size cap checked before reading (Content-Length) and while reading (chunked), a global
 * byte budget charged for the bytes that actually arrived (a declared Content-Length reserves nothing), and
 * a deadline for the whole body.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'

/** A body was larger than allowed; `declared` when Content-Length said so before any byte was read. */
export class BodyTooLargeError extends Error {
  constructor (readonly size: number, readonly limit: number, readonly declared: boolean) {
    super(`request body of ${declared ? '' : 'at least '}${size} bytes exceeds the limit of ${limit} bytes`)
  }
}

/** The bridge's budget for request bodies held in memory at once was exhausted. */
export class BodyBudgetError extends Error {
  constructor (readonly limit: number) { super(`too many request bytes in flight (limit ${limit} bytes); retry later`) }
}

/** The body did not complete within the body deadline. */
export class BodyTimeoutError extends Error {
  constructor (readonly deadlineMs: number, readonly received: number, readonly declared: number | undefined) {
    super(`the request body did not arrive within ${deadlineMs} ms (${received} of ${declared === undefined ? 'an unknown number of' : declared} bytes received)`)
  }
}

/** The body ended early (client went away). */
export class BodyAbortedError extends Error {}

/** Bytes held by request bodies across all requests, bounded. */
export class ByteBudget {
  private used = 0
  constructor (readonly max: number) {}
  /** Bytes in use now. */
  get inUse (): number { return this.used }
  /** Take `n` bytes, or return false when that would exceed the budget. */
  take (n: number): boolean {
    if (this.used + n > this.max) return false
    this.used += n
    return true
  }

  /** Return `n` bytes. */
  give (n: number): void { this.used = Math.max(0, this.used - n) }
}

/** Bytes one request holds from the budget; released when its body is dropped or its response closes. */
export class BodyLease {
  private held = 0
  constructor (readonly budget: ByteBudget) {}
  take (n: number): boolean {
    if (!this.budget.take(n)) return false
    this.held += n
    return true
  }

  release (): void { this.budget.give(this.held); this.held = 0 }
}

/** Options of readBody. */
export interface ReadBodyOptions {
  /** Largest body accepted, bytes. */
  limit: number
  /** Budget lease of this request. */
  lease: BodyLease
  /** Send `100 Continue` first (the client sent `Expect: 100-continue`). */
  expectContinue: boolean
  /** The whole body must arrive within this many ms of the first read (0: no deadline). */
  deadlineMs: number
}

/** The declared Content-Length, or undefined (chunked / absent). */
export function declaredLength (req: IncomingMessage): number | undefined {
  const h = req.headers['content-length']
  if (h === undefined) return undefined
  const n = Number(h)
  return Number.isSafeInteger(n) && n >= 0 ? n : undefined
}

/**
 * Read the whole body; rejects with BodyTooLargeError (before reading when Content-Length is too big),
 * BodyBudgetError (the bytes received do not fit the shared budget), BodyTimeoutError or BodyAbortedError.
 * The lease is charged chunk by chunk as bytes arrive, so a declared but unsent body holds nothing.
 */
export async function readBody (req: IncomingMessage, res: ServerResponse, opts: ReadBodyOptions): Promise<Buffer> {
  const { limit, lease } = opts
  const declared = declaredLength(req)
  if (declared !== undefined && declared > limit) throw new BodyTooLargeError(declared, limit, true)
  if (opts.expectContinue) res.writeContinue()
  if (declared === 0 || req.readableEnded) return Buffer.alloc(0)
  return await new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = []
    let total = 0
    const timer = opts.deadlineMs > 0 ? setTimeout(() => { done(new BodyTimeoutError(opts.deadlineMs, total, declared)) }, opts.deadlineMs) : undefined
    timer?.unref()
    const done = (err?: Error): void => {
      clearTimeout(timer)
      req.off('data', onData)
      req.off('end', onEnd)
      req.off('error', onError)
      req.off('close', onClose)
      if (err !== undefined) { req.pause(); reject(err) } else resolve(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, total))
    }
    const onData = (c: Buffer): void => {
      total += c.byteLength
      if (total > limit) { done(new BodyTooLargeError(total, limit, false)); return }
      if (!lease.take(c.byteLength)) { done(new BodyBudgetError(lease.budget.max)); return }
      chunks.push(c)
    }
    const onEnd = (): void => { done() }
    const onError = (e: Error): void => { done(new BodyAbortedError(e.message)) }
    const onClose = (): void => { if (!req.complete) done(new BodyAbortedError('the client closed the connection')) }
    req.on('data', onData)
    req.on('end', onEnd)
    req.on('error', onError)
    req.on('close', onClose)
  })
}

/**
 * After answering before the body was read (413/503): close the connection once the answer is out,
 * discarding what the client still sends for a short grace so it can read the answer.
 */
export function closeAfterResponse (req: IncomingMessage, res: ServerResponse): void {
  res.once('finish', () => {
    if (req.complete) return
    req.removeAllListeners('data')
    req.resume()
    const timer = setTimeout(() => { req.socket.destroy() }, 2000)
    timer.unref()
    req.once('end', () => { clearTimeout(timer); req.socket.destroy() })
  })
}
