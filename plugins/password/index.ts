/**
 * password: sign in with email and password, answered with the session cookie (PartnerOS's
 * `POST <base>/auth/sign-in/email`). Signing in at a tenant's base URL signs in to that organization,
 * so the account must be a member of it. Every failure, whatever its cause (unknown email, wrong
 * password, disabled account, not a member), gets the same 401 after the same work, and counts toward
 * a per-account and a per-address limit of failures.
 */
import type { PluginDefinition } from '../../src/plugins/contract.ts'

const password: PluginDefinition = {
  name: 'password',
  version: '1.0.0',
  config: (t) =>
    t.Object(
      {
        failures_per_account: t.Integer({ default: 10, minimum: 1, description: 'Failed sign-ins per email and window.' }),
        failures_per_address: t.Integer({ default: 50, minimum: 1, description: 'Failed sign-ins per client address and window.' }),
        window_seconds: t.Integer({ default: 900, minimum: 1 }),
      },
      { additionalProperties: false },
    ),

  setup(host) {
    const settings = host.config as { failures_per_account: number; failures_per_address: number; window_seconds: number }
    const windowMs = settings.window_seconds * 1000
    const perAccount = host.identity.rateLimiter({ limit: settings.failures_per_account, windowMs })
    const perAddress = host.identity.rateLimiter({ limit: settings.failures_per_address, windowMs })

    host.routes((api) =>
      api.post(
        '/auth/sign-in/email',
        async ({ body, request, tenant, ip, set }) => {
          host.identity.assertSameOrigin(request) // no signing a victim in to the attacker's account
          const email = body.email.trim().toLowerCase()
          const accountKey = `${tenant.id}|${email}`
          const addressKey = `${tenant.id}|${ip ?? 'unknown'}`
          perAccount.check(accountKey)
          perAddress.check(addressKey)
          const user = await host.identity.verifyPassword(email, body.password)
          const role = user && (await host.identity.roleIn(tenant.id, user.userId))
          if (!user || !role) {
            perAccount.record(accountKey)
            perAddress.record(addressKey)
            await host.identity.audit(tenant.id, { type: 'sign_in.failed', subject: email, ip, detail: { method: 'password' } })
            throw new host.AppError(401, 'invalid_credentials', 'the email or password is incorrect')
          }
          const session = await host.identity.startSession({
            userId: user.userId,
            tenantId: tenant.id,
            ip,
            userAgent: request.headers.get('user-agent'),
          })
          await host.identity.audit(tenant.id, {
            type: 'sign_in',
            actor: user.userId,
            subject: session.sessionId,
            ip,
            detail: { method: 'password' },
          })
          set.headers['set-cookie'] = session.setCookie
          return {
            user: { id: user.userId, email: user.email },
            session: { id: session.sessionId, expiresAt: session.expiresAt },
            organization: { slug: tenant.slug, role },
          }
        },
        {
          body: host.t.Object(
            { email: host.t.String({ minLength: 3, maxLength: 254 }), password: host.t.String({ minLength: 1, maxLength: 1024 }) },
            { additionalProperties: false },
          ),
          detail: { tags: ['Sessions'], summary: 'Sign in with email and password; answers with the session cookie' },
        },
      ),
    )
  },
}

export default password
