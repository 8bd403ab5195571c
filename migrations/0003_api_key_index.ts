import type { Kysely } from 'kysely'

/**
 * Which tenant a key hash belongs to, readable without a tenant. A key presented on the wrong tenant's
 * URL is then answered 404 (as any other tenant's resource is) instead of looking merely unknown. It
 * holds digests only; the keys themselves exist nowhere.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('api_key_index')
    .addColumn('key_hash', 'text', (c) => c.primaryKey())
    .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenants.id').onDelete('cascade'))
    .execute()
  await db
    .insertInto('api_key_index')
    .columns(['key_hash', 'tenant_id'])
    .expression(db.selectFrom('api_keys').select(['key_hash', 'tenant_id']))
    .execute()
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('api_key_index').execute()
}
