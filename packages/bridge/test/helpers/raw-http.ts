// Raw TCP clients of the local HTTP API, for attacks that well-behaved HTTP clients cannot make: bodies that
// are declared and never sent, header lines that never end, idle connections, absolute-form request targets.
// Every socket is on 127.0.0.1; each one records what it received and when it was closed.
import { connect, type Socket } from 'node:net'

/** A raw connection to 127.0.0.1:port. */
export interface RawConn {
  socket: Socket
  /** Everything received so far, as latin1 text. */
  received: () => string
  /** Resolves once the socket is closed (by either side), with the ms since it was opened. */
  closed: Promise<number>
  /** Whether it is closed. */
  isClosed: () => boolean
  /** Wait until `re` matches what was received (rejects when the socket closes first or after `timeoutMs`). */
  waitFor: (re: RegExp, timeoutMs?: number) => Promise<RegExpExecArray>
}

/** Open a connection; resolves once connected. */
export async function rawConnect (port: number): Promise<RawConn> {
  const t0 = Date.now()
  const socket = connect({ host: '127.0.0.1', port })
  let text = ''
  let isClosed = false
  const listeners = new Set<() => void>()
  socket.on('data', (c: Buffer) => { text += c.toString('latin1'); for (const l of listeners) l() })
  // Resets from the server are one of the outcomes the tests observe; the error is kept, not thrown.
  socket.on('error', (err) => { text += `\n[socket error: ${err.message}]` })
  const closed = new Promise<number>(resolve => {
    socket.once('close', () => { isClosed = true; for (const l of listeners) l(); resolve(Date.now() - t0) })
  })
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve)
    socket.once('error', reject)
  })
  const waitFor = async (re: RegExp, timeoutMs = 10_000): Promise<RegExpExecArray> => await new Promise((resolve, reject) => {
    const check = (): void => {
      const m = re.exec(text)
      if (m !== null) { done(); resolve(m); return }
      if (isClosed) { done(); reject(new Error(`socket closed before ${String(re)}; received ${show(text)}`)) }
    }
    const timer = setTimeout(() => { done(); reject(new Error(`no ${String(re)} within ${timeoutMs} ms; received ${show(text)}`)) }, timeoutMs)
    const done = (): void => { clearTimeout(timer); listeners.delete(check) }
    listeners.add(check)
    check()
  })
  return { socket, received: () => text, closed, isClosed: () => isClosed, waitFor }
}

/** What was received, shortened for an error message. */
function show (text: string): string {
  return JSON.stringify(text.length > 300 ? `${text.slice(0, 300)}… (${text.length} characters)` : text)
}

/** Open `n` connections, a batch at a time (so the test process does not flood its own accept queue). */
export async function rawConnectMany (port: number, n: number, batch = 100): Promise<RawConn[]> {
  const out: RawConn[] = []
  while (out.length < n) {
    const k = Math.min(batch, n - out.length)
    out.push(...await Promise.all(Array.from({ length: k }, async () => await rawConnect(port))))
  }
  return out
}

/** Destroy every connection. */
export function destroyAll (conns: RawConn[]): void {
  for (const c of conns) c.socket.destroy()
}

/** The status line and body of the first HTTP answer in `text` (after any `100 Continue`). */
export function parseAnswer (text: string): { status: number, body: string } | undefined {
  const t = text.replace(/^HTTP\/1\.1 100 Continue\r\n\r\n/, '')
  const m = /^HTTP\/1\.1 (\d{3}) [^\r]*\r\n([\s\S]*?)\r\n\r\n([\s\S]*)$/.exec(t)
  if (m === null) return undefined
  const len = /content-length: *(\d+)/i.exec(m[2])
  const body = len === null ? m[3] : m[3].slice(0, Number(len[1]))
  return { status: Number(m[1]), body }
}
