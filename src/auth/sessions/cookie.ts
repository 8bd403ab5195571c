/**
 * The session cookie: HttpOnly (scripts cannot read it), SameSite=Lax (not sent on cross-site
 * sub-requests), Path=/; over HTTPS also Secure and named `__Host-<name>`, which browsers accept only
 * from a secure origin, for the whole host, and without a Domain, so a sibling subdomain cannot plant one.
 *
 * One session answers to two names: the configured one (`auth.session.cookie_name`, OpenPartner's
 * `op_session` by default), which partnerd's own pages set, and PartnerOS's `session_token`, which
 * its clients copy from the Set-Cookie of `POST /auth/sign-in/email` (that route sets both). Either
 * name is read on every request, so a client of either dialect keeps working.
 */
import type { Config } from '../../config/schema.ts'

/** PartnerOS's cookie name (seeds/000): its clients look for this one. */
export const PARTNEROS_COOKIE = 'session_token'

export interface SessionCookie {
  /** The configured name (with __Host- over HTTPS): what partnerd's pages set and sign-out clears first. */
  name: string
  /** Every name a session is read from and written under by the dialect routes: `name` first. */
  names: readonly string[]
  secure: boolean
  maxAgeSeconds: number
}

export function sessionCookie(config: Config): SessionCookie {
  const secure = config.server.public_url.startsWith('https://')
  const prefixed = (base: string) => (secure ? `__Host-${base}` : base)
  const names = [...new Set([config.auth.session.cookie_name, PARTNEROS_COOKIE])].map(prefixed)
  return { name: names[0]!, names, secure, maxAgeSeconds: config.auth.session.absolute_timeout_hours * 3600 }
}

export function sessionSettings(config: Config) {
  return { idleMs: config.auth.session.idle_timeout_minutes * 60_000, absoluteMs: config.auth.session.absolute_timeout_hours * 3_600_000 }
}

/** The value of one cookie from the request's Cookie header. */
export function readCookie(request: Request, name: string): string | undefined {
  const header = request.headers.get('cookie')
  return header ? cookieValue(header, name) : undefined
}

/** The session token the request carries, under either of the session's names. */
export function readSessionToken(request: Request, cookie: SessionCookie): string | undefined {
  const header = request.headers.get('cookie')
  if (!header) return undefined
  for (const name of cookie.names) {
    const token = cookieValue(header, name)
    if (token) return token
  }
  return undefined
}

/**
 * One cookie's value in a Cookie header, walked in place (no array of parts: this runs on every
 * request a browser makes). Percent-decoded only when it holds a `%`; a value that does not decode
 * is answered as it is (a token no session has, refused as any unknown one), never as an error.
 */
function cookieValue(header: string, name: string): string | undefined {
  let start = 0
  while (start < header.length) {
    const semicolon = header.indexOf(';', start)
    const end = semicolon < 0 ? header.length : semicolon
    const eq = header.indexOf('=', start)
    if (eq > start && eq < end && header.slice(start, eq).trim() === name) {
      const value = header.slice(eq + 1, end).trim()
      if (!value.includes('%')) return value
      try {
        return decodeURIComponent(value)
      } catch {
        return value
      }
    }
    start = end + 1
  }
  return undefined
}

function cookieHeader(cookie: SessionCookie, name: string, token: string, maxAgeSeconds: number): string {
  return [`${name}=${token}`, 'Path=/', 'HttpOnly', 'SameSite=Lax', `Max-Age=${maxAgeSeconds}`, ...(cookie.secure ? ['Secure'] : [])].join(
    '; ',
  )
}

/** The Set-Cookie value for the configured name. */
export function setCookieHeader(cookie: SessionCookie, token: string, maxAgeSeconds = cookie.maxAgeSeconds): string {
  return cookieHeader(cookie, cookie.name, token, maxAgeSeconds)
}

/** The Set-Cookie values for every name of the session (PartnerOS's sign-in answers with all). */
export function setCookieHeaders(cookie: SessionCookie, token: string): string[] {
  return cookie.names.map((name) => cookieHeader(cookie, name, token, cookie.maxAgeSeconds))
}

/** Clears the session under every name, so no copy of it outlives a sign-out. */
export function clearCookieHeaders(cookie: SessionCookie): string[] {
  return cookie.names.map((name) => cookieHeader(cookie, name, '', 0))
}
