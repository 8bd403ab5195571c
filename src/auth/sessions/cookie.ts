/**
 * The session cookie: HttpOnly (scripts cannot read it), SameSite=Lax (not sent on cross-site
 * sub-requests), Path=/; over HTTPS also Secure and named `__Host-<name>`, which browsers accept only
 * from a secure origin, for the whole host, and without a Domain, so a sibling subdomain cannot plant one.
 */
import type { Config } from '../../config/schema.ts'

export interface SessionCookie {
  name: string
  secure: boolean
  maxAgeSeconds: number
}

export function sessionCookie(config: Config): SessionCookie {
  const secure = config.server.public_url.startsWith('https://')
  const base = config.auth.session.cookie_name
  return { name: secure ? `__Host-${base}` : base, secure, maxAgeSeconds: config.auth.session.absolute_timeout_hours * 3600 }
}

export function sessionSettings(config: Config) {
  return { idleMs: config.auth.session.idle_timeout_minutes * 60_000, absoluteMs: config.auth.session.absolute_timeout_hours * 3_600_000 }
}

/** The value of one cookie from the request's Cookie header. */
export function readCookie(request: Request, name: string): string | undefined {
  const header = request.headers.get('cookie')
  if (!header) return undefined
  for (const part of header.split(';')) {
    const eq = part.indexOf('=')
    if (eq > 0 && part.slice(0, eq).trim() === name) return decodeURIComponent(part.slice(eq + 1).trim())
  }
  return undefined
}

export function setCookieHeader(cookie: SessionCookie, token: string, maxAgeSeconds = cookie.maxAgeSeconds): string {
  return [
    `${cookie.name}=${token}`,
    'Path=/',
    'HttpOnly',
    'SameSite=Lax',
    `Max-Age=${maxAgeSeconds}`,
    ...(cookie.secure ? ['Secure'] : []),
  ].join('; ')
}

export function clearCookieHeader(cookie: SessionCookie): string {
  return setCookieHeader(cookie, '', 0)
}
