/**
 * `tls://host:port` link type, as yggdrasil-go v0.5.12 speaks it (`link_tls.go`, `tls.go`): TLS over TCP,
 * TLS 1.3 only when listening, 1.2–1.3 when dialling; each side presents a self-signed certificate made from
 * its node key (`certificate.ts`) and verifies nothing at the TLS layer. What the TLS layer cannot check is
 * checked after it: the duplex reports the ed25519 key of the remote's certificate (`certificateKey`), and an
 * outbound Yggdrasil link requires it to be the key of the `meta` handshake. SNI is the URI's host when it is a
 * name (not an IP address), or `?sni=`.
 */
import { isIP } from 'node:net'
import tls from 'node:tls'
import { defaultLogger } from '@libp2p/logger'
import { certificateEd25519Key, selfSignedCertificate, type TlsCredentials } from './certificate.js'
import { type DialOptions, type LinkListener, type LinkType, type RawDuplex } from './link-type.js'
import type { LinkIdentity } from './secured-link.js'
import { dialTarget, hostPort, probeSocket, socketReady, TcpDuplex, urlHost, urlPort } from './tcp.js'

const log = defaultLogger().forComponent('axl:links:tls')
/** Socket buffer size above which write() asks the writer to wait (as tcp.ts). */
const HIGH_WATER_MARK = 256 * 1024

/** Options of `tlsLinkType`. */
export interface TlsLinkTypeOptions {
  /** Our identity: the certificate is made from it. */
  identity: LinkIdentity
  /** Deadline of the TLS handshake of an inbound connection, in ms (default 10 000). */
  handshakeTimeoutMs?: number
}

function peerKey (socket: tls.TLSSocket): Uint8Array | null {
  const cert = socket.getPeerX509Certificate()
  return cert === undefined ? null : certificateEd25519Key(cert)
}

/** The `tls://host:port` link type for one node identity. */
export function tlsLinkType (opts: TlsLinkTypeOptions): LinkType {
  let creds: TlsCredentials | undefined
  const credentials = (): TlsCredentials => { creds ??= selfSignedCertificate(opts.identity.seed); return creds }
  return {
    schemes: ['tls'],
    async dial (uri: URL, dialOpts: DialOptions): Promise<RawDuplex> {
      const { host, port } = dialTarget(uri, dialOpts.signal)
      const sniParam = uri.searchParams.get('sni')
      const servername = sniParam !== null && sniParam !== '' && isIP(sniParam) === 0 ? sniParam : isIP(host) === 0 ? host : undefined
      const { cert, key } = credentials()
      const socket = tls.connect({
        host,
        port,
        ...(servername !== undefined ? { servername } : {}),
        rejectUnauthorized: false,
        minVersion: 'TLSv1.2',
        maxVersion: 'TLSv1.3',
        cert,
        key,
        highWaterMark: HIGH_WATER_MARK
      } as tls.ConnectionOptions)
      await socketReady(socket, 'secureConnect', uri, dialOpts.signal)
      return new TcpDuplex(socket, { scheme: 'tls', remoteUri: `tls://${hostPort(host, port)}`, certificateKey: peerKey(socket) })
    },
    async probe (uri: URL, dialOpts: DialOptions): Promise<boolean> {
      return await probeSocket({ host: urlHost(uri), port: urlPort(uri) }, uri, dialOpts.signal) // the TCP port answers: TLS is up to the dial
    },
    async listen (uri: URL, onConnection: (raw: RawDuplex) => void): Promise<LinkListener> {
      const host = urlHost(uri)
      const port = urlPort(uri)
      const { cert, key } = credentials()
      const server = tls.createServer({
        cert,
        key,
        minVersion: 'TLSv1.3',
        requestCert: false,
        handshakeTimeout: opts.handshakeTimeoutMs ?? 10_000,
        highWaterMark: HIGH_WATER_MARK
      } as tls.TlsOptions, socket => { onConnection(new TcpDuplex(socket, { scheme: 'tls' })) })
      server.on('tlsClientError', (err: Error) => { log('inbound TLS handshake failed: %s', err.message) })
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject)
        server.listen({ host: host === '' ? undefined : host, port }, () => { server.removeListener('error', reject); resolve() })
      })
      server.on('error', (err: Error) => { log.error('tls listener error: %s', err.message) })
      const addr = server.address() as { address: string, port: number }
      return {
        uri: `tls://${hostPort(host === '' ? addr.address : host, addr.port)}`,
        close: async () => { await new Promise<void>(resolve => { server.close(() => { resolve() }) }) }
      }
    }
  }
}
