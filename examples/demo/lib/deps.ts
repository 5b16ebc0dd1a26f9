/** The packages the demo uses besides @axl/core, in one place. */
export { ygg, type YggMesh } from '@axl/transport-ygg'
export { mcp, type McpRouter } from '@axl/router-mcp'
export { a2a, type A2aService } from '@axl/router-a2a'
export { Client } from '@modelcontextprotocol/sdk/client/index.js'
export { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js'
export * as z from 'zod'
