/**
 * password: sign in with email and password, answered with the session cookie (PartnerOS's
 * `POST <base>/auth/sign-in/email`, which sets it as PartnerOS's `session_token` beside partnerd's
 * configured name). Signing in at a tenant's base URL signs in to that organization,
 * so the account must be a member of it. Failures, limits and audit follow the core's one rule
 * (auth.sign_in in the config).
 *
 * With `sign_up: true`, `POST <base>/auth/sign-up/email` lets a new person join as a partner (the
 * partner's portal user) and signs them in; the email is unproven, so an email that already has an
 * account is refused. Sign-ups per client address are limited.
 */
import type { PluginDefinition } from '../../src/plugins/contract.ts'

interface PasswordConfig {
  sign_up: boolean
  sign_ups_per_address_per_hour: number
}

const password: PluginDefinition = {
  name: 'password',
  version: '1.0.0',
  config: (t) =>
    t.Object(
      {
        sign_up: t.Boolean({ default: false, description: 'Let new people sign up as partners at POST /auth/sign-up/email.' }),
        sign_ups_per_address_per_hour: t.Integer({ default: 10, minimum: 1 }),
      },
      { additionalProperties: false },
    ),

  setup(host) {
    const cfg = host.config as PasswordConfig
    const signUps = host.identity.rateLimiter({ limit: cfg.sign_ups_per_address_per_hour, windowMs: 3_600_000 })
    const Credentials = {
      email: host.t.String({ minLength: 3, maxLength: 254 }),
      password: host.t.String({ minLength: 1, maxLength: 1024 }),
    }
    if (cfg.sign_up) {
      host.routes((api) =>
        api.post(
          '/auth/sign-up/email',
          async ({ body, request, tenant, ip, set }) => {
            host.identity.assertSameOrigin(request)
            signUps.hit(`${tenant.id}|${ip ?? '-'}`)
            const user = await host.identity.registerPartner({
              tenant,
              email: body.email,
              name: body.name,
              password: body.password,
              emailVerified: false,
              ip,
            })
            const session = await host.identity.startSession({
              userId: user.userId,
              tenantId: tenant.id,
              ip,
              userAgent: request.headers.get('user-agent'),
            })
            set.status = 201
            set.headers['set-cookie'] = session.setCookie
            return {
              user: { id: user.userId, email: user.email },
              session: { id: session.sessionId, expiresAt: session.expiresAt },
              organization: { slug: tenant.slug, role: user.role },
            }
          },
          {
            body: host.t.Object(
              { ...Credentials, name: host.t.Optional(host.t.String({ maxLength: 200 })) },
              { additionalProperties: false },
            ),
            detail: { tags: ['Sessions'], summary: 'Sign up as a partner with email and password; answers with the session cookie' },
          },
        ),
      )
    }
    host.addSignInMethod({
      kind: 'password',
      signIn: (input) => host.identity.signInWithPassword({ ...input, method: 'password' }),
    })
    host.routes((api) =>
      api.post(
        '/auth/sign-in/email',
        async ({ body, request, tenant, ip, set }) => {
          host.identity.assertSameOrigin(request) // no signing a victim in to the attacker's account
          const user = await host.identity.signInWithPassword({
            tenant,
            email: body.email,
            password: body.password,
            ip,
            method: 'password',
          })
          const session = await host.identity.startSession({
            userId: user.userId,
            tenantId: tenant.id,
            ip,
            userAgent: request.headers.get('user-agent'),
          })
          // PartnerOS's clients copy `session_token` from this answer; partnerd's own read `op_session`.
          set.headers['set-cookie'] = session.setCookies as never
          return {
            user: { id: user.userId, email: user.email },
            session: { id: session.sessionId, expiresAt: session.expiresAt },
            organization: { slug: tenant.slug, role: user.role },
          }
        },
        {
          body: host.t.Object(Credentials, { additionalProperties: false }),
          detail: { tags: ['Sessions'], summary: 'Sign in with email and password; answers with the session cookie' },
        },
      ),
    )
  },
}

export default password
