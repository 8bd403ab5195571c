import type { Kysely } from 'kysely'
import { isolateTenantRows, isPostgres } from '../src/db/tenant-isolation.ts'

/** Programs (campaigns): what partners promote, on which terms. */
export async function up(db: Kysely<any>): Promise<void> {
  const json = isPostgres(db) ? 'jsonb' : 'text'
  await db.schema
    .createTable('programs')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenants.id').onDelete('cascade'))
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('currency', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('destination_url', 'text', (c) => c.notNull())
    .addColumn('deep_link_hosts', json, (c) => c.notNull())
    .addColumn('attribution_window_days', 'integer', (c) => c.notNull())
    .addColumn('attribution_model', 'text', (c) => c.notNull())
    .addColumn('holdback_days', 'integer', (c) => c.notNull())
    .addColumn('rules', json, (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .execute()
  await db.schema.createIndex('programs_tenant_id').on('programs').columns(['tenant_id', 'id']).execute()
  await isolateTenantRows(db, 'programs')
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('programs').execute()
}
