/** Counters of the network layer of one node. */

/** Counters of one node. */
export interface RouterStats {
  framesIn: number
  framesOut: number
  bytesIn: number
  bytesOut: number
  linksOpened: number
  linksClosed: number
  /** Links refused at addPeer (bad key, link to self, router closed). */
  linksRejected: number
  /** Links closed because the peer sent a malformed, oversized or unknown frame. */
  badFrames: number
  /** Links closed (or notifies ignored) because of a bad signature. */
  badSignatures: number
  /** New tree infos refused because the tree (maxTreeInfos) or the sending peer's share (maxTreeInfosPerPeer) was full. */
  treeInfosDropped: number
  /** Tree infos outside every ancestry we need, evicted to make room under those caps. */
  treeInfosEvicted: number
  /** Links closed because nothing arrived within peerTimeout of sending. */
  timeouts: number
  /** Droppable frames dropped from a full link queue. */
  queueDrops: number
  /** Frames not sent because they exceed maxFrameSize. */
  oversizeDrops: number
  /** Packets dropped from a full per-destination buffer while a lookup was pending. */
  lookupBufferDrops: number
  /** Packets dropped because their lookup never completed (rumor expired). */
  lookupBufferExpired: number
  /** Packets (traffic, notify, broken) refused by the watermark rule. */
  watermarkDrops: number
  brokenSent: number
  brokenReceived: number
  lookupsSent: number
  /** PathLookups from a peer dropped by its token bucket (`lookupRate`, `lookupBurst`). */
  lookupsRateLimited: number
  notifiesAccepted: number
  /** Paths taken provisionally from the source coordinates of traffic delivered to us (see Pathfinder.learnFromTraffic). */
  provisionalPaths: number
  /** Datagrams originated by sendTo. */
  sent: number
  forwarded: number
  /** Traffic frames (sent or forwarded) whose header was written in front of the payload instead of copying it. */
  framedInPlace: number
  delivered: number
  /** Exceptions thrown by user callbacks (onPacket, onPathNotify); swallowed. */
  callbackErrors: number
}

/** A zeroed RouterStats. */
export function newStats (): RouterStats {
  return {
    framesIn: 0, framesOut: 0, bytesIn: 0, bytesOut: 0, linksOpened: 0, linksClosed: 0, linksRejected: 0,
    badFrames: 0, badSignatures: 0, treeInfosDropped: 0, treeInfosEvicted: 0, timeouts: 0, queueDrops: 0, oversizeDrops: 0, lookupBufferDrops: 0,
    lookupBufferExpired: 0, watermarkDrops: 0, brokenSent: 0, brokenReceived: 0, lookupsSent: 0, lookupsRateLimited: 0,
    notifiesAccepted: 0, provisionalPaths: 0, sent: 0, forwarded: 0, framedInPlace: 0, delivered: 0, callbackErrors: 0
  }
}
