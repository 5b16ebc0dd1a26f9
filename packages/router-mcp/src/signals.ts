import { AbortError, TimeoutError } from '@axl/core'

/** The error to throw for an aborted signal: its reason when that is an Error, else an AbortError. */
export function abortReasonOf (signal: AbortSignal): Error {
  const r: unknown = signal.reason
  if (r instanceof Error && r.name !== 'AbortError') return r.name === 'TimeoutError' && !(r instanceof TimeoutError) ? new TimeoutError(r.message) : r
  return new AbortError(undefined, { cause: r })
}

/** Resolve when `promise` settles or reject when `signal` fires, whichever comes first. */
export async function raceSignal<T> (promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) throw abortReasonOf(signal)
  return await new Promise<T>((resolve, reject) => {
    const onAbort = (): void => { reject(abortReasonOf(signal)) }
    signal.addEventListener('abort', onAbort, { once: true })
    promise.then(v => { signal.removeEventListener('abort', onAbort); resolve(v) }, e => { signal.removeEventListener('abort', onAbort); reject(e) })
  })
}
