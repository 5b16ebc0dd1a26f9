/**
 * A Server-Sent Events reader (the parts MCP's Streamable HTTP uses), bounded in bytes per event. Parsing is
 * `eventsource-parser`'s; this module adds the byte caps, MCP's defaults ("message" events) and an async
 * iterator over a fetch body.
 */
import { AxlError } from '@axl/core'
import { createParser, type EventSourceMessage, type ParseError } from 'eventsource-parser'

/** One SSE event. */
export interface SseEvent {
  /** The `event:` field, "message" by default. */
  event: string
  /** The `data:` lines joined with "\n". */
  data: string
  /** The last `id:` field seen on the stream so far, if any (the spec's "last event ID"). */
  id?: string
}

/** An SSE event, or a line being buffered, is over the reader's byte cap. */
export class SseTooLargeError extends AxlError {
  /** The cap that was exceeded (`maxEventBytes`). */
  readonly limit: number
  constructor (what: 'event' | 'line', limit: number) {
    super('ERR_SSE_TOO_LARGE', `SSE ${what} exceeds ${limit} bytes`)
    this.limit = limit
  }
}

/**
 * Read events from an SSE body; throws SseTooLargeError if one event's data exceeds `maxEventBytes`, or if the
 * text buffered for an unfinished event (its data plus the line being read) exceeds 2 × `maxEventBytes` + 4 KiB.
 * At the end of the body an unterminated last event is still delivered. `onRetry` receives each `retry:` value.
 */
export async function * readSse (body: ReadableStream<Uint8Array>, maxEventBytes: number, onRetry?: (ms: number) => void): AsyncGenerator<SseEvent> {
  const reader = body.getReader()
  const decoder = new TextDecoder()
  const ready: SseEvent[] = []
  let failure: Error | undefined
  let lastId: string | undefined
  const parser = createParser({
    // Bounds what the parser holds for an event still being read (its data plus an unfinished line).
    maxBufferSize: maxEventBytes * 2 + 4096,
    onEvent (m: EventSourceMessage) {
      if (failure !== undefined) return
      // The data lines plus their separators, as counted per line while they arrive.
      if (m.data.length + 1 > maxEventBytes) { failure = new SseTooLargeError('event', maxEventBytes); return }
      if (m.id !== undefined) lastId = m.id
      ready.push({ event: m.event ?? 'message', data: m.data, ...(lastId === undefined ? {} : { id: lastId }) })
    },
    // The server's `retry:` field: how long to wait before reconnecting (the caller decides what to do with it).
    onRetry (ms: number) { onRetry?.(ms) },
    onError (err: ParseError) {
      // Unknown fields and bad `retry:` values are ignored, as the SSE spec says; only the cap is fatal.
      if (err.type === 'max-buffer-size-exceeded') failure ??= new SseTooLargeError('line', maxEventBytes)
    }
  })
  try {
    for (;;) {
      const { done, value } = await reader.read()
      // At the end, finish the last line and event as if a blank line followed.
      parser.feed(done ? decoder.decode() + '\n\n' : decoder.decode(value, { stream: true }))
      while (ready.length > 0) yield ready.shift() as SseEvent
      if (failure !== undefined) throw failure
      if (done) break
    }
  } finally {
    // The body may already have ended or failed: then there is nothing left to release.
    reader.cancel().catch((err: unknown) => { void err })
  }
}
