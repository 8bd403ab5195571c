import { randomBytes } from 'node:crypto'
import { sql } from 'kysely'
import { parse as parseSetCookie } from 'set-cookie-parser'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { listAudit } from '../src/audit/service.ts'
import { memberPrincipal } from '../src/auth/member-principal.ts'
import { issueSession, resolveSession } from '../src/auth/sessions/service.ts'
import { createDatabase } from '../src/db/database.ts'
import { createTenant, findTenantBySlug } from '../src/tenants/service.ts'
import { addMembership, createUser, disableUser } from '../src/users/service.ts'
import { DIALECTS } from './support/databases.ts'
import { pgQueriesDuring } from './support/pg-queries.ts'
import { startTestServer, type TestServer } from './support/server.ts'

const PASSWORD = 'correct horse battery staple'

async function signIn(server: TestServer, email: string, password = PASSWORD, headers: Record<string, string> = {}, base = '/api') {
  return server.call('POST', `${base}/auth/sign-in/email`, { body: { email, password }, headers })
}

function cookieOf(res: Response): string {
  const [cookie] = parseSetCookie(res.headers.getSetCookie())
  return `${cookie!.name}=${cookie!.value}`
}

describe.each(DIALECTS)('password sign-in and sessions on %s', (dialect) => {
  let server: TestServer
  let tenantId: string
  const users: Record<string, string> = {}

  beforeAll(async () => {
    server = await startTestServer(dialect, { auth: { sign_in: { failures_per_account: 3 } } })
    const { db } = server.runtime.database
    tenantId = (await findTenantBySlug(db, 'default'))!.id
    for (const [email, role] of [
      ['owner@example.com', 'owner'],
      ['viewer@example.com', 'viewer'],
      ['locked@example.com', 'member'],
      ['gone@example.com', 'member'],
    ] as const) {
      const user = await createUser(db, { email, password: PASSWORD, emailVerified: true })
      await server.runtime.withTenant(tenantId, (scope) => addMembership(scope, user.id, role))
      users[email] = user.id
    }
    users.outsider = (await createUser(db, { email: 'outsider@example.com', password: PASSWORD })).id
  })
  afterAll(() => server.stop())

  it('answers a session cookie that is not percent-decodable as an unknown session (401), never an error', async () => {
    for (const cookie of ['op_session=%E0%A4%A', 'op_session=%zz; other=1', 'other=%; op_session=%']) {
      const res = await server.call('GET', '/api/tenant', { headers: { cookie } })
      expect(res.status, cookie).toBe(401)
      expect(await res.json()).toMatchObject({ error: 'invalid_credentials' })
    }
  })

  it('answers a sign-in with an HttpOnly, SameSite=Lax session cookie that authenticates as the member', async () => {
    const res = await signIn(server, ' Owner@Example.com ')
    expect(res.status).toBe(200)
    expect(await res.json()).toMatchObject({ user: { email: 'owner@example.com' }, organization: { slug: 'default', role: 'owner' } })
    const [cookie] = parseSetCookie(res.headers.getSetCookie())
    expect(cookie).toMatchObject({ name: 'op_session', httpOnly: true, sameSite: 'Lax', path: '/', maxAge: 720 * 3600 })
    expect(cookie!.secure).toBeFalsy()
    expect(cookie!.value).toMatch(/^[A-Za-z0-9_-]{43}$/)
    const me = await server.call('GET', '/api/auth/session', { headers: { cookie: cookieOf(res) } })
    expect(await me.json()).toMatchObject({ user: { id: users['owner@example.com'] }, organization: { role: 'owner' } })
    const tenant = await server.call('GET', '/api/tenant', { headers: { cookie: cookieOf(res) } })
    expect(await tenant.json()).toMatchObject({ principal: { kind: 'user', scopes: ['*'] } })
  })

  it('gives every failure the same 401 and records it in the audit log', async () => {
    const answers = await Promise.all([
      signIn(server, 'owner@example.com', 'wrong password'),
      signIn(server, 'nobody@example.com'),
      signIn(server, 'outsider@example.com'), // right password, not a member of this organization
    ])
    for (const res of answers) {
      expect(res.status).toBe(401)
      expect(await res.json()).toEqual({ error: 'invalid_credentials', detail: 'the email or password is incorrect' })
      expect(res.headers.getSetCookie()).toEqual([])
    }
    const audit = await server.runtime.withTenant(tenantId, (scope) => listAudit(scope, { limit: 50 }))
    const failed = audit.items.filter((e) => e.type === 'sign_in.failed').map((e) => e.subject)
    expect(failed).toEqual(expect.arrayContaining(['owner@example.com', 'nobody@example.com', 'outsider@example.com']))
    expect(audit.items.some((e) => e.type === 'sign_in' && e.actor === users['owner@example.com'])).toBe(true)
  })

  it('locks an account after its failures, even against the right password, with 429 and Retry-After', async () => {
    for (let i = 0; i < 3; i++) expect((await signIn(server, 'locked@example.com', `guess ${i}`)).status).toBe(401)
    const locked = await signIn(server, 'locked@example.com')
    expect(locked.status).toBe(429)
    expect(Number(locked.headers.get('retry-after'))).toBeGreaterThan(0)
    expect(await locked.json()).toMatchObject({ error: 'rate_limited' })
    expect((await signIn(server, 'viewer@example.com')).status).toBe(200) // other accounts unaffected
  })

  it('takes the role from the membership on every request', async () => {
    const cookie = cookieOf(await signIn(server, 'viewer@example.com'))
    const mint = () => server.call('POST', '/api/api-keys', { headers: { cookie }, body: { name: 'by viewer' } })
    const denied = await mint()
    expect(denied.status).toBe(403)
    expect(await denied.json()).toMatchObject({ error: 'forbidden_scope' })
    await server.runtime.withTenant(tenantId, (s) =>
      s.db
        .updateTable('memberships')
        .set({ role: 'admin' })
        .where('user_id', '=', users['viewer@example.com']!)
        .where('tenant_id', '=', tenantId)
        .execute(),
    )
    expect((await mint()).status).toBe(201)
    await server.runtime.withTenant(tenantId, (s) =>
      s.db.deleteFrom('memberships').where('user_id', '=', users['viewer@example.com']!).where('tenant_id', '=', tenantId).execute(),
    )
    const orphan = await server.call('GET', '/api/tenant', { headers: { cookie } })
    expect(orphan.status).toBe(400)
    expect(await orphan.json()).toMatchObject({ error: 'no_active_organization' })
  })

  it('signs out: the cookie is cleared and the session is gone from the server', async () => {
    const cookie = cookieOf(await signIn(server, 'owner@example.com'))
    const out = await server.call('POST', '/api/auth/sign-out', { headers: { cookie } })
    expect(out.status).toBe(204)
    expect(parseSetCookie(out.headers.getSetCookie())[0]).toMatchObject({ name: 'op_session', value: '', maxAge: 0 })
    const after = await server.call('GET', '/api/auth/session', { headers: { cookie } })
    expect(after.status).toBe(401)
    expect(await after.json()).toMatchObject({ error: 'invalid_credentials' })
  })

  it('lists one’s own sessions without tokens and revokes another of them', async () => {
    const first = cookieOf(await signIn(server, 'owner@example.com'))
    const second = cookieOf(await signIn(server, 'owner@example.com'))
    expect(first).not.toBe(second) // a new token at every sign-in
    const list = await (await server.call('GET', '/api/auth/sessions', { headers: { cookie: first } })).json()
    expect(list.sessions.filter((s: { current: boolean }) => s.current)).toHaveLength(1)
    expect(JSON.stringify(list)).not.toContain(second.split('=')[1])
    const secondId = (await (await server.call('GET', '/api/auth/session', { headers: { cookie: second } })).json()).sessionId
    expect((await server.call('POST', `/api/auth/sessions/${secondId}/revoke`, { headers: { cookie: first } })).status).toBe(204)
    expect((await server.call('GET', '/api/auth/session', { headers: { cookie: second } })).status).toBe(401)
    expect((await server.call('POST', `/api/auth/sessions/${secondId}/revoke`, { headers: { cookie: first } })).status).toBe(404)
    const withKey = await server.call('GET', '/api/auth/sessions', { key: server.adminKey })
    expect(await withKey.json()).toMatchObject({ error: 'not_a_session' })
  })

  it('refuses cookie-authenticated unsafe requests from another site (CSRF), and sign-ins from one', async () => {
    const cookie = cookieOf(await signIn(server, 'owner@example.com'))
    const cases: [Record<string, string>, number][] = [
      [{ 'sec-fetch-site': 'cross-site' }, 403],
      [{ 'sec-fetch-site': 'same-site' }, 403],
      [{ origin: 'https://evil.example' }, 403],
      [{ 'sec-fetch-site': 'same-origin', origin: server.url }, 201],
      [{ origin: server.url }, 201],
    ]
    for (const [headers, status] of cases) {
      const res = await server.call('POST', '/api/api-keys', { headers: { cookie, ...headers }, body: { name: 'csrf probe' } })
      expect(res.status, JSON.stringify(headers)).toBe(status)
      if (status === 403) expect(await res.json()).toMatchObject({ error: 'csrf_rejected' })
    }
    expect((await server.call('GET', '/api/tenant', { headers: { cookie, 'sec-fetch-site': 'cross-site' } })).status).toBe(200)
    expect((await signIn(server, 'owner@example.com', PASSWORD, { origin: 'https://evil.example' })).status).toBe(403)
  })

  it('ends every session of a disabled user at once', async () => {
    const cookie = cookieOf(await signIn(server, 'gone@example.com'))
    expect((await server.call('GET', '/api/tenant', { headers: { cookie } })).status).toBe(200)
    await disableUser(server.runtime.database.db, users['gone@example.com']!)
    expect((await server.call('GET', '/api/tenant', { headers: { cookie } })).status).toBe(401)
    expect((await signIn(server, 'gone@example.com')).status).toBe(401)
  })

  it('stores argon2id hashes and no session token in plaintext', async () => {
    const res = await signIn(server, 'owner@example.com')
    const token = cookieOf(res).split('=')[1]!
    const owner = await createDatabase({ database: server.runtime.config.database, role: 'owner' })
    const rows = [
      ...(await sql`select * from sessions`.execute(owner.db)).rows,
      ...(await sql`select * from users`.execute(owner.db)).rows,
      ...(await sql`select * from audit_events`.execute(owner.db)).rows,
    ]
    await owner.close()
    const dump = JSON.stringify(rows)
    expect(dump).not.toContain(token)
    expect(dump).not.toContain(PASSWORD)
    expect(dump).toMatch(/\$argon2id\$/)
  })
})

