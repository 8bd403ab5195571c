/**
 * jwt: access tokens for dashboards and interactive clients, with rotating refresh tokens (the
 * PartnersMy and Vobiz shape: `{tokens: {access_token, token_type: "Bearer", expires_in}}`).
 *
 *   POST <base>/auth/token            email + password → tokens; the refresh token also as a cookie
 *   POST <base>/auth/token/refresh    refresh token (cookie, or `refresh_token` in the body) → new tokens
 *   POST <base>/auth/token/revoke     ends the refresh token's family, and with it its access tokens
 *
 * It is also the server's token issuer (host.addTokenIssuer): sign-ins of other plugins whose clients
 * expect tokens (PartnersMy's magic code and social sign-in, Vobiz's `/login`) get the same tokens.
 *
 * Access tokens: HS256 only (the algorithm is pinned when verifying, so `alg: none` or a swapped
 * algorithm is refused), with iss, aud, exp, the tenant (`tid`) and the refresh family (`sid`). A
 * token is accepted only on its own tenant, only while the user is still a member, and only while its
 * family is live. Refresh tokens: see refresh-tokens.ts.
 */
import { errors as joseErrors, jwtVerify, SignJWT } from 'jose'
import type { PluginDefinition } from '../../src/plugins/contract.ts'
import { familyOf, revokeFamily, rotate, startFamily } from './refresh-tokens.ts'

interface JwtConfig {
  signing_secret: string
  issuer?: string
  audience: string
  access_ttl_seconds: number
  refresh_ttl_days: number
  refresh_cookie_name: string
}

const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/

