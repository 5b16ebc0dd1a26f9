/** /topology's body: AXL's exact field order and types, with `[]` for empty lists (AXL writes `null`). */
import type { Topology } from '@axl/core'
import { goJsonString } from './http-response.js'

/** How the root's `parent` is reported: "" (default, so tree walkers such as convergecast.py find the root) or its own key (AXL). */
export type RootParent = 'empty' | 'self'

/** The JSON text of /topology, ending with "\n" like Go's json.Encoder. */
export function topologyJson (t: Topology, rootParent: RootParent = 'empty'): string {
  const peers = t.peers.map(p =>
    `{"uri":${goJsonString(p.uri)},"up":${p.up},"inbound":${p.inbound},"public_key":${goJsonString(p.publicKey)},` +
    `"root":${goJsonString(p.root)},"port":${Math.max(0, Math.trunc(p.port))},"coords":null}`)
  const tree = t.tree.map(e => {
    const parent = rootParent === 'empty' && e.parent === e.publicKey ? '' : e.parent
    return `{"public_key":${goJsonString(e.publicKey)},"parent":${goJsonString(parent)},"sequence":${Math.max(0, Math.trunc(e.sequence))}}`
  })
  return `{"our_ipv6":${goJsonString(t.ourIpv6)},"our_public_key":${goJsonString(t.ourPublicKey)},"peers":[${peers.join(',')}],"tree":[${tree.join(',')}]}\n`
}
