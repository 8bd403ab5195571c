/**
 * magic: passwordless sign-in by email. `start` mails a 6-digit code and a link; `verify` takes the code
 * (with its attempt) or the link's token and answers with the session cookie, as password sign-in does.
 * PartnersMy's paths `/auth/magic-code` and `/auth/magic-code/verify` (and, with sign-up,
 * `/auth/register-magic` and `/auth/register-magic/verify`) take the same requests; their verify
 * answers as PartnersMy's dashboard expects, with a JWT and a refresh token in an HttpOnly cookie,
 * when the server issues tokens (the jwt plugin), and with the session cookie otherwise.
 *
 * The answer to `start` is the same whether or not the email belongs to a member, and the mail is sent
 * after answering, so neither the body nor the timing tells. The link opens a page that asks the person
 * to confirm; only its POST signs in (a GET never changes anything, and mail scanners follow links).
 */
import type { PluginDefinition } from '../../src/plugins/contract.ts'
import { attemptEmail, createAttempt, emailUsage, verifyCode, verifyLink } from './attempts.ts'
import { linkPage } from './link-page.ts'

interface MagicConfig {
  sign_up: boolean
  code_ttl_seconds: number
  max_attempts_per_code: number
  sends_per_email_per_hour: number
  failures_per_email_per_day: number
}

const ATTEMPT_COOKIE = 'op_magic_attempt'

