import { type Kysely, sql } from 'kysely'
import { isPostgres } from '../src/db/tenant-isolation.ts'
import { PROGRAM_TOTAL } from '../src/links/click-counts.ts'

/**
 * A program's total clicks per quarter hour, in click_counts rows of their own (partner_id
 * PROGRAM_TOTAL, src/links/click-counts.ts), summed here from the partners' rows. A program's stats
 * read them by the primary key, so the index on (program, period) that covered the sum over partners
 * goes: without it, an update of a count touches no index, and PostgreSQL can make it in place (HOT).
 */
export async function up(db: Kysely<any>): Promise<void> {
  for (const { id } of await db.selectFrom('tenants').select('id').execute()) {
    // Row-level security lets the owner see and write only the tenant named, for the rest of the migration's transaction.
    if (isPostgres(db)) await sql`select set_config('app.tenant_id', ${id}, true)`.execute(db)
    await sql`insert into click_counts (tenant_id, partner_id, program_id, period_start, clicks, flagged)
      select tenant_id, ${PROGRAM_TOTAL}, program_id, period_start, sum(clicks), sum(flagged)
      from click_counts where tenant_id = ${id}
      group by tenant_id, program_id, period_start`.execute(db)
  }
  if (isPostgres(db)) await sql`select set_config('app.tenant_id', '', true)`.execute(db)
  await db.schema.dropIndex('click_counts_tenant_program').execute()
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema
    .createIndex('click_counts_tenant_program')
    .on('click_counts')
    .columns(['tenant_id', 'program_id', 'period_start', 'clicks', 'flagged'])
    .execute()
  for (const { id } of await db.selectFrom('tenants').select('id').execute()) {
    if (isPostgres(db)) await sql`select set_config('app.tenant_id', ${id}, true)`.execute(db)
    await db.deleteFrom('click_counts').where('tenant_id', '=', id).where('partner_id', '=', PROGRAM_TOTAL).execute()
  }
  if (isPostgres(db)) await sql`select set_config('app.tenant_id', '', true)`.execute(db)
}
