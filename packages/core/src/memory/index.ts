export { MemoryNetwork } from './network.js'
export type { MemoryLatency, MemoryNetworkOptions, MemoryNetworkStats, NodeRef } from './network.js'
