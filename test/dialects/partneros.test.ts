/**
 * PartnerOS's authentication page (seeds/000), replayed against partnerd as a PartnerOS client would
 * use it: sign in with email and password at `POST /api/auth/sign-in/email`, copy the `session_token`
 * cookie from the Set-Cookie header, send it in the Cookie header of every call. Its error table:
 * 401 for a missing or ended session, 403 when the role does not permit the action (the `partner`
 * role on internal management endpoints), 400 when the session has no active organization.
 */
import { randomBytes } from 'node:crypto'
import { parse as parseSetCookie } from 'set-cookie-parser'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { findTenantBySlug } from '../../src/tenants/service.ts'
import { addMembership, createUser } from '../../src/users/service.ts'
import { DIALECTS } from '../support/databases.ts'
import { startTestServer, type TestServer } from '../support/server.ts'

const PASSWORD = 'partneros password 123'

describe.each(DIALECTS)('PartnerOS’s session dialect on %s', (dialect) => {
  const adminKey = randomBytes(32).toString('hex')
  let server: TestServer
  const userIds: Record<string, string> = {}

  beforeAll(async () => {
    server = await startTestServer(dialect, { auth: { admin_api_keys: adminKey } })
    const { db } = server.runtime.database
    const tenant = (await findTenantBySlug(db, 'default'))!
    for (const role of ['owner', 'admin', 'member', 'viewer', 'partner', 'leaver'] as const) {
      const email = `${role}@partneros.example`
      const user = await createUser(db, { email, password: PASSWORD })
      userIds[role] = user.id
      // The partner record first, through the API (outside the membership's transaction).
      const partnerId =
        role === 'partner'
          ? (await server.call('POST', '/api/partners', { key: adminKey, body: { email } }).then((r) => r.json())).id
          : undefined
      await server.runtime.withTenant(tenant.id, (scope) => addMembership(scope, user.id, role === 'leaver' ? 'member' : role, partnerId))
    }
  })
  afterAll(() => server.stop())

  /** The seed's "Obtaining a session": sign in, take `session_token` from Set-Cookie. */
  async function signIn(role: string) {
    const res = await server.call('POST', '/api/auth/sign-in/email', { body: { email: `${role}@partneros.example`, password: PASSWORD } })
    expect(res.status).toBe(200)
    const cookie = parseSetCookie(res.headers.getSetCookie()).find((c) => c.name === 'session_token')
    expect(cookie, 'a session_token cookie').toBeDefined()
    expect(cookie).toMatchObject({ httpOnly: true, path: '/' })
    return { cookie: `session_token=${cookie!.value}`, body: await res.json() }
  }
  /** The seed's "Making an authenticated request": the cookie alone, in the Cookie header. */
  const call = (cookie: string | undefined, method: string, path: string, body?: unknown) =>
    server.call(method, `/api${path}`, { headers: cookie ? { cookie } : {}, body })

  it('signs in by email and password and accepts the session_token cookie on every call', async () => {
    const { cookie, body } = await signIn('member')
    expect(body).toMatchObject({ user: { id: userIds.member, email: 'member@partneros.example' }, organization: { role: 'member' } })
    const session = await call(cookie, 'GET', '/auth/session')
    expect(session.status).toBe(200)
    expect(await session.json()).toMatchObject({ user: { id: userIds.member }, organization: { role: 'member' } })
    expect((await call(cookie, 'GET', '/partners')).status).toBe(200)
    // The session is tied to the user: another sign-in is another session.
    const again = await signIn('member')
    expect(again.cookie).not.toBe(cookie)
  })

  it('answers 401 without a session cookie, with a wrong one, and once the session has ended', async () => {
    const none = await call(undefined, 'GET', '/partners')
    expect(none.status).toBe(401)
    expect(none.headers.get('www-authenticate')).toMatch(/^Bearer/)
    expect((await call(`session_token=${randomBytes(32).toString('base64url')}`, 'GET', '/partners')).status).toBe(401)
    const wrongPassword = await server.call('POST', '/api/auth/sign-in/email', {
      body: { email: 'member@partneros.example', password: 'not it' },
    })
    expect(wrongPassword.status).toBe(401)
    expect(wrongPassword.headers.getSetCookie()).toEqual([])

    const { cookie } = await signIn('viewer')
    expect((await call(cookie, 'POST', '/auth/sign-out')).status).toBe(204) // "or when you sign out"
    const ended = await call(cookie, 'GET', '/partners')
    expect(ended.status).toBe(401)
    expect(await ended.json()).toMatchObject({ error: 'invalid_credentials' })
  })

  it('answers 403 when the role does not permit the action: partner users reach no internal endpoint', async () => {
    const partner = await signIn('partner')
    for (const [method, path] of [
      ['GET', '/partners'],
      ['GET', '/members'],
      ['GET', '/api-keys'],
      ['GET', '/webhooks'],
      ['GET', '/audit-events'],
      ['POST', '/partners'],
    ] as const) {
      const res = await call(partner.cookie, method, path, method === 'POST' ? { email: 'x@partneros.example' } : undefined)
      expect(res.status, `${method} ${path}`).toBe(403)
      expect(await res.json()).toMatchObject({ error: expect.any(String), detail: expect.any(String) })
    }
    // Its own portal is what it reaches.
    expect((await call(partner.cookie, 'GET', '/me/links')).status).toBe(200)
    // owner, admin, member, viewer: each its role's reach.
    const viewer = await signIn('viewer')
    expect((await call(viewer.cookie, 'GET', '/partners')).status).toBe(200)
    expect((await call(viewer.cookie, 'POST', '/partners', { email: 'v@partneros.example' })).status).toBe(403)
    const admin = await signIn('admin')
    expect((await call(admin.cookie, 'POST', '/partners', { email: 'a@partneros.example' })).status).toBe(201)
  })

  it('answers 400 no_active_organization when the session is valid but its organization is gone', async () => {
    const { cookie } = await signIn('leaver')
    expect((await call(cookie, 'GET', '/partners')).status).toBe(200)
    const admin = await signIn('admin')
    expect((await call(admin.cookie, 'DELETE', `/members/${userIds.leaver}`)).status).toBeLessThan(300)
    const res = await call(cookie, 'GET', '/partners')
    expect(res.status).toBe(400)
    expect(await res.json()).toMatchObject({ error: 'no_active_organization', detail: expect.any(String) })
  })

  it('keeps partnerd’s own op_session cookie working beside it', async () => {
    const res = await server.call('POST', '/api/auth/sign-in/email', { body: { email: 'member@partneros.example', password: PASSWORD } })
    const own = parseSetCookie(res.headers.getSetCookie()).find((c) => c.name === 'op_session')
    expect(own).toBeDefined()
    expect((await call(`op_session=${own!.value}`, 'GET', '/partners')).status).toBe(200)
  })
})
