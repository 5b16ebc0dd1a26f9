import { Buffer } from 'node:buffer'
import { TaskState, type ListTasksRequest, type ListTasksResponse, type Task } from '@a2a-js/sdk'
import { RequestMalformedError } from '@a2a-js/sdk/errors'
import type { ServerCallContext, TaskStore } from '@a2a-js/sdk/server'

/** Default number of tasks a node keeps (all callers together). */
export const DEFAULT_MAX_TASKS = 1000
const DEFAULT_PAGE_SIZE = 50

function scopeOf (context: ServerCallContext): string {
  return `${context.tenant ?? ''}\u0000${context.user?.userName ?? 'unknown'}`
}

function encodePageToken (timestamp: string, id: string): string {
  return Buffer.from(`${timestamp}|${id}`).toString('base64')
}

function decodePageToken (token: string): { timestamp: string, id: string } {
  const [timestamp, ...id] = Buffer.from(token, 'base64').toString('utf8').split('|')
  if (id.length === 0) throw new RequestMalformedError('Invalid page token format.')
  return { timestamp, id: id.join('|') }
}

/**
 * An in-memory TaskStore with a bound: at most `maxTasks` tasks, the least recently saved dropped first
 * (the SDK's InMemoryTaskStore grows forever, one task per SendMessage from anyone). Tasks are scoped by
 * tenant and caller, so a peer only sees and cancels its own tasks. List semantics follow InMemoryTaskStore.
 */
export class BoundedTaskStore implements TaskStore {
  private readonly maxTasks: number
  /** scope + "\u0000" + taskId → task, in least-recently-saved order. */
  private readonly tasks = new Map<string, Task>()

  constructor (maxTasks = DEFAULT_MAX_TASKS) {
    if (!Number.isInteger(maxTasks) || maxTasks < 1) throw new RangeError(`maxTasks must be a positive integer, got ${maxTasks}`)
    this.maxTasks = maxTasks
  }

  /** Number of tasks held. */
  get size (): number { return this.tasks.size }

  /** Stores a copy of the task. */
  async save (task: Task, context: ServerCallContext): Promise<void> {
    const key = `${scopeOf(context)}\u0000${task.id}`
    this.tasks.delete(key)
    this.tasks.set(key, structuredClone(task))
    while (this.tasks.size > this.maxTasks) {
      const oldest = this.tasks.keys().next().value as string
      this.tasks.delete(oldest)
    }
  }

  /** A copy of the caller's task, or undefined. */
  async load (taskId: string, context: ServerCallContext): Promise<Task | undefined> {
    const t = this.tasks.get(`${scopeOf(context)}\u0000${taskId}`)
    return t === undefined ? undefined : structuredClone(t)
  }

  /** The caller's tasks, newest status first, paginated. */
  async list (params: ListTasksRequest, context: ServerCallContext): Promise<ListTasksResponse> {
    const prefix = `${scopeOf(context)}\u0000`
    let tasks: Task[] = []
    for (const [key, task] of this.tasks) if (key.startsWith(prefix)) tasks.push(task)
    const { contextId, status, pageToken, statusTimestampAfter } = params
    const pageSize = params.pageSize ?? DEFAULT_PAGE_SIZE
    if (contextId !== undefined && contextId !== '') tasks = tasks.filter(t => t.contextId === contextId)
    if (status !== undefined && status !== TaskState.TASK_STATE_UNSPECIFIED) tasks = tasks.filter(t => t.status?.state === status)
    if (statusTimestampAfter !== undefined && statusTimestampAfter !== '') {
      const after = new Date(statusTimestampAfter).getTime()
      tasks = tasks.filter(t => t.status?.timestamp !== undefined && new Date(t.status.timestamp).getTime() > after)
    }
    tasks.sort((a, b) => {
      const ta = a.status?.timestamp ?? ''
      const tb = b.status?.timestamp ?? ''
      return ta !== tb ? tb.localeCompare(ta) : b.id.localeCompare(a.id)
    })
    const totalSize = tasks.length
    if (pageToken !== undefined && pageToken !== '') {
      const cursor = decodePageToken(pageToken)
      const at = tasks.findIndex(t => (t.status?.timestamp ?? '') === cursor.timestamp && t.id === cursor.id)
      tasks = at === -1 ? [] : tasks.slice(at + 1)
    }
    const page = tasks.slice(0, pageSize)
    const last = page[page.length - 1]
    return {
      tasks: page.map(t => {
        const copy = structuredClone(t)
        if (params.includeArtifacts !== true) copy.artifacts = []
        return copy
      }),
      nextPageToken: last !== undefined && tasks.length > page.length ? encodePageToken(last.status?.timestamp ?? '', last.id) : '',
      pageSize,
      totalSize
    }
  }
}
