/**
 * Shared pieces of the MCP session tests: an McpServer with tools that use every server-to-client feature,
 * a Client that declares and answers them, and waiting helpers with deadlines.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js'
import {
  CreateMessageRequestSchema, CreateMessageResultSchema, ElicitRequestSchema, ListRootsRequestSchema, LoggingMessageNotificationSchema, ToolListChangedNotificationSchema,
  type LoggingMessageNotification
} from '@modelcontextprotocol/sdk/types.js'
import * as z from 'zod'

/** What a two-way server saw (per instance). */
export interface ServerProbe {
  /** Server instances made so far. */
  instances: number
  /** Resolved when a `wait` tool call's signal aborted (cancellation reached the server). */
  cancelled: Promise<string>
  /** Resolved when a `wait` tool call started. */
  waiting: Promise<void>
}

/** A factory of McpServers whose tools exercise progress, logging, sampling, elicitation, roots and list_changed. */
export function twoWayServer (): { make: () => McpServer, probe: ServerProbe } {
  let onCancel!: (r: string) => void
  let onWait!: () => void
  const probe: ServerProbe = {
    instances: 0,
    cancelled: new Promise<string>(resolve => { onCancel = resolve }),
    waiting: new Promise<void>(resolve => { onWait = resolve })
  }
  const make = (): McpServer => {
    probe.instances++
    const instance = probe.instances
    let counter = 0
    const server = new McpServer({ name: 'two-way', version: '1.0.0' }, { capabilities: { logging: {} } })
    server.registerTool('progress', { inputSchema: { steps: z.number() } }, async ({ steps }, extra) => {
      const token = extra._meta?.progressToken
      for (let i = 1; i <= steps; i++) {
        if (token !== undefined) await extra.sendNotification({ method: 'notifications/progress', params: { progressToken: token, progress: i, total: steps } })
      }
      return { content: [{ type: 'text', text: `done ${steps}` }] }
    })
    server.registerTool('log', { inputSchema: { text: z.string() } }, async ({ text }, extra) => {
      await extra.sendNotification({ method: 'notifications/message', params: { level: 'info', logger: 'two-way', data: `${text} (server ${instance})` } })
      return { content: [{ type: 'text', text: 'logged' }] }
    })
    server.registerTool('sample', { inputSchema: { prompt: z.string() } }, async ({ prompt }) => {
      const r = await server.server.createMessage({ messages: [{ role: 'user', content: { type: 'text', text: prompt } }], maxTokens: 10 })
      return { content: [{ type: 'text', text: `model said: ${(r.content as { text: string }).text}` }] }
    })
    // The same, sent as part of the tool call (relatedRequestId): over Streamable HTTP on the call's own stream.
    server.registerTool('sample-related', { inputSchema: { prompt: z.string() } }, async ({ prompt }, extra) => {
      const r = await extra.sendRequest({ method: 'sampling/createMessage', params: { messages: [{ role: 'user', content: { type: 'text', text: prompt } }], maxTokens: 10 } }, CreateMessageResultSchema)
      return { content: [{ type: 'text', text: `model said: ${(r.content as { text: string }).text}` }] }
    })
    server.registerTool('elicit', {}, async () => {
      const r = await server.server.elicitInput({ message: 'your name?', requestedSchema: { type: 'object', properties: { name: { type: 'string' } }, required: ['name'] } })
      return { content: [{ type: 'text', text: `${r.action}: ${String(r.content?.name)}` }] }
    })
    server.registerTool('roots', {}, async () => {
      const r = await server.server.listRoots()
      return { content: [{ type: 'text', text: r.roots.map(x => x.uri).join(',') }] }
    })
    server.registerTool('grow', {}, async () => {
      server.registerTool(`extra-${Date.now()}-${Math.random()}`, {}, async () => ({ content: [] }))
      return { content: [{ type: 'text', text: 'grown' }] }
    })
    server.registerTool('resumable', {}, async extra => {
      const token = extra._meta?.progressToken
      if (token !== undefined) await extra.sendNotification({ method: 'notifications/progress', params: { progressToken: token, progress: 1 } })
      extra.closeSSEStream?.() // Streamable HTTP: the client must resume with Last-Event-ID
      if (token !== undefined) await extra.sendNotification({ method: 'notifications/progress', params: { progressToken: token, progress: 2 } })
      return { content: [{ type: 'text', text: 'resumed' }] }
    })
    server.registerTool('bump', {}, async () => ({ content: [{ type: 'text', text: String(++counter) }] }))
    server.registerTool('wait', {}, async extra => {
      onWait()
      return await new Promise(resolve => {
        extra.signal.addEventListener('abort', () => {
          onCancel(String(extra.signal.reason))
          resolve({ content: [{ type: 'text', text: 'aborted' }] })
        }, { once: true })
      })
    })
    return server
  }
  return { make, probe }
}

/** What a two-way client received. */
export interface ClientProbe {
  logs: LoggingMessageNotification['params'][]
  listChanged: number
}

/** A Client that declares sampling, elicitation and roots and answers them. */
export function twoWayClient (name = 'two-way-client'): { client: Client, seen: ClientProbe } {
  const client = new Client({ name, version: '1.0.0' }, { capabilities: { sampling: {}, elicitation: {}, roots: { listChanged: true } } })
  const seen: ClientProbe = { logs: [], listChanged: 0 }
  client.setRequestHandler(CreateMessageRequestSchema, async req => ({
    role: 'assistant', model: 'test-model', content: { type: 'text', text: `echo(${(req.params.messages[0].content as { text: string }).text})` }
  }))
  client.setRequestHandler(ElicitRequestSchema, async () => ({ action: 'accept', content: { name: name } }))
  client.setRequestHandler(ListRootsRequestSchema, async () => ({ roots: [{ uri: 'file:///work', name: 'work' }] }))
  client.setNotificationHandler(LoggingMessageNotificationSchema, n => { seen.logs.push(n.params) })
  client.setNotificationHandler(ToolListChangedNotificationSchema, () => { seen.listChanged++ })
  return { client, seen }
}

/** The text of a tool result's first content item. */
export function text (r: unknown): string {
  return ((r as { content: Array<{ text?: string }> }).content[0]?.text) ?? ''
}

/** Resolve `p` or fail after `ms`. */
export async function within<T> (p: Promise<T>, ms: number, what: string): Promise<T> {
  let t: NodeJS.Timeout | undefined
  try {
    return await Promise.race([p, new Promise<never>((_resolve, reject) => { t = setTimeout(() => { reject(new Error(`${what}: not within ${ms} ms`)) }, ms) })])
  } finally { clearTimeout(t) }
}
