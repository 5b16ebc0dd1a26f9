/**
 * The self-signed X.509 certificate a `tls://` listener presents, made from the node's own ed25519 key with
 * the fields yggdrasil-go v0.5.12 puts in its own (`src/config/config.go`): serial 1, CN = hex(public key) as
 * subject and issuer, valid from now to 9999-12-31 23:59:59 UTC, key usage digitalSignature+keyEncipherment,
 * extended key usage serverAuth, basic constraints (not a CA). Nobody verifies it (yggdrasil-go sets
 * InsecureSkipVerify); what matters is the key inside, which our client checks against the `meta` handshake.
 *
 * Written out by hand rather than with an X.509 library: the structure is fixed and tiny (one DER template
 * with four variable fields), and a library such as `@peculiar/x509` would bring an ASN.1 schema stack and a
 * dependency-injection container into every install of the SDK for these ~60 lines.
 */
import { X509Certificate } from 'node:crypto'
import { identityFromSeed } from '@axl/core'
import { toHex } from './bytes.js'

/** A certificate and its private key, PEM-encoded, ready for `tls.createServer` / `tls.connect`. */
export interface TlsCredentials {
  /** The certificate (PEM). */
  cert: string
  /** The PKCS#8 ed25519 private key (PEM). */
  key: string
}

function derLength (n: number): number[] {
  if (n < 0x80) return [n]
  const out: number[] = []
  for (let v = n; v > 0; v = Math.floor(v / 256)) out.unshift(v & 0xff)
  return [0x80 | out.length, ...out]
}

function tlv (tag: number, ...parts: Array<Uint8Array | number[]>): Uint8Array {
  let n = 0
  for (const p of parts) n += p.length
  const head = [tag, ...derLength(n)]
  const out = new Uint8Array(head.length + n)
  out.set(head, 0)
  let o = head.length
  for (const p of parts) { out.set(p, o); o += p.length }
  return out
}

const SEQUENCE = 0x30
const SET = 0x31
const ascii = (s: string): Uint8Array => new TextEncoder().encode(s)
const oid = (bytes: number[]): Uint8Array => tlv(0x06, bytes)
const ED25519 = tlv(SEQUENCE, oid([0x2b, 0x65, 0x70])) // 1.3.101.112
const CN = [0x55, 0x04, 0x03] // 2.5.4.3
const KEY_USAGE = [0x55, 0x1d, 0x0f] // 2.5.29.15
const EXT_KEY_USAGE = [0x55, 0x1d, 0x25] // 2.5.29.37
const BASIC_CONSTRAINTS = [0x55, 0x1d, 0x13] // 2.5.29.19
const SERVER_AUTH = [0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x01] // 1.3.6.1.5.5.7.3.1
const CRITICAL = [0x01, 0x01, 0xff]

/** UTCTime for years 1950–2049, GeneralizedTime after (RFC 5280 §4.1.2.5). */
function time (d: Date): Uint8Array {
  const p = (n: number, w = 2): string => String(n).padStart(w, '0')
  const rest = `${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}${p(d.getUTCHours())}${p(d.getUTCMinutes())}${p(d.getUTCSeconds())}Z`
  const y = d.getUTCFullYear()
  return y < 2050 ? tlv(0x17, ascii(`${p(y % 100)}${rest}`)) : tlv(0x18, ascii(`${p(y, 4)}${rest}`))
}

/** Our TLS certificate and key, from the node's ed25519 seed (see the module comment for its fields). */
export function selfSignedCertificate (seed: Uint8Array, notBefore: Date = new Date()): TlsCredentials {
  const id = identityFromSeed(seed)
  const name = tlv(SEQUENCE, tlv(SET, tlv(SEQUENCE, oid(CN), tlv(0x13, ascii(toHex(id.publicKey))))))
  const extensions = tlv(0xa3, tlv(SEQUENCE,
    tlv(SEQUENCE, oid(KEY_USAGE), CRITICAL, tlv(0x04, tlv(0x03, [0x05, 0xa0]))),
    tlv(SEQUENCE, oid(EXT_KEY_USAGE), tlv(0x04, tlv(SEQUENCE, oid(SERVER_AUTH)))),
    tlv(SEQUENCE, oid(BASIC_CONSTRAINTS), CRITICAL, tlv(0x04, tlv(SEQUENCE)))
  ))
  const tbs = tlv(SEQUENCE,
    tlv(0xa0, tlv(0x02, [0x02])), // version 3
    tlv(0x02, [0x01]), // serial 1
    ED25519,
    name,
    tlv(SEQUENCE, time(new Date(Math.floor(notBefore.getTime() / 1000) * 1000)), time(new Date(Date.UTC(9999, 11, 31, 23, 59, 59)))),
    name,
    tlv(SEQUENCE, ED25519, tlv(0x03, [0x00], id.publicKey)),
    extensions
  )
  const der = tlv(SEQUENCE, tbs, ED25519, tlv(0x03, [0x00], id.sign(tbs)))
  const b64 = Buffer.from(der).toString('base64').replace(/(.{64})/g, '$1\n').replace(/\n$/, '')
  const cert = `-----BEGIN CERTIFICATE-----\n${b64}\n-----END CERTIFICATE-----\n`
  return { cert, key: id.toPem() }
}

/** The ed25519 public key in a DER or PEM certificate, or null when it holds another kind of key. */
export function certificateEd25519Key (cert: X509Certificate): Uint8Array | null {
  const pk = cert.publicKey
  if (pk.asymmetricKeyType !== 'ed25519') return null
  const spki = pk.export({ format: 'der', type: 'spki' })
  return new Uint8Array(spki.subarray(spki.length - 32))
}
