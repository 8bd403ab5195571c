import type { Kysely } from 'kysely'
import { isolateTenantRows, isPostgres } from '../src/db/tenant-isolation.ts'

/**
 * Conversion events (raw, immutable, idempotent on the tenant's external id), referrals (which
 * partners a customer was attributed to in a program, fixed at the customer's first conversion so
 * that renewals keep earning), commissions and payouts. Money is integer minor units (bigint on
 * PostgreSQL), negative only for clawbacks.
 */
export async function up(db: Kysely<any>): Promise<void> {
  const json = isPostgres(db) ? 'jsonb' : 'text'
  const money = isPostgres(db) ? 'bigint' : 'integer'

  await db.schema
    .createTable('events')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenants.id').onDelete('cascade'))
    .addColumn('external_event_id', 'text', (c) => c.notNull())
    .addColumn('customer_id', 'text', (c) => c.notNull())
    .addColumn('type', 'text', (c) => c.notNull())
    .addColumn('value_minor', money)
    .addColumn('currency', 'text')
    .addColumn('refund_of', 'text')
    .addColumn('customer_email', 'text')
    .addColumn('metadata', json, (c) => c.notNull())
    .addColumn('occurred_at', 'text', (c) => c.notNull())
    .addColumn('received_at', 'text', (c) => c.notNull())
    /** SHA-256 of the request as given: a replay with another body is a conflict. */
    .addColumn('request_hash', 'text', (c) => c.notNull())
    /** The derived attribution, as last computed (re-derived when a late identify arrives). */
    .addColumn('attribution', json, (c) => c.notNull())
    .addUniqueConstraint('events_tenant_external', ['tenant_id', 'external_event_id'])
    .execute()
  await db.schema.createIndex('events_tenant_customer').on('events').columns(['tenant_id', 'customer_id', 'occurred_at']).execute()
  await isolateTenantRows(db, 'events')

  await db.schema
    .createTable('referrals')
    .addColumn('tenant_id', 'text', (c) => c.notNull())
    .addColumn('customer_id', 'text', (c) => c.notNull())
    .addColumn('program_id', 'text', (c) => c.notNull().references('programs.id').onDelete('cascade'))
    .addColumn('touches', json, (c) => c.notNull())
    .addColumn('model', 'text', (c) => c.notNull())
    .addColumn('first_event_id', 'text', (c) => c.notNull())
    .addColumn('first_sale_at', 'text')
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('referrals_pk', ['tenant_id', 'customer_id', 'program_id'])
    .execute()
  await isolateTenantRows(db, 'referrals')

  await db.schema
    .createTable('payouts')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenants.id').onDelete('cascade'))
    .addColumn('partner_id', 'text', (c) => c.notNull().references('partners.id'))
    .addColumn('currency', 'text', (c) => c.notNull())
    .addColumn('amount_minor', money, (c) => c.notNull())
    .addColumn('commission_count', 'integer', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('method', 'text', (c) => c.notNull())
    .addColumn('reference', 'text')
    .addColumn('failure_reason', 'text')
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .addColumn('paid_at', 'text')
    .execute()
  await db.schema.createIndex('payouts_tenant_status').on('payouts').columns(['tenant_id', 'status', 'id']).execute()
  await db.schema.createIndex('payouts_tenant_partner').on('payouts').columns(['tenant_id', 'partner_id', 'id']).execute()
  await isolateTenantRows(db, 'payouts')

  await db.schema
    .createTable('commissions')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenants.id').onDelete('cascade'))
    .addColumn('event_id', 'text', (c) => c.notNull().references('events.id'))
    .addColumn('partner_id', 'text', (c) => c.notNull().references('partners.id'))
    .addColumn('program_id', 'text', (c) => c.notNull().references('programs.id'))
    .addColumn('click_id', 'text')
    .addColumn('customer_id', 'text', (c) => c.notNull())
    .addColumn('trigger', 'text', (c) => c.notNull())
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('amount_minor', money, (c) => c.notNull())
    .addColumn('currency', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('flag', 'text')
    .addColumn('mature_at', 'text', (c) => c.notNull())
    .addColumn('reverses_id', 'text', (c) => c.references('commissions.id'))
    .addColumn('payout_id', 'text', (c) => c.references('payouts.id'))
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    // A refund event claws back a commission once, however often it is replayed.
    .addUniqueConstraint('commissions_reversal_once', ['tenant_id', 'reverses_id', 'event_id'])
    .execute()
  await db.schema.createIndex('commissions_tenant_status').on('commissions').columns(['tenant_id', 'status', 'mature_at']).execute()
  await db.schema.createIndex('commissions_tenant_partner').on('commissions').columns(['tenant_id', 'partner_id', 'id']).execute()
  await db.schema.createIndex('commissions_tenant_event').on('commissions').columns(['tenant_id', 'event_id']).execute()
  await db.schema.createIndex('commissions_tenant_payout').on('commissions').columns(['tenant_id', 'payout_id']).execute()
  await db.schema.createIndex('commissions_tenant_customer').on('commissions').columns(['tenant_id', 'customer_id', 'program_id']).execute()
  await isolateTenantRows(db, 'commissions')
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const table of ['commissions', 'payouts', 'referrals', 'events']) await db.schema.dropTable(table).execute()
}
