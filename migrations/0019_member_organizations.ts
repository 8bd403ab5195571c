import { type Kysely, sql } from 'kysely'
import { isPostgres } from '../src/db/tenant-isolation.ts'

/**
 * A person's own memberships, across organizations: the console's organization switcher lists them.
 * On PostgreSQL, row-level security shows a query the rows of one tenant (app.tenant_id); this second
 * policy also shows, for reading only, the memberships of the person named by app.user_id, which only
 * users/organizations.ts sets. SQLite has no RLS: its query filters by user.
 */
export async function up(db: Kysely<any>): Promise<void> {
  if (!isPostgres(db)) return
  await sql`create policy member_self on memberships for select using (user_id = current_setting('app.user_id', true))`.execute(db)
}

export async function down(db: Kysely<any>): Promise<void> {
  if (!isPostgres(db)) return
  await sql`drop policy member_self on memberships`.execute(db)
}
