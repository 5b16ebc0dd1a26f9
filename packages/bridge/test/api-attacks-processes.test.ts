// Issue #14, the local HTTP API findings, replayed against real axl-node processes peered over tcp:// on
// 127.0.0.1. Each test runs the attack as measured, then checks that an honest client is still served and
// prints the figure the README quotes.
//
//   A  Listen tcp://127.0.0.1:L; default limits (256 MiB body budget, 1024 connections, 10 s header timeout)
//      except api_body_timeout_secs 3.
//   B  Peers [L]; max_message_size and api_max_body_bytes_in_flight 1 MiB, api_body_timeout_secs 2,
//      api_headers_timeout_secs 1, api_keepalive_timeout_secs 1.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { drain, eventually, freePort, http, ProcessPool, send, waitReachable, type AxlNode, type Reply } from './helpers/processes.js'
import { destroyAll, parseAnswer, rawConnect, rawConnectMany, type RawConn } from './helpers/raw-http.js'

const MiB = 1024 * 1024

/** Headers of a /send whose body is declared and (maybe) never sent. */
function sendHead (port: number, dest: string, contentLength: number | 'chunked', extra = ''): string {
  const len = contentLength === 'chunked' ? 'Transfer-Encoding: chunked' : `Content-Length: ${contentLength}`
  return `POST /send HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nX-Destination-Peer-Id: ${dest}\r\n${len}\r\n${extra}\r\n`
}

