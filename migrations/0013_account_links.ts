import type { Kysely } from 'kysely'
import { isolateTenantRows } from '../src/db/tenant-isolation.ts'

/**
 * One-time account links (src/users/account-links.ts): the setup link that makes an organization's
 * first owner, and the invitation a new team member opens to choose a password. Only the token's
 * digest is kept; a link works once, until it expires.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('account_links')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenants.id').onDelete('cascade'))
    .addColumn('purpose', 'text', (c) => c.notNull())
    .addColumn('user_id', 'text', (c) => c.references('users.id').onDelete('cascade'))
    .addColumn('token_hash', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('expires_at', 'text', (c) => c.notNull())
    .addColumn('used_at', 'text')
    .addUniqueConstraint('account_links_hash', ['tenant_id', 'token_hash'])
    .execute()
  await isolateTenantRows(db, 'account_links')
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('account_links').execute()
}
