/** A minimal Server-Sent Events reader (the parts MCP's Streamable HTTP uses), bounded in bytes per event. */

/** One SSE event. */
export interface SseEvent {
  /** The `event:` field, "message" by default. */
  event: string
  /** The `data:` lines joined with "\n". */
  data: string
  /** The `id:` field, if any. */
  id?: string
}

/** Read events from an SSE body; throws if one event exceeds `maxEventBytes`. */
export async function * readSse (body: ReadableStream<Uint8Array>, maxEventBytes: number): AsyncGenerator<SseEvent> {
  const reader = body.getReader()
  const decoder = new TextDecoder()
  let buf = ''
  let data: string[] = []
  let dataBytes = 0
  let event = ''
  let id: string | undefined
  try {
    for (;;) {
      const { done, value } = await reader.read()
      if (done) break
      buf += decoder.decode(value, { stream: true })
      if (buf.length > maxEventBytes * 2 + 4096) throw new Error(`SSE line exceeds ${maxEventBytes} bytes`)
      let nl: number
      while ((nl = buf.search(/\r\n|\r|\n/)) >= 0) {
        if (buf[nl] === '\r' && nl === buf.length - 1) break // maybe half of a CRLF: wait for the next chunk
        const line = buf.slice(0, nl)
        buf = buf.slice(buf[nl] === '\r' && buf[nl + 1] === '\n' ? nl + 2 : nl + 1)
        if (line === '') {
          if (data.length > 0) yield { event: event === '' ? 'message' : event, data: data.join('\n'), ...(id === undefined ? {} : { id }) }
          data = []; dataBytes = 0; event = ''
          continue
        }
        if (line.startsWith(':')) continue
        const colon = line.indexOf(':')
        const field = colon < 0 ? line : line.slice(0, colon)
        let value = colon < 0 ? '' : line.slice(colon + 1)
        if (value.startsWith(' ')) value = value.slice(1)
        if (field === 'data') {
          dataBytes += value.length + 1
          if (dataBytes > maxEventBytes) throw new Error(`SSE event exceeds ${maxEventBytes} bytes`)
          data.push(value)
        } else if (field === 'event') event = value
        else if (field === 'id') id = value
      }
    }
    if (data.length > 0) yield { event: event === '' ? 'message' : event, data: data.join('\n'), ...(id === undefined ? {} : { id }) }
  } finally {
    reader.cancel().catch(() => {})
  }
}