describe('issue #14: the local HTTP API under attack, against real axl-node processes', () => {
  const pool = new ProcessPool()
  let A: AxlNode, B: AxlNode
  const open: RawConn[] = []

  beforeAll(async () => {
    const link = `tcp://127.0.0.1:${await freePort()}`
    A = await pool.start('A', { Listen: [link], api_body_timeout_secs: 3 })
    B = await pool.start('B', {
      Peers: [link],
      max_message_size: MiB,
      api_max_body_bytes_in_flight: MiB,
      api_body_timeout_secs: 2,
      api_headers_timeout_secs: 1,
      api_keepalive_timeout_secs: 1
    })
    await waitReachable(A, B)
    await waitReachable(B, A)
  }, 60_000)

  afterAll(async () => {
    destroyAll(open)
    await pool.close()
  })

  it('1+2: 16 sockets declaring 16 MiB bodies and sending nothing reserve no budget; an honest /send is served at once; the attackers get 408 at the body deadline', async () => {
    const attackers = await Promise.all(Array.from({ length: 16 }, async () => {
      const c = await rawConnect(A.apiPort)
      open.push(c)
      // Expect: 100-continue, so the test knows when the bridge has started reading the body.
      c.socket.write(sendHead(A.apiPort, B.key, 16 * MiB, 'Expect: 100-continue\r\n'))
      return c
    }))
    await Promise.all(attackers.map(async c => await c.waitFor(/^HTTP\/1\.1 100 Continue\r\n\r\n/)))
    const t0 = Date.now()
    const honest = await send(A, B.key, Buffer.alloc(64 * 1024, 1))
    const honestMs = Date.now() - t0
    expect(`${honest.status} ${honest.text}`).toBe('200 ')
    expect((await http(`${B.url}/recv?wait=5`)).body.byteLength).toBe(64 * 1024)

    const answers = await Promise.all(attackers.map(async c => { await c.closed; return { answer: parseAnswer(c.received()), ms: Date.now() - t0 } }))
    for (const { answer } of answers) {
      expect(answer?.status).toBe(408)
      expect(answer?.body).toMatch(/^Request Timeout: the request body did not arrive within 3000 ms/)
    }
    const closedMs = Math.max(...answers.map(a => a.ms))
    expect(closedMs).toBeLessThan(3000 + 2500)
    await eventually('A logs the body deadline drops', async () => /\[node\] HTTP API: .*body deadline/.test(A.log()), 5000)
    console.log(`[issue #14 figure] 16 × Content-Length 16 MiB unsent: honest /send 200 in ${honestMs} ms; attackers answered 408 and closed after ≤ ${closedMs} ms`)
  })

  it('2: a body stalled after 900 KiB holds its budget only until the body deadline; then honest sends are served again', async () => {
    const attacker = await rawConnect(B.apiPort)
    open.push(attacker)
    attacker.socket.write(sendHead(B.apiPort, A.key, MiB, 'Expect: 100-continue\r\n'))
    await attacker.waitFor(/^HTTP\/1\.1 100 Continue/)
    const t0 = Date.now()
    attacker.socket.write(Buffer.alloc(900 * 1024, 2))
    // The budget (1 MiB) is now really held by 900 KiB that arrived: a 200 KiB honest body does not fit.
    let busy: Reply | undefined
    await eventually('the stalled body holds the budget', async () => {
      busy = await send(B, A.key, Buffer.alloc(200 * 1024, 3))
      return busy.status === 503
    }, 2000, 50)
    expect(busy?.text).toMatch(/^Server busy: too many request bytes in flight/)
    let ok = 0
    await eventually('an honest /send is served once the stalled body is dropped', async () => {
      const r = await send(B, A.key, Buffer.alloc(200 * 1024, 3))
      if (r.status === 200) ok = Date.now() - t0
      return r.status === 200
    }, 6000, 100)
    expect(ok).toBeLessThan(2000 + 2500)
    await attacker.closed
    expect(parseAnswer(attacker.received())).toEqual({ status: 408, body: expect.stringMatching(/^Request Timeout: the request body did not arrive within 2000 ms \(921600 of 1048576 bytes received\)/) })
    console.log(`[issue #14 figure] 900 KiB of 1 MiB then silence, budget 1 MiB: honest /send 200 again after ${ok} ms (deadline 2000 ms)`)
  })

  it('2: a chunked body that stops is answered 408 too', async () => {
    const c = await rawConnect(B.apiPort)
    open.push(c)
    c.socket.write(sendHead(B.apiPort, A.key, 'chunked') + '5\r\nhello\r\n')
    const ms = await c.closed
    expect(parseAnswer(c.received())?.status).toBe(408)
    expect(ms).toBeLessThan(2000 + 2500)
  })

  it('3: 1,030 idle sockets do not lock out an honest /send; a parked long-poll /recv and requests in flight survive', async () => {
    await drain(A) // what the earlier tests delivered
    const longPoll = await rawConnect(A.apiPort)
    open.push(longPoll)
    longPoll.socket.write(`GET /recv?wait=30 HTTP/1.1\r\nHost: 127.0.0.1:${A.apiPort}\r\n\r\n`)
    const idle = await rawConnectMany(A.apiPort, 1030)
    open.push(...idle)
    // The cap is full once A has accepted them all: 1,031 connections (with the long-poll) on a 1,024 cap.
    const closedNow = (): number => idle.filter(c => c.isClosed()).length
    await eventually(() => `A accepted the flood (${closedNow()} closed)`, async () => closedNow() >= 7, 5000, 20)
    const before = closedNow()
    const t0 = Date.now()
    let last = ''
    let honestMs = 0
    await eventually(() => `an honest /send while the cap is full (last: ${last})`, async () => {
      const r = await send(A, B.key, 'honest')
      last = `${r.status} ${r.text}`
      honestMs = Date.now() - t0
      return r.status === 200
    }, 5000, 50)
    expect(honestMs).toBeLessThan(3000)
    expect((await http(`${B.url}/recv?wait=5`)).text).toBe('honest')
    // Idle sockets were closed to make room for the honest client; the parked long-poll was not.
    await eventually('an idle socket was evicted for the honest client', async () => closedNow() > before, 2000, 20)
    const evicted = closedNow()
    expect((await send(B, A.key, 'for the long-poll')).status).toBe(200)
    await longPoll.waitFor(/for the long-poll$/)
    expect(parseAnswer(longPoll.received())).toEqual({ status: 200, body: 'for the long-poll' })
    destroyAll(idle)
    console.log(`[issue #14 figure] 1,030 idle sockets on a 1,024 cap: honest /send 200 after ${honestMs} ms; ${evicted} idle sockets evicted`)
  })

  it('3: sockets that never finish their header are answered 408 and closed at the header deadline; idle keep-alive sockets at the keep-alive timeout', async () => {
    const silent = await rawConnect(B.apiPort)
    const partial = await rawConnect(B.apiPort)
    const keptAlive = await rawConnect(B.apiPort)
    open.push(silent, partial, keptAlive)
    partial.socket.write(`GET /topology HTTP/1.1\r\nHost: 127.0.0.1:${B.apiPort}\r\nX-Slow: `)
    keptAlive.socket.write(`GET /topology HTTP/1.1\r\nHost: 127.0.0.1:${B.apiPort}\r\n\r\n`)
    await keptAlive.waitFor(/^HTTP\/1\.1 200 /)
    const [silentMs, partialMs, keptMs] = await Promise.all([silent.closed, partial.closed, keptAlive.closed])
    expect(parseAnswer(partial.received())).toEqual({ status: 408, body: expect.stringMatching(/^Request Timeout: no complete request header within 1000 ms/) })
    for (const ms of [silentMs, partialMs, keptMs]) expect(ms).toBeLessThan(1000 + 2500)
    console.log(`[issue #14 figure] header deadline 1 s: silent socket closed after ${silentMs} ms, partial header after ${partialMs} ms; keep-alive 1 s: idle socket closed after ${keptMs} ms`)
  })

  it('4: an absolute-form target naming another host is refused like a bad Host header (403, same message)', async () => {
    const target = async (line: string, host: string, body = ''): Promise<{ status: number, body: string } | undefined> => {
      const c = await rawConnect(A.apiPort)
      open.push(c)
      c.socket.write(`${line}\r\nHost: ${host}\r\nX-Destination-Peer-Id: ${B.key}\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`)
      await c.closed
      return parseAnswer(c.received())
    }
    const badHost = await target('POST /send HTTP/1.1', 'evil.example', 'x')
    expect(badHost?.status).toBe(403)
    const local = `127.0.0.1:${A.apiPort}`
    for (const line of [
      'POST http://evil.example/send HTTP/1.1',
      `POST http://evil.example:${A.apiPort}/send HTTP/1.1`,
      `POST http://${local}@evil.example/send HTTP/1.1`,
      'POST http://[bad/send HTTP/1.1'
    ]) {
      expect({ line, answer: await target(line, local, 'x') }).toEqual({ line, answer: badHost })
    }
    expect((await target(`GET http://${local}/topology HTTP/1.1`, local))?.status).toBe(200)
    expect((await target(`GET http://localhost:${A.apiPort}/topology HTTP/1.1`, local))?.status).toBe(200)
  })
})
