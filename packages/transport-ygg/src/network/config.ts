/** Timing and size knobs of the network layer (ironwood `config.go`). */

/** Timing and size knobs; defaults are ironwood's (`config.go`) with yggdrasil's frame limit. */
export interface RouterTimings {
  /** Re-sign our own tree info this often (ironwood routerRefresh, 4 min). */
  routerRefreshMs: number
  /** Forget other nodes' tree info after this long without a newer version (routerTimeout, 5 min). */
  routerTimeoutMs: number
  /** Send a keepalive this long after receiving a frame if we sent nothing meanwhile (peerKeepAliveDelay, 1 s). */
  keepAliveDelayMs: number
  /** Close a link this long after sending a frame if nothing came back (peerTimeout, 3 s). */
  peerTimeoutMs: number
  /** Forget a path this long after traffic last arrived from it; also the lookup-rumor lifetime (1 min). */
  pathTimeoutMs: number
  /** At most one lookup per destination this often (pathThrottle, 1 s). */
  pathThrottleMs: number
  /** Maintenance tick (hard-coded 1 s in ironwood). */
  tickMs: number
  /**
   * Delay of an early maintenance pass after a change that the next tick would act on (0: wait for the tick, as
   * ironwood does). It only does what that tick would do anyway, sooner: a node that has never been in a tree
   * takes the parent offering the best root, a peer whose link just came up gets the tree's announcements, filters that gained
   * 1-bits go out, and lookups with waiting packets are repeated.
   * A fresh overlay then carries its first packets after a few round trips instead of two or three ticks.
   */
  earlyPassMs: number
  /** Max packets buffered per destination while its lookup is pending. */
  lookupBufferPackets: number
  /** Max payload bytes buffered per destination while its lookup is pending. */
  lookupBufferBytes: number
  /**
   * PathLookups accepted per second from one peer (token bucket; not in ironwood). Excess lookups are dropped
   * and counted (`lookupsRateLimited`). 100/s is far above what honest peers send: a node looks a destination up
   * at most once per pathThrottle, and lookups for a given key only travel the tree links whose filter holds it.
   */
  lookupRate: number
  /** Size of that bucket: lookups a peer may send at once after being quiet. */
  lookupBurst: number
  /**
   * Most tree infos kept (not in ironwood, which keeps every valid one). Honest gossip is ancestry-only, so a
   * node holds about (peers + 1) × tree depth infos; 10,000 leaves room for hundreds of peers on deep trees.
   * When full, infos outside our ancestry and our peers' ancestries are evicted from the peers holding the most,
   * least recently updated first; infos on those ancestries are never evicted. New infos beyond are dropped.
   */
  maxTreeInfos: number
  /** Most tree infos one peer's announcements may occupy (the same eviction applies within its share first). */
  maxTreeInfosPerPeer: number
}

/** Defaults of RouterTimings. */
export const DEFAULT_TIMINGS: RouterTimings = {
  routerRefreshMs: 4 * 60_000,
  routerTimeoutMs: 5 * 60_000,
  keepAliveDelayMs: 1_000,
  peerTimeoutMs: 3_000,
  pathTimeoutMs: 60_000,
  pathThrottleMs: 1_000,
  tickMs: 1_000,
  earlyPassMs: 50,
  lookupBufferPackets: 32,
  lookupBufferBytes: 64 * 1024,
  lookupRate: 100,
  lookupBurst: 200,
  maxTreeInfos: 10_000,
  maxTreeInfosPerPeer: 1_000
}
