import type { Kysely } from 'kysely'

/**
 * Stored secrets that are read back (webhook secrets, the tenants' click keys) are sealed with the key
 * from secrets.key (src/secrets/). A migration cannot reach that key, so this one leaves a note in
 * `upkeep`, work owed by the start: the first start after it seals every value still in plaintext and
 * removes the note (src/secrets/stored.ts). Not tenant-owned: it holds no tenant data.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('upkeep')
    .addColumn('task', 'text', (c) => c.primaryKey())
    .addColumn('noted_at', 'text', (c) => c.notNull())
    .execute()
  await db.insertInto('upkeep').values({ task: 'seal_plaintext_secrets', noted_at: new Date().toISOString() }).execute()
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('upkeep').execute()
}