const magic: PluginDefinition = {
  name: 'magic',
  version: '1.0.0',
  config: (t) =>
    t.Object(
      {
        sign_up: t.Boolean({ default: false, description: 'Let new people sign up as partners by code (POST /auth/magic/register).' }),
        code_ttl_seconds: t.Integer({ default: 600, minimum: 60, maximum: 600, description: 'How long a code and link work.' }),
        max_attempts_per_code: t.Integer({ default: 5, minimum: 1, maximum: 10 }),
        sends_per_email_per_hour: t.Integer({ default: 5, minimum: 1 }),
        failures_per_email_per_day: t.Integer({ default: 20, minimum: 1 }),
      },
      { additionalProperties: false },
    ),

  setup(host) {
    const cfg = host.config as MagicConfig
    const ttlMs = cfg.code_ttl_seconds * 1000
    const minutes = Math.round(cfg.code_ttl_seconds / 60)
    const tooMany = (what: string, retryAfter: number) =>
      new host.AppError(429, 'rate_limited', `too many ${what} for this email; try again later`, { 'retry-after': String(retryAfter) })
    const invalid = () => new host.AppError(401, 'invalid_code', 'the code or link is wrong, used or expired')
    const cookieAttrs = `Path=/; HttpOnly; SameSite=Lax${host.identity.secureCookies ? '; Secure' : ''}`

    host.migrations({
      '0001_attempts': {
        async up(db) {
          await db.schema
            .createTable('magic_attempts')
            .addColumn('id', 'text', (c) => c.primaryKey())
            .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenants.id').onDelete('cascade'))
            .addColumn('email', 'text', (c) => c.notNull())
            .addColumn('user_id', 'text', (c) => c.references('users.id').onDelete('cascade'))
            .addColumn('code_hash', 'text', (c) => c.notNull())
            .addColumn('link_hash', 'text', (c) => c.notNull())
            .addColumn('created_at', 'text', (c) => c.notNull())
            .addColumn('expires_at', 'text', (c) => c.notNull())
            .addColumn('attempts', 'integer', (c) => c.notNull())
            .addColumn('failures', 'integer', (c) => c.notNull())
            .addColumn('used_at', 'text')
            .execute()
          await db.schema.createIndex('magic_attempts_email').on('magic_attempts').columns(['tenant_id', 'email', 'created_at']).execute()
          await db.schema.createIndex('magic_attempts_link').on('magic_attempts').columns(['tenant_id', 'link_hash']).execute()
          await host.isolateTenantRows(db, 'magic_attempts')
        },
      },
      '0002_registration': {
        async up(db) {
          await db.schema.alterTable('magic_attempts').addColumn('purpose', 'text').execute()
          await db.schema.alterTable('magic_attempts').addColumn('name', 'text').execute()
        },
      },
    })

    /**
     * Mails a code and a link for `email`. Start (sign in) and register (sign up) differ only for an
     * email that is not a member: start mails nothing, register mails a code that will make the person
     * a partner. `apiBase` is where the link's page is (`/api` or `/api/t/<slug>`).
     */
    async function sendCode(input: { tenant: any; email: string; name?: string; registering: boolean; apiBase: string }) {
      const email = host.identity.normalizeEmail(input.email)
      const member = await host.identity.findMember(input.tenant, email)
      const registration = input.registering && !member ? { name: input.name?.trim() || null } : undefined
      const known = registration ? await host.identity.findUserByEmail(email) : undefined
      const attempt = await host.withTenant(input.tenant.id, async (scope) => {
        const usage = await emailUsage(scope, email)
        if (usage.sentLastHour >= cfg.sends_per_email_per_hour) throw tooMany('codes sent', 3600)
        if (usage.failuresLastDay >= cfg.failures_per_email_per_day) throw tooMany('failed codes', 86_400)
        return createAttempt(
          scope,
          host.secrets,
          email,
          member?.userId ?? (known && !known.disabled ? known.userId : null),
          ttlMs,
          registration,
        )
      })
      if (member || registration) {
        const link = `${host.publicUrl}${input.apiBase}/auth/magic/link#${attempt.linkToken}`
        host.mail
          .send({
            to: email,
            subject: `Your sign-in code: ${attempt.code}`,
            text: `Your sign-in code is ${attempt.code}. It works for ${minutes} minutes, once.\n\nOr sign in with this link:\n${link}\n\nIf you did not ask to sign in, you can ignore this message.\n`,
          })
          .catch((err) => host.log.error({ err: (err as Error).message }, 'magic: sending the sign-in mail failed'))
      }
      return attempt
    }

    /**
     * The person a code (of its attempt) or a link token proves; every failure is one 401, counted
     * against the address and the email's daily budget, and audited. A registration's proof makes the
     * person a partner first.
     */
    async function provenUser(input: {
      tenant: any
      attemptId?: string
      code?: string
      token?: string
      ip?: string
    }): Promise<{ userId: string; email: string }> {
      const { tenant, attemptId, code, token, ip } = input
      const method = token ? 'magic_link' : 'magic_code'
      host.identity.addressFailures.check(tenant, ip)
      const outcome = await host.withTenant(tenant.id, async (scope) => {
        if (token) return verifyLink(scope, token)
        if (!code || !attemptId) return { ok: false as const }
        const email = await attemptEmail(scope, attemptId)
        if (email && (await emailUsage(scope, email)).failuresLastDay >= cfg.failures_per_email_per_day)
          throw tooMany('failed codes', 86_400)
        return verifyCode(scope, host.secrets, attemptId, code, cfg.max_attempts_per_code)
      })
      if (!outcome.ok) {
        host.identity.addressFailures.fail(tenant, ip)
        await host.identity.audit(tenant.id, { type: 'sign_in.failed', subject: attemptId ?? null, ip, detail: { method } })
        throw invalid()
      }
      // A registration signs up whoever proved the email and is not yet a member; a member just signs in.
      const member = outcome.purpose === 'register' ? await host.identity.findMember(tenant, outcome.email) : undefined
      const userId =
        outcome.purpose === 'sign_in'
          ? outcome.userId
          : (member?.userId ??
            (
              await host.identity.registerPartner({
                tenant,
                email: outcome.email,
                name: outcome.name ?? undefined,
                emailVerified: true,
                verifiedUserId: outcome.userId ?? undefined,
                ip,
              })
            ).userId)
      await host.identity.memberPrincipal(tenant, userId) // refuses a revoked partner's portal user
      await host.identity.audit(tenant.id, { type: 'sign_in', actor: userId, ip, detail: { method } })
      return { userId, email: outcome.email }
    }

    const apiBaseOf = (request: Request) =>
      new URL(request.url).pathname.replace(/\/auth\/(magic(-code)?(\/start|\/verify)?|register-magic(\/verify)?|magic\/register)$/, '')
    const begin =
      (registering: boolean) =>
      async ({ body, request, tenant, set }: any) => {
        host.identity.assertSameOrigin(request)
        const attempt = await sendCode({ tenant, email: String(body.email), name: body.name, registering, apiBase: apiBaseOf(request) })
        set.status = 202
        set.headers['set-cookie'] = `${ATTEMPT_COOKIE}=${attempt.id}; Max-Age=${cfg.code_ttl_seconds}; ${cookieAttrs}`
        return { attemptId: attempt.id, expiresAt: attempt.expiresAt }
      }
    const start = begin(false)

    /** `tokens`: answer with access tokens when the server issues them (PartnersMy's paths); else the session cookie. */
    const verifying =
      (answer: 'session' | 'tokens') =>
      async ({ body, request, tenant, ip, set }: any) => {
        host.identity.assertSameOrigin(request)
        const cookieAttempt = request.headers
          .get('cookie')
          ?.split(';')
          .map((c: string) => c.trim())
          .find((c: string) => c.startsWith(`${ATTEMPT_COOKIE}=`))
          ?.slice(ATTEMPT_COOKIE.length + 1)
        const { userId, email } = await provenUser({
          tenant,
          attemptId: body.attemptId ?? cookieAttempt,
          code: body.code === undefined ? undefined : String(body.code),
          token: body.token,
          ip,
        })
        const principal = await host.identity.memberPrincipal(tenant, userId)
        const signedIn = { user: { id: userId, email }, organization: { slug: tenant.slug, role: principal.role } }
        if (answer === 'tokens' && host.identity.issuesTokens) {
          const issued = await host.identity.issueTokens({ tenant, userId, apiBase: apiBaseOf(request) })
          set.headers['set-cookie'] = issued.setCookie
          return { ...signedIn, tokens: issued.tokens }
        }
        const session = await host.identity.startSession({
          userId,
          tenantId: tenant.id,
          ip,
          userAgent: request.headers.get('user-agent'),
        })
        set.headers['set-cookie'] = session.setCookie
        return { ...signedIn, session: { id: session.sessionId, expiresAt: session.expiresAt } }
      }
    const verify = verifying('session')
    const verifyForTokens = verifying('tokens')

    // The sign-in pages offer the same code, by the same rules.
    host.addSignInMethod({
      kind: 'email-code',
      send: async ({ tenant, email, apiBase }) => {
        const attempt = await sendCode({ tenant, email, registering: false, apiBase })
        return { attemptId: attempt.id, expiresAt: attempt.expiresAt }
      },
      verify: async (input) => ({ userId: (await provenUser(input)).userId }),
    })

    // A partner invited to its portal gets a sign-in link by mail. The link lasts as long as a code;
    // after that the partner signs in by asking for a code with its email, as any member does.
    host.on('partner.invited', async (event) => {
      const { email, userId, apiBase } = event.data as { email: string; userId: string; apiBase: string }
      const attempt = await host.withTenant(event.tenantId, (scope) => createAttempt(scope, host.secrets, email, userId, ttlMs))
      const link = `${host.publicUrl}${apiBase}/auth/magic/link#${attempt.linkToken}`
      await host.mail.send({
        to: email,
        subject: 'You are invited to the partner program',
        text: `You have been invited to the partner program's portal.\n\nSign in with this link (it works for ${minutes} minutes, once):\n${link}\n\nOr use the code ${attempt.code}. Later, sign in with your email (${email}) and a code we send you.\n`,
      })
    })

    const StartBody = host.t.Object({ email: host.t.String({ minLength: 3, maxLength: 254 }) }, { additionalProperties: false })
    const VerifyBody = host.t.Object(
      {
        attemptId: host.t.Optional(host.t.String({ maxLength: 64, description: 'From start; or the attempt cookie start set.' })),
        code: host.t.Optional(host.t.String({ maxLength: 12 })),
        token: host.t.Optional(host.t.String({ maxLength: 128, description: 'The token of the mailed link, instead of a code.' })),
      },
      { additionalProperties: false },
    )
    const partnersMyVerifyDoc = {
      tags: ['Sessions'],
      summary:
        'Sign in with the mailed code (PartnersMy path): a JWT and a refresh token when the jwt plugin is on, else the session cookie',
    }
    const startDoc = { tags: ['Sessions'], summary: 'Mail a sign-in code and link (same answer for any email)' }
    const verifyDoc = { tags: ['Sessions'], summary: 'Sign in with the mailed code or link; answers with the session cookie' }

    host.routes((api) =>
      api
        .post('/auth/magic/start', start, { body: StartBody, detail: startDoc })
        .post('/auth/magic/verify', verify, { body: VerifyBody, detail: verifyDoc })
        .post('/auth/magic-code', start, { body: StartBody, detail: { ...startDoc, summary: `${startDoc.summary} (PartnersMy path)` } })
        .post('/auth/magic-code/verify', verifyForTokens, { body: VerifyBody, detail: partnersMyVerifyDoc })
        .get(
          '/auth/magic/link',
          ({ set, request }) => {
            set.headers['content-type'] = 'text/html; charset=utf-8'
            set.headers['content-security-policy'] =
              "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'"
            set.headers['referrer-policy'] = 'no-referrer'
            return linkPage(new URL(request.url).pathname.replace(/\/link$/, '/verify'))
          },
          { detail: { tags: ['Sessions'], summary: 'The page a mailed link opens: confirm to sign in' } },
        ),
    )

    if (cfg.sign_up) {
      const register = begin(true)
      const RegisterBody = host.t.Object(
        { email: host.t.String({ minLength: 3, maxLength: 254 }), name: host.t.Optional(host.t.String({ maxLength: 200 })) },
        { additionalProperties: false },
      )
      const doc = { tags: ['Sessions'], summary: 'Sign up as a partner: mails a code and link; verify them to join and sign in' }
      host.routes((api) =>
        api
          .post('/auth/magic/register', register, { body: RegisterBody, detail: doc })
          .post('/auth/register-magic', register, { body: RegisterBody, detail: { ...doc, summary: `${doc.summary} (PartnersMy path)` } })
          // The attempt knows it is a registration: verifying it is verifying any code.
          .post('/auth/register-magic/verify', verifyForTokens, { body: VerifyBody, detail: partnersMyVerifyDoc }),
      )
    }
  },
}

export default magic
