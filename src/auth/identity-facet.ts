/**
 * What sign-in plugins (password, JWT, magic codes, OAuth) get from the host. They prove who someone
 * is; the core holds the rules that must be the same whichever way people sign in: failed attempts
 * limited and audited with one answer, membership decides the role, sessions and their cookie, CSRF.
 */
import { type AuditInput, recordAudit } from '../audit/service.ts'
import type { Config } from '../config/schema.ts'
import { readBool } from '../db/codec.ts'
import type { Database } from '../db/database.ts'
import type { WithTenant } from '../db/with-tenant.ts'
import { AppError } from '../errors.ts'
import { addressGroup } from '../http/client-address.ts'
import { type RateLimit, RateLimiter } from '../http/rate-limit.ts'
import { recordAcceptance } from '../partners/portal.ts'
import { createPartner } from '../partners/service.ts'
import type { Tenant } from '../tenants/service.ts'
import { addMembership, createUser, findUserRowByEmail, normalizeEmail, roleIn, roleOf, verifyPassword } from '../users/service.ts'
import { assertSameOrigin } from './csrf.ts'
import { memberPrincipal } from './member-principal.ts'
import type { Principal } from './principal.ts'
import type { Role } from './roles.ts'
import { readSessionToken, sessionCookie, sessionSettings, setCookieHeader, setCookieHeaders } from './sessions/cookie.ts'
import { issueSession, resolveSession } from './sessions/service.ts'
import { safeNext } from './sign-in-methods.ts'
import type { IssuedTokens, TokenIssuers } from './tokens.ts'

export interface SignedIn {
  userId: string
  email: string
  role: Role
}

export interface IdentityFacet {
  /**
   * Checks an email and password for a member of `tenant`. Every failure (unknown email, wrong
   * password, disabled account, not a member) is the same 401 after the same work, is audited, and
   * counts toward the per-account and per-address limits (429 + Retry-After once used up). An
   * email that is not one (normalizeEmail) is 400 invalid_email before any of that.
   */
  signInWithPassword(input: { tenant: Tenant; email: string; password: string; ip?: string; method: string }): Promise<SignedIn>
  /**
   * The one email rule (users/service.ts): trimmed and lower-cased; 400 invalid_email for what is
   * not an address or carries control or invisible characters. Sign-in plugins read emails with it.
   */
  normalizeEmail(email: string): string
  /**
   * The failed sign-ins budget of a client address, shared by every sign-in method: `check` refuses
   * (429 + Retry-After) an address that has used it up, `fail` counts one failure.
   */
  readonly addressFailures: { check(tenant: Tenant, ip: string | undefined): void; fail(tenant: Tenant, ip: string | undefined): void }
  /** The user with this email (whether or not a member anywhere), for linking a sign-in method by email. */
  findUserByEmail(email: string): Promise<{ userId: string; emailVerified: boolean; disabled: boolean } | undefined>
  /** The active member of `tenant` with this email, or undefined (unknown, disabled, or not a member). */
  findMember(tenant: Tenant, email: string): Promise<SignedIn | undefined>
  /** The principal of a signed-in user in the URL's tenant (role from the membership, read now). */
  memberPrincipal(tenant: Tenant, userId: string, extra?: Pick<Principal, 'sessionId'>): Promise<Principal>
  /**
   * A new session for the user; `setCookie` is the Set-Cookie header value to answer with (the
   * configured cookie name), `setCookies` the session under each name it is read by (PartnerOS's
   * `session_token` too), for a route whose clients look for the other name.
   */
  startSession(input: { userId: string; tenantId: string; ip?: string; userAgent?: string | null }): Promise<{
    sessionId: string
    expiresAt: string
    setCookie: string
    setCookies: string[]
  }>
  /**
   * Whether a plugin issues access tokens (the jwt plugin): a dialect whose clients expect tokens
   * answers with them when it does, and with the session cookie otherwise. Read it per request.
   */
  readonly issuesTokens: boolean
  /**
   * Tokens instead of a session, for a member proven by the caller: `{tokens}` for the body and the
   * refresh token's Set-Cookie. 404 tokens_unavailable when no plugin issues tokens.
   */
  issueTokens(input: { tenant: Tenant; userId: string; apiBase: string }): Promise<IssuedTokens>
  /** The user whose live session cookie this request carries, if any (for linking a new sign-in method). */
  sessionUser(request: Request): Promise<string | undefined>
  /**
   * Sign-up: a person joins `tenant` as a partner (a partner record, and a portal user tied to it);
   * programs still have to enrol the partner before it earns. When the email was proven (a mailed
   * code: `emailVerified`, and `verifiedUserId` for an existing account) the account and a partner
   * record of that email are taken over; unproven (a password sign-up), an existing email is 409
   * email_taken.
   */
  registerPartner(input: {
    tenant: Tenant
    email: string
    name?: string
    password?: string
    emailVerified: boolean
    verifiedUserId?: string
    ip?: string
  }): Promise<SignedIn>
  /** Whether the user has a password, so a plugin can refuse to remove their last way in. */
  hasPassword(userId: string): Promise<boolean>
  /** Writes an audit event in its own transaction (so a failed request still leaves its trace). */
  audit(tenantId: string, input: AuditInput): Promise<void>
  /** Refuses (403 csrf_rejected) an unsafe request made by another site's page. */
  assertSameOrigin(request: Request): void
  rateLimiter(rule: RateLimit): RateLimiter
  /** True when public_url is https: cookies get Secure and a __Host-/__Secure- name. */
  readonly secureCookies: boolean
  /** Where to land after signing in: `next` when it is a path of this site (never another site), else `fallback`. */
  safeNext(next: string | null | undefined, fallback: string): string
}

