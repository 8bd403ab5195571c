import { type Kysely, sql } from 'kysely'
import { isolateTenantRows, isPostgres } from '../src/db/tenant-isolation.ts'

/**
 * Outbound webhooks: endpoints, and the deliveries outbox. A delivery row is written in the same
 * transaction as the change it tells of, so nothing is announced that did not happen and nothing that
 * happened goes untold; the worker sends it, retries it on the backoff schedule, and records the end.
 */
export async function up(db: Kysely<any>): Promise<void> {
  const json = isPostgres(db) ? 'jsonb' : 'text'
  await db.schema
    .createTable('webhook_endpoints')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenants.id').onDelete('cascade'))
    .addColumn('url', 'text', (c) => c.notNull())
    .addColumn('events', json, (c) => c.notNull())
    .addColumn('label', 'text')
    .addColumn('format', 'text', (c) => c.notNull())
    /** Needed to sign: an HMAC key cannot be kept as a digest. */
    .addColumn('secret', 'text', (c) => c.notNull())
    .addColumn('previous_secret', 'text')
    .addColumn('previous_secret_until', 'text')
    .addColumn('active', 'integer', (c) => c.notNull())
    .addColumn('disabled_reason', 'text')
    .addColumn('failing_since', 'text')
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .execute()
  await db.schema.createIndex('webhook_endpoints_tenant').on('webhook_endpoints').columns(['tenant_id', 'id']).execute()
  await isolateTenantRows(db, 'webhook_endpoints')

  await db.schema
    .createTable('webhook_deliveries')
    /** Sent as webhook-id: the same on every attempt, so receivers can drop repeats. */
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenants.id').onDelete('cascade'))
    .addColumn('endpoint_id', 'text', (c) => c.notNull().references('webhook_endpoints.id').onDelete('cascade'))
    .addColumn('event_type', 'text', (c) => c.notNull())
    /** The envelope {id, type, created, data} exactly as it is sent (and signed). */
    .addColumn('payload', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('attempts', 'integer', (c) => c.notNull())
    .addColumn('next_attempt_at', 'text', (c) => c.notNull())
    .addColumn('locked_until', 'text')
    .addColumn('last_status', 'integer')
    .addColumn('last_error', 'text')
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('delivered_at', 'text')
    .execute()
  await db.schema.createIndex('webhook_deliveries_due').on('webhook_deliveries').columns(['status', 'next_attempt_at']).execute()
  await db.schema.createIndex('webhook_deliveries_endpoint').on('webhook_deliveries').columns(['tenant_id', 'endpoint_id', 'id']).execute()
  if (isPostgres(db)) {
    // Tenant rows as everywhere; and the delivery worker, which declares itself per transaction
    // (app.webhook_worker), finds due deliveries of every tenant. Request code never sets it.
    await sql`alter table webhook_deliveries enable row level security`.execute(db)
    await sql`alter table webhook_deliveries force row level security`.execute(db)
    await sql`create policy tenant_isolation on webhook_deliveries
      using (tenant_id = current_setting('app.tenant_id', true) or current_setting('app.webhook_worker', true) = 'on')
      with check (tenant_id = current_setting('app.tenant_id', true) or current_setting('app.webhook_worker', true) = 'on')`.execute(db)
  }
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('webhook_deliveries').execute()
  await db.schema.dropTable('webhook_endpoints').execute()
}
