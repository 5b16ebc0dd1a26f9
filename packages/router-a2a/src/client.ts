import { randomUUID } from 'node:crypto'
import { fromJsonRpcErrorResponse } from '@a2a-js/sdk/errors'
import { ProtocolError, type AxlNode, type PeerId, type WaitOptions } from '@axl/core'
import { decodeA2aResponse, encodeA2aAgentCardRequest, encodeA2aRequest } from './envelope.js'
import { A2aRemoteError, A2aRpcError } from './errors.js'
import type { AgentCardJson, MessageJson, PartJson, SendMessageResultJson } from './wire.js'

/** Options of the client calls: a deadline (default: the node's requestTimeoutMs) and an AbortSignal. */
export interface CallOptions extends WaitOptions {}

/** A message to send: text, or a (partial) v1.0 message; `messageId` and `role` are filled in when missing. */
export type MessageInput = string | (Partial<MessageJson> & { parts: PartJson[] })

/** Options of send(). */
export interface SendOptions extends CallOptions {
  /** SendMessage `configuration` (e.g. `{ returnImmediately: true }`, `{ historyLength: 0 }`). */
  configuration?: Record<string, unknown>
  /** SendMessage `metadata`. */
  metadata?: Record<string, unknown>
}

/** The A2A reply envelope's `response` as JSON text; throws A2aRemoteError on an error envelope. */
export async function exchange (node: AxlNode<any>, peer: PeerId | string, frame: Uint8Array, opts: CallOptions): Promise<{ response: string | null, error?: string }> {
  const reply = await node.request(peer, frame, opts)
  return decodeA2aResponse(reply)
}

/** JSON.parse, throwing ProtocolError naming `what`. */
export function parseJson (text: string, what: string): unknown {
  try { return JSON.parse(text) } catch (err) {
    throw new ProtocolError(`${what} is not JSON: ${(err as Error).message}`, { cause: err })
  }
}

/** Fetches a peer's agent card (A2A v1.0 JSON, as the peer sent it). */
export async function fetchCard (node: AxlNode<any>, peer: PeerId | string, opts: CallOptions = {}): Promise<AgentCardJson> {
  const r = await exchange(node, peer, encodeA2aAgentCardRequest(), opts)
  if (r.error !== undefined) throw new A2aRemoteError(String(peer), r.error)
  const card = parseJson(r.response ?? 'null', `the agent card of ${String(peer)}`)
  if (card === null || typeof card !== 'object' || Array.isArray(card)) throw new ProtocolError(`the agent card of ${String(peer)} is not a JSON object`)
  return card as AgentCardJson
}

/** The A2aRpcError for a JSON-RPC `error` member (`cause`: the `@a2a-js/sdk` error class for its code). */
export function toRpcError (method: string, error: unknown): A2aRpcError {
  const e = (error !== null && typeof error === 'object' ? error : { message: String(error) }) as { code?: unknown, message?: unknown, data?: unknown }
  const code = typeof e.code === 'number' ? e.code : -32603
  const message = typeof e.message === 'string' ? e.message : JSON.stringify(e)
  let cause: unknown
  try { cause = fromJsonRpcErrorResponse({ jsonrpc: '2.0', id: null, error: { code, message, data: e.data } } as never) } catch (err) { cause = err }
  return new A2aRpcError(method, code, message, e.data, { cause })
}

/** Calls one JSON-RPC method on a peer's A2A endpoint; resolves to `result`, throws A2aRpcError on `error`. */
export async function callRpc (node: AxlNode<any>, peer: PeerId | string, method: string, params: unknown, opts: CallOptions = {}): Promise<unknown> {
  const id = randomUUID()
  const r = await exchange(node, peer, encodeA2aRequest({ jsonrpc: '2.0', id, method, params }), opts)
  if (r.error !== undefined) throw new A2aRemoteError(String(peer), r.error)
  const body = parseJson(r.response ?? 'null', `the ${method} answer of ${String(peer)}`) as Record<string, unknown> | null
  if (body === null || typeof body !== 'object' || Array.isArray(body)) throw new ProtocolError(`the ${method} answer of ${String(peer)} is not a JSON-RPC response object`)
  if (body.error !== undefined && body.error !== null) throw toRpcError(method, body.error)
  if (!('result' in body)) throw new ProtocolError(`the ${method} answer of ${String(peer)} has neither "result" nor "error"`)
  if (body.id !== id) throw new ProtocolError(`the ${method} answer of ${String(peer)} has id ${JSON.stringify(body.id)}, expected ${JSON.stringify(id)}`)
  return body.result
}

/** Turns text or a partial message into a v1.0 user message. */
export function toMessage (input: MessageInput): MessageJson {
  if (typeof input === 'string') return { messageId: randomUUID(), role: 'ROLE_USER', parts: [{ text: input }] }
  return { ...input, messageId: input.messageId ?? randomUUID(), role: input.role ?? 'ROLE_USER', parts: input.parts }
}

/** Sends `SendMessage` to a peer; resolves to the JSON-RPC result: `{ task }` or `{ message }`. */
export async function sendMessage (node: AxlNode<any>, peer: PeerId | string, input: MessageInput, opts: SendOptions = {}): Promise<SendMessageResultJson> {
  const params: Record<string, unknown> = { message: toMessage(input) }
  if (opts.configuration !== undefined) params.configuration = opts.configuration
  if (opts.metadata !== undefined) params.metadata = opts.metadata
  const result = await callRpc(node, peer, 'SendMessage', params, opts) as SendMessageResultJson | null
  if (result === null || typeof result !== 'object' || (result.task === undefined && result.message === undefined)) {
    throw new ProtocolError(`the SendMessage result of ${String(peer)} has neither "task" nor "message"`)
  }
  return result
}
