/**
 * xauth: `X-Auth-ID` + `X-Auth-Token` credential pairs for server-to-server integrations (see
 * credentials.ts). Partner pairs reach only the partner's own routes (`/me`, `/me/…`); customer pairs
 * (the company's integrations) only the others. A pair on the wrong paths is 403 `wrong_credentials`.
 * Admins issue, list and revoke pairs under `/xauth/credentials`.
 *
 * Vobiz's JWT login, `POST <base>/login`: the pair in its headers and the person's email and password
 * in the body, answered with `{tokens: {access_token, token_type, expires_in}}` (the jwt plugin's
 * tokens). The pair and the person must agree: a partner pair signs in a portal user of its own
 * partner, a customer pair a member of the company; anything else is the same 401 as a wrong password.
 */
import type { PluginDefinition, PluginTenantScope } from '../../src/plugins/contract.ts'
import { AUTH_ID, type Credential, issueCredential, listCredentials, revokeCredential, tenantOfAuthId, verifyPair } from './credentials.ts'

/** The path after the tenant API base (`/api` or `/api/t/<slug>`). */
function routePath(request: Request): string {
  return new URL(request.url).pathname.replace(/^\/api(\/t\/[^/]+)?/, '') || '/'
}

const isPartnerPath = (path: string) => path === '/me' || path.startsWith('/me/')
const apiBaseOf = (request: Request) => new URL(request.url).pathname.replace(/\/login$/, '')

