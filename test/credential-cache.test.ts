/**
 * Credential checks remembered for a few seconds (auth/credential-cache.ts), on both databases: a
 * revocation, a sign-out, a role change, a removal, a partner's revocation or a disabled account
 * takes effect on the very next request on the instance that made it; another instance on the same
 * database sees it within CREDENTIAL_CACHE_MS. And a remembered check reads nothing.
 */
import { randomBytes } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CREDENTIAL_CACHE_MS } from '../src/auth/credential-cache.ts'
import { openRuntime, type Runtime } from '../src/runtime.ts'
import { startServer } from '../src/server.ts'
import { findTenantBySlug } from '../src/tenants/service.ts'
import { addMembership, createUser, disableUser } from '../src/users/service.ts'
import { DIALECTS } from './support/databases.ts'
import { pgQueriesDuring } from './support/pg-queries.ts'
import { startTestServer, type TestServer } from './support/server.ts'

const PASSWORD = 'cache password 1234'

describe.each(DIALECTS)('remembered credential checks on %s', (dialect) => {
  let server: TestServer
  let tenantId: string

  const signIn = async (email: string) => {
    const res = await server.call('POST', '/api/auth/sign-in/email', { body: { email, password: PASSWORD } })
    expect(res.status).toBe(200)
    return { cookie: res.headers.getSetCookie()[0]!.split(';')[0]! }
  }
  const person = async (role: string, partnerId?: string) => {
    const email = `${role}-${randomBytes(3).toString('hex')}@example.com`
    const user = await createUser(server.runtime.database.db, { email, password: PASSWORD })
    await server.runtime.withTenant(tenantId, (scope) => addMembership(scope, user.id, role, partnerId))
    return { userId: user.id, headers: await signIn(email) }
  }
  const status = async (path: string, headers: Record<string, string>, method = 'GET', body?: unknown) =>
    (await server.call(method, `/api${path}`, { headers, body })).status

  beforeAll(async () => {
    server = await startTestServer(dialect)
    tenantId = (await findTenantBySlug(server.runtime.database.db, 'default'))!.id
  })
  afterAll(() => server.stop())

  it('takes a revocation, a sign-out, a role change, a removal and a disabled account at the next request', async () => {
    // A revoked key.
    const minted = await (await server.call('POST', '/api/api-keys', { key: server.adminKey, body: { name: 'soon revoked' } })).json()
    const bearer = { authorization: `Bearer ${minted.key}` }
    expect(await status('/links', bearer)).toBe(200)
    expect(await status(`/api-keys/${minted.id}/revoke`, { authorization: `Bearer ${server.adminKey}` }, 'POST')).toBe(200)
    expect(await status('/links', bearer)).toBe(401)

    // A session signed out.
    const leaving = await person('viewer')
    expect(await status('/links', leaving.headers)).toBe(200)
    expect(await status('/auth/sign-out', { ...leaving.headers, origin: server.url }, 'POST')).toBeLessThan(300)
    expect(await status('/links', leaving.headers)).toBe(401)

    // A viewer made a member may write at once; a member made a viewer may not.
    const promoted = await person('viewer')
    const partner = { email: `p-${randomBytes(3).toString('hex')}@partners.example` }
    expect(await status('/partners', { ...promoted.headers, origin: server.url }, 'POST', partner)).toBe(403)
    const owner = { authorization: `Bearer ${server.adminKey}` }
    expect(await status(`/members/${promoted.userId}`, owner, 'PATCH', { role: 'member' })).toBeLessThan(300)
    expect(await status('/partners', { ...promoted.headers, origin: server.url }, 'POST', partner)).toBe(201)
    expect(await status(`/members/${promoted.userId}`, owner, 'PATCH', { role: 'viewer' })).toBeLessThan(300)
    expect(await status('/partners', { ...promoted.headers, origin: server.url }, 'POST', { email: `q-${partner.email}` })).toBe(403)

    // Removed from the team.
    const removed = await person('viewer')
    expect(await status('/links', removed.headers)).toBe(200)
    expect(await status(`/members/${removed.userId}`, owner, 'DELETE')).toBeLessThan(300)
    expect([400, 401, 404]).toContain(await status('/links', removed.headers))

    // A disabled account (the CLI's `user disable` does this).
    const disabled = await person('viewer')
    expect(await status('/links', disabled.headers)).toBe(200)
    await disableUser(server.runtime.database.db, disabled.userId)
    expect(await status('/links', disabled.headers)).toBe(401)

    // A portal user whose partner is revoked.
    const p = await (await server.call('POST', '/api/partners', { key: server.adminKey, body: { email: `r-${partner.email}` } })).json()
    const portal = await person('partner', p.id)
    expect(await status('/me', portal.headers)).toBe(200)
    expect(await status(`/partners/${p.id}/revoke`, owner, 'POST', { reason: 'test' })).toBeLessThan(300)
    expect([401, 403]).toContain(await status('/me', portal.headers))
  })

  it('is seen by another instance on the same database within the documented delay', async () => {
    // A second instance: its own process state, the same database.
    const other: Runtime = await openRuntime(server.runtime.loaded, { migrate: false })
    const otherServer = await startServer(other)
    try {
      const minted = await (await server.call('POST', '/api/api-keys', { key: server.adminKey, body: { name: 'two instances' } })).json()
      const bearer = { authorization: `Bearer ${minted.key}` }
      const onOther = async () => (await fetch(`${otherServer.url}/api/links`, { headers: bearer })).status
      expect(await onOther()).toBe(200)
      const revokedAt = Date.now()
      expect(await status(`/api-keys/${minted.id}/revoke`, { authorization: `Bearer ${server.adminKey}` }, 'POST')).toBe(200)
      // This instance at once; the other still remembers the key, then reads again and refuses it.
      expect(await status('/links', bearer)).toBe(401)
      expect(await onOther()).toBe(200)
      await expect.poll(onOther, { timeout: CREDENTIAL_CACHE_MS + 3_000, interval: 250 }).toBe(401)
      expect(Date.now() - revokedAt).toBeLessThan(CREDENTIAL_CACHE_MS + 3_000)
    } finally {
      await otherServer.stop()
      await other.close()
    }
  }, 20_000)
})

