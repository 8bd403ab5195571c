import { randomBytes } from 'node:crypto'
import { sql } from 'kysely'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { mintApiKey } from '../src/auth/api-keys/service.ts'
import { openRuntime, type Runtime } from '../src/runtime.ts'
import { createTenant, type Tenant } from '../src/tenants/service.ts'
import { DIALECTS, freshPostgresDatabase, testConfig } from './support/databases.ts'
import { startTestServer, type TestServer } from './support/server.ts'

describe('tenant isolation on PostgreSQL (row-level security, as the serving role)', () => {
  let runtime: Runtime
  let acme: Tenant
  let globex: Tenant

  beforeAll(async () => {
    runtime = await openRuntime(await testConfig('postgres', { mode: 'multi' }), { migrate: true })
    acme = await createTenant(runtime.database.db, runtime.bus, runtime.secrets, { slug: 'acme' })
    globex = await createTenant(runtime.database.db, runtime.bus, runtime.secrets, { slug: 'globex' })
    for (const tenant of [acme, globex, acme]) {
      await runtime.withTenant(tenant.id, (scope) => mintApiKey(scope, 'op_live_', { name: `${tenant.slug} key` }, { id: 'test' }))
    }
  })
  afterAll(() => runtime.close())

  it('serves as a role that is neither superuser nor BYPASSRLS', async () => {
    const { rows } = await sql<{ rolsuper: boolean; rolbypassrls: boolean }>`
      select rolsuper, rolbypassrls from pg_roles where rolname = current_user`.execute(runtime.database.db)
    expect(rows[0]).toEqual({ rolsuper: false, rolbypassrls: false })
  })

  it('a query that forgets its tenant filter still sees only its own tenant', async () => {
    const seen = await runtime.withTenant(acme.id, (scope) => scope.db.selectFrom('api_keys').select(['tenant_id', 'name']).execute())
    expect(seen).toHaveLength(2)
    expect(new Set(seen.map((r) => r.tenant_id))).toEqual(new Set([acme.id]))
    const other = await runtime.withTenant(globex.id, (scope) => scope.db.selectFrom('api_keys').select('tenant_id').execute())
    expect(other.map((r) => r.tenant_id)).toEqual([globex.id])
  })

  it('fails closed with no tenant set, and the setting does not leak to the next user of a pooled connection', async () => {
    const outside = await runtime.database.db.selectFrom('api_keys').selectAll().execute()
    expect(outside).toEqual([])
    // Run many tenant transactions, then plain queries: none may inherit a tenant.
    await Promise.all(
      Array.from({ length: 8 }, () => runtime.withTenant(acme.id, (s) => s.db.selectFrom('api_keys').selectAll().execute())),
    )
    const after = await Promise.all(Array.from({ length: 8 }, () => runtime.database.db.selectFrom('api_keys').selectAll().execute()))
    expect(after.flat()).toEqual([])
  })

  it('refuses to write or change another tenant’s rows', async () => {
    const now = new Date().toISOString()
    const foreignRow = { id: 'key_forged', tenant_id: globex.id, name: 'x', start: 'x', key_hash: 'x', scopes: '["*"]', created_at: now }
    await expect(runtime.withTenant(acme.id, (scope) => scope.db.insertInto('api_keys').values(foreignRow).execute())).rejects.toThrow(
      /row-level security/,
    )
    const updated = await runtime.withTenant(acme.id, (scope) =>
      scope.db.updateTable('api_keys').set({ name: 'hijacked' }).where('tenant_id', '=', globex.id).executeTakeFirst(),
    )
    expect(Number(updated.numUpdatedRows)).toBe(0)
    const names = await runtime.withTenant(globex.id, (scope) => scope.db.selectFrom('api_keys').select('name').execute())
    expect(names.map((r) => r.name)).toEqual(['globex key'])
  })

  /** Tables with a tenant_id that are deliberately readable across tenants, and why. Adding one is a decision. */
  const CROSS_TENANT = new Map([['api_key_index', 'key digest → tenant, so a foreign key is answered 404; holds no tenant data']])

  it('every tenant-owned table has row-level security enabled and forced', async () => {
    const { rows } = await sql<{ table_name: string; relrowsecurity: boolean; relforcerowsecurity: boolean }>`
      select c.table_name, k.relrowsecurity, k.relforcerowsecurity
      from information_schema.columns c join pg_class k on k.relname = c.table_name
      where c.table_schema = current_schema() and c.column_name = 'tenant_id'`.execute(runtime.database.db)
    expect(rows.length).toBeGreaterThan(0)
    for (const row of rows.filter((r) => !CROSS_TENANT.has(r.table_name))) {
      expect(row, row.table_name).toMatchObject({ relrowsecurity: true, relforcerowsecurity: true })
    }
  })

  it('multi mode refuses to serve as a superuser, naming the key', async () => {
    const { ownerUrl } = await freshPostgresDatabase()
    const loaded = await testConfig('postgres', { mode: 'multi', database: { postgres: { url: ownerUrl } } })
    await expect(openRuntime(loaded, { migrate: true })).rejects.toThrow(/database\.postgres\.url: role postgres is a superuser/)
    expect(inject('pgAdminUrl')).toContain('postgres')
  })
})

describe.each(DIALECTS)('multi-tenant routing on %s', (dialect) => {
  const adminKey = randomBytes(32).toString('hex')
  let server: TestServer
  beforeAll(async () => {
    server = await startTestServer(dialect, { mode: 'multi', auth: { admin_api_keys: adminKey } })
    const { db } = server.runtime.database
    await createTenant(db, server.runtime.bus, server.runtime.secrets, { slug: 'acme' })
    await createTenant(db, server.runtime.bus, server.runtime.secrets, { slug: 'globex' })
  })
  afterAll(() => server.stop())

  it('answers a slug-less /api call 400 tenant_slug_missing and an unknown slug 404', async () => {
    const missing = await server.call('GET', '/api/tenant', { key: adminKey })
    expect(missing.status).toBe(400)
    expect(await missing.json()).toMatchObject({ error: 'tenant_slug_missing' })
    const unknown = await server.call('GET', '/api/t/nope/tenant', { key: adminKey })
    expect(unknown.status).toBe(404)
    expect(await unknown.json()).toMatchObject({ error: 'tenant_not_found' })
    const unknownRoute = await server.call('GET', '/api/t/acme/nothing-here', { key: adminKey })
    expect(unknownRoute.status).toBe(404)
  })

  it('the admin key reaches every tenant; a tenant key only its own', async () => {
    for (const slug of ['acme', 'globex']) {
      const res = await server.call('GET', `/api/t/${slug}/tenant`, { key: adminKey })
      expect(res.status).toBe(200)
      expect(await res.json()).toMatchObject({ slug, principal: { kind: 'admin' } })
    }
    const minted = await (await server.call('POST', '/api/t/acme/api-keys', { key: adminKey, body: { name: 'acme admin' } })).json()
    expect((await server.call('GET', '/api/t/acme/tenant', { key: minted.key })).status).toBe(200)
    const foreign = await server.call('GET', '/api/t/globex/tenant', { key: minted.key })
    expect(foreign.status).toBe(404) // another tenant's credential, answered as its resources are
    expect(await foreign.json()).toMatchObject({ error: 'tenant_not_found' })
    const globexKeys = await (await server.call('GET', '/api/t/globex/api-keys', { key: adminKey })).json()
    expect(globexKeys.apiKeys.map((k: { id: string }) => k.id)).not.toContain(minted.id)
  })
})
