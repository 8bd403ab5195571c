/**
 * Where a link may send a visitor: the program's destination, or a deep link whose parsed host is the
 * destination's host or one on the program's allow-list. Hosts are compared exactly, after the WHATWG
 * URL parser has had its say (it drops tabs and line breaks, resolves `user@host`, lower-cases and
 * punycodes), so `https://good.com@evil.com`, `https:evil.com`, `//evil.com` and look-alike letters
 * all fail. The URL handed to the browser is the parser's serialisation, never the input.
 */
export interface DestinationRules {
  destinationUrl: string
  deepLinkHosts: readonly string[]
}

/** The deep link's serialised URL when it may be used, else undefined. */
export function allowedDeepLink(candidate: string, rules: DestinationRules): string | undefined {
  if (candidate.length > 2048) return undefined
  let url: URL
  try {
    url = new URL(candidate)
  } catch {
    return undefined
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return undefined
  if (url.username || url.password) return undefined
  const home = new URL(rules.destinationUrl).hostname
  if (url.hostname !== home && !rules.deepLinkHosts.includes(url.hostname)) return undefined
  return url.toString()
}

/** The destination with `cref=<clickId>` added, keeping its own query and fragment. */
export function withClickRef(destination: string, clickId: string | undefined): string {
  if (!clickId) return destination
  return clickRefTemplate(destination)(clickId)
}

const PLACEHOLDER = 'CREF0PLACEHOLDER'

/**
 * The destination parsed once, as a function of the click id: the router builds a Location per click,
 * and parsing the URL each time cost more than the rest of the string work. Click ids are URL-safe.
 */
export function clickRefTemplate(destination: string): (clickId: string) => string {
  const url = new URL(destination)
  url.searchParams.set('cref', PLACEHOLDER)
  const [before, after] = url.toString().split(PLACEHOLDER) as [string, string]
  return (clickId) => before + clickId + after
}
