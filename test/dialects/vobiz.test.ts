/**
 * Vobiz's Partner API authentication page (seeds/003), replayed against partnerd with the xauth and
 * jwt plugins: `X-Auth-ID` + `X-Auth-Token` on every request, partner credentials (`PA_…`) and
 * customer credentials (`MA_…`) each on their own paths, `GET /me` with the capability flags
 * (`can_create_accounts`, `can_transfer_balance`) and quotas, `POST /login` with the pair plus an
 * email and password for a temporary JWT, and its error table: 401 for a missing, malformed or
 * revoked pair, 403 for a valid pair on an operation it may not do, 404 for a wrong base path or
 * another partner's (here: another organization's) credentials.
 */
import { randomBytes } from 'node:crypto'
import { decodeJwt } from 'jose'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createTenant, type Tenant } from '../../src/tenants/service.ts'
import { addMembership, createUser } from '../../src/users/service.ts'
import { DIALECTS } from '../support/databases.ts'
import { startTestServer, type TestServer } from '../support/server.ts'

type Json = any
const PASSWORD = 'YourPassword123!'

describe.each(DIALECTS)('Vobiz’s X-Auth dialect on %s', (dialect) => {
  const adminKey = randomBytes(32).toString('hex')
  let server: TestServer
  let acme: Tenant
  const pairs: Record<string, { 'x-auth-id': string; 'x-auth-token': string }> = {}
  let partnerId: string

  const call = async (headers: Record<string, string>, method: string, path: string, body?: unknown, slug = 'acme') => {
    const res = await server.call(method, `/api/t/${slug}${path}`, { headers: { accept: 'application/json', ...headers }, body })
    const text = await res.text()
    return { status: res.status, body: (text ? JSON.parse(text) : null) as Json }
  }
  const admin = async (method: string, path: string, body?: unknown, slug = 'acme') => {
    const res = await call({ authorization: `Bearer ${adminKey}` }, method, path, body, slug)
    expect(res.status, `${method} ${path}: ${JSON.stringify(res.body)}`).toBeLessThan(300)
    return res.body
  }
  const issue = async (body: Record<string, unknown>, slug = 'acme') => {
    const issued = await admin('POST', '/xauth/credentials', { name: 'console', ...body }, slug)
    return { 'x-auth-id': issued.authId as string, 'x-auth-token': issued.authToken as string }
  }

  beforeAll(async () => {
    server = await startTestServer(dialect, {
      mode: 'multi',
      auth: { admin_api_keys: adminKey },
      plugins: [{ builtin: 'xauth' }, { builtin: 'jwt', config: { signing_secret: randomBytes(32).toString('hex') } }],
    })
    const { db } = server.runtime.database
    acme = await createTenant(db, server.runtime.bus, server.runtime.secrets, { slug: 'acme' })
    await createTenant(db, server.runtime.bus, server.runtime.secrets, { slug: 'globex' })
    partnerId = (await admin('POST', '/partners', { email: 'partner@example.com' })).id
    const other = (await admin('POST', '/partners', { email: 'other@example.com' })).id
    // The people who log in: the partner's portal user, another partner's, and a company member.
    for (const [email, role, partner] of [
      ['partner@example.com', 'partner', partnerId],
      ['other@example.com', 'partner', other],
      ['ops@example.com', 'admin', undefined],
    ] as const) {
      const user = await createUser(db, { email, password: PASSWORD })
      await server.runtime.withTenant(acme.id, (s) => addMembership(s, user.id, role, partner))
    }
    pairs.partner = await issue({ kind: 'partner', partnerId })
    pairs.customer = await issue({ kind: 'customer', scopes: ['partners:read', 'partners:write', 'payouts:manage'] })
    pairs.readOnly = await issue({ kind: 'customer', scopes: ['partners:read'] })
    const globexPartner = (await admin('POST', '/partners', { email: 'elsewhere@example.com' }, 'globex')).id
    pairs.foreign = await issue({ kind: 'partner', partnerId: globexPartner }, 'globex')
  })
  afterAll(() => server.stop())

  it('answers GET /me for partner credentials with the capability flags and quotas', async () => {
    const me = await call(pairs.partner!, 'GET', '/me')
    expect(me.status).toBe(200)
    expect(me.body).toMatchObject({
      principal: { id: pairs.partner!['x-auth-id'], partnerId },
      capabilities: { can_create_accounts: false, can_transfer_balance: false },
      quotas: { api_keys: { used: 0, limit: expect.any(Number) }, links: { used: 0, limit: expect.any(Number) } },
    })
    const customer = await call(pairs.customer!, 'GET', '/me')
    expect(customer.body.capabilities).toMatchObject({ can_create_accounts: true, can_transfer_balance: true })
    const readOnly = await call(pairs.readOnly!, 'GET', '/me')
    expect(readOnly.body.capabilities).toMatchObject({ can_create_accounts: false, can_transfer_balance: false })
  })

  it('answers 401 for a missing, malformed or revoked pair', async () => {
    const { 'x-auth-id': authId, 'x-auth-token': token } = pairs.readOnly!
    const cases: [string, Record<string, string>][] = [
      ['no headers', {}],
      ['X-Auth-ID alone', { 'x-auth-id': authId }],
      ['X-Auth-Token alone', { 'x-auth-token': token }],
      ['a malformed id', { 'x-auth-id': 'PA_lowercase', 'x-auth-token': token }],
      ['the wrong token', { 'x-auth-id': authId, 'x-auth-token': randomBytes(32).toString('base64url') }],
      ['another pair’s token', { 'x-auth-id': authId, 'x-auth-token': pairs.customer!['x-auth-token'] }],
    ]
    for (const [what, headers] of cases) {
      const res = await call(headers, 'GET', '/partners')
      expect(res.status, what).toBe(401)
      expect(res.body).toMatchObject({ error: expect.any(String), detail: expect.any(String) })
    }
    const rotated = await issue({ kind: 'customer', scopes: ['partners:read'] })
    expect((await call(rotated, 'GET', '/partners')).status).toBe(200)
    await admin('POST', `/xauth/credentials/${rotated['x-auth-id']}/revoke`)
    expect((await call(rotated, 'GET', '/partners')).status).toBe(401)
  })

  it('answers 403 for valid credentials on an operation they may not do', async () => {
    // Customer credentials on the partner's paths.
    const customerOnPartner = await call(pairs.customer!, 'GET', '/me/links')
    expect(customerOnPartner.status).toBe(403)
    expect(customerOnPartner.body).toMatchObject({ error: 'wrong_credentials' })
    // Partner credentials on the company's paths.
    expect((await call(pairs.partner!, 'GET', '/partners')).status).toBe(403)
    // can_create_accounts / can_transfer_balance false: creating and paying are refused.
    const create = await call(pairs.readOnly!, 'POST', '/partners', { name: 'Acme Corp', email: 'admin@acme.com' })
    expect(create.status).toBe(403)
    expect(create.body).toMatchObject({ error: 'forbidden_scope', required: 'partners:write' })
    expect((await call(pairs.readOnly!, 'POST', '/payouts/run', {})).status).toBe(403)
    // With the flags true, the same calls go through.
    expect((await call(pairs.customer!, 'POST', '/partners', { name: 'Acme Corp', email: 'admin@acme.com' })).status).toBe(201)
  })

  it('answers 404 for a wrong base path and for credentials of another organization', async () => {
    for (const path of ['/partner/v1/me', '/api/t/acme/v1/partner/me']) {
      const res = await server.call('GET', path, { headers: pairs.partner! })
      expect(res.status, path).toBe(404)
    }
    const foreign = await call(pairs.foreign!, 'GET', '/me')
    expect(foreign.status).toBe(404)
    expect(foreign.body).toMatchObject({ error: 'tenant_not_found' })
  })

  it('exchanges the pair plus email and password at POST /login for a temporary JWT', async () => {
    expect((await admin('GET', `/partners/${partnerId}`)).activatedAt).toBeNull()
    const login = await call(pairs.partner!, 'POST', '/login', { email: 'partner@example.com', password: PASSWORD })
    expect(login.status).toBe(200)
    // Signing in, whichever way, is the partner taking up its access.
    expect((await admin('GET', `/partners/${partnerId}`)).activatedAt).toEqual(expect.any(String))
    expect(login.body).toEqual({ tokens: { access_token: expect.any(String), token_type: 'Bearer', expires_in: expect.any(Number) } })
    const { exp, iat } = decodeJwt(login.body.tokens.access_token)
    expect(exp! - iat!).toBe(login.body.tokens.expires_in) // it expires after the period it says
    const me = await call({ authorization: `Bearer ${login.body.tokens.access_token}` }, 'GET', '/me')
    expect(me.status).toBe(200)
    expect(me.body.principal).toMatchObject({ kind: 'user', role: 'partner', partnerId })
    // The company's own people log in with a customer pair.
    const ops = await call(pairs.customer!, 'POST', '/login', { email: 'ops@example.com', password: PASSWORD })
    expect(ops.status).toBe(200)
  })

  it('refuses a login with the wrong password, without the pair, or with a pair that is not the person’s', async () => {
    const refusals: [string, Record<string, string>, { email: string; password: string }][] = [
      ['wrong password', pairs.partner!, { email: 'partner@example.com', password: 'not it' }],
      ['no pair', {}, { email: 'partner@example.com', password: PASSWORD }],
      ['another partner’s person', pairs.partner!, { email: 'other@example.com', password: PASSWORD }],
      ['a member with a partner pair', pairs.partner!, { email: 'ops@example.com', password: PASSWORD }],
      ['a partner with a customer pair', pairs.customer!, { email: 'partner@example.com', password: PASSWORD }],
    ]
    for (const [what, headers, body] of refusals) {
      const res = await call(headers, 'POST', '/login', body)
      expect(res.status, what).toBe(401)
      expect(res.body, what).toMatchObject({
        error: 'invalid_credentials',
        message: 'The email or password you provided is incorrect.',
        detail: expect.any(String),
      })
    }
    expect((await call(pairs.partner!, 'POST', '/login', { email: 'partner@example.com' })).status).toBe(400)
  })

  it('says the JWT login is not there when no plugin issues tokens, before trying any password', async () => {
    const plain = await startTestServer(dialect, { plugins: [{ builtin: 'xauth' }] })
    try {
      const res = await plain.call('POST', '/api/login', { body: { email: 'partner@example.com', password: PASSWORD } })
      expect(res.status).toBe(404)
      expect(await res.json()).toMatchObject({ error: 'tokens_unavailable', detail: expect.any(String) })
    } finally {
      await plain.stop()
    }
  })
})
