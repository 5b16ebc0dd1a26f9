export { MemoryNetwork } from './network.js'
export type { MemoryNetworkOptions, MemoryNetworkStats, NodeRef } from './network.js'
