import type { AgentCardJson, AgentSkillJson } from './wire.js'

/** The URL scheme of agent interfaces on the mesh: `axl://<peerId>`. */
export const AXL_URL_SCHEME = 'axl:'

/** AXL's card name for an MCP-backed agent. */
export const DEFAULT_AGENT_NAME = 'MCP Router A2A Agent'
/** AXL's card description for an MCP-backed agent. */
export const DEFAULT_AGENT_DESCRIPTION = 'A2A agent that proxies requests to MCP services via the Gensyn node router'

/** Python's `str.title()`: the first letter of every run of letters upper case, the rest lower case. */
export function pythonTitle (s: string): string {
  return s.replace(/\p{L}+/gu, w => w.charAt(0).toUpperCase() + w.slice(1).toLowerCase())
}

/** The skill AXL's A2A server advertises for an MCP service `name`. */
export function mcpSkill (name: string): AgentSkillJson {
  return {
    id: name,
    name: `${pythonTitle(name)} Service`,
    description: `MCP service: ${name}. Forward JSON-RPC requests to this service.`,
    tags: [name, 'mcp'],
    examples: [`{"service": ${JSON.stringify(name)}, "request": {"jsonrpc": "2.0", "method": "tools/list", "id": 1}}`]
  }
}

/** AXL's fallback skill when no MCP service is registered. */
export const MCP_PROXY_SKILL: Readonly<AgentSkillJson> = Object.freeze({
  id: 'mcp_proxy',
  name: 'MCP Proxy',
  description: 'Forward MCP JSON-RPC requests to registered services',
  tags: ['mcp', 'proxy'],
  examples: ['{"service": "weather", "request": {"jsonrpc": "2.0", "method": "tools/list", "id": 1}}']
})

/** The default interface URL of a node: `axl://<peerId>`. */
export function axlUrl (peerId: string): string {
  return `axl://${peerId}`
}

/** What buildAgentCard needs. */
export interface CardInput {
  /** Our peer id. */
  peerId: string
  /** Card name. */
  name: string
  /** Card description. */
  description: string
  /** Card version. */
  version: string
  /** Interface URL. */
  url: string
  /** MCP service names to advertise as skills (undefined: the agent is not MCP-backed). */
  mcpServices: string[] | undefined
  /** Skills added by the user; they win over MCP skills with the same id. */
  skills: AgentSkillJson[]
  /** Input modes. */
  defaultInputModes: string[]
  /** Output modes. */
  defaultOutputModes: string[]
  /** Extra top-level members (provider, documentationUrl, iconUrl…). */
  extra: Partial<AgentCardJson>
  /** Advertise `capabilities.streaming` (the node serves A2A_STREAM_PROTOCOL). @default false */
  streaming?: boolean
}

/** The A2A v1.0 agent card of a node. */
export function buildAgentCard (input: CardInput): AgentCardJson {
  const skills: AgentSkillJson[] = []
  const userIds = new Set(input.skills.map(s => s.id))
  if (input.mcpServices !== undefined) {
    for (const name of input.mcpServices) if (!userIds.has(name)) skills.push(mcpSkill(name))
  }
  skills.push(...input.skills.map(s => structuredClone(s)))
  if (skills.length === 0 && input.mcpServices !== undefined) skills.push({ ...MCP_PROXY_SKILL, tags: [...MCP_PROXY_SKILL.tags], examples: [...(MCP_PROXY_SKILL.examples ?? [])] })
  return {
    name: input.name,
    description: input.description,
    supportedInterfaces: [{ url: input.url, protocolBinding: 'JSONRPC', protocolVersion: '1.0' }],
    version: input.version,
    capabilities: { streaming: input.streaming === true, pushNotifications: false },
    defaultInputModes: [...input.defaultInputModes],
    defaultOutputModes: [...input.defaultOutputModes],
    skills,
    ...structuredClone(input.extra)
  }
}
