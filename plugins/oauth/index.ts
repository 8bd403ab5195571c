/**
 * oauth: sign in with Google, Microsoft, LinkedIn, GitHub, or any OpenID Connect issuer (SSO).
 *
 *   GET  <base>/auth/oauth/:provider             → 302 to the provider (add ?link=1 while signed in to link)
 *   GET  <base>/auth/social/:provider            the same, PartnersMy's path: its dashboard gets the
 *                                                refresh token cookie (jwt plugin) instead of a session
 *   GET  <base>/auth/oauth/:provider/callback    → session cookie, 302 to after_sign_in_url
 *   GET  <base>/auth/identities                  the signed-in user's linked providers
 *   POST <base>/auth/identities/:provider/unlink refused when it would remove the last way in
 *
 * The round trip is bound to the browser that started it: state, the PKCE verifier and the OIDC nonce
 * live in short-lived HttpOnly cookies and each is checked once. Identities are keyed by (provider,
 * subject), never by email. An email match links an identity to an existing account only when the
 * provider says the email is verified AND the account's email is verified; otherwise linking is
 * explicit, while signed in. With `sign_up: true`, a verified email that has no account yet joins as
 * a partner (PartnersMy's "signup" with Google or LinkedIn).
 */
import { generateCodeVerifier, generateState } from 'arctic'
import type { PluginDefinition } from '../../src/plugins/contract.ts'
import { type Claims, createProvider, type ProviderSettings, type SignInProvider } from './providers.ts'

interface OAuthConfig {
  after_sign_in_url: string
  sign_up: boolean
  providers: Record<string, ProviderSettings>
}

const FLOW_COOKIES = ['op_oauth_state', 'op_oauth_verifier', 'op_oauth_nonce', 'op_oauth_link', 'op_oauth_next', 'op_oauth_answer'] as const
/** How the sign-in page names a provider on its button. */
const LABELS: Record<string, string> = {
  google: 'Google',
  microsoft: 'Microsoft',
  github: 'GitHub',
  linkedin: 'LinkedIn',
  sso: 'single sign-on',
}
const FLOW_SECONDS = 600

