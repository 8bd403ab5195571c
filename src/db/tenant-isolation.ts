/**
 * The second wall between tenants, for migrations of tenant-owned tables. Every query already filters
 * by tenant_id; on PostgreSQL, row-level security also hides other tenants' rows from a query that
 * forgets to, and refuses a row written with another tenant's id. FORCE applies the policy to the
 * table's owner too. With app.tenant_id unset (current_setting(..., true) is NULL) nothing matches:
 * the policy fails closed. SQLite has no RLS; there the explicit filters are the wall.
 */
import { type Kysely, PostgresAdapter, sql } from 'kysely'

export function isPostgres(db: Kysely<any>): boolean {
  return db.getExecutor().adapter instanceof PostgresAdapter
}

export async function isolateTenantRows(db: Kysely<any>, table: string): Promise<void> {
  if (!isPostgres(db)) return
  const t = sql.table(table)
  await sql`alter table ${t} enable row level security`.execute(db)
  await sql`alter table ${t} force row level security`.execute(db)
  await sql`create policy tenant_isolation on ${t}
    using (tenant_id = current_setting('app.tenant_id', true))
    with check (tenant_id = current_setting('app.tenant_id', true))`.execute(db)
}
