/**
 * What every page carries for its safety, in one place: the headers (a Content-Security-Policy with no
 * inline script and no `unsafe-*`, no framing, no sniffing, no referrer to other sites, never cached),
 * and the CSRF token of a session.
 *
 * CSRF: the session cookie is SameSite=Lax and the session strategy refuses cross-site unsafe requests
 * (Sec-Fetch-Site, else Origin); besides, every POST of a signed-in page carries a token tied to the
 * session: a digest of the session's secret token, which only a page of this site could have read.
 * It needs no storage: it is recomputed from the cookie on each request.
 */
import { createHash, timingSafeEqual } from 'node:crypto'
import { AppError } from '../errors.ts'

export const CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  // Pico draws its form icons with data: images.
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
  "manifest-src 'none'",
].join('; ')

export const PAGE_HEADERS: Record<string, string> = {
  'content-type': 'text/html; charset=utf-8',
  'content-security-policy': CSP,
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'same-origin',
  'cross-origin-opener-policy': 'same-origin',
  'permissions-policy': 'camera=(), microphone=(), geolocation=(), payment=()',
  'cache-control': 'no-store',
}

/** The name of the form field (and the htmx header) that carries the token. */
export const CSRF_FIELD = '_csrf'
export const CSRF_HEADER = 'x-csrf-token'

export function csrfToken(sessionToken: string): string {
  return createHash('sha256').update(`partnerd csrf\0${sessionToken}`).digest('base64url')
}

/** Refuses (403 csrf_rejected) a POST whose token is missing or is not this session's. */
export function assertCsrf(sessionToken: string, submitted: string | null | undefined): void {
  const expected = Buffer.from(csrfToken(sessionToken))
  const given = Buffer.from(submitted ?? '')
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
    throw new AppError(403, 'csrf_rejected', 'this form has expired or did not come from this site; reload the page and try again')
  }
}