describe('remembered credential checks, counted at the PostgreSQL driver', () => {
  let server: TestServer
  let tenantId: string
  const status = async (path: string, headers: Record<string, string>) => (await server.call('GET', `/api${path}`, { headers })).status
  const person = async (role: string) => {
    const email = `${role}-${randomBytes(3).toString('hex')}@example.com`
    const user = await createUser(server.runtime.database.db, { email, password: PASSWORD })
    await server.runtime.withTenant(tenantId, (scope) => addMembership(scope, user.id, role))
    const res = await server.call('POST', '/api/auth/sign-in/email', { body: { email, password: PASSWORD } })
    return { headers: { cookie: res.headers.getSetCookie()[0]!.split(';')[0]! } }
  }
  beforeAll(async () => {
    server = await startTestServer('postgres')
    tenantId = (await findTenantBySlug(server.runtime.database.db, 'default'))!.id
  })
  afterAll(() => server.stop())

  it('sends no statement for a key or a session checked a moment ago (counted at the PostgreSQL driver)', async () => {
    const key = (
      await (await server.call('POST', '/api/api-keys', { key: server.adminKey, body: { name: 'warm', scopes: ['links:read'] } })).json()
    ).key
    const viewer = await person('viewer')
    expect(await status('/links', { authorization: `Bearer ${key}` })).toBe(200)
    expect(await status('/links', viewer.headers)).toBe(200)
    const { queries } = await pgQueriesDuring(
      async () => {
        expect(await status('/links', { authorization: `Bearer ${key}` })).toBe(200)
        expect(await status('/links', viewer.headers)).toBe(200)
      },
      { everyone: true },
    )
    // The two requests' own reads (their links), and nothing about their credentials.
    expect(queries.filter((q) => /api_keys|sessions|memberships|partners"? where .*"id"/.test(q))).toEqual([])
    expect(queries.some((q) => /from "links"/.test(q))).toBe(true)
  })
})