describe.each(DIALECTS)('session lifetime on %s', (dialect) => {
  let server: TestServer
  beforeAll(async () => {
    server = await startTestServer(dialect)
  })
  afterAll(() => server.stop())

  it('ends at the idle timeout, renews at most once a minute, and never outlives the absolute end', async () => {
    const { database } = server.runtime
    const { db } = database
    const user = await createUser(db, { email: `clock-${randomBytes(3).toString('hex')}@example.com` })
    const settings = { idleMs: 10 * 60_000, absoluteMs: 30 * 60_000 }
    const t0 = new Date('2026-01-01T00:00:00Z')
    const at = (minutes: number) => new Date(t0.getTime() + minutes * 60_000)
    const { token, session } = await issueSession(db, { userId: user.id, activeTenantId: null }, settings, t0)
    expect(session.idleExpiresAt).toBe(at(10).toISOString())

    const early = await resolveSession(database, token, settings, new Date(t0.getTime() + 30_000))
    expect(early?.lastSeenAt).toBe(t0.toISOString()) // no write within the minute
    let last = 0
    for (const minute of [9, 18, 27]) {
      const renewed = await resolveSession(database, token, settings, at(minute))
      expect(renewed, `minute ${minute}`).not.toBeNull()
      last = minute
    }
    expect((await resolveSession(database, token, settings, at(last + 2)))?.idleExpiresAt).toBe(at(30).toISOString()) // capped
    expect(await resolveSession(database, token, settings, at(30))).toBeNull() // absolute end

    const idle = await issueSession(db, { userId: user.id, activeTenantId: null }, settings, t0)
    expect(await resolveSession(database, idle.token, settings, at(10))).toBeNull() // unused for the idle timeout
  })

  it('renews once for the requests arriving together when a renewal is due', async () => {
    const { database } = server.runtime
    const user = await createUser(database.db, { email: `together-${randomBytes(3).toString('hex')}@example.com` })
    const settings = { idleMs: 10 * 60_000, absoluteMs: 30 * 60_000 }
    const t0 = new Date('2026-01-01T00:00:00Z')
    const { token, session } = await issueSession(database.db, { userId: user.id, activeTenantId: null }, settings, t0)
    expect(await resolveSession(database, token, settings, new Date(t0.getTime() + 1_000))).not.toBeNull() // remembered now
    // Every statement the checks make goes through this: the renewals are counted.
    let renewals = 0
    const counted = new Proxy(database.db, {
      get(target, property) {
        if (property === 'updateTable') renewals++
        const value = Reflect.get(target, property)
        return typeof value === 'function' ? value.bind(target) : value
      },
    })
    const twoMinutesOn = new Date(t0.getTime() + 2 * 60_000)
    const answers = await Promise.all(
      Array.from({ length: 5 }, () => resolveSession({ db: counted, credentials: database.credentials }, token, settings, twoMinutesOn)),
    )
    expect(answers.every((answer) => answer?.id === session.id)).toBe(true)
    expect(renewals).toBe(1)
    const row = await database.db
      .selectFrom('sessions')
      .select(['last_seen_at', 'idle_expires_at'])
      .where('id', '=', session.id)
      .executeTakeFirstOrThrow()
    expect(row).toEqual({
      last_seen_at: twoMinutesOn.toISOString(),
      idle_expires_at: new Date(twoMinutesOn.getTime() + settings.idleMs).toISOString(),
    })
    // What the next check answers is the renewed session.
    expect((await resolveSession(database, token, settings, twoMinutesOn))?.idleExpiresAt).toBe(row.idle_expires_at)
  })

  it('names the cookie session_token for PartnerOS clients, with __Host- and Secure over HTTPS', async () => {
    const https = await startTestServer(dialect, {
      server: { host: '127.0.0.1', port: 0, public_url: 'https://partners.example.com' },
      auth: { session: { cookie_name: 'session_token' } },
    })
    try {
      const { db } = https.runtime.database
      const tenant = (await findTenantBySlug(db, 'default'))!
      const user = await createUser(db, { email: 'pos@example.com', password: PASSWORD })
      await https.runtime.withTenant(tenant.id, (s) => addMembership(s, user.id, 'member'))
      const res = await signIn(https, 'pos@example.com')
      expect(parseSetCookie(res.headers.getSetCookie())[0]).toMatchObject({
        name: '__Host-session_token',
        secure: true,
        httpOnly: true,
        path: '/',
      })
      expect((await https.call('GET', '/api/tenant', { headers: { cookie: cookieOf(res) } })).status).toBe(200)
    } finally {
      await https.stop()
    }
  })
})

