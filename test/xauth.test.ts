/**
 * X-Auth-ID / X-Auth-Token pairs: partner pairs act as their partner on the partner routes only,
 * customer pairs carry scopes on the management routes only; wrong, half, revoked and foreign pairs
 * are refused; with the plugin off, its routes are 404 and its headers mean nothing.
 */
import { randomBytes } from 'node:crypto'
import type { Kysely } from 'kysely'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createTenant } from '../src/tenants/service.ts'
import { DIALECTS } from './support/databases.ts'
import { startTestServer, type TestServer } from './support/server.ts'

describe.each(DIALECTS)('X-Auth credential pairs on %s', (dialect) => {
  const adminKey = randomBytes(32).toString('hex')
  let server: TestServer
  let partnerId: string
  const admin = async (method: string, path: string, body?: unknown, slug = 'acme') => {
    const res = await server.call(method, `/api/t/${slug}${path}`, { key: adminKey, body })
    return { status: res.status, body: await res.json() }
  }
  const pair = (authId: string, token: string) => ({ 'x-auth-id': authId, 'x-auth-token': token })
  const as = async (headers: Record<string, string>, method: string, path: string, body?: unknown, slug = 'acme') => {
    const res = await server.call(method, `/api/t/${slug}${path}`, { headers, body })
    return { status: res.status, body: await res.json() }
  }

  beforeAll(async () => {
    server = await startTestServer(dialect, { mode: 'multi', auth: { admin_api_keys: adminKey }, plugins: [{ builtin: 'xauth' }] })
    await createTenant(server.runtime.database.db, server.runtime.bus, server.runtime.secrets, { slug: 'acme' })
    await createTenant(server.runtime.database.db, server.runtime.bus, server.runtime.secrets, { slug: 'globex' })
    partnerId = (await admin('POST', '/partners', { email: 'pair@partners.example' })).body.id
  })
  afterAll(() => server.stop())

  it('issues a partner pair that reaches only the partner routes, with capability flags and quotas', async () => {
    const issued = await admin('POST', '/xauth/credentials', { kind: 'partner', name: 'crm sync', partnerId })
    expect(issued.status).toBe(201)
    expect(issued.body.authId).toMatch(/^PA_[A-Z0-9]{20}$/)
    const headers = pair(issued.body.authId, issued.body.authToken)
    const me = await as(headers, 'GET', '/me')
    expect(me.status).toBe(200)
    expect(me.body).toMatchObject({
      principal: { kind: 'xauth_partner', id: issued.body.authId, partnerId },
      capabilities: { partner_portal: true, manage_partners: false },
      quotas: { api_keys: { used: 0, limit: 10 }, links: { used: 0, limit: 200 } },
    })
    expect((await as(headers, 'GET', '/me/links')).status).toBe(200)
    const wrongPath = await as(headers, 'GET', '/partners')
    expect(wrongPath.status).toBe(403)
    expect(wrongPath.body).toMatchObject({ error: 'wrong_credentials' })
    const listed = await admin('GET', '/xauth/credentials')
    expect(JSON.stringify(listed.body)).not.toContain(issued.body.authToken)
    // The token is nowhere in the database: only its digest.
    const tenant = await server.runtime.database.db.selectFrom('tenants').select('id').where('slug', '=', 'acme').executeTakeFirstOrThrow()
    const rows = await server.runtime.withTenant(tenant.id, (scope) =>
      (scope.db as unknown as Kysely<Record<string, Record<string, unknown>>>).selectFrom('xauth_credentials').selectAll().execute(),
    )
    expect(rows.length).toBeGreaterThan(0)
    expect(JSON.stringify(rows)).not.toContain(issued.body.authToken)
  })

  it('issues a customer pair with scopes, refused on the partner routes', async () => {
    const issued = await admin('POST', '/xauth/credentials', { kind: 'customer', name: 'billing', scopes: ['partners:read'] })
    expect(issued.body.authId).toMatch(/^MA_/)
    const headers = pair(issued.body.authId, issued.body.authToken)
    expect((await as(headers, 'GET', '/partners')).status).toBe(200)
    expect((await as(headers, 'POST', '/partners', { email: 'x@example.com' })).body).toMatchObject({ error: 'forbidden_scope' })
    expect((await as(headers, 'GET', '/me/links')).body).toMatchObject({ error: 'wrong_credentials' })
    expect((await as(headers, 'GET', '/me')).body).toMatchObject({ principal: { kind: 'xauth_customer' }, quotas: null })
  })

  it('refuses wrong, half, malformed, revoked and foreign pairs', async () => {
    const issued = (await admin('POST', '/xauth/credentials', { kind: 'customer', name: 'soon revoked', scopes: ['partners:read'] })).body
    const cases: [Record<string, string>, number, string][] = [
      [pair(issued.authId, 'not-the-token'), 401, 'invalid_credentials'],
      [{ 'x-auth-id': issued.authId }, 401, 'invalid_credentials'],
      [{ 'x-auth-token': issued.authToken }, 401, 'invalid_credentials'],
      [pair('PA_nonsense', issued.authToken), 401, 'invalid_credentials'],
      [pair('MA_AAAAAAAAAAAAAAAAAAAA', issued.authToken), 401, 'invalid_credentials'],
    ]
    for (const [headers, status, error] of cases) {
      const res = await as(headers, 'GET', '/partners')
      expect(res.status, JSON.stringify(headers)).toBe(status)
      expect(res.body.error).toBe(error)
    }
    const foreign = await as(pair(issued.authId, issued.authToken), 'GET', '/partners', undefined, 'globex')
    expect(foreign.status).toBe(404)
    expect((await admin('POST', `/xauth/credentials/${issued.authId}/revoke`)).body.revokedAt).not.toBeNull()
    expect((await as(pair(issued.authId, issued.authToken), 'GET', '/partners')).status).toBe(401)
    // Partner pairs need a partner; customer pairs need scopes.
    expect((await admin('POST', '/xauth/credentials', { kind: 'partner', name: 'x' })).status).toBe(400)
    expect((await admin('POST', '/xauth/credentials', { kind: 'customer', name: 'x' })).status).toBe(400)
    expect((await admin('POST', '/xauth/credentials', { kind: 'partner', name: 'x', partnerId: 'nobody' })).status).toBe(404)
  })

  it('is off unless enabled: its routes are 404 and its headers are no credential', async () => {
    const plain = await startTestServer(dialect)
    try {
      expect((await plain.call('GET', '/api/xauth/credentials', { key: plain.adminKey })).status).toBe(404)
      const res = await plain.call('GET', '/api/partners', { headers: pair('MA_AAAAAAAAAAAAAAAAAAAA', 'x') })
      expect(res.status).toBe(401)
    } finally {
      await plain.stop()
    }
  })
})
