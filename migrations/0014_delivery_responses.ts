import type { Kysely } from 'kysely'

/** The start of what a webhook receiver answered, for the delivery log (a receiver's error text says why). */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('webhook_deliveries').addColumn('last_response', 'text').execute()
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('webhook_deliveries').dropColumn('last_response').execute()
}
