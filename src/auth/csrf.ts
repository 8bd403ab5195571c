/**
 * Cross-site request forgery: a browser sends the session cookie with requests that another site
 * makes it send. Unsafe requests that ride on the cookie must come from our own origin: browsers say
 * so in Sec-Fetch-Site, and older ones in Origin. A request with neither is not from a browser page.
 */
import { AppError } from '../errors.ts'

const SAFE = new Set(['GET', 'HEAD', 'OPTIONS'])

export function assertSameOrigin(request: Request, publicUrl: string): void {
  if (SAFE.has(request.method)) return
  const site = request.headers.get('sec-fetch-site')
  if (site !== null) {
    if (site === 'same-origin' || site === 'none') return
    throw new AppError(403, 'csrf_rejected', `a ${site} request cannot use this session`)
  }
  const origin = request.headers.get('origin')
  if (origin === null) return
  const allowed = new Set([new URL(publicUrl).origin, new URL(request.url).origin])
  if (!allowed.has(origin)) throw new AppError(403, 'csrf_rejected', `requests from ${origin} cannot use this session`)
}
