/**
 * A malicious peer built from our own packages: one end of a memory PeerConn pair handed to an Overlay, the
 * other end answering SigReqs and writing forged but validly signed frames made with our wire encoders.
 */
import { createHash } from 'node:crypto'
import type { VirtualClock } from '../clock.js'
import { ed25519Signer, INSECURE_simulationCrypto, type Signer } from '../crypto.js'
import { peerConnPair, type PeerConn } from '../network/peer-conn.js'
import type { Overlay } from '../network/overlay.js'
import {
  decodeSigReq, encodeAnnounce, encodeSigRes, FrameReader, FrameType, sigResPreimage, type Announce
} from '../network/wire.js'

/** The attacker's side of a link to an overlay node. */
export interface Forger {
  /** The attacker's own identity (the key the victim sees as its peer). */
  signer: Signer
  /** Our end of the link. */
  conn: PeerConn
  /** SigReqs answered so far. */
  answered: number
  /** Writes encoded frames to the victim, concatenated in chunks of `perChunk` frames. */
  writeAll: (frames: Uint8Array[], perChunk?: number) => void
}

/**
 * A deterministic signer number `i` of the family `tag`: real ed25519, or (`fake`) the INSECURE simulation
 * signer, valid for a victim that uses the simulation verifier (key generation is ~1 ms per real key here).
 */
export function forgedSigner (tag: string, i: number, fake = false): Signer {
  const seed = new Uint8Array(createHash('sha256').update(`${tag}-${i}`).digest())
  return fake ? INSECURE_simulationCrypto(seed).signer : ed25519Signer(seed)
}

/** A signer of the family `tag` whose public key sorts below `than` (bytes compared as key strings do). */
export function signerBelow (tag: string, than: Uint8Array, fake = false): Signer {
  for (let i = 0; ; i++) {
    const s = forgedSigner(tag, i, fake)
    if (Buffer.compare(Buffer.from(s.publicKey), Buffer.from(than)) < 0) return s
  }
}

/** A validly signed Announce frame: `node` claims `parent` (equal for a root) with the port `parent` gave it. */
export function forgeAnnounce (node: Signer, parent: Signer, port: number, seq = 1n, nonce = 1n): Uint8Array {
  const isRoot = node === parent
  const p = isRoot ? 0 : port
  const bs = sigResPreimage(node.publicKey, parent.publicKey, seq, nonce, p)
  const psig = parent.sign(bs)
  const sig = isRoot ? psig : node.sign(bs)
  const ann: Announce = { key: node.publicKey, parent: parent.publicKey, res: { seq, nonce, port: p, psig }, sig }
  return encodeAnnounce(ann)
}

/** Attaches a forger with identity `signer` to `victim` (latency `latencyMs` of virtual time). */
export function attachForger (victim: Overlay, signer: Signer, clock: VirtualClock, latencyMs = 1): Forger {
  const defer = (fn: () => void): void => { clock.setTimeout(fn, latencyMs) }
  const [mine, theirs] = peerConnPair(signer.publicKey, victim.publicKey, { uri: 'memory://forger', defer })
  const reader = new FrameReader(1 << 20)
  const f: Forger = {
    signer,
    conn: mine,
    answered: 0,
    writeAll (frames, perChunk = 1000) {
      for (let i = 0; i < frames.length; i += perChunk) mine.write(Buffer.concat(frames.slice(i, i + perChunk)))
    }
  }
  // Answer every SigReq (port 1: the victim's port for us does not matter to it), so the victim may pick us as parent.
  mine.onData = (d) => {
    for (const fr of reader.push(d)) {
      if (fr.type !== FrameType.SigReq) continue
      const req = decodeSigReq(fr.body)
      const psig = signer.sign(sigResPreimage(victim.publicKey, signer.publicKey, req.seq, req.nonce, 1))
      mine.write(encodeSigRes({ seq: req.seq, nonce: req.nonce, port: 1, psig }))
      f.answered++
    }
  }
  victim.addPeer(theirs)
  return f
}
