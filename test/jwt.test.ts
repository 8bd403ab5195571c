import { randomBytes } from 'node:crypto'
import { decodeJwt, jwtVerify, SignJWT, UnsecuredJWT } from 'jose'
import { sql } from 'kysely'
import { parse as parseSetCookie } from 'set-cookie-parser'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createDatabase } from '../src/db/database.ts'
import { openRuntime } from '../src/runtime.ts'
import { createTenant, findTenantBySlug } from '../src/tenants/service.ts'
import { addMembership, createUser } from '../src/users/service.ts'
import { DIALECTS, testConfig } from './support/databases.ts'
import { startTestServer, type TestServer } from './support/server.ts'

const SECRET = randomBytes(32).toString('base64url')
const KEY = new TextEncoder().encode(SECRET)
const PASSWORD = 'token password 123'

describe.each(DIALECTS)('JWT access tokens and rotating refresh tokens on %s', (dialect) => {
  let server: TestServer
  let tenantId: string
  let userId: string

  beforeAll(async () => {
    server = await startTestServer(dialect, { plugins: [{ builtin: 'jwt', config: { signing_secret: SECRET, access_ttl_seconds: 600 } }] })
    const { db } = server.runtime.database
    tenantId = (await findTenantBySlug(db, 'default'))!.id
    userId = (await createUser(db, { email: 'dash@example.com', password: PASSWORD })).id
    await server.runtime.withTenant(tenantId, (s) => addMembership(s, userId, 'admin'))
  })
  afterAll(() => server.stop())

  const signIn = () => server.call('POST', '/api/auth/token', { body: { email: 'dash@example.com', password: PASSWORD } })
  const refresh = (token: string, headers: Record<string, string> = {}) =>
    server.call('POST', '/api/auth/token/refresh', { body: { refresh_token: token }, headers })
  const asBearer = (token: string) => server.call('GET', '/api/tenant', { headers: { authorization: `Bearer ${token}` } })

  it('issues {tokens:{access_token, token_type, expires_in}} that jose verifies, and a 7-day HttpOnly refresh cookie', async () => {
    const res = await signIn()
    expect(res.status).toBe(200)
    const { tokens } = await res.json()
    expect(tokens).toMatchObject({ token_type: 'Bearer', expires_in: 600, refresh_token: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/) })
    const { payload, protectedHeader } = await jwtVerify(tokens.access_token, KEY, {
      algorithms: ['HS256'],
      issuer: 'http://localhost:8080',
      audience: 'partnerd',
    })
    expect(protectedHeader.alg).toBe('HS256')
    expect(payload).toMatchObject({ sub: userId, tid: tenantId })
    expect(payload.exp! - payload.iat!).toBe(600)
    const [cookie] = parseSetCookie(res.headers.getSetCookie())
    expect(cookie).toMatchObject({
      name: 'op_refresh',
      value: tokens.refresh_token,
      httpOnly: true,
      sameSite: 'Strict',
      path: '/api/auth/token',
    })
    expect(cookie!.maxAge).toBeGreaterThan(7 * 86_400 - 60)
    expect(await (await asBearer(tokens.access_token)).json()).toMatchObject({ principal: { kind: 'user', id: userId, scopes: ['*'] } })
  })

  it('refuses forged, tampered, expired and misdirected access tokens with 401', async () => {
    const { tokens } = await (await signIn()).json()
    const claims = decodeJwt(tokens.access_token)
    const build = (alg: string, mutate: (j: SignJWT) => SignJWT = (j) => j) =>
      mutate(
        new SignJWT({ tid: claims.tid, sid: claims.sid })
          .setProtectedHeader({ alg })
          .setSubject(userId)
          .setIssuer('http://localhost:8080')
          .setAudience('partnerd')
          .setIssuedAt()
          .setExpirationTime('5m'),
      )
    const [head, body, signature] = tokens.access_token.split('.')
    const forged = {
      'alg none': new UnsecuredJWT({ tid: claims.tid, sid: claims.sid })
        .setSubject(userId)
        .setIssuer('http://localhost:8080')
        .setAudience('partnerd')
        .setExpirationTime('5m')
        .encode(),
      'HS512 with the same secret': await build('HS512').sign(KEY),
      'another secret': await build('HS256').sign(new TextEncoder().encode('x'.repeat(40))),
      'wrong audience': await build('HS256', (j) => j.setAudience('someone-else')).sign(KEY),
      'wrong issuer': await build('HS256', (j) => j.setIssuer('https://evil.example')).sign(KEY),
      expired: await build('HS256', (j) => j.setExpirationTime(Math.floor(Date.now() / 1000) - 10)).sign(KEY),
      'tampered claims': `${head}.${Buffer.from(JSON.stringify({ ...claims, sub: 'usr_someone_else' })).toString('base64url')}.${signature}`,
      'no signature': `${head}.${body}.`,
    }
    for (const [name, token] of Object.entries(forged)) {
      const res = await asBearer(token)
      expect(res.status, name).toBe(401)
      expect(res.headers.get('www-authenticate'), name).toContain('invalid_token')
    }
    expect((await (await asBearer(forged.expired)).json()).detail).toBe('the access token has expired')
  })

  it('rotates refresh tokens: each works once, and a reused one ends the whole family', async () => {
    const first = (await (await signIn()).json()).tokens
    const second = (await (await refresh(first.refresh_token)).json()).tokens
    expect(second.refresh_token).not.toBe(first.refresh_token)
    expect((await asBearer(second.access_token)).status).toBe(200)
    const third = (await (await refresh(second.refresh_token)).json()).tokens

    const replay = await refresh(first.refresh_token) // a copy of a spent token
    expect(replay.status).toBe(401)
    expect(await replay.json()).toMatchObject({ error: 'invalid_refresh_token' })
    expect((await refresh(third.refresh_token)).status).toBe(401) // the owner's newest token too
    expect((await asBearer(third.access_token)).status).toBe(401) // and the family's access tokens
    const audit = await (
      await server.call('GET', '/api/audit-events', {
        headers: { authorization: `Bearer ${(await (await signIn()).json()).tokens.access_token}` },
      })
    ).json()
    expect(audit.auditEvents.map((e: { type: string }) => e.type)).toContain('refresh_token.reused')
  })

  it('lets exactly one of two concurrent refreshes with the same token win', async () => {
    for (let round = 0; round < 5; round++) {
      const { tokens } = await (await signIn()).json()
      const results = await Promise.all([refresh(tokens.refresh_token), refresh(tokens.refresh_token), refresh(tokens.refresh_token)])
      expect(results.filter((r) => r.status === 200)).toHaveLength(1)
    }
  })

  it('takes the refresh token from its cookie, refusing cross-site use, and revokes on sign-out', async () => {
    const res = await signIn()
    const cookie = res.headers.getSetCookie()[0]!.split(';')[0]!
    const crossSite = await server.call('POST', '/api/auth/token/refresh', { headers: { cookie, 'sec-fetch-site': 'cross-site' } })
    expect(crossSite.status).toBe(403)
    const viaCookie = await server.call('POST', '/api/auth/token/refresh', { headers: { cookie } })
    expect(viaCookie.status).toBe(200)
    const { tokens } = await viaCookie.json()
    const out = await server.call('POST', '/api/auth/token/revoke', { body: { refresh_token: tokens.refresh_token } })
    expect(out.status).toBe(204)
    expect((await asBearer(tokens.access_token)).status).toBe(401)
    expect((await refresh(tokens.refresh_token)).status).toBe(401)
    expect((await refresh('nonsense')).status).toBe(401)
  })

  it('stops working for a user removed from the organization', async () => {
    const user = await createUser(server.runtime.database.db, { email: 'leaver@example.com', password: PASSWORD })
    await server.runtime.withTenant(tenantId, (s) => addMembership(s, user.id, 'viewer'))
    const { tokens } = await (
      await server.call('POST', '/api/auth/token', { body: { email: 'leaver@example.com', password: PASSWORD } })
    ).json()
    expect((await asBearer(tokens.access_token)).status).toBe(200)
    await server.runtime.withTenant(tenantId, (s) =>
      s.db.deleteFrom('memberships').where('user_id', '=', user.id).where('tenant_id', '=', tenantId).execute(),
    )
    expect((await asBearer(tokens.access_token)).status).toBe(400)
    expect((await refresh(tokens.refresh_token)).status).toBe(400)
  })

  it('stores refresh tokens only as hashes', async () => {
    const { tokens } = await (await signIn()).json()
    const owner = await createDatabase({ database: server.runtime.config.database, role: 'owner' })
    const rows = (await sql`select * from jwt_refresh_tokens`.execute(owner.db)).rows
    await owner.close()
    expect(rows.length).toBeGreaterThan(0)
    expect(JSON.stringify(rows)).not.toContain(tokens.refresh_token)
  })
})

