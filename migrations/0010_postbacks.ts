import type { Kysely } from 'kysely'

/** Partner postbacks ride on webhook endpoints: a GET URL template owned by one partner. */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('webhook_endpoints').addColumn('partner_id', 'text').execute()
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('webhook_endpoints').dropColumn('partner_id').execute()
}
