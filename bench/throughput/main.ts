/**
 * `pnpm bench throughput [--mib N] [--rtt N] [--reps N] [--cold N] [--cases a,b] [--no-rtt] [--prof DIR]`
 *
 * AXL over the Yggdrasil stack (createNode + ygg(), tcp:// links) against js-libp2p (tcp+noise+yamux), all in
 * the same run and the same three processes A (sender), P (relay), B (receiver), so ratios are meaningful on a
 * shared, noisy machine. This file is re-run by itself with --role=node for each process.
 *
 *  1. bulk, `--mib` MiB per case (default 256), MB/s of payload and CPU s/GiB per process:
 *     - axl-direct-raw:   A dials B's tcp:// listener; one MeshStream from node.dial(), 64 KiB send()s
 *     - axl-direct-send:  the same link, node.send() of 16 MiB messages, 4 in flight (what users get)
 *     - axl-relayed-raw / axl-relayed-send: A and B each dial only P; traffic A → P → B
 *     - libp2p-direct:    one yamux stream A → B, 64 KiB send()s until B acks
 *     - go-relayed-raw / go-relayed-send: the same TS nodes A and B, each dialling only G, a real yggdrasil-go
 *       v0.5.12 node (tools/ygg-go-peer; skipped with the reason when it is not built): Go's relay beside ours.
 *       Go AXL itself cannot be installed here (the Go module proxy refuses github.com/gensyn-ai/axl), so its
 *       own figures (go_axl_*) are reported as null with the reason.
 *  2. round trips (`--rtt` per case, default 5000 after 500 warm-up): node.request() of a 100-byte MCP envelope
 *     to an echoing handler, direct, relayed, and A → P (one overlay hop: the "overlay RTT"); 100 B echoed on one
 *     raw MeshStream (axl-direct-stream: the transport alone); libp2p's 100 B echo on an open stream.
 *  3. cold first request (`--cold` times, default 3): a fresh node joins behind P; A's first node.request() to
 *     its never-contacted key (lookup + session handshake + TCP handshake + request), in ms and in round trips.
 *
 * With `--prof DIR` the children run with --cpu-prof and a self-time summary per process is printed at the end
 * (profiling slows everything down: use its figures for where the time goes, not for the table).
 * Last stdout line: one JSON object.
 */
import { fork, type ChildProcess } from 'node:child_process'
import { mkdirSync, readdirSync, readFileSync, existsSync, writeFileSync } from 'node:fs'
import { Session } from 'node:inspector'
import { SourceMap } from 'node:module'
import { cpus } from 'node:os'
import { join, resolve, basename } from 'node:path'
import { parseArgs } from 'node:util'
import { axlHandlers } from './axl.js'
import { goRelayBinary, startGoRelay, type GoRelay } from './go-relay.js'
import { p2pHandlers } from './p2p.js'
import { GiB, MB, MiB, cpuPressure, fmt, fmtRange, ipcClient, median, pct, r3, serveIpc, sleep, type Call } from './util.js'

const { values } = parseArgs({
  options: {
    role: { type: 'string' },
    name: { type: 'string' },
    mib: { type: 'string', default: '256' },
    rtt: { type: 'string', default: '5000' },
    reps: { type: 'string', default: '2' },
    cold: { type: 'string', default: '3' },
    chunk: { type: 'string', default: '65536' },
    msg: { type: 'string', default: String(16 * MiB) },
    inflight: { type: 'string', default: '4' },
    cases: { type: 'string' },
    'no-rtt': { type: 'boolean', default: false },
    stats: { type: 'boolean', default: false },
    mtu: { type: 'string' },
    prof: { type: 'string' }
  },
  allowPositionals: true
})

let inspector: Session | undefined
/** The V8 sampling profiler of this process, started and stopped around the measured runs (no start-up noise). */
async function profiler (method: string, params?: object): Promise<unknown> {
  if (inspector === undefined) { inspector = new Session(); inspector.connect() }
  const s = inspector
  return await new Promise((resolve, reject) => {
    s.post(method, params ?? {}, (err, res) => { if (err !== null) reject(err); else resolve(res) })
  })
}

interface Proc { name: string, child: ChildProcess, call: Call }