describe.each(DIALECTS)('sessions across tenants on %s', (dialect) => {
  it('a session reaches only organizations its user belongs to; elsewhere it is a 404', async () => {
    const server = await startTestServer(dialect, { mode: 'multi', auth: { admin_api_keys: randomBytes(32).toString('hex') } })
    try {
      const { db } = server.runtime.database
      const acme = await createTenant(db, server.runtime.bus, server.runtime.secrets, { slug: 'acme' })
      await createTenant(db, server.runtime.bus, server.runtime.secrets, { slug: 'globex' })
      const user = await createUser(db, { email: 'ada@acme.example', password: PASSWORD })
      await server.runtime.withTenant(acme.id, (s) => addMembership(s, user.id, 'admin'))
      expect((await signIn(server, 'ada@acme.example', PASSWORD, {}, '/api/t/globex')).status).toBe(401)
      const cookie = cookieOf(await signIn(server, 'ada@acme.example', PASSWORD, {}, '/api/t/acme'))
      expect((await server.call('GET', '/api/t/acme/tenant', { headers: { cookie } })).status).toBe(200)
      const foreign = await server.call('GET', '/api/t/globex/tenant', { headers: { cookie } })
      expect(foreign.status).toBe(404)
    } finally {
      await server.stop()
    }
  })

  it('a sign-in plugin switched off in the YAML takes its routes with it (404)', async () => {
    const server = await startTestServer(dialect, { plugins: [{ builtin: 'password', enabled: false }] })
    try {
      const res = await signIn(server, 'owner@example.com')
      expect(res.status).toBe(404)
      expect(server.runtime.plugins.names.map((p) => p.name)).not.toContain('password')
    } finally {
      await server.stop()
    }
  })
})

