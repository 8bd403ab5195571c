/**
 * The authorization matrix, built from the route table (the OpenAPI document the routes generate):
 * every operation × every kind of credential × own or foreign tenant. What each caller may do comes
 * from the declarations, not from a list kept by hand: a route's declared scopes (or partner-only
 * mark) against the scopes the credential holds (a role's from ROLE_SCOPES, a key's as minted), plus
 * the one path rule of X-Auth pairs. A route added without a declared guard fails here unless it is
 * listed as public on purpose. Every built-in plugin is loaded, so a plugin's routes are held to the
 * same rule; the foreign tenant holds one credential of each kind that can be foreign.
 */
import { randomBytes } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { mintApiKey, PROGRAM_KEY_SCOPES } from '../src/auth/api-keys/service.ts'
import { ROLE_SCOPES, type Role } from '../src/auth/roles.ts'
import { ALL_SCOPES, hasScopes, SCOPES } from '../src/auth/scopes.ts'
import { createPartner } from '../src/partners/service.ts'
import { createTenant, type Tenant } from '../src/tenants/service.ts'
import { addMembership, createUser } from '../src/users/service.ts'
import { DIALECTS } from './support/databases.ts'
import { startTestServer, type TestServer } from './support/server.ts'

/** Routes meant to be reached without a credential. Adding to this list is a decision, not a fix. */
const PUBLIC = new Set([
  'GET /health',
  'GET /ready',
  'GET /metrics',
  'GET /api/openapi.json',
  // Sign-in paths: they take a credential of their own (password, refresh token), rate-limited.
  'POST /api/t/{slug}/auth/sign-in/email',
  'POST /api/t/{slug}/auth/token',
  'POST /api/t/{slug}/auth/token/refresh',
  'POST /api/t/{slug}/auth/token/revoke',
  'POST /api/t/{slug}/auth/magic/start',
  'POST /api/t/{slug}/auth/magic/verify',
  'GET /api/t/{slug}/auth/magic/link',
  'POST /api/t/{slug}/auth/magic-code',
  'POST /api/t/{slug}/auth/magic-code/verify',
  'GET /api/t/{slug}/auth/oauth/{provider}',
  'GET /api/t/{slug}/auth/oauth/{provider}/callback',
  'GET /api/t/{slug}/auth/social/{provider}',
  // Vobiz's JWT login: its credential is the X-Auth pair in the headers and the password in the body.
  'POST /api/t/{slug}/login',
  // Deliveries from other systems: each is authenticated by its signature (test/stripe.test.ts,
  // test/crm-webhooks.test.ts), not by a credential of partnerd's.
  'POST /api/t/{slug}/integrations/stripe/webhook',
  'POST /api/t/{slug}/integrations/crm/{source}',
  // Tracking from visitors' browsers: the click router and identify (rate-limited; a click is claimed once).
  'GET /r/{slug}/{linkKey}',
  'POST /api/t/{slug}/attribution/identify',
  'OPTIONS /api/t/{slug}/attribution/identify',
])
const PASSWORD = 'matrix password 123'
const ROLES = ['owner', 'admin', 'member', 'viewer', 'partner'] as const satisfies readonly Role[]

/**
 * What a credential is in acme: none at all, another tenant's, or one holding scopes (and maybe
 * acting as a partner). X-Auth pairs also keep to their paths: a partner pair to the partner's own
 * (`/me`, `/me/…`), a customer pair to the others (`/me` itself is both's).
 */
type Holds = 'nothing' | 'foreign' | { scopes: readonly string[]; partner?: true; paths?: 'partner' | 'not-partner' }

interface Caller {
  name: string
  headers: Record<string, string>
  holds: Holds
}

interface Operation {
  method: string
  path: string
  required: string[]
  partnerOnly: boolean
}

/** The answer the declarations call for: null for "let through" (anything but 401 and 403). */
function expected(holds: Holds, op: Operation): number | null {
  if (holds === 'nothing') return 401
  if (holds === 'foreign') return 404
  const path = op.path.replace(/^\/api\/t\/\{slug\}/, '')
  const partnerPath = path.startsWith('/me/')
  if (holds.paths === 'partner' && path !== '/me' && !partnerPath) return 403
  if (holds.paths === 'not-partner' && partnerPath) return 403
  if (op.partnerOnly) return holds.partner ? null : 403
  return hasScopes(holds.scopes, op.required).length === 0 ? null : 403
}

