/**
 * Smoke test of the yggdrasil-go harness (tools/ygg-go-peer): two real yggdrasil-go v0.5.12 nodes on loopback,
 * B dialling A, over tcp:// and then tls://. Each lists the other as an up peer, both trees hold the same two
 * entries with the same root, and SIGTERM stops each cleanly. Skips, with the reason, when the binary is not
 * built (scripts/install-go-peers.sh, needs Go).
 */
import { afterEach, describe, expect, it } from 'vitest'
import { eventually } from '../../bridge/test/helpers/processes.js'
import { goPeerSkipReason, startGoPeer, type GoPeer } from './helpers/go-peer.js'

const reason = goPeerSkipReason()
if (reason !== undefined) console.log(`[go-peer] skipped: ${reason}`)

interface PeerEntry { key: string, up: boolean, inbound: boolean, remote?: string }
interface TreeEntry { key: string, parent: string, address: string, sequence: number }

/**
 * The root of a getTree answer, or undefined until the tree has converged: exactly one self-parented entry
 * (ironwood's root) and every other entry's parent in the tree. Right after peering both nodes still list
 * themselves as roots for about a second before the larger key adopts the smaller one as its parent.
 */
function rootOf (tree: TreeEntry[]): string | undefined {
  const roots = tree.filter(e => e.parent === e.key)
  if (roots.length !== 1) return undefined
  const keys = new Set(tree.map(e => e.key))
  return tree.every(e => keys.has(e.parent)) ? roots[0].key : undefined
}

describe.skipIf(reason !== undefined)('ygg-go-peer harness: two yggdrasil-go nodes', () => {
  const peers: GoPeer[] = []
  afterEach(async () => { await Promise.all(peers.splice(0).map(async p => { await p.stop() })) })

  for (const scheme of ['tcp', 'tls'] as const) {
    it(`peer over ${scheme}:// and agree on the spanning tree`, async () => {
      const a = await startGoPeer({ listen: [`${scheme}://127.0.0.1:0`] })
      peers.push(a)
      expect(a.publicKey).toMatch(/^[0-9a-f]{64}$/)
      expect(a.listen).toHaveLength(1)
      const m = new RegExp(`^${scheme}://127\\.0\\.0\\.1:(\\d+)$`).exec(a.listen[0])
      expect(m, a.listen[0]).not.toBeNull()
      expect(Number(m![1])).toBeGreaterThan(0)
      expect((await a.ctl('getSelf')).key).toBe(a.publicKey)

      const b = await startGoPeer({ peers: [a.listen[0]] })
      peers.push(b)

      // Each lists the other as an up peer: A inbound, B outbound.
      let last = ''
      await eventually(() => `A and B list each other as peers (last: ${last})`, async () => {
        const [pa, pb] = await Promise.all([a.ctl('getPeers'), b.ctl('getPeers')]) as Array<{ peers: PeerEntry[] }>
        last = JSON.stringify({ a: pa.peers, b: pb.peers })
        return pa.peers.some(p => p.key === b.publicKey && p.up && p.inbound) &&
          pb.peers.some(p => p.key === a.publicKey && p.up && !p.inbound)
      }, 15_000)

      // Both trees: the same two nodes and the same root (the smaller key, ironwood's rule).
      const expectedRoot = [a.publicKey, b.publicKey].sort()[0]
      await eventually(() => `A and B share a two-node tree rooted at ${expectedRoot.slice(0, 8)} (last: ${last})`, async () => {
        const [ta, tb] = await Promise.all([a.ctl('getTree'), b.ctl('getTree')]) as Array<{ tree: TreeEntry[] }>
        last = JSON.stringify({ a: ta.tree, b: tb.tree })
        const keys = (t: TreeEntry[]): string[] => t.map(e => e.key).sort()
        return ta.tree.length === 2 && tb.tree.length === 2 &&
          keys(ta.tree).join() === keys(tb.tree).join() && keys(ta.tree).join() === [a.publicKey, b.publicKey].sort().join() &&
          rootOf(ta.tree) === expectedRoot && rootOf(tb.tree) === expectedRoot
      }, 15_000)

      // SIGTERM: a clean shutdown, exit code 0.
      await Promise.all([a.stop(), b.stop()])
      expect(a.proc.exitCode, a.stderr()).toBe(0)
      expect(b.proc.exitCode, b.stderr()).toBe(0)
    }, 45_000)
  }
})