describe.each(DIALECTS)('JWT across tenants and configuration on %s', (dialect) => {
  it('answers a token of tenant A on tenant B with 404', async () => {
    const server = await startTestServer(dialect, {
      mode: 'multi',
      auth: { admin_api_keys: randomBytes(32).toString('hex') },
      plugins: [{ builtin: 'jwt', config: { signing_secret: SECRET } }],
    })
    try {
      const { db } = server.runtime.database
      const acme = await createTenant(db, server.runtime.bus, server.runtime.secrets, { slug: 'acme' })
      const globex = await createTenant(db, server.runtime.bus, server.runtime.secrets, { slug: 'globex' })
      const user = await createUser(db, { email: 'both@example.com', password: PASSWORD })
      for (const t of [acme, globex]) await server.runtime.withTenant(t.id, (s) => addMembership(s, user.id, 'member'))
      const { tokens } = await (
        await server.call('POST', '/api/t/acme/auth/token', { body: { email: 'both@example.com', password: PASSWORD } })
      ).json()
      expect((await server.call('GET', '/api/t/acme/tenant', { headers: { authorization: `Bearer ${tokens.access_token}` } })).status).toBe(
        200,
      )
      expect(
        (await server.call('GET', '/api/t/globex/tenant', { headers: { authorization: `Bearer ${tokens.access_token}` } })).status,
      ).toBe(404)
      expect(
        (await server.call('POST', '/api/t/globex/auth/token/refresh', { body: { refresh_token: tokens.refresh_token } })).status,
      ).toBe(401)
    } finally {
      await server.stop()
    }
  })

  it('is off unless configured (routes 404), and refuses a short secret at start naming the key', async () => {
    const server = await startTestServer(dialect)
    try {
      expect((await server.call('POST', '/api/auth/token', { body: { email: 'a@b.co', password: 'x' } })).status).toBe(404)
    } finally {
      await server.stop()
    }
    const loaded = await testConfig(dialect, { plugins: [{ builtin: 'jwt', config: { signing_secret: 'short' } }] })
    await expect(openRuntime(loaded, { migrate: true })).rejects.toThrow(/plugin jwt .*config\.signing_secret/)
  })
})
