/**
 * A2A v1.0 JSON as it travels (camelCase, enum names such as "ROLE_USER" and "TASK_STATE_COMPLETED").
 * These are the shapes of `AgentCard.toJSON()`, `Task.toJSON()`… in `@a2a-js/sdk`, kept loose enough to
 * read what other implementations send (unknown members are allowed).
 */

/** A part of a message or artifact: `{ text }`, `{ data }`, `{ url }` or `{ raw }` (base64). */
export interface PartJson {
  /** Text content. */
  text?: string
  /** Structured JSON content. */
  data?: unknown
  /** A URL pointing at the content. */
  url?: string
  /** Base64 bytes. */
  raw?: string
  /** Media type of the content, e.g. "text/plain". */
  mediaType?: string
  /** File name, if the part is a file. */
  filename?: string
  /** Free-form metadata. */
  metadata?: Record<string, unknown>
  [key: string]: unknown
}

/** A message: `role` is "ROLE_USER" or "ROLE_AGENT". */
export interface MessageJson {
  /** Unique id chosen by the sender. */
  messageId: string
  /** "ROLE_USER" or "ROLE_AGENT". */
  role: string
  /** The content. */
  parts: PartJson[]
  /** Conversation id, when continuing one. */
  contextId?: string
  /** Task id, when the message belongs to a task. */
  taskId?: string
  /** Free-form metadata. */
  metadata?: Record<string, unknown>
  [key: string]: unknown
}

/** A task artifact (AXL's MCP bridge produces one named "mcp_response"). */
export interface ArtifactJson {
  /** Unique id. */
  artifactId: string
  /** Name, e.g. "mcp_response". */
  name?: string
  /** Human-readable description. */
  description?: string
  /** The content. */
  parts: PartJson[]
  [key: string]: unknown
}

/** A task status: `state` is a TASK_STATE_* name. */
export interface TaskStatusJson {
  /** "TASK_STATE_COMPLETED", "TASK_STATE_FAILED", … */
  state: string
  /** The agent's status message (e.g. "Error: …" on failure). */
  message?: MessageJson
  /** ISO-8601 time of the status. */
  timestamp?: string
  [key: string]: unknown
}

/** A task. */
export interface TaskJson {
  /** Task id. */
  id: string
  /** Conversation id. */
  contextId: string
  /** Current status. */
  status: TaskStatusJson
  /** Results. */
  artifacts?: ArtifactJson[]
  /** Messages exchanged so far. */
  history?: MessageJson[]
  [key: string]: unknown
}

/** The result of `SendMessage`: either a task or a direct message. */
export type SendMessageResultJson = { task: TaskJson, message?: undefined } | { message: MessageJson, task?: undefined }

/** An agent skill in the card. */
export interface AgentSkillJson {
  /** Unique id (AXL: the MCP service name). */
  id: string
  /** Display name (AXL: `Name.title() + " Service"`). */
  name: string
  /** What the skill does. */
  description: string
  /** Keywords (AXL: `[name, "mcp"]`). */
  tags: string[]
  /** Example inputs. */
  examples?: string[]
  /** Accepted media types, if different from the card's defaults. */
  inputModes?: string[]
  /** Produced media types, if different from the card's defaults. */
  outputModes?: string[]
  [key: string]: unknown
}

/** One way to reach the agent. */
export interface AgentInterfaceJson {
  /** Where to send requests (ours: `axl://<peerId>`). */
  url: string
  /** "JSONRPC". */
  protocolBinding: string
  /** "1.0". */
  protocolVersion?: string
  /** Tenant, if any. */
  tenant?: string
  [key: string]: unknown
}

/** An A2A v1.0 agent card. */
export interface AgentCardJson {
  /** Agent name. */
  name: string
  /** What the agent does. */
  description: string
  /** How to reach it. */
  supportedInterfaces: AgentInterfaceJson[]
  /** Agent version. */
  version: string
  /** Capabilities (ours: no streaming, no push notifications). */
  capabilities: { streaming?: boolean, pushNotifications?: boolean, extendedAgentCard?: boolean, [key: string]: unknown }
  /** Accepted media types. */
  defaultInputModes: string[]
  /** Produced media types. */
  defaultOutputModes: string[]
  /** What the agent can do. */
  skills: AgentSkillJson[]
  /** Who runs the agent. */
  provider?: { organization: string, url: string }
  /** Documentation link. */
  documentationUrl?: string
  /** Icon link. */
  iconUrl?: string
  [key: string]: unknown
}

/** A task status change, as streamed. */
export interface TaskStatusUpdateEventJson {
  /** The task. */
  taskId: string
  /** Its conversation. */
  contextId: string
  /** The new status. */
  status: TaskStatusJson
  /** Free-form metadata. */
  metadata?: Record<string, unknown>
  [key: string]: unknown
}

/** A new or extended artifact, as streamed. */
export interface TaskArtifactUpdateEventJson {
  /** The task. */
  taskId: string
  /** Its conversation. */
  contextId: string
  /** The artifact (or the chunk of it). */
  artifact: ArtifactJson
  /** True when this chunk extends an artifact sent before. */
  append?: boolean
  /** True on the last chunk of the artifact. */
  lastChunk?: boolean
  [key: string]: unknown
}

/** One event of SendStreamingMessage / SubscribeToTask (the v1.0 StreamResponse JSON): exactly one member is set. */
export type StreamEventJson =
  | { task: TaskJson, message?: undefined, statusUpdate?: undefined, artifactUpdate?: undefined }
  | { message: MessageJson, task?: undefined, statusUpdate?: undefined, artifactUpdate?: undefined }
  | { statusUpdate: TaskStatusUpdateEventJson, task?: undefined, message?: undefined, artifactUpdate?: undefined }
  | { artifactUpdate: TaskArtifactUpdateEventJson, task?: undefined, message?: undefined, statusUpdate?: undefined }