function spawnProc (name: string): Proc {
  const child = fork(process.argv[1], ['--role=node', `--name=${name}`], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
  return { name, child, call: ipcClient(child, name) }
}

const cpuSec = (a: NodeJS.CpuUsage, b: NodeJS.CpuUsage): number => (b.user - a.user + b.system - a.system) / 1e6

interface BulkResult { mbps: number, cpu: { A: number, P: number, B: number } }

async function main (): Promise<void> {
  const total = Number(values.mib) * MiB
  const rttN = Number(values.rtt)
  const reps = Number(values.reps)
  const coldN = Number(values.cold)
  const chunk = Number(values.chunk)
  const msg = Number(values.msg)
  const inflight = Number(values.inflight)
  const profDir = values.prof === undefined ? undefined : resolve(values.prof)
  if (profDir !== undefined) mkdirSync(profDir, { recursive: true })
  const tStart = performance.now()

  console.log(`throughput: AXL (createNode + ygg, tcp:// links) vs js-libp2p (tcp+noise+yamux); Node ${process.version}, ${cpus().length} × ${cpus()[0]?.model ?? '?'}`)
  console.log(`  bulk ${values.mib} MiB per case × ${reps} reps (64 KiB writes; send() of ${msg / MiB} MiB × ${inflight} in flight), ${rttN} round trips per case, ${coldN} cold requests; CPU pressure ${cpuPressure() ?? '?'}`)

  const A = spawnProc('A')
  const P = spawnProc('P')
  const B = spawnProc('B')
  const procs = [A, P, B]
  const goBin = goRelayBinary(resolve(process.cwd()))
  let G: GoRelay | undefined
  try {
    if ('bin' in goBin) G = await startGoRelay(goBin.bin)
    else console.log(`  go-relayed cases skipped: ${goBin.reason}`)
    if (values.mtu !== undefined) await Promise.all(procs.map(async x => await x.call('axlConfig', { mtu: Number(values.mtu) })))
    // ---- topology: direct pair Ad—Bd; relayed Ar—P—Br (A and B each dial only P)
    const p = await P.call<{ peerId: string, uri: string }>('axlStart', { name: 'P', listen: true })
    const bd = await B.call<{ peerId: string, uri: string }>('axlStart', { name: 'Bd', listen: true })
    const br = await B.call<{ peerId: string }>('axlStart', { name: 'Br', peers: [p.uri] })
    const ad = await A.call<{ peerId: string }>('axlStart', { name: 'Ad', peers: [bd.uri] })
    const ar = await A.call<{ peerId: string }>('axlStart', { name: 'Ar', peers: [p.uri] })
    const bg = G === undefined ? undefined : await B.call<{ peerId: string }>('axlStart', { name: 'Bg', peers: [G.uri] })
    const ag = G === undefined ? undefined : await A.call<{ peerId: string }>('axlStart', { name: 'Ag', peers: [G.uri] })
    const bma = await B.call<string>('p2pStart')
    await A.call('p2pStart')
    await Promise.all([
      A.call('axlWaitReachable', { name: 'Ad', to: bd.peerId }),
      A.call('axlWaitReachable', { name: 'Ar', to: br.peerId }),
      A.call('axlWaitReachable', { name: 'Ar', to: p.peerId }),
      ...(ag !== undefined && bg !== undefined ? [A.call('axlWaitReachable', { name: 'Ag', to: bg.peerId })] : [])
    ])

    const bulkCases: Record<string, (bytes: number) => Promise<number>> = {
      'axl-direct-raw': async bytes => {
        await B.call('axlExpectRaw', { name: 'Bd', from: ad.peerId })
        return await A.call<number>('axlBulkRaw', { name: 'Ad', to: bd.peerId, total: bytes, chunk })
      },
      'axl-direct-send': async bytes => await A.call<number>('axlBulkSend', { name: 'Ad', to: bd.peerId, total: bytes, msg, inflight }),
      'axl-relayed-raw': async bytes => {
        await B.call('axlExpectRaw', { name: 'Br', from: ar.peerId })
        return await A.call<number>('axlBulkRaw', { name: 'Ar', to: br.peerId, total: bytes, chunk })
      },
      'axl-relayed-send': async bytes => await A.call<number>('axlBulkSend', { name: 'Ar', to: br.peerId, total: bytes, msg, inflight }),
      'libp2p-direct': async bytes => await A.call<number>('p2pBulk', { ma: bma, total: bytes, chunk }),
      ...(ag !== undefined && bg !== undefined
        ? {
            'go-relayed-raw': async (bytes: number) => {
              await B.call('axlExpectRaw', { name: 'Bg', from: ag.peerId })
              return await A.call<number>('axlBulkRaw', { name: 'Ag', to: bg.peerId, total: bytes, chunk })
            },
            'go-relayed-send': async (bytes: number) => await A.call<number>('axlBulkSend', { name: 'Ag', to: bg.peerId, total: bytes, msg, inflight })
          }
        : {})
    }
    const selected = values.cases === undefined ? Object.keys(bulkCases) : values.cases.split(',').map(s => s.trim()).filter(s => s !== '')
    for (const c of selected) if (!(c in bulkCases) && !c.startsWith('rtt') && c !== 'cold') throw new Error(`unknown case ${c}; known: ${Object.keys(bulkCases).join(', ')}, rtt, cold`)
    const bulkSel = selected.filter(c => c in bulkCases)

    // ---- bulk
    const bulk: Record<string, BulkResult[]> = {}
    if (bulkSel.length > 0 && total > 0) {
      const warm = Math.min(total, 32 * MiB)
      for (const c of bulkSel) await bulkCases[c](warm) // JIT, windows, paths
      for (let r = 0; r < reps; r++) {
        for (const c of bulkSel) {
          const prof = profDir !== undefined && r === reps - 1
          if (prof) await Promise.all(procs.map(x => x.call('profStart')))
          const statNodes = c.startsWith('axl-direct') ? [[A, 'Ad'], [B, 'Bd']] as const : c.startsWith('go-') ? [[A, 'Ag'], [B, 'Bg']] as const : [[A, 'Ar'], [P, 'P'], [B, 'Br']] as const
          const s0 = values.stats && c.startsWith('axl') ? await Promise.all(statNodes.map(([x, n]) => x.call('axlStats', { name: n }))) : undefined
          const before = await Promise.all(procs.map(x => x.call<NodeJS.CpuUsage>('cpu')))
          const ms = await bulkCases[c](total)
          const after = await Promise.all(procs.map(x => x.call<NodeJS.CpuUsage>('cpu')))
          if (s0 !== undefined) {
            const s1 = await Promise.all(statNodes.map(([x, n]) => x.call('axlStats', { name: n })))
            statNodes.forEach(([, n], i) => { console.log(`    ${n}: ${statDelta(s0[i], s1[i])}`) })
          }
          if (prof) await Promise.all(procs.map(x => x.call('profStop', { file: join(profDir, `${c}-${x.name}.cpuprofile`) })))
          const gib = total / GiB
          const res: BulkResult = {
            mbps: total / MB / (ms / 1000),
            cpu: { A: cpuSec(before[0], after[0]) / gib, P: cpuSec(before[1], after[1]) / gib, B: cpuSec(before[2], after[2]) / gib }
          }
          ;(bulk[c] ??= []).push(res)
          console.log(`  rep ${r + 1} ${c.padEnd(17)} ${fmt(res.mbps).padStart(6)} MB/s   CPU s/GiB A ${fmt(res.cpu.A)}  P ${fmt(res.cpu.P)}  B ${fmt(res.cpu.B)}`)
        }
      }
    }

    // ---- round trips
    const rtt: Record<string, { p50: number, p99: number, mean: number }> = {}
    const doRtt = !values['no-rtt'] && rttN > 0 && (values.cases === undefined || selected.some(c => c.startsWith('rtt')))
    if (doRtt) {
      const warm = Math.min(500, rttN)
      const rttCases: Record<string, () => Promise<number[]>> = {
        'axl-direct': async () => await A.call('axlRtt', { name: 'Ad', to: bd.peerId, n: rttN, warm }),
        'axl-direct-stream': async () => {
          await B.call('axlExpectEcho', { name: 'Bd', from: ad.peerId })
          return await A.call('axlEchoRtt', { name: 'Ad', to: bd.peerId, n: rttN, warm })
        },
        'axl-relayed': async () => await A.call('axlRtt', { name: 'Ar', to: br.peerId, n: rttN, warm }),
        'axl-one-hop A-P': async () => await A.call('axlRtt', { name: 'Ar', to: p.peerId, n: rttN, warm }),
        'libp2p-direct': async () => await A.call('p2pRtt', { ma: bma, n: rttN, warm }),
        ...(ag !== undefined && bg !== undefined ? { 'go-relayed': async () => await A.call<number[]>('axlRtt', { name: 'Ag', to: bg.peerId, n: rttN, warm }) } : {})
      }
      for (const [c, run] of Object.entries(rttCases)) {
        if (profDir !== undefined) await Promise.all(procs.map(x => x.call('profStart')))
        const statNodes = c === 'axl-direct' ? [[A, 'Ad'], [B, 'Bd']] as const : c === 'go-relayed' ? [[A, 'Ag'], [B, 'Bg']] as const : c.startsWith('axl') ? [[A, 'Ar'], [P, 'P'], [B, 'Br']] as const : []
        const s0 = values.stats ? await Promise.all(statNodes.map(([x, n]) => x.call('axlStats', { name: n }))) : undefined
        const xs = (await run()).sort((x, y) => x - y)
        if (s0 !== undefined) {
          const s1 = await Promise.all(statNodes.map(([x, n]) => x.call('axlStats', { name: n })))
          statNodes.forEach(([, n], i) => { console.log(`    ${n}: ${statDelta(s0[i], s1[i])}`) })
        }
        if (profDir !== undefined) await Promise.all(procs.map(x => x.call('profStop', { file: join(profDir, `rtt-${c.replace(/\W+/g, '_')}-${x.name}.cpuprofile`) })))
        rtt[c] = { p50: pct(xs, 50), p99: pct(xs, 99), mean: xs.reduce((s, x) => s + x, 0) / xs.length }
        console.log(`  rtt ${c.padEnd(16)} p50 ${fmt(rtt[c].p50).padStart(5)} µs   p99 ${fmt(rtt[c].p99).padStart(6)} µs`)
      }
    }

    // ---- cold first request through the relay
    const cold: Array<{ firstMs: number, secondMs: number }> = []
    if (coldN > 0 && (values.cases === undefined || selected.includes('cold'))) {
      for (let i = 0; i < coldN; i++) {
        const key = await B.call<string>('axlColdNode', { name: `cold${i}`, peers: [p.uri], settleMs: 2500, rootOf: 'Br' })
        const s0 = values.stats ? await Promise.all([A.call('axlStats', { name: 'Ar' }), P.call('axlStats', { name: 'P' }), B.call('axlStats', { name: `cold${i}` })]) : undefined
        if (profDir !== undefined) await Promise.all(procs.map(x => x.call('profStart')))
        const r = await A.call<{ firstMs: number, secondMs: number }>('axlColdRequest', { name: 'Ar', to: key })
        if (profDir !== undefined) await Promise.all(procs.map(x => x.call('profStop', { file: join(profDir, `cold${i + 1}-${x.name}.cpuprofile`) })))
        if (s0 !== undefined) {
          const s1 = await Promise.all([A.call('axlStats', { name: 'Ar' }), P.call('axlStats', { name: 'P' }), B.call('axlStats', { name: `cold${i}` })])
          ;['Ar', 'P', 'cold'].forEach((n, j) => { console.log(`    ${n}: ${statDelta(s0[j], s1[j])}`) })
        }
        cold.push(r)
        console.log(`  cold ${i + 1}: first request ${fmt(r.firstMs)} ms, second ${fmt(r.secondMs)} ms`)
        await B.call('axlStop', { name: `cold${i}` })
      }
    }

    // ---- summary
    const med = (c: string, f: (x: BulkResult) => number): number => bulk[c] === undefined ? NaN : median(bulk[c].map(f))
    const mbps = (c: string): number => med(c, x => x.mbps)
    /** Median over reps of the per-rep ratio (same-rep pairs are what the noisy machine keeps comparable). */
    const ratio = (a: string, b: string): number => bulk[a] === undefined || bulk[b] === undefined
      ? NaN
      : median(bulk[a].map((x, i) => x.mbps / bulk[b][i].mbps))
    const lp = 'libp2p-direct'
    console.log('')
    console.log('| bulk case | MB/s median [min..max] | × libp2p | CPU s/GiB sender A | relay P | receiver B |')
    console.log('|---|---|---|---|---|---|')
    for (const c of Object.keys(bulk)) {
      const xs = bulk[c]
      console.log(`| ${c} | ${fmtRange(xs.map(x => x.mbps))} | ${fmt(ratio(c, lp))} | ${fmt(med(c, x => x.cpu.A))} | ${fmt(med(c, x => x.cpu.P))} | ${fmt(med(c, x => x.cpu.B))} |`)
    }
    const coldMs = median(cold.map(x => x.firstMs))
    const hopRtt = rtt['axl-one-hop A-P']?.p50 ?? NaN
    const relRtt = rtt['axl-relayed']?.p50 ?? NaN
    if (Object.keys(rtt).length > 0) {
      console.log('')
      console.log('| round trip (100 B) | p50 µs | p99 µs | p50 × libp2p |')
      console.log('|---|---|---|---|')
      for (const [c, v] of Object.entries(rtt)) console.log(`| ${c} | ${fmt(v.p50)} | ${fmt(v.p99)} | ${fmt(v.p50 / (rtt[lp]?.p50 ?? NaN))} |`)
    }
    if (cold.length > 0) {
      console.log('')
      console.log(`cold first request A → P → new node: ${fmtRange(cold.map(x => x.firstMs))} ms = ${fmt(coldMs * 1000 / relRtt)} relayed round trips (p50 ${fmt(relRtt)} µs) = ${fmt(coldMs * 1000 / hopRtt)} A↔P round trips (p50 ${fmt(hopRtt)} µs); second request ${fmtRange(cold.map(x => x.secondMs))} ms`)
    }
    const targets = [
      ['relayed bulk ≥ 1.0× libp2p direct', ratio('axl-relayed-send', lp) >= 1.0, `send ${fmt(ratio('axl-relayed-send', lp))}×, raw ${fmt(ratio('axl-relayed-raw', lp))}×`],
      ['direct bulk ≥ 1.5× libp2p direct', ratio('axl-direct-send', lp) >= 1.5, `send ${fmt(ratio('axl-direct-send', lp))}×, raw ${fmt(ratio('axl-direct-raw', lp))}×`],
      ['request p50 ≤ 1.5× libp2p', (rtt['axl-direct']?.p50 ?? NaN) / (rtt[lp]?.p50 ?? NaN) <= 1.5, `${fmt((rtt['axl-direct']?.p50 ?? NaN) / (rtt[lp]?.p50 ?? NaN))}×`],
      ['cold first request ≤ 4 overlay round trips', coldMs * 1000 / relRtt <= 4, `${fmt(coldMs * 1000 / relRtt)} relayed RTTs`]
    ] as const
    console.log('')
    for (const [t, ok, v] of targets) console.log(`target ${t}: ${ok ? 'met' : 'MISSED'} (${v})`)
    const secs = (performance.now() - tStart) / 1000
    console.log(`(${fmt(secs)} s; CPU pressure now ${cpuPressure() ?? '?'})`)

    await Promise.all(procs.map(async x => { await x.call('exit').catch(() => {}) }))
    await Promise.all(procs.map(async x => { if (x.child.exitCode === null) await new Promise(res => x.child.once('exit', res)) }))
    if (profDir !== undefined) summarizeProfiles(profDir)

    const direct = mbps('axl-direct-send')
    const relayed = mbps('axl-relayed-send')
    const goRtt = rtt['go-relayed']?.p50 ?? NaN
    if (G !== undefined) {
      console.log(`relay: ours ${fmt(relayed)} MB/s (send), ${fmt(mbps('axl-relayed-raw'))} MB/s (raw) vs yggdrasil-go's ${fmt(mbps('go-relayed-send'))} / ${fmt(mbps('go-relayed-raw'))} MB/s with the same TS ends: ${fmt(ratio('axl-relayed-send', 'go-relayed-send'))}× / ${fmt(ratio('axl-relayed-raw', 'go-relayed-raw'))}×; relayed request p50 ${fmt(relRtt)} µs vs ${fmt(goRtt)} µs through Go`)
    }
    console.log(JSON.stringify({
      direct_mb_s: r3(direct),
      relayed_mb_s: r3(relayed),
      libp2p_direct_mb_s: r3(mbps(lp)),
      ratio_relayed_vs_libp2p: r3(ratio('axl-relayed-send', lp)),
      ratio_direct_vs_libp2p: r3(ratio('axl-direct-send', lp)),
      direct_raw_mb_s: r3(mbps('axl-direct-raw')),
      relayed_raw_mb_s: r3(mbps('axl-relayed-raw')),
      ratio_relayed_raw_vs_libp2p: r3(ratio('axl-relayed-raw', lp)),
      ratio_direct_raw_vs_libp2p: r3(ratio('axl-direct-raw', lp)),
      rtt_p50_us: r3(rtt['axl-direct']?.p50 ?? NaN),
      rtt_p99_us: r3(rtt['axl-direct']?.p99 ?? NaN),
      relayed_rtt_p50_us: r3(relRtt),
      relayed_rtt_p99_us: r3(rtt['axl-relayed']?.p99 ?? NaN),
      one_hop_rtt_p50_us: r3(hopRtt),
      stream_echo_rtt_p50_us: r3(rtt['axl-direct-stream']?.p50 ?? NaN),
      ratio_stream_echo_rtt_vs_libp2p: r3((rtt['axl-direct-stream']?.p50 ?? NaN) / (rtt[lp]?.p50 ?? NaN)),
      libp2p_rtt_p50_us: r3(rtt[lp]?.p50 ?? NaN),
      libp2p_rtt_p99_us: r3(rtt[lp]?.p99 ?? NaN),
      ratio_rtt_vs_libp2p: r3((rtt['axl-direct']?.p50 ?? NaN) / (rtt[lp]?.p50 ?? NaN)),
      ratio_relayed_rtt_vs_libp2p: r3(relRtt / (rtt[lp]?.p50 ?? NaN)),
      cold_first_request_ms: r3(coldMs),
      cold_first_request_relayed_rtts: r3(coldMs * 1000 / relRtt),
      cold_first_request_one_hop_rtts: r3(coldMs * 1000 / hopRtt),
      cpu_s_per_gib_direct_send_sender: r3(med('axl-direct-send', x => x.cpu.A)),
      cpu_s_per_gib_direct_send_receiver: r3(med('axl-direct-send', x => x.cpu.B)),
      cpu_s_per_gib_relayed_send_sender: r3(med('axl-relayed-send', x => x.cpu.A)),
      cpu_s_per_gib_relayed_send_relay: r3(med('axl-relayed-send', x => x.cpu.P)),
      cpu_s_per_gib_relayed_send_receiver: r3(med('axl-relayed-send', x => x.cpu.B)),
      cpu_s_per_gib_relayed_raw_sender: r3(med('axl-relayed-raw', x => x.cpu.A)),
      cpu_s_per_gib_relayed_raw_relay: r3(med('axl-relayed-raw', x => x.cpu.P)),
      cpu_s_per_gib_relayed_raw_receiver: r3(med('axl-relayed-raw', x => x.cpu.B)),
      cpu_s_per_gib_libp2p_sender: r3(med(lp, x => x.cpu.A)),
      cpu_s_per_gib_libp2p_receiver: r3(med(lp, x => x.cpu.B)),
      go_relayed_mb_s: r3(mbps('go-relayed-send')),
      go_relayed_raw_mb_s: r3(mbps('go-relayed-raw')),
      ratio_relayed_vs_go_relay: r3(ratio('axl-relayed-send', 'go-relayed-send')),
      ratio_relayed_raw_vs_go_relay: r3(ratio('axl-relayed-raw', 'go-relayed-raw')),
      go_relayed_rtt_p50_us: r3(goRtt),
      ratio_relayed_rtt_vs_go_relay: r3(relRtt / goRtt),
      cpu_s_per_gib_go_relayed_send_sender: r3(med('go-relayed-send', x => x.cpu.A)),
      cpu_s_per_gib_go_relayed_send_receiver: r3(med('go-relayed-send', x => x.cpu.B)),
      go_axl_direct_mb_s: null,
      go_axl_relayed_mb_s: null,
      ratio_relayed_vs_go_axl: null,
      ratio_direct_vs_go_axl: null,
      go_axl_mcp_rtt_p50_us: null,
      ratio_mcp_rtt_vs_go_axl: null,
      go_axl_unavailable: 'Go AXL cannot be installed here: the Go module proxy refuses github.com/gensyn-ai/axl (and its gvisor.dev/gvisor dependency)',
      bulk_mib: Number(values.mib),
      reps,
      rtt_n: rttN,
      cold_n: cold.length,
      seconds: r3(secs),
      node: process.version
    }))
  } finally {
    for (const x of procs) if (x.child.exitCode === null) x.child.kill()
    await G?.stop()
  }
}

/** Non-zero counter changes between two axlStats snapshots, "layer.counter +n". */
function statDelta (a: Record<string, Record<string, number>>, b: Record<string, Record<string, number>>): string {
  const out: string[] = []
  for (const layer of Object.keys(b)) {
    for (const [k, v] of Object.entries(b[layer])) {
      const d = v - (a[layer]?.[k] ?? 0)
      if (typeof v === 'number' && d !== 0) out.push(`${layer}.${k} ${d > 0 ? '+' : ''}${d}`)
    }
  }
  return out.join(', ')
}

/** Self time by function (source-mapped) for every .cpuprofile in `dir`. */
function summarizeProfiles (dir: string): void {
  interface CallFrame { functionName: string, url: string, lineNumber: number, columnNumber: number }
  interface ProfNode { id: number, callFrame: CallFrame }
  interface Profile { nodes: ProfNode[], samples: number[], timeDeltas: number[] }
  const maps = new Map<string, SourceMap | null>()
  const mapFor = (url: string): SourceMap | null => {
    if (!maps.has(url)) {
      let m: SourceMap | null = null
      const file = url.startsWith('file://') ? new URL(url).pathname : url
      if (existsSync(file + '.map')) {
        try { m = new SourceMap(JSON.parse(readFileSync(file + '.map', 'utf8'))) } catch {}
      }
      maps.set(url, m)
    }
    return maps.get(url) ?? null
  }
  const where = (cf: CallFrame): string => {
    if (cf.url === '') return ''
    const m = mapFor(cf.url)
    if (m !== null && cf.lineNumber >= 0) {
      const e = m.findEntry(cf.lineNumber, cf.columnNumber) as { originalSource?: string, originalLine?: number }
      if (e?.originalSource !== undefined) {
        const src = e.originalSource.replace(/^.*?\/(packages|bench)\//, '$1/')
        return `${src}:${(e.originalLine ?? 0) + 1}`
      }
    }
    if (cf.url.startsWith('wasm://')) return 'libsodium.wasm'
    if (cf.url.startsWith('node:')) return `${cf.url}:${cf.lineNumber + 1}`
    const u = cf.url.replace(/^file:\/\//, '')
    const nm = u.lastIndexOf('node_modules/')
    return `${nm >= 0 ? u.slice(nm + 13).replace(/^\.pnpm\/[^/]+\/node_modules\//, '') : basename(u)}:${cf.lineNumber + 1}`
  }
  for (const f of readdirSync(dir).filter(x => x.endsWith('.cpuprofile')).sort()) {
    const prof = JSON.parse(readFileSync(join(dir, f), 'utf8')) as Profile
    const byId = new Map(prof.nodes.map(n => [n.id, n]))
    const self = new Map<string, number>()
    const byArea = new Map<string, number>()
    let all = 0
    for (let i = 0; i < prof.samples.length; i++) {
      const n = byId.get(prof.samples[i])
      if (n === undefined) continue
      const dt = prof.timeDeltas[i] ?? 0
      const name = n.callFrame.functionName === '' ? '(anonymous)' : n.callFrame.functionName
      if (name === '(idle)') continue
      all += dt
      const loc = where(n.callFrame)
      const k = `${name} ${loc}`
      self.set(k, (self.get(k) ?? 0) + dt)
      const area = loc === '' ? name : loc.replace(/:\d+$/, '').replace(/^(packages\/[^/]+\/src\/[^/]+(\/[^/]+)?).*$/, '$1')
      byArea.set(area, (byArea.get(area) ?? 0) + dt)
    }
    console.log(`\n## profile ${f}: ${fmt(all / 1e6)} s busy (self time, idle excluded)`)
    const top = (m: Map<string, number>, n: number): void => {
      for (const [k, v] of [...m].sort((x, y) => y[1] - x[1]).slice(0, n)) console.log(`  ${(100 * v / all).toFixed(1).padStart(5)}%  ${k}`)
    }
    console.log('  by file:')
    top(byArea, 15)
    console.log('  by function:')
    top(self, 30)
  }
}

if (values.role === 'node') {
  serveIpc({
    ...axlHandlers,
    ...p2pHandlers,
    cpu: () => process.cpuUsage(),
    profStart: async () => { await profiler('Profiler.enable'); await profiler('Profiler.setSamplingInterval', { interval: 50 }); await profiler('Profiler.start') },
    profStop: async ({ file }: { file: string }) => {
      const { profile } = await profiler('Profiler.stop') as { profile: unknown }
      writeFileSync(file, JSON.stringify(profile))
    },
    mem: () => process.memoryUsage().rss,
    exit: () => { setTimeout(() => { process.exit(0) }, 20) }
  })
} else {
  await main()
}
