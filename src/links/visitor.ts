/**
 * What the router knows of a visitor: a keyed hash of the address (the address itself is never
 * stored; a plain hash of an IPv4 address is reversed by trying all 2^32), and whether the user agent
 * is a crawler or link previewer, whose fetches are not clicks.
 */
import { createHmac } from 'node:crypto'

const recent = new Map<string, string>()

/** The keyed hash; an address clicking again is answered from a small cache rather than hashed anew. */
export function hashAddress(salt: string, address: string | undefined): string | null {
  if (!address) return null
  const key = `${salt}\n${address}`
  let hash = recent.get(key)
  if (hash === undefined) {
    hash = createHmac('sha256', salt).update(address).digest('base64url').slice(0, 22)
    if (recent.size >= 10_000) recent.clear()
    recent.set(key, hash)
  }
  return hash
}

const BOT =
  /bot\b|bot\/|crawl|spider|slurp|facebookexternalhit|facebot|embedly|preview|pinterest|vkshare|whatsapp|telegram|skypeuripreview|bingpreview|headlesschrome|lighthouse|python-requests|go-http-client|monitor|uptime/i

export function isBot(userAgent: string | null): boolean {
  return userAgent !== null && BOT.test(userAgent)
}
