/**
 * What sign-in plugins (password, magic codes, OAuth) get from the host to turn a proven identity into
 * a session: they prove who someone is; the core decides membership, issues the session and its
 * cookie, and keeps the audit log. One implementation of each rule, whichever way people sign in.
 */
import { type AuditInput, recordAudit } from '../audit/service.ts'
import type { Config } from '../config/schema.ts'
import type { Database } from '../db/database.ts'
import type { WithTenant } from '../db/with-tenant.ts'
import { type RateLimit, RateLimiter } from '../http/rate-limit.ts'
import { roleIn, verifyPassword } from '../users/service.ts'
import { assertSameOrigin } from './csrf.ts'
import type { Role } from './roles.ts'
import { sessionCookie, sessionSettings, setCookieHeader } from './sessions/cookie.ts'
import { issueSession } from './sessions/service.ts'

export interface IdentityFacet {
  /** The user for an email and password, or null (same answer and time whether the email exists). */
  verifyPassword(email: string, password: string): Promise<{ userId: string; email: string } | null>
  /** The user's role in a tenant, or undefined when not a member. */
  roleIn(tenantId: string, userId: string): Promise<Role | undefined>
  /** A new session for the user; `setCookie` is the Set-Cookie header value to answer with. */
  startSession(input: { userId: string; tenantId: string; ip?: string; userAgent?: string | null }): Promise<{
    sessionId: string
    expiresAt: string
    setCookie: string
  }>
  /** Writes an audit event in its own transaction (so a failed request still leaves its trace). */
  audit(tenantId: string, input: AuditInput): Promise<void>
  /** Refuses (403 csrf_rejected) an unsafe request made by another site's page. */
  assertSameOrigin(request: Request): void
  rateLimiter(rule: RateLimit): RateLimiter
}

export function identityFacet(config: Config, database: Database, withTenant: WithTenant): IdentityFacet {
  const cookie = sessionCookie(config)
  const settings = sessionSettings(config)
  return {
    async verifyPassword(email, password) {
      const row = await verifyPassword(database.db, email, password)
      return row ? { userId: row.id, email: row.email } : null
    },
    roleIn: (tenantId, userId) => withTenant(tenantId, (scope) => roleIn(scope, userId)),
    async startSession({ userId, tenantId, ip, userAgent }) {
      const { token, session } = await issueSession(database.db, { userId, activeTenantId: tenantId, ip, userAgent }, settings)
      return { sessionId: session.id, expiresAt: session.expiresAt, setCookie: setCookieHeader(cookie, token) }
    },
    audit: (tenantId, input) => withTenant(tenantId, (scope) => recordAudit(scope, input)),
    assertSameOrigin: (request) => assertSameOrigin(request, config.server.public_url),
    rateLimiter: (rule) => new RateLimiter(rule),
  }
}
