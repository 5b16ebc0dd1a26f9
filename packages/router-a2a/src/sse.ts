/** The `Content-Type` of an A2A streaming answer over HTTP. */
export const SSE_CONTENT_TYPE = 'text/event-stream'

/**
 * One Server-Sent Event carrying a JSON-RPC response (the SDK's JSON-RPC transport reads the `data:` lines of
 * each event, joined with "\n", as one JSON text): every line of `json` becomes a `data:` line.
 */
export function sseEvent (json: string): string {
  return json.split(/\r\n|\r|\n/).map(line => `data: ${line}\n`).join('') + '\n'
}
