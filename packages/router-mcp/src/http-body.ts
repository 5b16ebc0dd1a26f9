// Reading an HTTP endpoint's answer within a byte cap (shared by the Streamable HTTP backend and its sessions).
import { BackendError } from './errors.js'
import { RouterErrorCode } from './error-codes.js'

/** The body as text, refusing more than `max` bytes without buffering them (BackendError too_large). */
export async function readCapped (res: Response, max: number): Promise<string> {
  if (res.body === null) return ''
  const len = Number(res.headers.get('content-length') ?? NaN)
  if (len > max) {
    await res.body.cancel()
    throw new BackendError(RouterErrorCode.ResponseTooLarge, 'too_large', `the endpoint's answer of ${len} bytes exceeds ${max} bytes`)
  }
  const reader = res.body.getReader()
  const parts: Uint8Array[] = []
  let n = 0
  for (;;) {
    const { done, value } = await reader.read()
    if (done) break
    n += value.byteLength
    if (n > max) {
      await reader.cancel()
      throw new BackendError(RouterErrorCode.ResponseTooLarge, 'too_large', `the endpoint's answer exceeds ${max} bytes`)
    }
    parts.push(value)
  }
  return Buffer.concat(parts).toString('utf8')
}