export function identityFacet(config: Config, database: Database, withTenant: WithTenant, tokens: TokenIssuers): IdentityFacet {
  const cookie = sessionCookie(config)
  const settings = sessionSettings(config)
  const limits = config.auth.sign_in
  const windowMs = limits.window_seconds * 1000
  const perAccount = new RateLimiter({ limit: limits.failures_per_account, windowMs })
  const perAddress = new RateLimiter({ limit: limits.failures_per_address, windowMs })
  const audit = (tenantId: string, input: AuditInput) => withTenant(tenantId, (scope) => recordAudit(scope, input))
  const addressKey = (tenant: Tenant, ip: string | undefined) => `${tenant.id}|${ip ? addressGroup(ip) : 'unknown'}`
  const addressFailures = {
    check: (tenant: Tenant, ip: string | undefined) => perAddress.check(addressKey(tenant, ip)),
    fail: (tenant: Tenant, ip: string | undefined) => perAddress.record(addressKey(tenant, ip)),
  }

  return {
    addressFailures,
    normalizeEmail,
    async signInWithPassword({ tenant, email, password, ip, method }) {
      // Not an address at all is the caller's mistake, told as such (400): it names no account, so
      // it says nothing about which exist, and it spends no one's failure budget.
      const normalized = normalizeEmail(email)
      const accountKey = `${tenant.id}|${normalized}`
      perAccount.check(accountKey)
      addressFailures.check(tenant, ip)
      const user = await verifyPassword(database.db, normalized, password)
      const role = user && (await roleOf(database, tenant.id, user.id))?.role
      if (!user || !role) {
        perAccount.record(accountKey)
        addressFailures.fail(tenant, ip)
        await audit(tenant.id, { type: 'sign_in.failed', subject: normalized, ip, detail: { method } })
        throw new AppError(401, 'invalid_credentials', 'the email or password is incorrect')
      }
      await audit(tenant.id, { type: 'sign_in', actor: user.id, ip, detail: { method } })
      return { userId: user.id, email: user.email, role }
    },
    async findUserByEmail(email) {
      const user = await findUserRowByEmail(database.db, email)
      return user && { userId: user.id, emailVerified: readBool(user.email_verified), disabled: user.disabled_at !== null }
    },
    async findMember(tenant, email) {
      const user = await findUserRowByEmail(database.db, email)
      if (!user || user.disabled_at) return undefined
      const role = (await roleOf(database, tenant.id, user.id))?.role
      return role && { userId: user.id, email: user.email, role }
    },
    memberPrincipal: (tenant, userId, extra) => memberPrincipal(config.mode, database, tenant, userId, extra),
    async startSession({ userId, tenantId, ip, userAgent }) {
      const { token, session } = await issueSession(database.db, { userId, activeTenantId: tenantId, ip, userAgent }, settings)
      // Every way of signing in ends here: a partner's portal user signing in accepts its invitation.
      await withTenant(tenantId, (scope) => recordAcceptance(scope, userId))
      return {
        sessionId: session.id,
        expiresAt: session.expiresAt,
        setCookie: setCookieHeader(cookie, token),
        setCookies: setCookieHeaders(cookie, token),
      }
    },
    get issuesTokens() {
      return tokens.available
    },
    async issueTokens({ tenant, userId, apiBase }) {
      const issued = await tokens.issue({ tenantId: tenant.id, userId, apiBase })
      await withTenant(tenant.id, (scope) => recordAcceptance(scope, userId)) // as startSession: signing in accepts an invitation
      return issued
    },
    async sessionUser(request) {
      const token = readSessionToken(request, cookie)
      return token ? (await resolveSession(database, token, settings))?.userId : undefined
    },
    async registerPartner({ tenant, email, name, password, emailVerified, verifiedUserId, ip }) {
      const normalized = normalizeEmail(email)
      const taken = () => new AppError(409, 'email_taken', `${normalized} already has an account; sign in instead`)
      const signedUp = await withTenant(tenant.id, async (scope) => {
        let userId = verifiedUserId
        if (!userId) {
          if (await findUserRowByEmail(scope.db, normalized)) throw taken()
          userId = (await createUser(scope.db, { email: normalized, password, name, emailVerified })).id
        }
        if (await roleIn(scope, userId)) throw taken()
        const existing = await scope.db
          .selectFrom('partners')
          .select('id')
          .where('tenant_id', '=', scope.tenantId)
          .where('email', '=', normalized)
          .executeTakeFirst()
        if (existing && !emailVerified) throw taken() // an unproven email cannot claim the company's partner record
        // Signing oneself up is accepting: no invitation waits.
        const partnerId = existing?.id ?? (await createPartner(scope, { email: normalized, name, activated: true })).id
        await addMembership(scope, userId, 'partner', partnerId)
        await recordAudit(scope, { type: 'sign_up', actor: userId, subject: partnerId, ip: ip ?? null, detail: { email: normalized } })
        return { userId, email: normalized, role: 'partner' as const }
      })
      return signedUp
    },
    async hasPassword(userId) {
      const row = await database.db.selectFrom('users').select('password_hash').where('id', '=', userId).executeTakeFirst()
      return Boolean(row?.password_hash)
    },
    audit,
    assertSameOrigin: (request) => assertSameOrigin(request, config.server.public_url),
    rateLimiter: (rule) => new RateLimiter(rule),
    secureCookies: cookie.secure,
    safeNext,
  }
}
