/** Typed errors of @axl/pubsub: every one is an AxlError with a stable `code`. */
import { AxlError } from '@axl/core'

/** A gossip or convergecast frame from the network was malformed (not JSON/msgpack, wrong field types, over a bound). */
export class MalformedGossipError extends AxlError {
  constructor (message: string, options?: { cause?: unknown }) { super('ERR_MALFORMED_GOSSIP', message, options) }
}

/** A topic's rate limit was reached (publish() throws it; inbound messages over the limit are dropped and counted). */
export class RateLimitedError extends AxlError {
  /** The topic whose limit was reached. */
  readonly topic: string
  constructor (topic: string, rate: number) {
    super('ERR_RATE_LIMITED', `topic "${topic}" is limited to ${rate} messages per second`)
    this.topic = topic
  }
}

/** A topic name was empty or longer than the limit. */
export class InvalidTopicError extends AxlError {
  constructor (message: string) { super('ERR_INVALID_TOPIC', message) }
}