const oauth: PluginDefinition = {
  name: 'oauth',
  version: '1.0.0',
  config: (t) =>
    t.Object(
      {
        after_sign_in_url: t.String({ default: '/', description: 'Where a completed sign-in lands (path or URL).' }),
        sign_up: t.Boolean({
          default: false,
          description: 'Let a person whose provider verified an email that has no account here join as a partner.',
        }),
        providers: t.Record(
          t.String({ pattern: '^[a-z][a-z0-9-]{0,31}$' }),
          t.Object(
            {
              client_id: t.String({ minLength: 1 }),
              client_secret: t.String({ minLength: 1 }),
              issuer: t.Optional(t.String({ pattern: '^https?://' })),
              tenant: t.Optional(t.String({ minLength: 1 })),
              enterprise_url: t.Optional(t.String({ pattern: '^https?://' })),
              scopes: t.Optional(t.Array(t.String({ minLength: 1 }))),
            },
            { additionalProperties: false },
          ),
          { default: {} },
        ),
      },
      { additionalProperties: false },
    ),

  setup(host) {
    const cfg = host.config as OAuthConfig
    const base = (request: Request) => new URL(request.url).pathname.replace(/\/auth\/(oauth|social)\/.*$/, '')
    const providers = new Map<string, SignInProvider>()
    for (const [name, settings] of Object.entries(cfg.providers)) {
      providers.set(
        name,
        createProvider(name, settings, (provider, request) => `${host.publicUrl}${base(request)}/auth/oauth/${provider}/callback`),
      )
    }
    const providerOf = (name: string) => {
      const provider = providers.get(name)
      if (!provider) throw new host.AppError(404, 'unknown_provider', `no sign-in provider ${name}`)
      return provider
    }
    const secure = host.identity.secureCookies ? '; Secure' : ''
    const flowCookie = (request: Request, name: string, value: string, maxAge = FLOW_SECONDS) =>
      `${name}=${value}; Path=${base(request)}/auth/oauth; HttpOnly; SameSite=Lax; Max-Age=${maxAge}${secure}`
    const readFlow = (request: Request, name: string) =>
      request.headers
        .get('cookie')
        ?.split(';')
        .map((c) => c.trim())
        .find((c) => c.startsWith(`${name}=`))
        ?.slice(name.length + 1)

    // The sign-in pages show a button per provider, which starts the flow below.
    if (providers.size > 0) {
      host.addSignInMethod({
        kind: 'provider',
        providers: [...providers.keys()].map((id) => ({ id, label: LABELS[id] ?? id[0]!.toUpperCase() + id.slice(1) })),
        startPath: (provider, next) => `/auth/oauth/${provider}?next=${encodeURIComponent(next)}`,
      })
    }

    host.migrations({
      '0001_identities': {
        async up(db) {
          // Global like users: an identity belongs to a person, whatever organizations they are in.
          await db.schema
            .createTable('oauth_identities')
            .addColumn('id', 'text', (c) => c.primaryKey())
            .addColumn('user_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
            .addColumn('provider', 'text', (c) => c.notNull())
            .addColumn('subject', 'text', (c) => c.notNull())
            .addColumn('email', 'text')
            .addColumn('created_at', 'text', (c) => c.notNull())
            .addUniqueConstraint('oauth_identities_provider_subject', ['provider', 'subject'])
            .execute()
          await db.schema.createIndex('oauth_identities_user').on('oauth_identities').column('user_id').execute()
        },
      },
    })

    /**
     * Which user this verified identity signs in, linking it first where the rules allow; undefined
     * for a newcomer who may sign up. `byEmail` is the local account with the identity's email,
     * looked up before the transaction.
     */
    async function userFor(
      db: any,
      provider: string,
      claims: Claims,
      linkTo: string | undefined,
      byEmail: { userId: string; emailVerified: boolean; disabled: boolean } | undefined,
    ): Promise<string | undefined> {
      const known = await db
        .selectFrom('oauth_identities')
        .select('user_id')
        .where('provider', '=', provider)
        .where('subject', '=', claims.subject)
        .executeTakeFirst()
      if (known) {
        if (linkTo && known.user_id !== linkTo)
          throw new host.AppError(409, 'identity_taken', 'this account is already linked to someone else')
        return known.user_id
      }
      let userId = linkTo
      if (!userId && claims.email && claims.emailVerified && byEmail?.emailVerified && !byEmail.disabled) userId = byEmail.userId
      if (!userId && cfg.sign_up && claims.email && claims.emailVerified && !byEmail) return undefined // a newcomer: signs up
      if (!userId)
        throw new host.AppError(403, 'account_not_linked', 'no account is linked to this sign-in; sign in another way and link it first')
      await linkIdentity(db, provider, claims, userId)
      return userId
    }

    async function linkIdentity(db: any, provider: string, claims: Claims, userId: string): Promise<void> {
      await db
        .insertInto('oauth_identities')
        .values({
          id: crypto.randomUUID(),
          user_id: userId,
          provider,
          subject: claims.subject,
          email: claims.email ?? null,
          created_at: new Date().toISOString(),
        })
        .execute()
    }

    /** Starts the round trip; `answer` says what the callback signs in with (tokens: PartnersMy's dashboard). */
    const starting =
      (answer: 'session' | 'tokens') =>
      async ({ params, query, request, set }: any) => {
        const provider = providerOf(params.provider)
        const state = generateState()
        const verifier = generateCodeVerifier()
        const nonce = generateState()
        const linking = query.link === '1' ? await host.identity.sessionUser(request) : undefined
        if (query.link === '1' && !linking) throw new host.AppError(401, 'unauthorized', 'sign in before linking another way to sign in')
        const url = await provider.authorizationUrl(request, state, verifier, nonce).catch((err: Error) => {
          throw new host.AppError(502, 'provider_unavailable', `${provider.name}: ${err.message}`)
        })
        set.headers['set-cookie'] = [
          flowCookie(request, 'op_oauth_state', state),
          flowCookie(request, 'op_oauth_verifier', verifier),
          flowCookie(request, 'op_oauth_nonce', nonce),
          flowCookie(request, 'op_oauth_link', linking ? '1' : '0'),
          // Where to land after the callback: a same-origin path only (checked again there).
          flowCookie(request, 'op_oauth_next', encodeURIComponent(host.identity.safeNext(query.next, cfg.after_sign_in_url))),
          flowCookie(request, 'op_oauth_answer', answer),
        ] as never
        set.status = 302
        set.headers.location = url.toString()
      }
    const StartQuery = host.t.Object({
      link: host.t.Optional(host.t.String({ maxLength: 1 })),
      next: host.t.Optional(host.t.String({ maxLength: 2048, description: 'A path on this site to land on once signed in.' })),
    })

    host.routes((api) =>
      api
        .get('/auth/oauth/:provider', starting('session'), {
          query: StartQuery,
          detail: { tags: ['Sessions'], summary: 'Start signing in with a provider (302 to it)' },
        })
        .get('/auth/social/:provider', starting('tokens'), {
          query: StartQuery,
          detail: {
            tags: ['Sessions'],
            summary:
              'Start signing in or up with a provider, PartnersMy’s path: lands with the refresh token cookie when the jwt plugin is on',
          },
        })
        .get(
          '/auth/oauth/:provider/callback',
          async ({ params, query, request, tenant, ip, set, withTenant }) => {
            const provider = providerOf(params.provider)
            host.identity.addressFailures.check(tenant, ip)
            const state = readFlow(request, 'op_oauth_state')
            const verifier = readFlow(request, 'op_oauth_verifier')
            const nonce = readFlow(request, 'op_oauth_nonce')
            const clear = FLOW_COOKIES.map((name) => flowCookie(request, name, '', 0))
            set.headers['set-cookie'] = clear as never // every flow cookie works once, whatever happens next
            if (query.error) throw new host.AppError(400, 'oauth_denied', `${provider.name} answered ${query.error}`)
            if (!state || !verifier || !nonce || !query.state || query.state !== state || !query.code) {
              host.identity.addressFailures.fail(tenant, ip)
              await host.identity.audit(tenant.id, {
                type: 'sign_in.failed',
                ip,
                detail: { method: `oauth:${provider.name}`, reason: 'state' },
              })
              throw new host.AppError(400, 'invalid_state', 'this sign-in was not started here, or was already used; start again')
            }
            let claims: Claims
            try {
              claims = await provider.finish(request, query.code, verifier, nonce)
            } catch (err) {
              host.identity.addressFailures.fail(tenant, ip)
              await host.identity.audit(tenant.id, {
                type: 'sign_in.failed',
                ip,
                detail: { method: `oauth:${provider.name}`, reason: (err as Error).message },
              })
              throw new host.AppError(400, 'oauth_failed', `${provider.name} did not confirm this sign-in`)
            }
            const linkTo = readFlow(request, 'op_oauth_link') === '1' ? await host.identity.sessionUser(request) : undefined
            const byEmail = claims.email ? await host.identity.findUserByEmail(claims.email) : undefined
            // A GET's transaction is read-only unless it says otherwise: this one signs in.
            let userId = await withTenant((scope) => userFor(scope.db, provider.name, claims, linkTo, byEmail), { readOnly: false })
            if (!userId) {
              // Signing up: the provider vouched for an email nobody here has. Two transactions (the
              // sign-up is the host's own); were the second to fail, the next sign-in links by email.
              userId = (await host.identity.registerPartner({ tenant, email: claims.email!, emailVerified: true, ip })).userId
              const newcomer = userId
              await withTenant((scope) => linkIdentity(scope.db, provider.name, claims, newcomer), { readOnly: false })
            }
            const principal = await host.identity.memberPrincipal(tenant, userId)
            await host.identity.audit(tenant.id, {
              type: 'sign_in',
              actor: userId,
              ip,
              detail: { method: `oauth:${provider.name}`, role: principal.role },
            })
            if (readFlow(request, 'op_oauth_answer') === 'tokens' && host.identity.issuesTokens) {
              // The dashboard spends the refresh cookie for its JWT once it has landed.
              const issued = await host.identity.issueTokens({ tenant, userId, apiBase: base(request) })
              set.headers['set-cookie'] = [...clear, issued.setCookie] as never
            } else {
              const session = await host.identity.startSession({
                userId,
                tenantId: tenant.id,
                ip,
                userAgent: request.headers.get('user-agent'),
              })
              set.headers['set-cookie'] = [...clear, session.setCookie] as never
            }
            set.status = 302
            const next = readFlow(request, 'op_oauth_next')
            set.headers.location = host.identity.safeNext(next && decodeURIComponent(next), cfg.after_sign_in_url)
          },
          {
            query: host.t.Object({
              code: host.t.Optional(host.t.String({ maxLength: 2048 })),
              state: host.t.Optional(host.t.String({ maxLength: 256 })),
              error: host.t.Optional(host.t.String({ maxLength: 256 })),
              iss: host.t.Optional(host.t.String({ maxLength: 512 })),
              session_state: host.t.Optional(host.t.String({ maxLength: 512 })),
            }),
            detail: { tags: ['Sessions'], summary: 'Where the provider sends the browser back' },
          },
        )
        .get(
          '/auth/identities',
          async ({ principal, withTenant }) => {
            const rows: { provider: string; email: string | null; created_at: string }[] = await withTenant((scope) =>
              (scope.db as any)
                .selectFrom('oauth_identities')
                .select(['provider', 'email', 'created_at'])
                .where('user_id', '=', principal.id)
                .orderBy('provider')
                .execute(),
            )
            return { identities: rows.map((r) => ({ provider: r.provider, email: r.email, linkedAt: r.created_at })) }
          },
          { auth: true, detail: { tags: ['Sessions'], summary: 'The providers linked to your account' } },
        )
        .post(
          '/auth/identities/:provider/unlink',
          async ({ principal, params, withTenant, set, ip, tenant }) => {
            if (principal.kind !== 'user') throw new host.AppError(400, 'not_a_session', 'this route is for signed-in people, not keys')
            const hasPassword = await host.identity.hasPassword(principal.id)
            await withTenant(async (scope) => {
              const db = scope.db as any
              const mine = await db.selectFrom('oauth_identities').select('provider').where('user_id', '=', principal.id).execute()
              if (!mine.some((r: any) => r.provider === params.provider))
                throw new host.AppError(404, 'not_found', `no ${params.provider} sign-in is linked`)
              if (!hasPassword && mine.length === 1)
                throw new host.AppError(
                  409,
                  'last_sign_in_method',
                  'this is your only way to sign in; set a password or link another first',
                )
              await db.deleteFrom('oauth_identities').where('user_id', '=', principal.id).where('provider', '=', params.provider).execute()
            })
            await host.identity.audit(tenant.id, {
              type: 'identity.unlinked',
              actor: principal.id,
              ip,
              detail: { provider: params.provider },
            })
            set.status = 204
          },
          {
            auth: true,
            detail: { tags: ['Sessions'], summary: 'Unlink a provider (refused for your last way in)' },
          },
        ),
    )
  },
}

export default oauth
