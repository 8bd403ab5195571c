import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { findTenantBySlug } from '../src/tenants/service.ts'
import { addMembership, createUser } from '../src/users/service.ts'
import { DIALECTS } from './support/databases.ts'
import { startTestServer, type TestServer } from './support/server.ts'

const PASSWORD = 'members password 123'

describe.each(DIALECTS)('members of an organization on %s', (dialect) => {
  let server: TestServer
  const cookies: Record<string, string> = {}
  const ids: Record<string, string> = {}

  beforeAll(async () => {
    server = await startTestServer(dialect)
    const { db } = server.runtime.database
    const tenant = (await findTenantBySlug(db, 'default'))!
    for (const role of ['owner', 'admin', 'viewer'] as const) {
      const user = await createUser(db, { email: `${role}@example.com`, password: PASSWORD })
      await server.runtime.withTenant(tenant.id, (s) => addMembership(s, user.id, role))
      ids[role] = user.id
      const res = await server.call('POST', '/api/auth/sign-in/email', { body: { email: user.email, password: PASSWORD } })
      cookies[role] = res.headers.getSetCookie()[0]!.split(';')[0]!
    }
  })
  afterAll(() => server.stop())

  const as = (role: string) => ({ headers: { cookie: cookies[role]! } })

  it('lets admins add people, creating accounts that do not exist yet, and lists them', async () => {
    const added = await server.call('POST', '/api/members', {
      ...as('admin'),
      body: { email: 'New.Person@Example.com', role: 'member', name: 'New' },
    })
    expect(added.status).toBe(201)
    const member = await added.json()
    expect(member).toMatchObject({ email: 'new.person@example.com', role: 'member', name: 'New' })
    expect(
      (await server.call('POST', '/api/members', { ...as('admin'), body: { email: 'new.person@example.com', role: 'viewer' } })).status,
    ).toBe(409)
    const list = await (await server.call('GET', '/api/members', as('owner'))).json()
    expect(list.members.map((m: { email: string }) => m.email)).toEqual([
      'owner@example.com',
      'admin@example.com',
      'viewer@example.com',
      'new.person@example.com',
    ])
    // A viewer sees the team (as the console shows it) and changes nothing.
    expect((await server.call('GET', '/api/members', as('viewer'))).status).toBe(200)
    const refused = await server.call('POST', '/api/members', { ...as('viewer'), body: { email: 'x@example.com', role: 'viewer' } })
    expect(refused.status).toBe(403)
  })

  it('changes roles and removes members, with effect on their very next request', async () => {
    const person = await (
      await server.call('POST', '/api/members', { ...as('admin'), body: { email: 'temp@example.com', role: 'admin' } })
    ).json()
    expect((await server.call('PATCH', `/api/members/${ids.viewer}`, { ...as('admin'), body: { role: 'member' } })).status).toBe(204)
    const viewerNow = await (await server.call('GET', '/api/tenant', as('viewer'))).json()
    expect(viewerNow.principal.scopes).toContain('partners:write')
    expect((await server.call('DELETE', `/api/members/${person.userId}`, as('admin'))).status).toBe(204)
    expect((await server.call('DELETE', `/api/members/${person.userId}`, as('admin'))).status).toBe(404)
    await server.call('PATCH', `/api/members/${ids.viewer}`, { ...as('admin'), body: { role: 'viewer' } })
  })

  it('keeps ownership in owners’ hands and never leaves the organization without an owner', async () => {
    const byAdmin = await server.call('POST', '/api/members', {
      ...as('admin'),
      body: { email: 'would-be-owner@example.com', role: 'owner' },
    })
    expect(byAdmin.status).toBe(403)
    expect((await server.call('PATCH', `/api/members/${ids.owner}`, { ...as('admin'), body: { role: 'viewer' } })).status).toBe(403)
    const lastOwner = await server.call('PATCH', `/api/members/${ids.owner}`, { ...as('owner'), body: { role: 'admin' } })
    expect(lastOwner.status).toBe(409)
    expect(await lastOwner.json()).toMatchObject({ error: 'last_owner' })
    expect((await server.call('DELETE', `/api/members/${ids.owner}`, as('owner'))).status).toBe(409)
    expect((await server.call('PATCH', `/api/members/${ids.admin}`, { ...as('owner'), body: { role: 'owner' } })).status).toBe(204)
    expect((await server.call('PATCH', `/api/members/${ids.owner}`, { ...as('owner'), body: { role: 'admin' } })).status).toBe(204) // two owners now
    expect((await server.call('POST', '/api/members', { ...as('owner'), body: { email: 'x@example.com', role: 'king' } })).status).toBe(400)
  })

  it('records every change in the audit log', async () => {
    const audit = await (await server.call('GET', '/api/audit-events?limit=200', { key: server.adminKey })).json()
    const types = new Set(audit.auditEvents.map((e: { type: string }) => e.type))
    for (const type of ['member.added', 'member.role_changed', 'member.removed']) expect(types).toContain(type)
  })
})