const xauth: PluginDefinition = {
  name: 'xauth',
  version: '1.0.0',
  events: {
    'xauth.issued': 'An X-Auth-ID / X-Auth-Token pair was issued',
    'xauth.revoked': 'An X-Auth-ID / X-Auth-Token pair was revoked',
  },
  setup(host) {
    const invalid = () =>
      new host.AppError(401, 'invalid_credentials', 'the X-Auth-ID / X-Auth-Token pair is invalid or revoked', {
        'www-authenticate': 'Bearer realm="partnerd", error="invalid_token"',
      })

    host.migrations({
      '0001_credentials': {
        async up(db) {
          await db.schema
            .createTable('xauth_credentials')
            .addColumn('auth_id', 'text', (c) => c.primaryKey())
            .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenants.id').onDelete('cascade'))
            .addColumn('kind', 'text', (c) => c.notNull())
            .addColumn('name', 'text', (c) => c.notNull())
            .addColumn('partner_id', 'text', (c) => c.references('partners.id').onDelete('cascade'))
            .addColumn('scopes', 'text', (c) => c.notNull())
            .addColumn('token_hash', 'text', (c) => c.notNull())
            .addColumn('created_at', 'text', (c) => c.notNull())
            .addColumn('revoked_at', 'text')
            .addColumn('last_used_at', 'text')
            .execute()
          await host.isolateTenantRows(db, 'xauth_credentials')
          // Readable across tenants on purpose: public id → tenant, so a foreign pair is a 404.
          await db.schema
            .createTable('xauth_index')
            .addColumn('auth_id', 'text', (c) => c.primaryKey())
            .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenants.id').onDelete('cascade'))
            .execute()
        },
      },
    })

    /** The live credential of the request's pair; null without either header; 401 or 404 for a bad or foreign one. */
    async function presentedPair(request: Request, tenant: { id: string; slug: string }): Promise<Credential | null> {
      const authId = request.headers.get('x-auth-id')
      const token = request.headers.get('x-auth-token')
      if (authId === null && token === null) return null
      if (!authId || !token || !AUTH_ID.test(authId) || token.length > 200) throw invalid()
      const credential = await host.withTenant(tenant.id, (scope) => verifyPair(scope, authId, token))
      if (!credential) {
        const owner = await host.withTenant(tenant.id, (scope) => tenantOfAuthId(scope, authId))
        if (owner && owner !== tenant.id) throw new host.AppError(404, 'tenant_not_found', `no tenant ${tenant.slug}`)
        throw invalid()
      }
      return credential
    }

    host.addAuthStrategy({
      name: 'xauth',
      async authenticate({ request, tenant }) {
        const credential = await presentedPair(request, tenant)
        if (!credential) return null
        const path = routePath(request)
        const partnerPath = isPartnerPath(path)
        if (path !== '/me' && partnerPath !== (credential.kind === 'partner')) {
          throw new host.AppError(
            403,
            'wrong_credentials',
            credential.kind === 'partner'
              ? 'partner credentials reach only the partner routes (/me, /me/…)'
              : 'customer credentials do not reach the partner routes (/me/…)',
          )
        }
        return {
          kind: `xauth_${credential.kind}`,
          id: credential.authId,
          tenantId: tenant.id,
          scopes: credential.scopes,
          ...(credential.partnerId ? { partnerId: credential.partnerId } : {}),
        }
      },
    })

    const t = host.t
    const CredentialSchema = t.Object({
      authId: t.String(),
      kind: t.Union([t.Literal('partner'), t.Literal('customer')]),
      name: t.String(),
      partnerId: t.Union([t.String(), t.Null()]),
      scopes: t.Array(t.String()),
      createdAt: t.String({ format: 'date-time' }),
      revokedAt: t.Union([t.String({ format: 'date-time' }), t.Null()]),
      lastUsedAt: t.Union([t.String({ format: 'date-time' }), t.Null()]),
    })
    const tags = ['X-Auth credentials']
    const scopeNames = host.scopes

    const IssueBody = t.Object(
      {
        kind: t.Union([t.Literal('partner'), t.Literal('customer')]),
        name: t.String({ minLength: 1, maxLength: 100 }),
        partnerId: t.Optional(t.String({ minLength: 1, maxLength: 64 })),
        scopes: t.Optional(t.Array(t.Union(scopeNames.map((s) => t.Literal(s))), { maxItems: scopeNames.length })),
      },
      { additionalProperties: false },
    )
    type IssueInput = { kind: 'partner' | 'customer'; name: string; partnerId?: string; scopes?: string[] }

    /** What the route and the console both issue through: the body's rules beyond its schema, then the pair. */
    async function issue(scope: PluginTenantScope, body: IssueInput) {
      if ((body.kind === 'partner') !== (body.partnerId !== undefined)) {
        throw new host.AppError(400, 'invalid_request', 'partnerId: partner credentials name their partner; customer credentials do not')
      }
      if (body.kind === 'partner' && body.scopes?.length) {
        throw new host.AppError(400, 'invalid_scopes', 'scopes: partner credentials act as the partner; give no scopes')
      }
      if (body.kind === 'customer' && !body.scopes?.length) throw new host.AppError(400, 'invalid_scopes', 'scopes: give the scopes')
      if (body.partnerId !== undefined) {
        const partner = await scope.db
          .selectFrom('partners')
          .select('status')
          .where('tenant_id', '=', scope.tenantId)
          .where('id', '=', body.partnerId)
          .executeTakeFirst()
        if (!partner) throw new host.AppError(404, 'not_found', `partnerId: no partner ${body.partnerId}`)
      }
      return issueCredential(scope, body)
    }

    const reach = (c: Credential) => (c.kind === 'partner' ? 'acts as one partner' : c.scopes.join(', '))
    const issued = (c: Credential) => ({
      id: c.authId,
      name: c.name,
      reach: reach(c),
      partnerId: c.partnerId,
      createdAt: c.createdAt,
      lastUsedAt: c.lastUsedAt,
      revokedAt: c.revokedAt,
    })
    host.addCredentialKind({
      id: 'xauth',
      title: 'X-Auth pairs',
      one: 'X-Auth pair',
      about:
        'A pair is sent as two headers, X-Auth-ID and X-Auth-Token. A customer pair is for your own integrations, with the scopes you give it; a partner pair acts as one partner and reaches only its own routes (/me, /me/…).',
      schema: IssueBody,
      fields: [
        { name: 'name', label: 'Name', type: 'text', required: true, hint: 'What uses it: “ERP sync”, “Partner’s reporting”.' },
        {
          name: 'kind',
          label: 'Acts as',
          type: 'choice',
          required: true,
          options: [
            { value: 'customer', label: 'Your company (customer pair, with scopes)' },
            { value: 'partner', label: 'One partner (partner pair)' },
          ],
        },
        { name: 'partnerId', label: 'Partner', type: 'partner', hint: 'For a partner pair: the partner’s email or id.' },
        { name: 'scopes', label: 'What it may do', type: 'scopes', hint: 'For a customer pair: at least one scope.' },
      ],
      list: async (scope) => (await listCredentials(scope)).map(issued),
      issue: async (scope, input) => {
        const { authToken, ...credential } = await issue(scope, input as IssueInput)
        return {
          credential: issued(credential),
          secrets: [
            { label: 'X-Auth-ID', value: credential.authId },
            { label: 'X-Auth-Token', value: authToken },
          ],
        }
      },
      revoke: async (scope, id) => {
        const revoked = await revokeCredential(scope, id)
        return revoked && issued(revoked)
      },
    })

    // Vobiz's error body names its text `message`; partnerd's `detail` stays beside it.
    const wrongLogin = () =>
      new host.AppError(
        401,
        'invalid_credentials',
        'The email or password you provided is incorrect.',
        { 'www-authenticate': 'Bearer realm="partnerd", error="invalid_token"' },
        { message: 'The email or password you provided is incorrect.' },
      )
    host.routes((api) =>
      api.post(
        '/login',
        async ({ body, request, tenant, ip }) => {
          // Without a token issuer there is nothing to answer with: say so before any password is tried.
          if (!host.identity.issuesTokens) throw new host.AppError(404, 'tokens_unavailable', 'the jwt plugin is off: no JWT login here')
          const credential = await presentedPair(request, tenant)
          if (!credential) throw wrongLogin()
          const user = await host.identity
            .signInWithPassword({ tenant, email: body.email, password: body.password, ip, method: 'xauth_login' })
            .catch((err) => {
              throw err instanceof host.AppError && err.status === 401 ? wrongLogin() : err
            })
          const principal = await host.identity.memberPrincipal(tenant, user.userId)
          const agrees = credential.kind === 'partner' ? principal.partnerId === credential.partnerId : principal.partnerId === undefined
          if (!agrees) {
            await host.identity.audit(tenant.id, {
              type: 'sign_in.failed',
              subject: credential.authId,
              ip,
              detail: { method: 'xauth_login' },
            })
            throw wrongLogin()
          }
          const { tokens } = await host.identity.issueTokens({ tenant, userId: user.userId, apiBase: apiBaseOf(request) })
          return { tokens: { access_token: tokens.access_token, token_type: tokens.token_type, expires_in: tokens.expires_in } }
        },
        {
          body: host.t.Object(
            { email: host.t.String({ minLength: 3, maxLength: 254 }), password: host.t.String({ minLength: 1, maxLength: 1024 }) },
            { additionalProperties: false },
          ),
          response: t.Object({
            tokens: t.Object({ access_token: t.String(), token_type: t.Literal('Bearer'), expires_in: t.Integer() }),
          }),
          detail: {
            tags,
            summary: 'JWT login (Vobiz): the X-Auth pair in its headers, the email and password in the body; answers an access token',
          },
        },
      ),
    )

    host.routes((api) =>
      api
        .post(
          '/xauth/credentials',
          async ({ body, withTenant, set }) => {
            const issued = await withTenant((scope) => issue(scope, body))
            set.status = 201
            return issued
          },
          {
            auth: { scopes: ['*'] },
            body: IssueBody,
            response: { 201: t.Composite([CredentialSchema, t.Object({ authToken: t.String({ description: 'Shown once.' }) })]) },
            detail: { tags, summary: 'Issue an X-Auth-ID / X-Auth-Token pair (the token is in the answer, once)' },
          },
        )
        .get('/xauth/credentials', async ({ withTenant }) => ({ credentials: await withTenant((scope) => listCredentials(scope)) }), {
          auth: { scopes: ['keys:read'] },
          response: t.Object({ credentials: t.Array(CredentialSchema) }),
          detail: { tags, summary: 'List X-Auth credential pairs (never the tokens)' },
        })
        .post(
          '/xauth/credentials/:authId/revoke',
          async ({ params, withTenant }) => {
            const revoked = await withTenant((scope) => revokeCredential(scope, (params as { authId: string }).authId))
            if (!revoked) throw new host.AppError(404, 'not_found', 'no such credential')
            return revoked
          },
          {
            auth: { scopes: ['*'] },
            response: CredentialSchema,
            detail: { tags, summary: 'Revoke a pair; it fails from the next request on' },
          },
        ),
    )
  },
}

export default xauth