describe.each(DIALECTS)('one failure budget per client address, across sign-in methods, on %s', (dialect) => {
  it('counts failed refreshes, magic codes and passwords together, then answers 429 on every path', async () => {
    const server = await startTestServer(dialect, {
      auth: { sign_in: { failures_per_address: 4 } },
      plugins: [{ builtin: 'jwt', config: { signing_secret: randomBytes(32).toString('hex') } }, { builtin: 'magic' }],
    })
    try {
      expect((await server.call('POST', '/api/auth/token/refresh', { body: { refresh_token: 'guess-1' } })).status).toBe(401)
      expect((await server.call('POST', '/api/auth/token/refresh', { body: { refresh_token: 'guess-2' } })).status).toBe(401)
      expect((await server.call('POST', '/api/auth/magic/verify', { body: { attemptId: 'x', code: '123456' } })).status).toBe(401)
      expect((await signIn(server, 'nobody@example.com', 'wrong')).status).toBe(401)
      for (const res of [
        await signIn(server, 'nobody@example.com', 'wrong'),
        await server.call('POST', '/api/auth/token/refresh', { body: { refresh_token: 'guess-3' } }),
        await server.call('POST', '/api/auth/magic/verify', { body: { attemptId: 'x', code: '123456' } }),
      ]) {
        expect(res.status).toBe(429)
        expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0)
      }
    } finally {
      await server.stop()
    }
  })

  it('counts the IPv6 addresses of one /64 as one client, which cannot escape by changing address', async () => {
    const server = await startTestServer(dialect, {
      server: { host: '127.0.0.1', port: 0, trust_proxy: true },
      auth: { sign_in: { failures_per_address: 3 } },
    })
    try {
      // A new account each time, so that only the address's budget runs out.
      const attempt = (i: number, address: string) =>
        signIn(server, `nobody${i}@example.com`, 'wrong', { 'x-forwarded-for': address }).then((res) => res.status)
      const statuses: number[] = []
      for (let i = 1; i <= 4; i++) statuses.push(await attempt(i, `2001:db8:5:5::${i}`))
      expect(statuses).toEqual([401, 401, 401, 429])
      // Another /64 is another client.
      expect(await attempt(5, '2001:db8:5:6::1')).toBe(401)
    } finally {
      await server.stop()
    }
  })
})

