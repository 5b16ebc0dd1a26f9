// Node 20 lacks Promise.withResolvers, which the libp2p modules used by the links call at runtime:
// core's polyfill must run before any of them is imported.
import '@axl/core/polyfill'
