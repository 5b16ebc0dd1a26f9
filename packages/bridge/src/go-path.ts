/** Go net/http ServeMux path cleaning (the 301 to the cleaned path). */

/** path.Clean that keeps a trailing slash, as ServeMux's cleanPath does. */
export function cleanPath (p: string): string {
  if (p === '') return '/'
  if (p[0] !== '/') p = '/' + p
  const out: string[] = []
  for (const seg of p.split('/')) {
    if (seg === '' || seg === '.') continue
    if (seg === '..') { out.pop(); continue }
    out.push(seg)
  }
  let np = '/' + out.join('/')
  if (p.endsWith('/') && np !== '/') np += '/'
  return np
}
