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
