/**
 * Partnero's authentication page (seeds/001), replayed against partnerd: every request carries an
 * API key as `Authorization: Bearer`, each key is scoped to one program, and the API uses the
 * key's program by itself ("If you manage multiple programs, create separate API keys for each
 * program"). Its error table: 401 for a wrong or expired key, 403 for a key without the permission.
 */
import { randomBytes } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { DIALECTS } from '../support/databases.ts'
import { startTestServer, type TestServer } from '../support/server.ts'
import { until } from '../support/until.ts'

type Json = any

describe.each(DIALECTS)('Partnero’s program keys on %s', (dialect) => {
  let server: TestServer
  const programs: Record<'shop' | 'saas', string> = { shop: '', saas: '' }

  /** The seed's example request: Accept JSON, the key as Bearer. */
  const partnero = async (key: string, method: string, path: string, body?: unknown) => {
    const res = await server.call(method, `/api${path}`, { key, body, headers: { accept: 'application/json' } })
    return { status: res.status, headers: res.headers, body: (await res.json()) as Json }
  }
  const admin = async (method: string, path: string, body?: unknown) => {
    const res = await partnero(server.adminKey, method, path, body)
    expect(res.status, `${method} ${path}: ${JSON.stringify(res.body)}`).toBeLessThan(300)
    return res.body
  }
  /** "Select your program, then go to Integration → API. Click Create API key": one key, one program. */
  const programKey = async (program: string, extra: Record<string, unknown> = {}) =>
    (await admin('POST', '/api-keys', { name: 'Production', programId: program, ...extra })).key as string

  beforeAll(async () => {
    server = await startTestServer(dialect)
    for (const name of ['shop', 'saas'] as const) {
      const program = await admin('POST', '/programs', { name, currency: 'USD', destinationUrl: `https://${name}.example.com/` })
      programs[name] = program.id
      const partner = await admin('POST', '/partners', { email: `${name}-partner@example.com` })
      await admin('POST', `/programs/${program.id}/enrolments`, { partnerId: partner.id })
    }
  })
  afterAll(() => server.stop())

  it('uses the key’s own program by itself: lists, reads and creates in it only', async () => {
    const key = await programKey(programs.shop)
    const listed = await partnero(key, 'GET', '/partners')
    expect(listed.status).toBe(200)
    expect(listed.body.partners.map((p: Json) => p.email)).toEqual(['shop-partner@example.com'])
    const own = await partnero(key, 'GET', '/programs')
    expect(own.body.programs.map((p: Json) => p.id)).toEqual([programs.shop])
    // Another program is not there for this key, whatever the request names.
    expect((await partnero(key, 'GET', `/programs/${programs.saas}`)).status).toBe(404)
    expect((await partnero(key, 'GET', `/partners?programId=${programs.saas}`)).status).toBe(404)
    // A partner the key creates joins the key's program, without naming it.
    const created = await partnero(key, 'POST', '/partners', { email: 'new-affiliate@example.com', name: 'New' })
    expect(created.status).toBe(201)
    const enrolled = await admin('GET', `/programs/${programs.shop}/enrolments`)
    expect(enrolled.enrolments.map((e: Json) => e.partnerId)).toContain(created.body.id)
    const elsewhere = await admin('GET', `/programs/${programs.saas}/enrolments`)
    expect(elsewhere.enrolments.map((e: Json) => e.partnerId)).not.toContain(created.body.id)
  })

  it('gives each program its own keys: the saas key sees saas only', async () => {
    const saas = await programKey(programs.saas)
    const listed = await partnero(saas, 'GET', '/partners')
    expect(listed.body.partners.map((p: Json) => p.email)).toEqual(['saas-partner@example.com'])
    const shop = await programKey(programs.shop)
    expect(shop).not.toBe(saas)
    expect((await partnero(shop, 'GET', `/programs/${programs.saas}`)).status).toBe(404)
  })

  it('answers 401 for a wrong, revoked or expired key, with the Bearer challenge', async () => {
    const wrong = await partnero(`op_live_${randomBytes(32).toString('base64url')}`, 'GET', '/partners')
    expect(wrong.status).toBe(401)
    expect(wrong.body).toMatchObject({ error: 'invalid_credentials', detail: expect.any(String) })
    expect(wrong.headers.get('www-authenticate')).toMatch(/^Bearer /)

    // "Periodically generate new API keys and revoke old ones."
    const old = await admin('POST', '/api-keys', { name: 'old', programId: programs.shop })
    expect((await partnero(old.key, 'GET', '/partners')).status).toBe(200)
    await admin('DELETE', `/api-keys/${old.id}`)
    expect((await partnero(old.key, 'GET', '/partners')).status).toBe(401)

    const expiring = await programKey(programs.shop, { expiresAt: new Date(Date.now() + 1500).toISOString() })
    expect((await partnero(expiring, 'GET', '/partners')).status).toBe(200)
    await until('the key to expire', async () => (await partnero(expiring, 'GET', '/partners')).status === 401, 15_000)
  })

  it('answers 403 for a key without the permission the request needs', async () => {
    const readOnly = await programKey(programs.shop, { scopes: ['partners:read'] })
    expect((await partnero(readOnly, 'GET', '/partners')).status).toBe(200)
    const refused = await partnero(readOnly, 'POST', '/partners', { email: 'nope@example.com' })
    expect(refused.status).toBe(403)
    expect(refused.body).toMatchObject({ error: 'forbidden_scope', required: 'partners:write' })
  })
})
