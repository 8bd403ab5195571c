/**
 * PartnersMy's authentication page (seeds/002), replayed against partnerd configured as a PartnersMy
 * deployment would be (`ps_` key prefix, the jwt, magic and oauth plugins):
 *
 * - API keys `ps_…`, sent as `x-api-key` or `Authorization: Bearer`, stored hashed (SHA-256), shown
 *   once, several active and revoked one by one, each with its last-used date and an expiration;
 * - the dashboard's JWT, refreshed with a refresh token in a 7-day HttpOnly cookie that rotates on
 *   every use (a used one is refused);
 * - a 6-digit code by mail at `POST /api/auth/magic-code`, verified at `/verify` for a JWT and the
 *   refresh cookie, 10 minutes long; `/api/auth/register-magic` and `/verify` for new accounts;
 * - Google and LinkedIn at `GET /api/auth/social/{provider}`, for sign-up and sign-in, linking an
 *   account by its (verified) email, and unlinking while a password or another provider remains.
 *
 * The providers are oidc-provider instances on loopback, named google and linkedin, their issuers
 * set in the config; the LinkedIn one behaves as LinkedIn does: its token endpoint takes the client
 * secret in the request body only, it has no PKCE, and its ID tokens carry no nonce.
 */
import { createHash } from 'node:crypto'
import { jwtVerify } from 'jose'
import { parse as parseSetCookie } from 'set-cookie-parser'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { findTenantBySlug } from '../../src/tenants/service.ts'
import { addMembership, createUser } from '../../src/users/service.ts'
import { DIALECTS } from '../support/databases.ts'
import { type OidcHarness, startOidcProvider } from '../support/oidc.ts'
import { freePort } from '../support/ports.ts'
import { walkRedirects } from '../support/redirects.ts'
import { startTestServer, type TestServer } from '../support/server.ts'
import { type Inbox, startInbox } from '../support/smtp.ts'

type Json = any
const SIGNING_SECRET = 'partnersmy signing secret, 32+ characters long'
const PASSWORD = 'partnersmy password 123'
const codeOf = (text: string) => text.match(/\b(\d{6})\b/)![1]!

