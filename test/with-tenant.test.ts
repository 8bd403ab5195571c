import { Database as Sqlite } from 'bun:sqlite'
import { sql } from 'kysely'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { listAudit, recordAudit } from '../src/audit/service.ts'
import { mintApiKey } from '../src/auth/api-keys/service.ts'
import { isoNow, readBool, readJson, writeJson } from '../src/db/codec.ts'
import { withoutDiskWait } from '../src/db/commit-durability.ts'
import { createDatabase } from '../src/db/database.ts'
import type { TenantScope } from '../src/db/with-tenant.ts'
import type { DomainEvent } from '../src/domain-events/bus.ts'
import { openRuntime, type Runtime } from '../src/runtime.ts'
import { ensureDefaultTenant, type Tenant } from '../src/tenants/service.ts'
import { DIALECTS, databaseSection, testConfig } from './support/databases.ts'
import { startTestServer, type TestServer } from './support/server.ts'

describe.each(DIALECTS)('withTenant on %s', (dialect) => {
  let runtime: Runtime
  let tenant: Tenant
  const heard: DomainEvent[] = []
  beforeAll(async () => {
    runtime = await openRuntime(await testConfig(dialect), { migrate: true })
    tenant = (await ensureDefaultTenant(runtime.database.db, runtime.bus, runtime.secrets)).tenant
    runtime.bus.subscribe('*', (e) => void heard.push(e))
  })
  afterAll(() => runtime.close())

  const keyNames = () => runtime.withTenant(tenant.id, (s) => s.db.selectFrom('api_keys').select('name').execute())

  it('a failure rolls back every write of the unit and publishes none of its events', async () => {
    await expect(
      runtime.withTenant(tenant.id, async (scope) => {
        await mintApiKey(scope, 'op_live_', { name: 'first' }, { id: 'test' })
        await mintApiKey(scope, 'op_live_', { name: 'second' }, { id: 'test' })
        throw new Error('something later failed')
      }),
    ).rejects.toThrow('something later failed')
    await new Promise((r) => setTimeout(r, 10))
    expect(await keyNames()).toEqual([])
    expect(heard).toEqual([])
  })

  it('commits without waiting for the disk only inside withoutDiskWait, and durably again after it', async () => {
    // What the transaction's commit will do: SQLite's synchronous level, PostgreSQL's synchronous_commit.
    const level = async (scope: TenantScope) =>
      dialect === 'sqlite'
        ? String((await sql<{ synchronous: number }>`pragma synchronous`.execute(scope.db)).rows[0]!.synchronous)
        : (await sql<{ synchronous_commit: string }>`show synchronous_commit`.execute(scope.db)).rows[0]!.synchronous_commit
    const [durable, relaxed] = dialect === 'sqlite' ? ['2', '1'] : ['on', 'off']
    expect(await runtime.withTenant(tenant.id, level)).toBe(durable)
    const written = await withoutDiskWait(() =>
      runtime.withTenant(tenant.id, async (scope) => {
        await recordAudit(scope, { type: 'test.bookkeeping' })
        return level(scope)
      }),
    )
    expect(written).toBe(relaxed)
    const kept = await runtime.withTenant(tenant.id, (scope) => listAudit(scope, { type: 'test.bookkeeping' }))
    expect(kept.items).toHaveLength(1)
    // A rollback puts the level back as a commit does.
    await expect(
      withoutDiskWait(() =>
        runtime.withTenant(tenant.id, async (scope) => {
          expect(await level(scope)).toBe(relaxed)
          throw new Error('rolled back')
        }),
      ),
    ).rejects.toThrow('rolled back')
    expect(await runtime.withTenant(tenant.id, level)).toBe(durable)
  })

  it('refuses to nest (on SQLite’s single connection it would deadlock)', async () => {
    await expect(runtime.withTenant(tenant.id, () => runtime.withTenant(tenant.id, async () => 1))).rejects.toThrow(/inside withTenant/)
  })

  it('runs a read-only unit, and refuses a write in it', async () => {
    const names = await runtime.withTenant(tenant.id, (s) => s.db.selectFrom('api_keys').select('name').execute(), { readOnly: true })
    expect(names).toEqual(await keyNames())
    await expect(
      runtime.withTenant(tenant.id, (scope) => mintApiKey(scope, 'op_live_', { name: 'read-only' }, { id: 'test' }), { readOnly: true }),
    ).rejects.toThrow(/read-only transaction|readonly database/)
    expect((await keyNames()).map((r) => r.name)).not.toContain('read-only')
    // The next unit writes again.
    await expect(
      runtime.withTenant(tenant.id, async (scope) => {
        await mintApiKey(scope, 'op_live_', { name: 'writable' }, { id: 'test' })
        throw new Error('written, then rolled back')
      }),
    ).rejects.toThrow('written, then rolled back')
  })

  it('refuses, rather than deadlocks, a query on the root handle inside a tenant transaction (SQLite)', async () => {
    const attempt = runtime.withTenant(tenant.id, () => runtime.database.db.selectFrom('users').selectAll().execute())
    if (dialect === 'sqlite') await expect(attempt).rejects.toThrow(/new database connection inside withTenant/)
    else await expect(attempt).resolves.toBeDefined() // PostgreSQL lends another pooled connection
  })

  it('reads booleans, JSON and text timestamps back the same from either driver', async () => {
    // The serving role may not create tables; the schema owner may.
    const owner = await createDatabase({
      database: runtime.config.database,
      sqlitePath: runtime.config.database.sqlite?.path,
      role: 'owner',
    })
    const { db } = owner
    await db.schema
      .createTable('codec_probe')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('flag', 'boolean', (c) => c.notNull())
      .addColumn('doc', dialect === 'postgres' ? 'jsonb' : 'text', (c) => c.notNull())
      .addColumn('at', 'text', (c) => c.notNull())
      .execute()
    const at = isoNow()
    const doc = { list: [1, 2], nested: { ok: true }, text: 'é' }
    await (db as any)
      .insertInto('codec_probe')
      .values({ id: 'a', flag: true, doc: writeJson(doc), at })
      .execute()
    await (db as any)
      .insertInto('codec_probe')
      .values({ id: 'b', flag: false, doc: writeJson([1, 'two']), at })
      .execute()
    const rows = await (db as any).selectFrom('codec_probe').selectAll().orderBy('id').execute()
    expect(rows.map((r: any) => [readBool(r.flag), readJson(r.doc), r.at])).toEqual([
      [true, doc, at],
      [false, [1, 'two'], at],
    ])
    await db.schema.dropTable('codec_probe').execute()
    await owner.close()
  })

  it('publishes events only once the transaction has committed', async () => {
    let seenInside = -1
    await runtime.withTenant(tenant.id, async (scope) => {
      await mintApiKey(scope, 'op_live_', { name: 'kept' }, { id: 'test' })
      seenInside = heard.length
    })
    await new Promise((r) => setTimeout(r, 10))
    expect(seenInside).toBe(0)
    expect(heard.map((e) => [e.type, e.tenantId])).toEqual([['api_key.created', tenant.id]])
    expect(JSON.stringify(heard[0]!.data)).not.toMatch(/op_live_[A-Za-z0-9_-]{43}/)
    expect((await keyNames()).map((r) => r.name)).toEqual(['kept'])
  })
})

