import type { Kysely } from 'kysely'
import { isolateTenantRows, isPostgres } from '../src/db/tenant-isolation.ts'

/** Partners of a tenant's programs: people or companies who refer customers and earn commissions. */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('partners')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenants.id').onDelete('cascade'))
    .addColumn('email', 'text', (c) => c.notNull())
    .addColumn('name', 'text')
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('metadata', isPostgres(db) ? 'jsonb' : 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .addColumn('revoked_at', 'text')
    .addUniqueConstraint('partners_tenant_email', ['tenant_id', 'email'])
    .execute()
  await db.schema.createIndex('partners_tenant_id').on('partners').columns(['tenant_id', 'id']).execute()
  await db.schema.createIndex('partners_tenant_status').on('partners').columns(['tenant_id', 'status', 'id']).execute()
  await isolateTenantRows(db, 'partners')
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('partners').execute()
}
