/**
 * SQLite's planner statistics, kept by a running server (db/planner-statistics.ts): a server started
 * on a database with rows in it gets them, and a lookup of many ids within a tenant then takes each
 * id from the primary key instead of walking the tenant's index over all its rows. Opening the
 * database without serving (the command line) leaves the file as it was.
 */
import { sql } from 'kysely'
import { describe, expect, it } from 'vitest'
import { openRuntime } from '../src/runtime.ts'
import { startServer } from '../src/server.ts'
import { ensureDefaultTenant } from '../src/tenants/service.ts'
import { createEndpoint } from '../src/webhooks/endpoints.ts'
import { testConfig } from './support/databases.ts'

describe('SQLite planner statistics', () => {
  it('are made when a server starts, and a lookup of many ids in a tenant then uses the primary key', async () => {
    const config = await testConfig('sqlite')
    const first = await openRuntime(config, { migrate: true })
    const { tenant } = await ensureDefaultTenant(first.database.db, first.bus, first.secrets)
    // A webhook outbox with a history: its only tenant index leads with tenant_id, then endpoint_id.
    await first.withTenant(tenant.id, async (scope) => {
      const endpoint = await createEndpoint(scope, { url: 'http://127.0.0.1:9/hook', events: ['*'] }, ['127.0.0.1'])
      const at = new Date().toISOString()
      for (let i = 0; i < 2000; i++) {
        await scope.db
          .insertInto('webhook_deliveries')
          .values({
            id: `msg_${String(i).padStart(6, '0')}`,
            tenant_id: tenant.id,
            endpoint_id: endpoint.id,
            event_type: 'partner.created',
            payload: '{}',
            status: 'delivered',
            attempts: 1,
            next_attempt_at: at,
            created_at: at,
          })
          .execute()
      }
    })
    const plan = async (db: typeof first.database.db) => {
      const ids = Array.from({ length: 100 }, (_, i) => `msg_${String(i * 7).padStart(6, '0')}`)
      const { rows } = await sql<{ detail: string }>`explain query plan update webhook_deliveries set status = 'delivered'
        where tenant_id = ${tenant.id} and id in (${sql.join(ids)})`.execute(db)
      return rows.map((r) => r.detail).join('; ')
    }
    // Without statistics the tenant's index looks selective, and is walked over all 2,000 rows.
    expect(await plan(first.database.db)).toMatch(/USING INDEX webhook_deliveries_endpoint \(tenant_id=\?\)/)
    await first.close()

    const statistics = (db: typeof first.database.db) =>
      sql<{ name: string }>`select name from sqlite_master where name = 'sqlite_stat1'`
        .execute(db)
        .then(async ({ rows }) =>
          rows.length === 0 ? [] : (await sql<{ tbl: string }>`select tbl from sqlite_stat1`.execute(db)).rows.map((r) => r.tbl),
        )
    const inspected = await openRuntime(config, { migrate: false })
    expect(await statistics(inspected.database.db)).toEqual([])
    await inspected.close()

    const again = await openRuntime(config, { migrate: false })
    const server = await startServer(again)
    try {
      expect(await statistics(again.database.db)).toContain('webhook_deliveries')
      expect(await plan(again.database.db)).toMatch(/USING INDEX sqlite_autoindex_webhook_deliveries_1 \(id=\?\)/)
    } finally {
      await server.stop()
      await again.close()
    }
  })
})