const jwt: PluginDefinition = {
  name: 'jwt',
  version: '1.0.0',
  config: (t) =>
    t.Object(
      {
        signing_secret: t.String({ minLength: 32, description: 'HMAC key for access tokens; shared by every instance.' }),
        issuer: t.Optional(t.String({ minLength: 1, description: 'iss claim; defaults to server.public_url.' })),
        audience: t.String({ default: 'partnerd', minLength: 1 }),
        access_ttl_seconds: t.Integer({ default: 900, minimum: 30, maximum: 86_400 }),
        refresh_ttl_days: t.Integer({ default: 7, minimum: 1, maximum: 90 }),
        refresh_cookie_name: t.String({ default: 'op_refresh', pattern: '^[A-Za-z0-9_-]{1,64}$' }),
      },
      { additionalProperties: false },
    ),

  setup(host) {
    const cfg = host.config as JwtConfig
    const key = new TextEncoder().encode(cfg.signing_secret)
    const issuer = cfg.issuer ?? host.publicUrl
    const refreshLifetimeMs = cfg.refresh_ttl_days * 86_400_000
    // __Secure- (not __Host-) because the cookie is scoped to the token routes' path.
    const cookieName = host.identity.secureCookies ? `__Secure-${cfg.refresh_cookie_name}` : cfg.refresh_cookie_name

    host.migrations({
      '0001_refresh_tokens': {
        async up(db) {
          await db.schema
            .createTable('jwt_refresh_tokens')
            .addColumn('id', 'text', (c) => c.primaryKey())
            .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenants.id').onDelete('cascade'))
            .addColumn('family_id', 'text', (c) => c.notNull())
            .addColumn('user_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
            .addColumn('token_hash', 'text', (c) => c.notNull())
            .addColumn('created_at', 'text', (c) => c.notNull())
            .addColumn('expires_at', 'text', (c) => c.notNull())
            .addColumn('used_at', 'text')
            .addColumn('revoked_at', 'text')
            .addUniqueConstraint('jwt_refresh_tokens_hash', ['tenant_id', 'token_hash'])
            .execute()
          await db.schema.createIndex('jwt_refresh_tokens_family').on('jwt_refresh_tokens').columns(['tenant_id', 'family_id']).execute()
          await host.isolateTenantRows(db, 'jwt_refresh_tokens')
        },
      },
    })

    const accessToken = (userId: string, tenantId: string, familyId: string) =>
      new SignJWT({ tid: tenantId, sid: familyId })
        .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
        .setSubject(userId)
        .setIssuer(issuer)
        .setAudience(cfg.audience)
        .setIssuedAt()
        .setJti(crypto.randomUUID())
        .setExpirationTime(`${cfg.access_ttl_seconds}s`)
        .sign(key)

    const refreshCookie = (token: string, maxAge: number, base: string) =>
      [
        `${cookieName}=${token}`,
        `Path=${base}/auth/token`,
        'HttpOnly',
        'SameSite=Strict',
        `Max-Age=${maxAge}`,
        ...(host.identity.secureCookies ? ['Secure'] : []),
      ].join('; ')

    const answer = async (
      userId: string,
      tenantId: string,
      refresh: { token: string; familyId: string; expiresAt: string },
      base: string,
      set: { headers: Record<string, unknown> },
    ) => {
      set.headers['set-cookie'] = refreshCookie(refresh.token, Math.floor((Date.parse(refresh.expiresAt) - Date.now()) / 1000), base)
      return {
        tokens: {
          access_token: await accessToken(userId, tenantId, refresh.familyId),
          token_type: 'Bearer' as const,
          expires_in: cfg.access_ttl_seconds,
          refresh_token: refresh.token,
        },
      }
    }

    // Other sign-ins (a magic code, a provider, Vobiz's /login) answer with these tokens when their clients expect them.
    host.addTokenIssuer({
      async issue({ tenantId, userId, apiBase }) {
        const refresh = await host.withTenant(tenantId, (scope) => startFamily(scope, userId, refreshLifetimeMs))
        const headers: Record<string, unknown> = {}
        const { tokens } = await answer(userId, tenantId, refresh, apiBase, { headers })
        return { tokens, setCookie: headers['set-cookie'] as string }
      },
    })

    const baseOf = (request: Request) => new URL(request.url).pathname.replace(/\/auth\/token(\/refresh|\/revoke)?$/, '')
    const presentedRefresh = (request: Request, body: { refresh_token?: string } | null | undefined) => {
      if (body?.refresh_token) return { token: body.refresh_token, fromCookie: false }
      const cookie = request.headers.get('cookie') ?? ''
      const match = cookie
        .split(';')
        .map((c) => c.trim())
        .find((c) => c.startsWith(`${cookieName}=`))
      return match ? { token: match.slice(cookieName.length + 1), fromCookie: true } : undefined
    }
    const refused = () => new host.AppError(401, 'invalid_refresh_token', 'the refresh token is invalid, expired, revoked or already used')

    host.routes((api) =>
      api
        .post(
          '/auth/token',
          async ({ body, request, tenant, ip, set }) => {
            host.identity.assertSameOrigin(request)
            const user = await host.identity.signInWithPassword({ tenant, email: body.email, password: body.password, ip, method: 'jwt' })
            // Through the host, as every token sign-in: signing in also accepts a partner's invitation.
            const issued = await host.identity.issueTokens({ tenant, userId: user.userId, apiBase: baseOf(request) })
            set.headers['set-cookie'] = issued.setCookie
            return { tokens: issued.tokens }
          },
          {
            body: host.t.Object(
              { email: host.t.String({ minLength: 3, maxLength: 254 }), password: host.t.String({ minLength: 1, maxLength: 1024 }) },
              { additionalProperties: false },
            ),
            detail: { tags: ['Tokens'], summary: 'Sign in for an access token and a refresh token' },
          },
        )
        .post(
          '/auth/token/refresh',
          async ({ body, request, tenant, ip, set, withTenant }) => {
            host.identity.addressFailures.check(tenant, ip)
            const presented = presentedRefresh(request, body)
            if (!presented) throw refused()
            if (presented.fromCookie) host.identity.assertSameOrigin(request)
            const outcome = await withTenant((scope) => rotate(scope, presented.token))
            if (!outcome.ok) {
              host.identity.addressFailures.fail(tenant, ip)
              if (outcome.reason === 'reused') await host.identity.audit(tenant.id, { type: 'refresh_token.reused', ip, detail: {} })
              throw refused()
            }
            // Membership is checked again: a removed member cannot keep refreshing.
            await host.identity.memberPrincipal(tenant, outcome.userId)
            return answer(outcome.userId, tenant.id, outcome.next, baseOf(request), set)
          },
          {
            body: host.t.Optional(
              host.t.Object({ refresh_token: host.t.Optional(host.t.String({ maxLength: 128 })) }, { additionalProperties: false }),
            ),
            detail: { tags: ['Tokens'], summary: 'Spend a refresh token for new tokens (each token works once)' },
          },
        )
        .post(
          '/auth/token/revoke',
          async ({ body, request, set, withTenant }) => {
            const presented = presentedRefresh(request, body)
            if (!presented) throw refused()
            if (presented.fromCookie) host.identity.assertSameOrigin(request)
            await withTenant(async (scope) => {
              const family = await familyOf(scope, presented.token)
              if (family) await revokeFamily(scope, family)
            })
            set.headers['set-cookie'] = refreshCookie('', 0, baseOf(request))
            set.status = 204
          },
          {
            body: host.t.Optional(
              host.t.Object({ refresh_token: host.t.Optional(host.t.String({ maxLength: 128 })) }, { additionalProperties: false }),
            ),
            detail: { tags: ['Tokens'], summary: 'Sign out: end the refresh token’s family and its access tokens' },
          },
        ),
    )

    host.addAuthStrategy({
      name: 'jwt',
      async authenticate({ request, tenant }) {
        const token = request.headers.get('authorization')?.match(/^Bearer +(\S+)\s*$/i)?.[1]
        if (!token || !JWT_SHAPE.test(token)) return null
        let claims: { sub?: string; tid?: unknown; sid?: unknown }
        try {
          ;({ payload: claims } = await jwtVerify(token, key, {
            algorithms: ['HS256'],
            issuer,
            audience: cfg.audience,
            requiredClaims: ['sub', 'exp', 'tid', 'sid'],
          }))
        } catch (err) {
          const expired = err instanceof joseErrors.JWTExpired
          throw new host.AppError(
            401,
            'invalid_credentials',
            expired ? 'the access token has expired' : 'the access token is not valid here',
            {
              'www-authenticate': `Bearer realm="partnerd", error="invalid_token"`,
            },
          )
        }
        if (claims.tid !== tenant.id) throw new host.AppError(404, 'tenant_not_found', `no tenant ${tenant.slug}`)
        const familyLive = await host.withTenant(tenant.id, async (scope) => {
          const revoked = await scope.db
            .selectFrom('jwt_refresh_tokens')
            .select('id')
            .where('tenant_id', '=', scope.tenantId)
            .where('family_id', '=', String(claims.sid))
            .where('revoked_at', 'is not', null)
            .executeTakeFirst()
          return !revoked
        })
        if (!familyLive)
          throw new host.AppError(401, 'invalid_credentials', 'this sign-in has ended', {
            'www-authenticate': `Bearer realm="partnerd", error="invalid_token"`,
          })
        return host.identity.memberPrincipal(tenant, claims.sub!)
      },
    })
  },
}

export default jwt
