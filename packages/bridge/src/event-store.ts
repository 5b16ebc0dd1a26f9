// A bounded in-memory EventStore (the MCP SDK's interface) for `Last-Event-ID` resumption of SSE streams.
import { randomUUID } from 'node:crypto'
import type { EventStore } from '@modelcontextprotocol/sdk/server/streamableHttp.js'
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js'

/** Bounded in-memory event store per session, for `Last-Event-ID` resumption of SSE streams. */
export class BoundedEventStore implements EventStore {
  private readonly events = new Map<string, { streamId: string, message: JSONRPCMessage }>()
  /** Keeps the last `max` events (across the session's streams); `onForget` is called for each one dropped. */
  constructor (private readonly max: number, private readonly onForget: () => void = () => {}) {}

  async storeEvent (streamId: string, message: JSONRPCMessage): Promise<string> {
    const id = `${streamId}_${randomUUID()}`
    this.events.set(id, { streamId, message })
    while (this.events.size > this.max) {
      this.events.delete(this.events.keys().next().value!)
      this.onForget()
    }
    return id
  }

  async getStreamIdForEventId (eventId: string): Promise<string | undefined> {
    return this.events.get(eventId)?.streamId
  }

  async replayEventsAfter (lastEventId: string, { send }: { send: (eventId: string, message: JSONRPCMessage) => Promise<void> }): Promise<string> {
    const from = this.events.get(lastEventId)
    if (from === undefined) return ''
    let after = false
    for (const [id, e] of this.events) {
      if (id === lastEventId) { after = true; continue }
      if (after && e.streamId === from.streamId) await send(id, e.message)
    }
    return from.streamId
  }
}
