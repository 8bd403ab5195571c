import type { Kysely } from 'kysely'

/**
 * A tenant's default currency: what a program created without one is in (OpenPartner's programs name
 * no currency). Existing tenants get USD, what partnerd assumed until now.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .alterTable('tenants')
    .addColumn('default_currency', 'text', (c) => c.notNull().defaultTo('USD'))
    .execute()
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('tenants').dropColumn('default_currency').execute()
}