describe.each(DIALECTS)('authorization matrix on %s', (dialect) => {
  const adminKey = randomBytes(32).toString('hex')
  let server: TestServer
  const callers: Caller[] = []
  let operations: Operation[] = []

  beforeAll(async () => {
    server = await startTestServer(dialect, {
      mode: 'multi',
      auth: { admin_api_keys: adminKey },
      // Every built-in plugin, so their routes are in the matrix too (the OAuth provider's address is a
      // closed loopback port: nothing here signs in through it).
      plugins: [
        { builtin: 'jwt', config: { signing_secret: randomBytes(32).toString('hex') } },
        { builtin: 'xauth' },
        { builtin: 'magic' },
        { builtin: 'zapier' },
        { builtin: 'activepieces' },
        { builtin: 'stripe', config: { webhook_secret: 'whsec_matrix' } },
        { builtin: 'crm-webhooks', config: { sources: { crm: { kind: 'generic', secret: 'matrix crm secret', user_id: 'customer' } } } },
        {
          builtin: 'oauth',
          config: { providers: { github: { client_id: 'matrix', client_secret: 'matrix', enterprise_url: 'http://127.0.0.1:9' } } },
        },
      ],
    })
    const { db } = server.runtime.database
    const acme = await createTenant(db, server.runtime.bus, server.runtime.secrets, { slug: 'acme' })
    const globex = await createTenant(db, server.runtime.bus, server.runtime.secrets, { slug: 'globex' })
    const api = async (tenant: Tenant, path: string, body: unknown, headers: Record<string, string> = {}) => {
      const res = await server.call('POST', `/api/t/${tenant.slug}${path}`, { key: adminKey, body, headers })
      const data = await res.json()
      expect(res.status, `${path}: ${JSON.stringify(data)}`).toBeLessThan(300)
      return data
    }
    const key = (tenant: Tenant, input: { scopes?: string[]; programId?: string; partnerId?: string }) =>
      server.runtime
        .withTenant(tenant.id, (s) => mintApiKey(s, 'op_live_', { name: 'matrix', ...input }, { id: 'test' }))
        .then((k) => k.key)
    const people: Record<string, { email: string }> = {}
    const person = async (tenant: Tenant, role: Role) => {
      const email = `${role}-${tenant.slug}@example.com`
      const user = await createUser(db, { email, password: PASSWORD })
      await server.runtime.withTenant(tenant.id, async (s) => {
        const partner = role === 'partner' ? await createPartner(s, { email }) : undefined
        await addMembership(s, user.id, role, partner?.id)
      })
      people[`${role}-${tenant.slug}`] = { email }
      const res = await server.call('POST', `/api/t/${tenant.slug}/auth/sign-in/email`, { body: { email, password: PASSWORD } })
      return { cookie: res.headers.getSetCookie()[0]!.split(';')[0]! }
    }
    const jwt = async (tenant: Tenant, role: Role) => {
      const { email } = people[`${role}-${tenant.slug}`]!
      const res = await server.call('POST', `/api/t/${tenant.slug}/auth/token`, { body: { email, password: PASSWORD } })
      const body = await res.json()
      expect(res.status, JSON.stringify(body)).toBe(200)
      return { authorization: `Bearer ${body.tokens.access_token}` }
    }
    const pair = async (tenant: Tenant, body: Record<string, unknown>) => {
      const issued = await api(tenant, '/xauth/credentials', { name: 'matrix', ...body })
      return { 'x-auth-id': issued.authId, 'x-auth-token': issued.authToken }
    }

    const program = await api(acme, '/programs', { name: 'Matrix', currency: 'USD', destinationUrl: 'https://shop.example.com/' })
    const partner = await api(acme, '/partners', { email: 'keyed@partners.example' })
    const pairScopes = ['links:read', 'partners:read']
    callers.push(
      { name: 'nobody', headers: {}, holds: 'nothing' },
      { name: 'operator admin key', headers: { authorization: `Bearer ${adminKey}` }, holds: { scopes: [ALL_SCOPES] } },
      {
        name: 'tenant admin key',
        headers: { authorization: `Bearer ${await key(acme, { scopes: [ALL_SCOPES] })}` },
        holds: { scopes: [ALL_SCOPES] },
      },
    )
    // A key for each scope: every scope's reach, one at a time.
    for (const scope of SCOPES) {
      callers.push({ name: `${scope} key`, headers: { 'x-api-key': await key(acme, { scopes: [scope] }) }, holds: { scopes: [scope] } })
    }
    callers.push(
      {
        name: 'program-bound key',
        headers: { 'x-api-key': await key(acme, { scopes: [...PROGRAM_KEY_SCOPES], programId: program.id }) },
        holds: { scopes: PROGRAM_KEY_SCOPES },
      },
      {
        name: 'partner key',
        headers: { authorization: `Bearer ${await key(acme, { partnerId: partner.id })}` },
        holds: { scopes: [], partner: true },
      },
      {
        name: 'customer X-Auth pair',
        headers: await pair(acme, { kind: 'customer', scopes: pairScopes }),
        holds: { scopes: pairScopes, paths: 'not-partner' },
      },
      {
        name: 'partner X-Auth pair',
        headers: await pair(acme, { kind: 'partner', partnerId: partner.id }),
        holds: { scopes: [], partner: true, paths: 'partner' },
      },
    )
    for (const role of ROLES) {
      const holds = { scopes: ROLE_SCOPES[role], ...(role === 'partner' ? { partner: true as const } : {}) }
      callers.push({ name: `${role} session`, headers: await person(acme, role), holds })
      callers.push({ name: `${role} JWT`, headers: await jwt(acme, role), holds })
    }
    const foreignOwner = await person(globex, 'owner')
    const foreignProgram = await api(globex, '/programs', {
      name: 'Elsewhere',
      currency: 'USD',
      destinationUrl: 'https://shop.example.com/',
    })
    const foreignPartner = await api(globex, '/partners', { email: 'elsewhere@partners.example' })
    callers.push(
      {
        name: 'other tenant’s program-bound key',
        headers: { 'x-api-key': await key(globex, { scopes: [...PROGRAM_KEY_SCOPES], programId: foreignProgram.id }) },
        holds: 'foreign',
      },
      {
        name: 'other tenant’s partner key',
        headers: { authorization: `Bearer ${await key(globex, { partnerId: foreignPartner.id })}` },
        holds: 'foreign',
      },
      { name: 'other tenant’s partner session', headers: await person(globex, 'partner'), holds: 'foreign' },
      {
        name: 'other tenant’s partner X-Auth pair',
        headers: await pair(globex, { kind: 'partner', partnerId: foreignPartner.id }),
        holds: 'foreign',
      },
      {
        name: 'other tenant’s admin key',
        headers: { authorization: `Bearer ${await key(globex, { scopes: [ALL_SCOPES] })}` },
        holds: 'foreign',
      },
      { name: 'other tenant’s owner session', headers: foreignOwner, holds: 'foreign' },
      { name: 'other tenant’s owner JWT', headers: await jwt(globex, 'owner'), holds: 'foreign' },
      { name: 'other tenant’s X-Auth pair', headers: await pair(globex, { kind: 'customer', scopes: [...SCOPES] }), holds: 'foreign' },
    )

    const doc = await (await server.call('GET', '/api/openapi.json')).json()
    const undeclared: string[] = []
    for (const [path, item] of Object.entries(doc.paths as Record<string, Record<string, { security?: Record<string, string[]>[] }>>)) {
      for (const [method, op] of Object.entries(item)) {
        const id = `${method.toUpperCase()} ${path}`
        if (PUBLIC.has(id)) continue
        if (!op.security) {
          undeclared.push(id)
          continue
        }
        operations.push({
          method: method.toUpperCase(),
          path,
          required: Object.values(op.security![0]!)[0]!,
          partnerOnly: (op as { 'x-partner-only'?: boolean })['x-partner-only'] === true,
        })
      }
    }
    expect(undeclared, 'routes that declare no auth and are not listed as public').toEqual([])
    // Sign-out ends the caller's session: run it last.
    operations = operations.sort((a, b) => Number(a.path.endsWith('/sign-out')) - Number(b.path.endsWith('/sign-out')))
  })
  afterAll(() => server.stop())

  it('covers every route the server has, and every kind of credential', () => {
    const ids = operations.map((o) => `${o.method} ${o.path}`)
    expect(ids).toContain('POST /api/t/{slug}/api-keys')
    expect(ids).toContain('POST /api/t/{slug}/xauth/credentials')
    // The plugins' routes are held to the same declarations.
    expect(ids).toContain('POST /api/t/{slug}/integrations/zapier/actions/record-event')
    expect(ids).toContain('POST /api/t/{slug}/integrations/activepieces/actions/record-event')
    expect(ids.some((id) => id.includes('/me/'))).toBe(true)
    expect(operations.some((o) => o.partnerOnly)).toBe(true)
    expect(callers.length).toBeGreaterThanOrEqual(34)
  })

  it('lets each caller do exactly what its credential allows, in its own tenant only', async () => {
    const failures: string[] = []
    let requests = 0
    for (const caller of callers) {
      for (const op of operations) {
        const url = op.path.replace('{slug}', 'acme').replace(/\{\w+\}/g, 'none_such')
        const res = await server.call(op.method, url, { headers: caller.headers, body: op.method === 'GET' ? undefined : {} })
        requests++
        const want = expected(caller.holds, op)
        // Let through means reaching the route: a refusal of the URL itself (its params) is a bug too.
        const body = (await res.json().catch(() => ({}))) as { error?: string; detail?: string }
        const refusedParams = res.status === 400 && /^params\./.test(body.detail ?? '')
        const ok = want === null ? res.status !== 401 && res.status !== 403 && !refusedParams && res.status < 500 : res.status === want
        if (!ok) failures.push(`${caller.name} → ${op.method} ${url}: ${res.status} ${body.error ?? ''}, expected ${want ?? 'not 401/403'}`)
        // Every refusal is the API's shape.
        if (res.status >= 400 && (typeof body.error !== 'string' || typeof body.detail !== 'string'))
          failures.push(`${caller.name} → ${op.method} ${url}: ${res.status} without {error, detail}`)
      }
    }
    expect(failures).toEqual([])
    expect(requests).toBe(callers.length * operations.length)
  })
})
