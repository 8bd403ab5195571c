import { randomBytes } from 'node:crypto'
import { type Kysely, sql } from 'kysely'
import { isolateTenantRows, isPostgres } from '../src/db/tenant-isolation.ts'

/**
 * What the click router and the tracking API write: enrolments (a partner in a program, with the terms
 * of the day), links, clicks, and identities (a click tied to the tenant's own customer id).
 */
export async function up(db: Kysely<any>): Promise<void> {
  const json = isPostgres(db) ? 'jsonb' : 'text'

  // The key of the keyed hash of client addresses: per tenant, so a hash means nothing elsewhere.
  await db.schema.alterTable('tenants').addColumn('click_salt', 'text').execute()
  for (const { id } of await db.selectFrom('tenants').select('id').execute()) {
    await db
      .updateTable('tenants')
      .set({ click_salt: randomBytes(32).toString('base64url') })
      .where('id', '=', id)
      .execute()
  }

  await db.schema
    .createTable('enrolments')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenants.id').onDelete('cascade'))
    .addColumn('partner_id', 'text', (c) => c.notNull().references('partners.id').onDelete('cascade'))
    .addColumn('program_id', 'text', (c) => c.notNull().references('programs.id').onDelete('cascade'))
    .addColumn('terms', json, (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .addUniqueConstraint('enrolments_partner_program', ['tenant_id', 'partner_id', 'program_id'])
    .execute()
  await isolateTenantRows(db, 'enrolments')

  await db.schema
    .createTable('links')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenants.id').onDelete('cascade'))
    .addColumn('key', 'text', (c) => c.notNull())
    .addColumn('partner_id', 'text', (c) => c.notNull().references('partners.id').onDelete('cascade'))
    .addColumn('program_id', 'text', (c) => c.notNull().references('programs.id').onDelete('cascade'))
    .addColumn('destination_url', 'text')
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('archived_at', 'text')
    .addUniqueConstraint('links_tenant_key', ['tenant_id', 'key'])
    .execute()
  await db.schema.createIndex('links_tenant_partner').on('links').columns(['tenant_id', 'partner_id', 'id']).execute()
  await isolateTenantRows(db, 'links')

  // Raw and immutable. No foreign keys: the router writes clicks in batches and must not fail a
  // batch because a link was deleted a moment earlier.
  await db.schema
    .createTable('clicks')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('tenant_id', 'text', (c) => c.notNull())
    .addColumn('link_id', 'text')
    .addColumn('partner_id', 'text', (c) => c.notNull())
    .addColumn('program_id', 'text', (c) => c.notNull())
    .addColumn('source', 'text', (c) => c.notNull())
    .addColumn('ip_hash', 'text')
    .addColumn('user_agent', 'text')
    .addColumn('referer', 'text')
    .addColumn('sub_source', 'text')
    .addColumn('flag', 'text')
    .addColumn('created_at', 'text', (c) => c.notNull())
    .execute()
  await db.schema.createIndex('clicks_tenant_partner_time').on('clicks').columns(['tenant_id', 'partner_id', 'created_at']).execute()
  await db.schema.createIndex('clicks_tenant_program_time').on('clicks').columns(['tenant_id', 'program_id', 'created_at']).execute()
  await isolateTenantRows(db, 'clicks')

  // One click belongs to one customer; a customer may have many clicks (the touches of attribution).
  await db.schema
    .createTable('identities')
    .addColumn('tenant_id', 'text', (c) => c.notNull())
    .addColumn('click_id', 'text', (c) => c.notNull())
    .addColumn('customer_id', 'text', (c) => c.notNull())
    .addColumn('ip_hash', 'text')
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('identities_pk', ['tenant_id', 'click_id'])
    .execute()
  await db.schema.createIndex('identities_tenant_customer').on('identities').columns(['tenant_id', 'customer_id']).execute()
  await isolateTenantRows(db, 'identities')

  await db.schema
    .createTable('coupons')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenants.id').onDelete('cascade'))
    .addColumn('code', 'text', (c) => c.notNull())
    .addColumn('partner_id', 'text', (c) => c.notNull().references('partners.id').onDelete('cascade'))
    .addColumn('program_id', 'text', (c) => c.notNull().references('programs.id').onDelete('cascade'))
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('archived_at', 'text')
    .addUniqueConstraint('coupons_tenant_code', ['tenant_id', 'code'])
    .execute()
  await db.schema.createIndex('coupons_tenant_partner').on('coupons').columns(['tenant_id', 'partner_id', 'id']).execute()
  await isolateTenantRows(db, 'coupons')
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const table of ['coupons', 'identities', 'clicks', 'links', 'enrolments']) await db.schema.dropTable(table).execute()
  await sql`alter table tenants drop column click_salt`.execute(db)
}
