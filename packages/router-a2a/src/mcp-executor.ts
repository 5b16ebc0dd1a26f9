import { randomUUID } from 'node:crypto'
import { Role, TaskState, type Message, type Part, type Task } from '@a2a-js/sdk'
import { AgentEvent, type AgentExecutor, type ExecutionEventBus, type RequestContext } from '@a2a-js/sdk/server'
import { withDeadline, type PeerId } from '@axl/core'
import { callerPeerId, callSignal } from './call-context.js'
import { parseMcpCall } from './mcp-call.js'
import type { McpPort } from './mcp-port.js'
import { pythonJsonDumps } from './py-json.js'

/** Options of McpAgentExecutor. */
export interface McpAgentExecutorOptions {
  /** Returns the MCP registry to call (looked up per request, so a late-registered one is found). */
  mcp: () => McpPort | undefined
  /** Aborts every running call (the a2a service passes its stop signal). */
  signal?: AbortSignal
}

function textPart (text: string): Part {
  return { content: { $case: 'text', value: text }, metadata: undefined, filename: '', mediaType: '' }
}

function agentMessage (text: string, taskId: string, contextId: string): Message {
  return { messageId: randomUUID(), contextId, taskId, role: Role.ROLE_AGENT, parts: [textPart(text)], metadata: undefined, extensions: [], referenceTaskIds: [] }
}

/** The `error` of a JSON-RPC error response, or undefined when `raw` is not one. */
function jsonRpcError (raw: string): { code: unknown, message: unknown } | undefined {
  try {
    const v = JSON.parse(raw) as Record<string, unknown> | null
    if (v !== null && typeof v === 'object' && !Array.isArray(v) && !('result' in v) && v.error !== null && typeof v.error === 'object') {
      const e = v.error as Record<string, unknown>
      return { code: e.code, message: e.message }
    }
  } catch { /* not JSON: not an error response */ }
  return undefined
}

/**
 * The AgentExecutor of AXL's A2A server: the message's text is an MCP call `{"service","request"}`, sent
 * to the node's MCP registry with the caller's peer id. Events, as AXL: task (submitted) → status working
 * ("Processing MCP request...") → artifact `mcp_response` (the response as Python `json.dumps(indent=2)`)
 * → completed; any failure → failed with an "Error: …" agent message. A JSON-RPC error answer also ends
 * failed (AXL marks it completed), with the artifact still attached. CancelTask aborts the MCP call.
 */
export class McpAgentExecutor implements AgentExecutor {
  private readonly mcp: () => McpPort | undefined
  private readonly stopSignal: AbortSignal | undefined
  private readonly running = new Map<string, { cancel: AbortController, contextId: string }>()

  constructor (opts: McpAgentExecutorOptions) {
    this.mcp = opts.mcp
    this.stopSignal = opts.signal
  }

  /** Runs one MCP call and publishes the task events. */
  async execute (rc: RequestContext, bus: ExecutionEventBus): Promise<void> {
    const taskId = rc.taskId
    const contextId = rc.contextId
    if (rc.task === undefined) {
      const task: Task = {
        id: taskId,
        contextId,
        status: { state: TaskState.TASK_STATE_SUBMITTED, message: undefined, timestamp: new Date().toISOString() },
        artifacts: [],
        history: [rc.userMessage],
        metadata: undefined
      }
      bus.publish(AgentEvent.task(task))
    }
    const status = (state: TaskState, text?: string): void => {
      bus.publish(AgentEvent.statusUpdate({
        taskId,
        contextId,
        status: { state, message: text === undefined ? undefined : agentMessage(text, taskId, contextId), timestamp: new Date().toISOString() },
        metadata: undefined
      }))
    }
    status(TaskState.TASK_STATE_WORKING, 'Processing MCP request...')

    const cancel = new AbortController()
    const entry = { cancel, contextId }
    this.running.set(taskId, entry)
    const signals = [cancel.signal]
    const callSig = callSignal(rc)
    if (callSig !== undefined) signals.push(callSig)
    if (this.stopSignal !== undefined) signals.push(this.stopSignal)
    const signal = AbortSignal.any(signals)
    try {
      const call = parseMcpCall(rc.userMessage)
      const mcp = this.mcp()
      if (mcp === undefined) throw new Error('no MCP service registry on this node (add the mcp() service from @axl/router-mcp)')
      const from = callerPeerId(rc) ?? ('' as PeerId)
      const request = JSON.stringify(call.request) ?? '{}'
      const reply = await withDeadline(mcp.dispatch({ service: call.service, request }, { from, signal }), { signal }, `MCP service "${call.service}"`)
      if (cancel.signal.aborted) return
      if (reply.error !== undefined && reply.error !== '') throw new Error(reply.error)
      const raw = reply.response ?? 'null'
      let text: string
      try { text = pythonJsonDumps(raw) } catch { text = raw }
      bus.publish(AgentEvent.artifactUpdate({
        taskId,
        contextId,
        artifact: { artifactId: randomUUID(), name: 'mcp_response', description: `Response from ${call.service} MCP service`, parts: [textPart(text)], metadata: undefined, extensions: [] },
        append: false,
        lastChunk: true,
        metadata: undefined
      }))
      const rpcError = jsonRpcError(raw)
      if (rpcError !== undefined) {
        status(TaskState.TASK_STATE_FAILED, `Error: MCP service "${call.service}" answered with JSON-RPC error ${String(rpcError.code)}: ${String(rpcError.message)}`)
      } else {
        status(TaskState.TASK_STATE_COMPLETED)
      }
    } catch (err) {
      if (cancel.signal.aborted) return // cancelTask() published the final state
      status(TaskState.TASK_STATE_FAILED, `Error: ${err instanceof Error ? err.message : String(err)}`)
    } finally {
      if (this.running.get(taskId) === entry) this.running.delete(taskId)
    }
  }

  /** Aborts the task's MCP call and marks it canceled. */
  async cancelTask (taskId: string, bus: ExecutionEventBus): Promise<void> {
    const running = this.running.get(taskId)
    this.running.delete(taskId)
    running?.cancel.abort(new Error('the task was canceled'))
    bus.publish(AgentEvent.statusUpdate({
      taskId,
      contextId: running?.contextId ?? '',
      status: { state: TaskState.TASK_STATE_CANCELED, message: undefined, timestamp: new Date().toISOString() },
      metadata: undefined
    }))
  }
}
