/**
 * The plot of a run, as a hand-written SVG: each agent's best validation bits per byte over time (a step line
 * per agent), with each adoption marked (a ring on the adopter's line, labelled with the agent it came from)
 * and each own improvement a small dot.
 */

/** One agent's results, in time order. */
export interface Series {
  agent: string
  points: Array<{ t: number, best: number, improved: boolean, adopted: boolean, from?: string }>
}

/** Options of the plot. */
export interface PlotOptions {
  title?: string
  /** Canvas size in px. Default 960 × 560. */
  width?: number
  height?: number
  /** The y axis shows at most this many bits above the lowest point; lines above are clipped. Default 1. */
  span?: number
}

const COLORS = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf']

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;')
const fmt = (x: number): string => (Math.round(x * 10) / 10).toString()

/** "Nice" tick values covering [lo, hi] (about `n` of them). */
export function ticks (lo: number, hi: number, n = 6): number[] {
  if (!(hi > lo)) return [lo]
  const raw = (hi - lo) / n
  const mag = 10 ** Math.floor(Math.log10(raw))
  const step = [1, 2, 2.5, 5, 10].map(m => m * mag).find(s => s >= raw) ?? 10 * mag
  const out: number[] = []
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Number(v.toFixed(10)))
  return out
}

/** An SVG document: best bpb (y) against seconds since go (x), one line per agent, adoptions marked. */
export function plotSvg (series: Series[], opts: PlotOptions = {}): string {
  const W = opts.width ?? 960
  const H = opts.height ?? 560
  const m = { left: 64, right: 150, top: 44, bottom: 52 }
  const pts = series.flatMap(s => s.points.filter(p => Number.isFinite(p.best)))
  const tMax = Math.max(1, ...pts.map(p => p.t))
  let yLo = Math.min(...pts.map(p => p.best))
  let yHi = Math.max(...pts.map(p => p.best))
  if (!Number.isFinite(yLo)) { yLo = 0; yHi = 1 }
  // a bad random start (6 bits) would squash the interesting part: show at most `span` bits above the best
  const clipped = yHi > yLo + (opts.span ?? 1)
  if (clipped) yHi = yLo + (opts.span ?? 1)
  const pad = Math.max(0.02, (yHi - yLo) * 0.05)
  yLo -= pad; yHi += pad
  const x = (t: number): number => m.left + (t / tMax) * (W - m.left - m.right)
  const y = (v: number): number => m.top + (1 - (v - yLo) / (yHi - yLo)) * (H - m.top - m.bottom)
  const out: string[] = []
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`)
  out.push(`<rect width="${W}" height="${H}" fill="#fff"/>`)
  out.push(`<text x="${W / 2}" y="24" text-anchor="middle" font-size="15">${esc(opts.title ?? 'Best validation bits per byte of each agent')}</text>`)
  // axes and grid
  for (const v of ticks(yLo, yHi)) {
    out.push(`<line x1="${m.left}" x2="${W - m.right}" y1="${fmt(y(v))}" y2="${fmt(y(v))}" stroke="#eee"/>`)
    out.push(`<text x="${m.left - 6}" y="${fmt(y(v) + 4)}" text-anchor="end">${v.toFixed(2)}</text>`)
  }
  for (const t of ticks(0, tMax)) {
    out.push(`<line x1="${fmt(x(t))}" x2="${fmt(x(t))}" y1="${m.top}" y2="${H - m.bottom}" stroke="#eee"/>`)
    out.push(`<text x="${fmt(x(t))}" y="${H - m.bottom + 16}" text-anchor="middle">${t}</text>`)
  }
  out.push(`<rect x="${m.left}" y="${m.top}" width="${W - m.left - m.right}" height="${H - m.top - m.bottom}" fill="none" stroke="#333"/>`)
  out.push(`<text x="${(m.left + W - m.right) / 2}" y="${H - 12}" text-anchor="middle">seconds since start</text>`)
  out.push(`<text transform="translate(16 ${(m.top + H - m.bottom) / 2}) rotate(-90)" text-anchor="middle">best validation bits per byte (lower is better)</text>`)
  out.push(`<clipPath id="plot"><rect x="${m.left}" y="${m.top}" width="${W - m.left - m.right}" height="${H - m.top - m.bottom}"/></clipPath>`)
  if (clipped) out.push(`<text x="${m.left + 6}" y="${m.top + 14}" fill="#666">(clipped above ${yHi.toFixed(2)})</text>`)
  // one step line per agent
  series.forEach((s, i) => {
    const color = COLORS[i % COLORS.length]
    const ps = s.points.filter(p => Number.isFinite(p.best))
    if (ps.length === 0) return
    let d = `M${fmt(x(ps[0].t))},${fmt(y(ps[0].best))}`
    for (let k = 1; k < ps.length; k++) d += ` H${fmt(x(ps[k].t))} V${fmt(y(ps[k].best))}`
    d += ` H${fmt(x(tMax))}`
    out.push(`<path d="${d}" fill="none" stroke="${color}" stroke-width="1.6" opacity="0.85" clip-path="url(#plot)"><title>${esc(s.agent)}</title></path>`)
    for (const p of ps) {
      if (p.best > yHi) continue
      if (p.adopted) {
        out.push(`<circle cx="${fmt(x(p.t))}" cy="${fmt(y(p.best))}" r="5" fill="#fff" stroke="${color}" stroke-width="2"><title>${esc(`${s.agent} adopted ${p.from ?? '?'}'s recipe at ${p.t.toFixed(1)} s: ${p.best.toFixed(3)} bpb`)}</title></circle>`)
        out.push(`<text x="${fmt(x(p.t) + 6)}" y="${fmt(y(p.best) - 6)}" font-size="9" fill="${color}">←${esc(p.from ?? '?')}</text>`)
      } else if (p.improved) {
        out.push(`<circle cx="${fmt(x(p.t))}" cy="${fmt(y(p.best))}" r="2.2" fill="${color}"/>`)
      }
    }
    const ly = m.top + 8 + i * 16
    if (ly < H - m.bottom) {
      const last = ps[ps.length - 1].best
      out.push(`<line x1="${W - m.right + 12}" x2="${W - m.right + 30}" y1="${ly}" y2="${ly}" stroke="${color}" stroke-width="2"/>`)
      out.push(`<text x="${W - m.right + 34}" y="${ly + 4}">${esc(s.agent)} ${last.toFixed(3)}</text>`)
    }
  })
  const ly = Math.min(H - m.bottom - 30, m.top + 16 + series.length * 16)
  out.push(`<circle cx="${W - m.right + 21}" cy="${ly}" r="5" fill="#fff" stroke="#333" stroke-width="2"/><text x="${W - m.right + 34}" y="${ly + 4}">adopted (←from)</text>`)
  out.push(`<circle cx="${W - m.right + 21}" cy="${ly + 16}" r="2.2" fill="#333"/><text x="${W - m.right + 34}" y="${ly + 20}">own new best</text>`)
  out.push('</svg>')
  return out.join('\n') + '\n'
}
