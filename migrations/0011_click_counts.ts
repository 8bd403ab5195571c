import { type Kysely, sql } from 'kysely'
import { isolateTenantRows, isPostgres } from '../src/db/tenant-isolation.ts'
import { type ClickCount, periodOf } from '../src/links/click-counts.ts'

/**
 * Clicks counted by quarter hour (src/links/click-counts.ts), which the stats read instead of the
 * clicks: the clicks' indexes on (partner, time) and (program, time) go, and the clicks stored so far
 * are counted.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('click_counts')
    .addColumn('tenant_id', 'text', (c) => c.notNull())
    .addColumn('partner_id', 'text', (c) => c.notNull())
    .addColumn('program_id', 'text', (c) => c.notNull())
    .addColumn('period_start', 'text', (c) => c.notNull())
    .addColumn('clicks', 'integer', (c) => c.notNull())
    .addColumn('flagged', 'integer', (c) => c.notNull())
    .addPrimaryKeyConstraint('click_counts_pk', ['tenant_id', 'partner_id', 'program_id', 'period_start'])
    .execute()
  // The counts themselves are in the program's index too: a program's stats sum one row per partner
  // and quarter hour, and read them from the index alone.
  await db.schema
    .createIndex('click_counts_tenant_program')
    .on('click_counts')
    .columns(['tenant_id', 'program_id', 'period_start', 'clicks', 'flagged'])
    .execute()
  await isolateTenantRows(db, 'click_counts')

  for (const { id } of await db.selectFrom('tenants').select('id').execute()) {
    // Row-level security lets the owner see and write only the tenant named, for the rest of the migration's transaction.
    if (isPostgres(db)) await sql`select set_config('app.tenant_id', ${id}, true)`.execute(db)
    // Counted by the minute here (stored times are UTC ISO strings), folded into quarter hours below.
    const minutes = await db
      .selectFrom('clicks')
      .select(['partner_id', 'program_id', sql<string>`substr(created_at, 1, 16)`.as('minute')])
      .select((eb) => [eb.fn.countAll<number | string>().as('clicks'), eb.fn.count<number | string>('flag').as('flagged')])
      .where('tenant_id', '=', id)
      .groupBy(['partner_id', 'program_id', sql`substr(created_at, 1, 16)`])
      .execute()
    const counts = new Map<string, ClickCount>()
    for (const row of minutes) {
      // A time that is none (only an import could have stored one) falls in no range: nothing to count.
      if (Number.isNaN(Date.parse(`${row.minute}:00.000Z`))) continue
      const period = periodOf(`${row.minute}:00.000Z`)
      const key = `${row.partner_id}\n${row.program_id}\n${period}`
      const count = counts.get(key) ?? {
        tenant_id: id,
        partner_id: row.partner_id,
        program_id: row.program_id,
        period_start: period,
        clicks: 0,
        flagged: 0,
      }
      count.clicks += Number(row.clicks)
      count.flagged += Number(row.flagged)
      counts.set(key, count)
    }
    const rows = [...counts.values()]
    // A few thousand values a statement: within either database's limit on bound parameters.
    for (let i = 0; i < rows.length; i += 500)
      await db
        .insertInto('click_counts')
        .values(rows.slice(i, i + 500))
        .execute()
  }

  if (isPostgres(db)) await sql`select set_config('app.tenant_id', '', true)`.execute(db)

  await db.schema.dropIndex('clicks_tenant_partner_time').execute()
  await db.schema.dropIndex('clicks_tenant_program_time').execute()
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.createIndex('clicks_tenant_partner_time').on('clicks').columns(['tenant_id', 'partner_id', 'created_at']).execute()
  await db.schema.createIndex('clicks_tenant_program_time').on('clicks').columns(['tenant_id', 'program_id', 'created_at']).execute()
  await db.schema.dropTable('click_counts').execute()
}
