import { readdirSync } from 'node:fs'
import { sql } from 'kysely'
import { afterEach, describe, expect, it } from 'vitest'
import { coreMigrations } from '../migrations/index.ts'
import { createDatabase, type Database } from '../src/db/database.ts'
import { assertSchemaCurrent, coreMigrationSet, migrate, schemaStatus } from '../src/db/migrate.ts'
import { openRuntime } from '../src/runtime.ts'
import { DIALECTS, databaseSection, testConfig } from './support/databases.ts'

describe('migrations/index.ts', () => {
  it('lists every migration file in the folder (a compiled binary cannot read the folder)', () => {
    const files = readdirSync(new URL('../migrations/', import.meta.url))
      .filter((f) => /^\d{4}_.+\.ts$/.test(f))
      .map((f) => f.replace(/\.ts$/, ''))
    expect(files.length).toBeGreaterThan(0)
    expect(Object.keys(coreMigrations).sort()).toEqual(files.sort())
  })
})

describe.each(DIALECTS)('migrations on %s', (dialect) => {
  let open: Database[] = []
  afterEach(async () => {
    await Promise.all(open.map((d) => d.close()))
    open = []
  })

  async function ownerDatabase(): Promise<Database> {
    const section = (await databaseSection(dialect)) as any
    const database = await createDatabase({
      database: { ...section, auto_migrate: true, ...(section.postgres ? { postgres: { ...section.postgres, pool_size: 2 } } : {}) },
      role: 'owner',
    })
    open.push(database)
    return database
  }

  it('applies the core set once; a second run applies nothing', async () => {
    const database = await ownerDatabase()
    expect(await migrate(database, [coreMigrationSet])).toEqual(Object.keys(coreMigrations).map((n) => `core/${n}`))
    expect(await migrate(database, [coreMigrationSet])).toEqual([])
    expect(await schemaStatus(database, coreMigrationSet)).toEqual({ pending: [], unknown: [] })
    await expect(assertSchemaCurrent(database, [coreMigrationSet])).resolves.toBeUndefined()
  })

  it('rolls a failing batch back whole: no half-created tables', async () => {
    const database = await ownerDatabase()
    const broken = {
      owner: 'broken',
      migrations: {
        '0001_ok': { up: async (db: any) => void (await db.schema.createTable('first_table').addColumn('id', 'text').execute()) },
        '0002_fails': {
          up: async (db: any) => {
            await db.schema.createTable('second_table').addColumn('id', 'text').execute()
            await sql`select * from no_such_table`.execute(db)
          },
        },
      },
    }
    await expect(migrate(database, [broken])).rejects.toThrow(/broken migration 0002_fails failed, nothing of it was applied/)
    const tables = (await database.db.introspection.getTables()).map((t) => t.name)
    expect(tables).not.toContain('first_table')
    expect(tables).not.toContain('second_table')
  })

  it('counts the clicks stored before click_counts, by quarter hour, per partner and per program, and drops the indexes it replaces', async () => {
    const database = await ownerDatabase()
    const names = Object.keys(coreMigrations)
    const before = names.slice(0, names.indexOf('0011_click_counts'))
    await migrate(database, [{ owner: 'core', migrations: Object.fromEntries(before.map((n) => [n, coreMigrations[n]!])) }])
    const db = database.db as any
    await db
      .insertInto('tenants')
      .values({ id: 'ten_counted', slug: 'counted', name: 'Counted', created_at: '2026-01-01T00:00:00.000Z' })
      .execute()
    const click = (id: string, partner: string, at: string, flag: string | null = null) => ({
      id,
      tenant_id: 'ten_counted',
      link_id: null,
      partner_id: partner,
      program_id: 'prg_counted',
      source: 'link',
      ip_hash: null,
      user_agent: null,
      referer: null,
      sub_source: null,
      flag,
      created_at: at,
    })
    await db.transaction().execute(async (trx: any) => {
      if (dialect === 'postgres') await sql`select set_config('app.tenant_id', 'ten_counted', true)`.execute(trx)
      await trx
        .insertInto('clicks')
        .values([
          click('clk_1', 'ptn_a', '2026-01-01T10:00:00.000Z'),
          click('clk_2', 'ptn_a', '2026-01-01T10:14:59.999Z', 'velocity'),
          click('clk_3', 'ptn_a', '2026-01-01T10:15:00.000Z'),
          click('clk_4', 'ptn_b', '2026-01-01T10:01:00.000Z'),
        ])
        .execute()
    })

    const applied = await migrate(database, [coreMigrationSet])
    expect(applied.slice(0, 2)).toEqual(['core/0011_click_counts', 'core/0012_program_click_totals'])
    expect(applied).toEqual(names.slice(names.indexOf('0011_click_counts')).map((n) => `core/${n}`))
    const counts = await db.transaction().execute(async (trx: any) => {
      if (dialect === 'postgres') await sql`select set_config('app.tenant_id', 'ten_counted', true)`.execute(trx)
      return trx.selectFrom('click_counts').selectAll().orderBy('partner_id').orderBy('period_start').execute()
    })
    expect(counts.map((c: any) => [c.partner_id, c.period_start, Number(c.clicks), Number(c.flagged)])).toEqual([
      // The program's totals (0012), then each partner's counts (0011).
      ['', '2026-01-01T10:00:00.000Z', 3, 1],
      ['', '2026-01-01T10:15:00.000Z', 1, 0],
      ['ptn_a', '2026-01-01T10:00:00.000Z', 2, 1],
      ['ptn_a', '2026-01-01T10:15:00.000Z', 1, 0],
      ['ptn_b', '2026-01-01T10:00:00.000Z', 1, 0],
    ])
    const clickIndexes = (await db.introspection.getTables()).find((t: any) => t.name === 'clicks')
    expect(clickIndexes).toBeDefined()
    const indexNames =
      dialect === 'postgres'
        ? (await sql<{ indexname: string }>`select indexname from pg_indexes where tablename = 'clicks'`.execute(db)).rows.map(
            (r) => r.indexname,
          )
        : (await sql<{ name: string }>`select name from sqlite_master where type = 'index' and tbl_name = 'clicks'`.execute(db)).rows.map(
            (r) => r.name,
          )
    expect(indexNames.filter((n) => n.startsWith('clicks_tenant_'))).toEqual([])
    const countIndexes =
      dialect === 'postgres'
        ? (await sql<{ name: string }>`select indexname as name from pg_indexes where tablename = 'click_counts'`.execute(db)).rows
        : (await sql<{ name: string }>`select name from sqlite_master where type = 'index' and tbl_name = 'click_counts'`.execute(db)).rows
    expect(countIndexes.map((r) => r.name)).not.toContain('click_counts_tenant_program')
  })

  it('refuses to start against a schema newer than itself, and on pending migrations when auto_migrate is off', async () => {
    const loaded = await testConfig(dialect)
    const runtime = await openRuntime(loaded, { migrate: true })
    await sql`insert into partnerd_migrations (name, timestamp) values ('9999_from_the_future', '2030-01-01')`
      .execute(runtime.database.db)
      .catch(async () => {
        // On PostgreSQL the serving role may only read the history; write it as the owner.
        const owner = await createDatabase({ database: loaded.config.database, role: 'owner' })
        await sql`insert into partnerd_migrations (name, timestamp) values ('9999_from_the_future', '2030-01-01')`.execute(owner.db)
        await owner.close()
      })
    await runtime.close()
    await expect(openRuntime(loaded, { migrate: true })).rejects.toThrow(
      /newer than this partnerd \(it has migration 9999_from_the_future\)/,
    )
    await expect(openRuntime(loaded, { migrate: false })).rejects.toThrow(/newer than this partnerd/)

    const fresh = await testConfig(dialect)
    await expect(openRuntime(fresh, { migrate: false })).rejects.toThrow(/core migration\(s\) pending .*run `partnerd migrate`/)
  })
})
