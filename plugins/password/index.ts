/**
 * password: sign in with email and password, answered with the session cookie (PartnerOS's
 * `POST <base>/auth/sign-in/email`). Signing in at a tenant's base URL signs in to that organization,
 * so the account must be a member of it. Failures, limits and audit follow the core's one rule
 * (auth.sign_in in the config).
 */
import type { PluginDefinition } from '../../src/plugins/contract.ts'

const password: PluginDefinition = {
  name: 'password',
  version: '1.0.0',

  setup(host) {
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
          set.headers['set-cookie'] = session.setCookie
          return {
            user: { id: user.userId, email: user.email },
            session: { id: session.sessionId, expiresAt: session.expiresAt },
            organization: { slug: tenant.slug, role: user.role },
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
