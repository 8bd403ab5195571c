import type { Kysely } from 'kysely'
import { isolateTenantRows } from '../src/db/tenant-isolation.ts'

/**
 * One-time setup links: the first start of an empty organization prints one, and whoever opens it
 * becomes its owner. Only the token's digest is kept; a link works once, for 24 hours.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('setup_tokens')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenants.id').onDelete('cascade'))
    .addColumn('token_hash', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('expires_at', 'text', (c) => c.notNull())
    .addColumn('used_at', 'text')
    .addUniqueConstraint('setup_tokens_hash', ['tenant_id', 'token_hash'])
    .execute()
  await isolateTenantRows(db, 'setup_tokens')
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('setup_tokens').execute()
}
