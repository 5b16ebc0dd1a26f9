/**
 * `unix:///path/to/socket` link type (yggdrasil-go `link_unix.go`): a Unix domain stream socket. Handy for
 * links between processes in different network namespaces of one machine (they share the file system).
 * Listening fails when the path exists, as in yggdrasil-go; the socket file is removed when the listener closes.
 */
import net from 'node:net'
import { rm } from 'node:fs/promises'
import { AbortError, ConfigError } from '@axl/core'
import { defaultLogger } from '@libp2p/logger'
import type { DialOptions, LinkListener, LinkType, RawDuplex } from './link-type.js'
import { probeSocket, socketReady, TcpDuplex } from './tcp.js'

const log = defaultLogger().forComponent('axl:links:unix')

function socketPath (uri: URL): string {
  const path = decodeURIComponent(uri.pathname)
  if (uri.host !== '' || path === '' || path === '/') throw new ConfigError(`unix link URI needs an absolute path, e.g. unix:///run/ygg.sock: ${uri.href}`)
  return path
}

/** The `unix:///path` link type. */
export function unixLinkType (): LinkType {
  return {
    schemes: ['unix'],
    async dial (uri: URL, opts: DialOptions): Promise<RawDuplex> {
      const path = socketPath(uri)
      if (opts.signal.aborted) throw new AbortError('dial aborted', { cause: opts.signal.reason })
      const socket = await socketReady(net.connect({ path }), 'connect', uri, opts.signal)
      return new TcpDuplex(socket, { remoteUri: `unix://${path}` })
    },
    async probe (uri: URL, opts: DialOptions): Promise<boolean> {
      return await probeSocket({ path: socketPath(uri) }, uri, opts.signal)
    },
    async listen (uri: URL, onConnection: (raw: RawDuplex) => void): Promise<LinkListener> {
      const path = socketPath(uri)
      const server = net.createServer(socket => { onConnection(new TcpDuplex(socket, { remoteUri: `unix://${path}` })) })
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject)
        server.listen({ path }, () => { server.removeListener('error', reject); resolve() })
      })
      server.on('error', (err: Error) => { log.error('unix listener error: %s', err.message) })
      return {
        uri: `unix://${path}`,
        close: async () => {
          await new Promise<void>(resolve => { server.close(() => { resolve() }) })
          await rm(path, { force: true }).catch((err: Error) => { log('removing %s failed: %s', path, err.message) })
        }
      }
    }
  }
}
