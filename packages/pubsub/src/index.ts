// Gossip pub/sub (AXL's Python GossipSub wire format, signed messages) and convergecast over an AXL node.
export { gossip, GOSSIP_PROBE_PROTOCOL } from './gossip.js'
export type { GossipSub, GossipOptions, GossipStats, TopicLimits, PublishOptions, PublishResult } from './gossip.js'
export type { Subscription, SubscribeOptions, PubSubMessage } from './subscription.js'
export { isGossipFrame, encodeFrame, decodeFrame, MAX_TOPIC_LENGTH, MAX_MSG_ID_LENGTH } from './wire.js'
export type { WireMessage, WireControl, WireFrame, DecodeBounds } from './wire.js'
export { signedBytes, signMessage, verifyMessage } from './signing.js'
export { MalformedGossipError, RateLimitedError, InvalidTopicError } from './errors.js'