describe('the SQLite write lock, held by another connection', () => {
  let server: TestServer
  let holder: Sqlite
  beforeAll(async () => {
    const { sqlite } = (await databaseSection('sqlite')) as { sqlite: Record<string, unknown> }
    server = await startTestServer('sqlite', { database: { sqlite: { ...sqlite, busy_timeout_ms: 1500 } } })
    const { location } = server.runtime.database
    if (!('sqlite' in location)) throw new Error('expected SQLite')
    holder = new Sqlite(location.sqlite.path)
    // The key's first use records it (a write): done here, so the reads below only read.
    expect((await listPartners()).status).toBe(200)
  })
  afterAll(async () => {
    if (holder.inTransaction) holder.exec('rollback')
    holder.close()
    await server.stop()
  })

  const listPartners = () => server.call('GET', '/api/partners', { key: server.adminKey })
  const createPartner = (email: string) => server.call('POST', '/api/partners', { key: server.adminKey, body: { email } })
  const emails = async () => ((await (await listPartners()).json()) as { partners: { email: string }[] }).partners.map((p) => p.email)

  it('is waited for without holding up the server, and a GET waits for none', async () => {
    holder.exec('begin immediate')
    try {
      expect(await emails()).toEqual([])
      let answered = false
      const write = createPartner('waited@example.com').finally(() => (answered = true))
      // SQLite's own wait would sleep on the serving thread: /health would be answered only once the
      // write had failed.
      await Bun.sleep(300)
      expect((await fetch(`${server.url}/health`)).status).toBe(200)
      expect(answered).toBe(false)
      holder.exec('commit')
      expect((await write).status).toBe(201)
    } finally {
      if (holder.inTransaction) holder.exec('rollback')
    }
    expect(await emails()).toEqual(['waited@example.com'])
  })

  it('answers 503 database_busy once busy_timeout_ms has passed, having written nothing', async () => {
    holder.exec('begin immediate')
    const asked = performance.now()
    let refused: Response
    try {
      refused = await createPartner('never@example.com')
    } finally {
      holder.exec('rollback')
    }
    expect(performance.now() - asked).toBeGreaterThanOrEqual(1400)
    expect(refused.status).toBe(503)
    expect(refused.headers.get('retry-after')).toBe('1')
    expect(await refused.json()).toMatchObject({ error: 'database_busy' })
    expect(await emails()).toEqual(['waited@example.com'])
  })
})
