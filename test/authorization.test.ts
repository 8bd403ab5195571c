/**
 * The authorization matrix, built from the route table (the OpenAPI document the routes generate):
 * every route × every kind of caller × own or foreign tenant. A route added without a declared guard
 * fails here unless it is listed as public on purpose.
 */
import { randomBytes } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { mintApiKey } from '../src/auth/api-keys/service.ts'
import { hasScopes } from '../src/auth/scopes.ts'
import { createPartner } from '../src/partners/service.ts'
import { createTenant } from '../src/tenants/service.ts'
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
  // Tracking from visitors' browsers: the click router and identify (rate-limited; a click is claimed once).
  'GET /r/{slug}/{linkKey}',
  'POST /api/t/{slug}/attribution/identify',
  'OPTIONS /api/t/{slug}/attribution/identify',
])
const PASSWORD = 'matrix password 123'

interface Caller {
  name: string
  headers: Record<string, string>
  /** Scopes the caller holds in acme (none: not of acme). */
  scopes: readonly string[] | null
}

describe.each(DIALECTS)('authorization matrix on %s', (dialect) => {
  const adminKey = randomBytes(32).toString('hex')
  let server: TestServer
  const callers: Caller[] = []
  let operations: { method: string; path: string; required: string[]; partnerOnly: boolean }[] = []

  beforeAll(async () => {
    server = await startTestServer(dialect, {
      mode: 'multi',
      auth: { admin_api_keys: adminKey },
      plugins: [{ builtin: 'jwt', config: { signing_secret: randomBytes(32).toString('hex') } }],
    })
    const { db } = server.runtime.database
    const acme = await createTenant(db, server.runtime.bus, server.runtime.secrets, { slug: 'acme' })
    const globex = await createTenant(db, server.runtime.bus, server.runtime.secrets, { slug: 'globex' })
    const key = (tenantId: string, scopes: string[]) =>
      server.runtime
        .withTenant(tenantId, (s) => mintApiKey(s, 'op_live_', { name: scopes.join(' '), scopes }, { id: 'test' }))
        .then((k) => k.key)
    const person = async (tenant: { id: string; slug: string }, role: string) => {
      const user = await createUser(db, { email: `${role}-${tenant.slug}@example.com`, password: PASSWORD })
      await server.runtime.withTenant(tenant.id, async (s) => {
        const partner = role === 'partner' ? await createPartner(s, { email: user.email }) : undefined
        await addMembership(s, user.id, role, partner?.id)
      })
      const res = await server.call('POST', `/api/t/${tenant.slug}/auth/sign-in/email`, { body: { email: user.email, password: PASSWORD } })
      return { cookie: res.headers.getSetCookie()[0]!.split(';')[0]! }
    }
    callers.push(
      { name: 'nobody', headers: {}, scopes: null },
      { name: 'operator admin key', headers: { authorization: `Bearer ${adminKey}` }, scopes: ['*'] },
      { name: 'tenant admin key', headers: { authorization: `Bearer ${await key(acme.id, ['*'])}` }, scopes: ['*'] },
      { name: 'links:read key', headers: { 'x-api-key': await key(acme.id, ['links:read']) }, scopes: ['links:read'] },
      { name: 'other tenant’s admin key', headers: { authorization: `Bearer ${await key(globex.id, ['*'])}` }, scopes: null },
    )
    for (const role of ['owner', 'admin', 'member', 'viewer', 'partner'] as const) {
      const scopes = {
        owner: ['*'],
        admin: ['*'],
        // The console's roles: a viewer reads every page, a member also acts on partners, links and commissions.
        viewer: [
          'partners:read',
          'commissions:read',
          'links:read',
          'payouts:read',
          'webhooks:read',
          'team:read',
          'keys:read',
          'audit:read',
        ],
        member: [
          ...['partners:read', 'commissions:read', 'links:read', 'payouts:read', 'webhooks:read', 'team:read', 'keys:read', 'audit:read'],
          ...['events:write', 'partners:write', 'links:write', 'commissions:write'],
        ],
        partner: [],
      }[role]
      callers.push({ name: `${role} session`, headers: await person(acme, role), scopes })
    }
    callers.push({ name: 'other tenant’s owner session', headers: await person(globex, 'owner'), scopes: null })

    const doc = await (await server.call('GET', '/api/openapi.json')).json()
    for (const [path, item] of Object.entries(doc.paths as Record<string, Record<string, { security?: Record<string, string[]>[] }>>)) {
      for (const [method, op] of Object.entries(item)) {
        const id = `${method.toUpperCase()} ${path}`
        if (PUBLIC.has(id)) continue
        expect(op.security, `${id} declares no auth and is not listed as public`).toBeDefined()
        operations.push({
          method: method.toUpperCase(),
          path,
          required: Object.values(op.security![0]!)[0]!,
          partnerOnly: (op as { 'x-partner-only'?: boolean })['x-partner-only'] === true,
        })
      }
    }
    // Sign-out ends the caller's session: run it last.
    operations = operations.sort((a, b) => Number(a.path.endsWith('/sign-out')) - Number(b.path.endsWith('/sign-out')))
  })
  afterAll(() => server.stop())

  it('covers every route the server has', () => {
    expect(operations.length).toBeGreaterThanOrEqual(8)
    expect(operations.map((o) => `${o.method} ${o.path}`)).toContain('POST /api/t/{slug}/api-keys')
  })

  it('lets each caller do exactly what its scopes allow, in its own tenant only', async () => {
    const failures: string[] = []
    for (const caller of callers) {
      for (const op of operations) {
        const url = op.path.replace('{slug}', 'acme').replace(/\{\w+\}/g, 'none_such')
        const res = await server.call(op.method, url, { headers: caller.headers, body: op.method === 'GET' ? undefined : {} })
        const allowed = op.partnerOnly
          ? caller.name === 'partner session'
          : caller.scopes !== null && hasScopes(caller.scopes, op.required).length === 0
        const expected =
          caller.name === 'nobody'
            ? [401]
            : caller.name === 'other tenant’s admin key' || caller.name === 'other tenant’s owner session'
              ? [404]
              : allowed
                ? null // anything but 401/403: the guard let it through
                : [403]
        // Let through means reaching the route: a refusal of the URL itself (its params) is a bug too.
        const refusedParams =
          res.status === 400 &&
          /^params\./.test(
            (
              (await res
                .clone()
                .json()
                .catch(() => ({}))) as { detail?: string }
            ).detail ?? '',
          )
        const ok = expected === null ? res.status !== 401 && res.status !== 403 && !refusedParams : expected.includes(res.status)
        if (!ok) failures.push(`${caller.name} → ${op.method} ${url}: ${res.status}, expected ${expected ?? 'not 401/403'}`)
      }
    }
    expect(failures).toEqual([])
  })
})