describe('a signed-in person on postgres', () => {
  it('is checked with one round trip per read: the membership, and a portal user’s partner', async () => {
    const server = await startTestServer('postgres')
    try {
      const { database, withTenant } = server.runtime
      const tenant = (await findTenantBySlug(database.db, 'default'))!
      const member = await createUser(database.db, { email: 'reads@example.com', password: PASSWORD, emailVerified: true })
      await withTenant(tenant.id, (scope) => addMembership(scope, member.id, 'viewer'))
      const asMember = await pgQueriesDuring(() => memberPrincipal('single', database, tenant, member.id))
      expect(asMember.result).toMatchObject({ kind: 'user', id: member.id, tenantId: tenant.id, role: 'viewer' })
      expect(asMember.queries).toHaveLength(1)
      expect(asMember.queries[0]).toMatch(/^with tenant as materialized/)

      const partner = await (
        await server.call('POST', '/api/partners', { key: server.adminKey, body: { email: 'portal@example.com' } })
      ).json()
      const portal = await createUser(database.db, { email: 'portal@example.com', password: PASSWORD, emailVerified: true })
      await withTenant(tenant.id, (scope) => addMembership(scope, portal.id, 'partner', partner.id))
      const asPartner = await pgQueriesDuring(() => memberPrincipal('single', database, tenant, portal.id))
      expect(asPartner.result).toMatchObject({ role: 'partner', partnerId: partner.id })
      expect(asPartner.queries).toHaveLength(2)
      await server.call('POST', `/api/partners/${partner.id}/revoke`, { key: server.adminKey })
      await expect(memberPrincipal('single', database, tenant, portal.id)).rejects.toMatchObject({ code: 'partner_revoked' })
    } finally {
      await server.stop()
    }
  })
})
