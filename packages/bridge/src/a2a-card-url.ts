/**
 * The agent card as a plain HTTP client of the bridge sees it: interface URLs on the mesh (`axl://<peer>`), which
 * such a client cannot open, become the bridge's own `/a2a/{peer}` URL. Relative URLs (AXL's `/a2a/<peer>`,
 * resolved against the bridge) and the agent's own http(s) URLs are left as they are.
 */

/** True for a URL only the mesh can reach (`axl:` scheme). */
function isMeshUrl (url: unknown): url is string {
  return typeof url === 'string' && /^axl:/i.test(url.trim())
}

function rewriteInterfaces (list: unknown, bridgeUrl: string): boolean {
  if (!Array.isArray(list)) return false
  let changed = false
  for (const iface of list) {
    if (iface !== null && typeof iface === 'object' && isMeshUrl((iface as { url?: unknown }).url)) {
      (iface as { url: string }).url = bridgeUrl
      changed = true
    }
  }
  return changed
}

/**
 * Rewrites the card's mesh interface URLs to `bridgeUrl`: v1.0 `supportedInterfaces[].url`, and v0.3's `url` and
 * `additionalInterfaces[].url`. Returns the new JSON text, or undefined when nothing changed (then relay the
 * remote's bytes unchanged) or the card is not a JSON object.
 */
export function rewriteCardUrls (cardJson: string, bridgeUrl: string): string | undefined {
  let card: unknown
  try { card = JSON.parse(cardJson) } catch { return undefined } // not JSON: relayed as is, as AXL does
  if (card === null || typeof card !== 'object' || Array.isArray(card)) return undefined
  const c = card as Record<string, unknown>
  let changed = rewriteInterfaces(c.supportedInterfaces, bridgeUrl)
  if (rewriteInterfaces(c.additionalInterfaces, bridgeUrl)) changed = true
  if (isMeshUrl(c.url)) { c.url = bridgeUrl; changed = true }
  return changed ? JSON.stringify(c) : undefined
}

/** The bridge's URL for `peer`, from the request's Host (already checked by the local-API guard) or the local socket. */
export function bridgeA2aUrl (host: string | undefined, localAddress: string | undefined, localPort: number | undefined, peer: string): string {
  let authority = host
  if (authority === undefined || authority === '') {
    const addr = localAddress ?? '127.0.0.1'
    authority = `${addr.includes(':') ? `[${addr}]` : addr}:${String(localPort ?? 80)}`
  }
  return `http://${authority}/a2a/${peer}`
}