describe.each(DIALECTS)('PartnersMy’s auth dialect on %s', (dialect) => {
  let server: TestServer
  let inbox: Inbox
  let google: OidcHarness
  let linkedin: OidcHarness
  let tenantId: string

  beforeAll(async () => {
    const [port, googlePort, linkedinPort] = [await freePort(), await freePort(), await freePort()]
    const publicUrl = `http://127.0.0.1:${port}`
    inbox = await startInbox()
    google = await startOidcProvider(googlePort, `${publicUrl}/api/auth/oauth/google/callback`, {
      grace: { email: 'grace@partnersmy.example', email_verified: true },
      newcomer: { email: 'newcomer@partnersmy.example', email_verified: true },
      unverified: { email: 'grace@partnersmy.example', email_verified: false },
    })
    linkedin = await startOidcProvider(
      linkedinPort,
      `${publicUrl}/api/auth/oauth/linkedin/callback`,
      {
        'grace-li': { email: 'grace@partnersmy.example', email_verified: true },
        'linda-li': { email: 'linda@partnersmy.example', email_verified: true },
      },
      { clientAuthMethod: 'client_secret_post', ignoresNonce: true, refusesPkce: true },
    )
    server = await startTestServer(dialect, {
      server: { host: '127.0.0.1', port, public_url: publicUrl },
      auth: { api_key_prefix: 'ps_' },
      mail: { transport: 'smtp', smtp_url: inbox.url },
      plugins: [
        { builtin: 'jwt', config: { signing_secret: SIGNING_SECRET, refresh_ttl_days: 7 } },
        { builtin: 'magic', config: { sign_up: true } },
        {
          builtin: 'oauth',
          config: {
            sign_up: true,
            after_sign_in_url: '/dashboard',
            providers: {
              google: { issuer: google.issuer, client_id: google.clientId, client_secret: google.clientSecret },
              linkedin: { issuer: linkedin.issuer, client_id: linkedin.clientId, client_secret: linkedin.clientSecret },
            },
          },
        },
      ],
    })
    const { db } = server.runtime.database
    tenantId = (await findTenantBySlug(db, 'default'))!.id
    for (const [email, password] of [
      ['grace@partnersmy.example', undefined],
      ['henry@partnersmy.example', PASSWORD],
    ] as const) {
      const user = await createUser(db, { email, emailVerified: true, password })
      await server.runtime.withTenant(tenantId, (s) => addMembership(s, user.id, 'admin'))
    }
  })
  afterAll(async () => {
    await server?.stop()
    await Promise.all([inbox?.close(), google?.close(), linkedin?.close()])
  })

  const call = async (method: string, path: string, options: { key?: string; body?: unknown; headers?: Record<string, string> } = {}) => {
    const res = await server.call(method, `/api${path}`, options)
    const text = await res.text()
    return { status: res.status, headers: res.headers, body: (text ? JSON.parse(text) : null) as Json }
  }
  const bearer = (token: string) => ({ authorization: `Bearer ${token}` })

  /** The refresh cookie of an answer: 7 days, HttpOnly. */
  function refreshCookieOf(headers: Headers) {
    const cookie = parseSetCookie(headers.getSetCookie()).find((c) => c.name === 'op_refresh')
    expect(cookie, 'the refresh token cookie').toBeDefined()
    expect(cookie!.httpOnly).toBe(true)
    expect(cookie!.maxAge).toBeGreaterThan(7 * 86_400 - 60)
    expect(cookie!.maxAge).toBeLessThanOrEqual(7 * 86_400)
    return `op_refresh=${cookie!.value}`
  }
  /** A JWT of this server, checked by an independent library; its subject. */
  async function subjectOf(accessToken: string): Promise<string> {
    const { payload } = await jwtVerify(accessToken, new TextEncoder().encode(SIGNING_SECRET), {
      algorithms: ['HS256'],
      issuer: server.url,
      audience: 'partnerd',
    })
    return payload.sub!
  }

  describe('API keys (for /api/v1 integrations)', () => {
    it('mints ps_ keys shown once, taken as x-api-key or Bearer, stored as their SHA-256 only', async () => {
      const minted = await call('POST', '/api-keys', { key: server.adminKey, body: { name: 'Integration' } })
      expect(minted.status).toBe(201)
      const key = minted.body.key as string
      expect(key).toMatch(/^ps_/)
      expect((await call('GET', '/partners', { headers: { 'x-api-key': key } })).status).toBe(200)
      expect((await call('GET', '/partners', { headers: bearer(key) })).status).toBe(200)
      const listed = await call('GET', '/api-keys', { key: server.adminKey })
      expect(JSON.stringify(listed.body)).not.toContain(key)
      const row = await server.runtime.withTenant(tenantId, ({ db }) =>
        db.selectFrom('api_keys').selectAll().where('id', '=', minted.body.id).executeTakeFirstOrThrow(),
      )
      expect(row.key_hash).toBe(createHash('sha256').update(key).digest('hex'))
      expect(JSON.stringify(row)).not.toContain(key)
    })

    it('keeps several keys active, revokes one alone, and shows each one’s last use and expiry', async () => {
      const expiresAt = new Date(Date.now() + 30 * 86_400_000).toISOString()
      const first = (await call('POST', '/api-keys', { key: server.adminKey, body: { name: 'first', expiresAt } })).body
      const second = (await call('POST', '/api-keys', { key: server.adminKey, body: { name: 'second' } })).body
      expect((await call('GET', '/partners', { headers: { 'x-api-key': first.key } })).status).toBe(200)
      const listed = (await call('GET', '/api-keys', { key: server.adminKey })).body.apiKeys as Json[]
      const seen = listed.find((k) => k.id === first.id)
      expect(seen).toMatchObject({ expiresAt, lastUsedAt: expect.any(String) })
      expect(listed.find((k) => k.id === second.id)).toMatchObject({ expiresAt: null, lastUsedAt: null })

      expect((await call('DELETE', `/api-keys/${first.id}`, { key: server.adminKey })).status).toBe(200)
      expect((await call('GET', '/partners', { headers: { 'x-api-key': first.key } })).status).toBe(401)
      expect((await call('GET', '/partners', { headers: { 'x-api-key': second.key } })).status).toBe(200)
    })
  })

  describe('magic code and the dashboard’s JWT', () => {
    it('mails a 6-digit code for 10 minutes, and answers its verification with a JWT and a rotating 7-day refresh cookie', async () => {
      const started = await call('POST', '/auth/magic-code', { body: { email: 'henry@partnersmy.example' } })
      expect(started.status).toBe(202)
      const minutes = (Date.parse(started.body.expiresAt) - Date.now()) / 60_000
      expect(minutes).toBeGreaterThan(9)
      expect(minutes).toBeLessThanOrEqual(10)
      const code = codeOf((await inbox.next('henry@partnersmy.example')).text!)
      expect(code).toMatch(/^\d{6}$/)

      const verified = await call('POST', '/auth/magic-code/verify', { body: { attemptId: started.body.attemptId, code } })
      expect(verified.status).toBe(200)
      expect(verified.body.tokens).toMatchObject({ token_type: 'Bearer', access_token: expect.any(String), expires_in: expect.any(Number) })
      const userId = await subjectOf(verified.body.tokens.access_token)
      expect(verified.body.user).toMatchObject({ id: userId, email: 'henry@partnersmy.example' })
      let refresh = refreshCookieOf(verified.headers)

      // The JWT is the dashboard's credential.
      const me = await call('GET', '/me', { headers: bearer(verified.body.tokens.access_token) })
      expect(me.status).toBe(200)
      expect(me.body.principal).toMatchObject({ kind: 'user', id: userId, role: 'admin' })

      // "Refresh tokens rotate on every use — a new one invalidates the previous."
      const refreshed = await call('POST', '/auth/token/refresh', { headers: { cookie: refresh } })
      expect(refreshed.status).toBe(200)
      expect(await subjectOf(refreshed.body.tokens.access_token)).toBe(userId)
      const previous = refresh
      refresh = refreshCookieOf(refreshed.headers)
      expect(refresh).not.toBe(previous)
      expect((await call('POST', '/auth/token/refresh', { headers: { cookie: previous } })).status).toBe(401)

      // A code works once.
      expect((await call('POST', '/auth/magic-code/verify', { body: { attemptId: started.body.attemptId, code } })).status).toBe(401)
    })

    it('signs new accounts up with /api/auth/register-magic and /verify', async () => {
      const started = await call('POST', '/auth/register-magic', { body: { email: 'ivy@partnersmy.example', name: 'Ivy' } })
      expect(started.status).toBe(202)
      const code = codeOf((await inbox.next('ivy@partnersmy.example')).text!)
      const verified = await call('POST', '/auth/register-magic/verify', { body: { attemptId: started.body.attemptId, code } })
      expect(verified.status).toBe(200)
      expect(verified.body).toMatchObject({ user: { email: 'ivy@partnersmy.example' }, organization: { role: 'partner' } })
      refreshCookieOf(verified.headers)
      const me = await call('GET', '/me', { headers: bearer(verified.body.tokens.access_token) })
      expect(me.body.partner).toMatchObject({ email: 'ivy@partnersmy.example', name: 'Ivy' })
      expect(
        (await call('POST', '/auth/register-magic/verify', { body: { attemptId: started.body.attemptId, code: '000000' } })).status,
      ).toBe(401)
    })

    it('refuses a wrong code with 401 and sends no token', async () => {
      const started = await call('POST', '/auth/magic-code', { body: { email: 'henry@partnersmy.example' } })
      const code = codeOf((await inbox.next('henry@partnersmy.example')).text!)
      const wrong = String((Number(code) + 1) % 1_000_000).padStart(6, '0')
      const refused = await call('POST', '/auth/magic-code/verify', { body: { attemptId: started.body.attemptId, code: wrong } })
      expect(refused.status).toBe(401)
      expect(refused.body).toMatchObject({ error: 'invalid_code', detail: expect.any(String) })
      expect(refused.headers.getSetCookie()).toEqual([])
    })
  })

  describe('social OAuth: Google and LinkedIn', () => {
    /** The browser's walk from GET /api/auth/social/{provider} to the landing page; the refresh cookie it got. */
    async function social(idp: OidcHarness, provider: string, account: string) {
      idp.signInAs(account)
      const walk = await walkRedirects(`${server.url}/api/auth/social/${provider}`, (next) => next === `${server.url}/dashboard`)
      return { walk, refresh: walk.cookie(server.url, 'op_refresh'), landed: walk.at === `${server.url}/dashboard` }
    }
    /** The dashboard's first call after the redirect: the refresh cookie for a JWT. */
    async function jwtFrom(refresh: string) {
      const res = await call('POST', '/auth/token/refresh', { headers: { cookie: `op_refresh=${refresh}` } })
      expect(res.status, JSON.stringify(res.body)).toBe(200)
      return res.body.tokens.access_token as string
    }

    it('logs in with Google, linking the existing account by its verified email', async () => {
      const { refresh, landed, walk } = await social(google, 'google', 'grace')
      expect(landed, `stopped at ${walk.at} with ${walk.last.status}`).toBe(true)
      const token = await jwtFrom(refresh!)
      const me = await call('GET', '/me', { headers: bearer(token) })
      expect(me.body.principal).toMatchObject({ kind: 'user', role: 'admin' })
      const identities = await call('GET', '/auth/identities', { headers: bearer(token) })
      expect(identities.body.identities).toEqual([expect.objectContaining({ provider: 'google', email: 'grace@partnersmy.example' })])
    })

    it('does not link by an email the provider has not verified', async () => {
      const { refresh, walk } = await social(google, 'google', 'unverified')
      expect(refresh).toBeUndefined()
      expect(walk.last.status).toBe(403)
    })

    it('signs a new person up with LinkedIn (the secret in the token request’s body, no PKCE, no nonce in its ID token)', async () => {
      const { refresh, landed, walk } = await social(linkedin, 'linkedin', 'linda-li')
      expect(landed, `stopped at ${walk.at} with ${walk.last.status}: ${await walk.last.text()}`).toBe(true)
      const me = await call('GET', '/me', { headers: bearer(await jwtFrom(refresh!)) })
      expect(me.body).toMatchObject({ principal: { role: 'partner' }, partner: { email: 'linda@partnersmy.example' } })
    })

    it('unlinks a provider only while a password or another social account remains', async () => {
      const grace = await jwtFrom((await social(google, 'google', 'grace')).refresh!)
      // Google is grace's only way in.
      const last = await call('POST', '/auth/identities/google/unlink', { headers: bearer(grace) })
      expect(last.status).toBe(409)
      expect(last.body).toMatchObject({ error: 'last_sign_in_method' })
      // LinkedIn, by the same verified email, becomes her second.
      const viaLinkedIn = await social(linkedin, 'linkedin', 'grace-li')
      expect(viaLinkedIn.landed).toBe(true)
      expect((await call('POST', '/auth/identities/google/unlink', { headers: bearer(grace) })).status).toBe(204)
      const left = await call('GET', '/auth/identities', { headers: bearer(grace) })
      expect(left.body.identities.map((i: Json) => i.provider)).toEqual(['linkedin'])
      expect((await call('POST', '/auth/identities/linkedin/unlink', { headers: bearer(grace) })).status).toBe(409)
    })

    it('answers an unknown provider 404', async () => {
      const res = await call('GET', '/auth/social/myspace')
      expect(res.status).toBe(404)
      expect(res.body).toMatchObject({ error: 'unknown_provider' })
    })
  })
})
