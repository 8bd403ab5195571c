import { randomBytes } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { DomainEvent } from '../src/domain-events/bus.ts'
import { createTenant } from '../src/tenants/service.ts'
import { DIALECTS } from './support/databases.ts'
import { startTestServer, type TestServer } from './support/server.ts'

describe.each(DIALECTS)('partners on %s', (dialect) => {
  const adminKey = randomBytes(32).toString('hex')
  let server: TestServer
  let writer: string
  let reader: string
  const events: DomainEvent[] = []
  const base = '/api/t/acme'

  beforeAll(async () => {
    server = await startTestServer(dialect, { mode: 'multi', auth: { admin_api_keys: adminKey } })
    const { db } = server.runtime.database
    await createTenant(db, server.runtime.bus, server.runtime.secrets, { slug: 'acme' })
    await createTenant(db, server.runtime.bus, server.runtime.secrets, { slug: 'globex' })
    server.runtime.bus.subscribe('*', (e) => void events.push(e))
    const mint = async (scopes: string[]) =>
      (await (await server.call('POST', `${base}/api-keys`, { key: adminKey, body: { name: scopes.join(), scopes } })).json()).key as string
    writer = await mint(['partners:write', 'partners:read'])
    reader = await mint(['partners:read'])
  })
  afterAll(() => server.stop())

  const create = (body: unknown, key = writer, at = base) => server.call('POST', `${at}/partners`, { key, body })

  it('creates a partner with a bare ULID and a lower-cased email; a second with that email is 409 email_taken', async () => {
    const res = await create({ email: ' Ada@Example.COM ', name: 'Ada', metadata: { crmId: 'hs-1' } })
    expect(res.status).toBe(201)
    const partner = await res.json()
    expect(partner).toMatchObject({ email: 'ada@example.com', name: 'Ada', status: 'active', metadata: { crmId: 'hs-1' }, revokedAt: null })
    expect(partner.id).toMatch(/^[0-9A-HJKMNP-TV-Z]{26}$/)
    const dup = await create({ email: 'ADA@example.com' })
    expect(dup.status).toBe(409)
    expect(await dup.json()).toMatchObject({ error: 'email_taken' })
    expect((await create({ email: 'ada@example.com' }, adminKey, '/api/t/globex')).status).toBe(201) // per tenant
    await new Promise((r) => setTimeout(r, 10))
    expect(events.filter((e) => e.type === 'partner.created').map((e) => (e.data as { email: string }).email)).toContain('ada@example.com')
  })

  it('refuses bad input with a 4xx and writes nothing', async () => {
    const cases: [unknown, number, string][] = [
      [{ email: 'not an email' }, 400, 'invalid_email'],
      [{ email: 'x@example.com', role: 'admin' }, 400, 'invalid_request'],
      [{ email: 'x@example.com', metadata: { blob: 'x'.repeat(20_000) } }, 400, 'metadata_too_large'],
      [{ email: 'x@example.com', metadata: ['not', 'an', 'object'] }, 400, 'invalid_request'],
      [{}, 400, 'invalid_request'],
    ]
    for (const [body, status, error] of cases) {
      const res = await create(body)
      expect(res.status, JSON.stringify(body).slice(0, 60)).toBe(status)
      expect((await res.json()).error).toBe(error)
    }
    const found = await (await server.call('GET', `${base}/partners?email=x@example.com`, { key: reader })).json()
    expect(found.partners).toEqual([])
  })

  it('lists with a cursor and filters by email and status', async () => {
    for (const name of ['b', 'c', 'd']) expect((await create({ email: `${name}@example.com` })).status).toBe(201)
    const seen: string[] = []
    let cursor: string | null = null
    do {
      const page: { partners: { email: string }[]; nextCursor: string | null } = await (
        await server.call('GET', `${base}/partners?limit=2${cursor ? `&cursor=${cursor}` : ''}`, { key: reader })
      ).json()
      seen.push(...page.partners.map((p) => p.email))
      cursor = page.nextCursor
    } while (cursor)
    expect(seen).toEqual(['ada@example.com', 'b@example.com', 'c@example.com', 'd@example.com'])
    const byEmail = await (await server.call('GET', `${base}/partners?email=C@Example.com`, { key: reader })).json()
    expect(byEmail.partners.map((p: { email: string }) => p.email)).toEqual(['c@example.com'])
  })

  it('updates, revokes and reinstates, raising each event once', async () => {
    const partner = await (await create({ email: 'e@example.com' })).json()
    const patched = await server.call('PATCH', `${base}/partners/${partner.id}`, {
      key: writer,
      body: { name: 'Eve', metadata: { tier: 2 } },
    })
    const patchedBody = await patched.json()
    expect(patchedBody, JSON.stringify(patchedBody)).toMatchObject({ name: 'Eve', metadata: { tier: 2 }, email: 'e@example.com' })
    expect((await server.call('PATCH', `${base}/partners/${partner.id}`, { key: writer, body: { email: 'b@example.com' } })).status).toBe(
      409,
    )
    const revoked = await (await server.call('POST', `${base}/partners/${partner.id}/revoke`, { key: writer })).json()
    expect(revoked).toMatchObject({ status: 'revoked', revokedAt: expect.any(String) })
    await server.call('POST', `${base}/partners/${partner.id}/revoke`, { key: writer })
    const onlyRevoked = await (await server.call('GET', `${base}/partners?status=revoked`, { key: reader })).json()
    expect(onlyRevoked.partners.map((p: { id: string }) => p.id)).toEqual([partner.id])
    const back = await (await server.call('POST', `${base}/partners/${partner.id}/reinstate`, { key: writer })).json()
    expect(back).toMatchObject({ status: 'active', revokedAt: null })
    await new Promise((r) => setTimeout(r, 10))
    const mine = events.filter((e) => (e.data as { id?: string }).id === partner.id).map((e) => e.type)
    expect(mine).toEqual(['partner.created', 'partner.revoked', 'partner.activated'])
  })

  it('keeps scopes and tenants apart: read keys cannot write, other tenants see 404', async () => {
    const denied = await create({ email: 'f@example.com' }, reader)
    expect(denied.status).toBe(403)
    expect(await denied.json()).toMatchObject({ error: 'forbidden_scope' })
    const acmePartner = (await (await server.call('GET', `${base}/partners?email=ada@example.com`, { key: reader })).json()).partners[0]
    expect((await server.call('GET', `/api/t/globex/partners/${acmePartner.id}`, { key: adminKey })).status).toBe(404)
    expect((await server.call('POST', `/api/t/globex/partners/${acmePartner.id}/revoke`, { key: adminKey })).status).toBe(404)
    expect((await server.call('GET', `${base}/partners/01HZZZZZZZZZZZZZZZZZZZZZZZ`, { key: reader })).status).toBe(404)
  })
})
