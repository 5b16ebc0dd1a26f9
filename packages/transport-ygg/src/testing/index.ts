/**
 * `@axl/transport-ygg/testing`: helpers for tests and benchmarks of code built on the overlay —
 * `testnet(n)` (a relay and n SDK nodes on the real overlay, in-process, as hyperdht's `testnet`), the overlay
 * simulator `Sim` (thousands of ironwood nodes on one virtual clock, with graph generators), a seeded PRNG,
 * the virtual clock and the insecure fast signatures simulations use. Not for production nodes.
 */
import '../polyfill.js'
export { testnet } from './testnet.js'
export type { Testnet, TestnetOptions } from './testnet.js'
export { Sim, graphs, bfs } from './sim.js'
export type { Graph, SimNode, SimOptions } from './sim.js'
export { prng } from './prng.js'
export { VirtualClock } from '../clock.js'
export { INSECURE_simulationCrypto } from '../crypto.js'
export { memoryLinkType, MemoryRegistry, defaultMemoryRegistry } from '../links/memory.js'
// A malicious overlay peer for resilience tests and the overlay-sim adversary mode: validly signed forged frames.
export { attachForger, forgeAnnounce, forgedSigner, signerBelow } from './forger.js'
export type { Forger } from './forger.js'
