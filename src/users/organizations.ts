/**
 * The organizations a person is a member of (not as a partner: a partner's portal is not the
 * console), for the console's organization switcher in multi mode. Across tenants, so outside any
 * tenant transaction: on PostgreSQL the transaction names the person (app.user_id), which the
 * member_self policy (migrations/0019) lets read their own memberships and nothing else.
 * Remembered for a few seconds like the role checks (auth/credential-cache.ts).
 */
import { sql } from 'kysely'
import type { Organization } from '../auth/credential-cache.ts'
import type { Database } from '../db/database.ts'
import { beginningWith } from '../db/postgres-dialect.ts'

export async function organizationsOf(database: Database, userId: string): Promise<Organization[]> {
  const found = await database.credentials.organizations.get(userId, () =>
    // On PostgreSQL the person is named by the BEGIN itself (db/postgres-dialect.ts), as withTenant names its tenant.
    beginningWith({ 'app.user_id': userId }, (applied) =>
      database.db
        .transaction()
        .setAccessMode('read only')
        .execute(async (trx) => {
          if (database.dialect === 'postgres' && !applied()) await sql`select set_config('app.user_id', ${userId}, true)`.execute(trx)
          return trx
            .selectFrom('memberships')
            .innerJoin('tenants', 'tenants.id', 'memberships.tenant_id')
            .select(['tenants.slug', 'tenants.name'])
            .where('memberships.user_id', '=', userId)
            .where('memberships.role', '!=', 'partner')
            .orderBy('tenants.name')
            .orderBy('tenants.slug')
            .execute()
        }),
    ),
  )
  return found ?? []
}
