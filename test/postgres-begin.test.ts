/**
 * On PostgreSQL a tenant transaction sets its tenant with its BEGIN, in one message
 * (db/postgres-dialect.ts): one round trip, not two. The setting holds for that transaction alone,
 * row-level security reads it, and a value is written as a literal that nothing in it can break.
 */
import { sql } from 'kysely'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { withoutDiskWait } from '../src/db/commit-durability.ts'
import { beginningWith } from '../src/db/postgres-dialect.ts'
import { openRuntime, type Runtime } from '../src/runtime.ts'
import { ensureDefaultTenant, type Tenant } from '../src/tenants/service.ts'
import { testConfig } from './support/databases.ts'
import { pgQueriesDuring } from './support/pg-queries.ts'

describe('a PostgreSQL transaction begun with its settings', () => {
  let runtime: Runtime
  let tenant: Tenant
  beforeAll(async () => {
    runtime = await openRuntime(await testConfig('postgres'), { migrate: true })
    tenant = (await ensureDefaultTenant(runtime.database.db, runtime.bus, runtime.secrets)).tenant
  })
  afterAll(() => runtime.close())

  it('sets the tenant in the message that begins it, and row-level security sees it', async () => {
    const { result, queries } = await pgQueriesDuring(() =>
      runtime.withTenant(tenant.id, async (scope) => {
        const setting = await sql<{ id: string }>`select current_setting('app.tenant_id', true) as id`.execute(scope.db)
        const tenants = await scope.db.selectFrom('tenants').select('id').execute()
        return { setting: setting.rows[0]!.id, tenants: tenants.map((t) => t.id) }
      }),
    )
    expect(result).toEqual({ setting: tenant.id, tenants: [tenant.id] })
    expect(queries[0]).toBe(`begin; select set_config('app.tenant_id', '${tenant.id}', true)`)
    expect(queries.filter((q) => q.includes('set_config'))).toHaveLength(1)
    // For that transaction alone: the next statement on the pool has no tenant.
    const after = await sql<{ id: string | null }>`select current_setting('app.tenant_id', true) as id`.execute(runtime.database.db)
    expect(after.rows[0]!.id || null).toBeNull()
  })

  it('writes a value as a literal: quotes and semicolons are part of it', async () => {
    const value = "x'; select 1; --"
    const seen = await beginningWith({ 'app.probe': value }, (applied) =>
      runtime.database.db.transaction().execute(async (trx) => {
        expect(applied()).toBe(true)
        return (await sql<{ v: string }>`select current_setting('app.probe', true) as v`.execute(trx)).rows[0]!.v
      }),
    )
    expect(seen).toBe(value)
  })

  it('leaves a value it cannot write (a NUL) to the caller, and still begins with the rest', async () => {
    const { queries } = await pgQueriesDuring(() =>
      withoutDiskWait(() =>
        beginningWith({ 'app.probe': 'a\0b' }, (applied) =>
          runtime.database.db.transaction().execute(async () => {
            expect(applied()).toBe(false)
          }),
        ),
      ),
    )
    expect(queries[0]).toBe('begin; set local synchronous_commit = off')
  })
})
