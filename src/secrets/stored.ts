/**
 * The sealed columns of the database, and the work done on all of them at once: the start's check that
 * the configured key opens what is stored, sealing values left in plaintext by a partnerd from before
 * sealing, and `partnerd secrets rotate`, which re-seals every value under the current key.
 *
 * On PostgreSQL the tenant-owned tables are behind row-level security, so one transaction walks the
 * tenants, setting app.tenant_id for each in turn (set_config(…, true): for this transaction only).
 */
import { type Kysely, sql, type Transaction } from 'kysely'
import type { Database } from '../db/database.ts'
import type { DB } from '../db/schema.ts'
import { StartupError } from '../errors.ts'
import { Keyring, type SealedTable, SecretKeyError } from './keyring.ts'

interface SealedColumns {
  table: SealedTable
  columns: string[]
  /** Behind row-level security on PostgreSQL (a tenant's rows, read with its id set). */
  tenantOwned: boolean
}

/** Every stored secret that is read back. A new one is added here, sealed by its store with `scope.secrets`. */
export const SEALED_COLUMNS: readonly SealedColumns[] = [
  { table: 'tenants', columns: ['click_salt'], tenantOwned: false },
  // Postbacks are rows of this table too: their (unused) secret is sealed like a webhook's.
  { table: 'webhook_endpoints', columns: ['secret', 'previous_secret'], tenantOwned: true },
]

/** The note migration 0016 leaves, for the start to seal what older versions stored in plaintext. */
export const SEAL_PLAINTEXT_TASK = 'seal_plaintext_secrets'

/**
 * The ids of the keys that sealed the tenants' click keys: every tenant has one, so a database with
 * data always names its key here (the other tables are behind row-level security). Empty for a
 * database without tenants, or from before tenants had click keys.
 */
export async function sealedKeyIds(database: Database): Promise<string[]> {
  const column =
    database.dialect === 'sqlite'
      ? sql<{ n: number }>`select count(*) as n from pragma_table_info('tenants') where name = 'click_salt'`
      : sql<{ n: number }>`select count(*)::int as n from information_schema.columns
          where table_schema = current_schema() and table_name = 'tenants' and column_name = 'click_salt'`
  if (Number((await column.execute(database.db)).rows[0]?.n) === 0) return []
  const { rows } = await sql<{ kid: string }>`select distinct substr(click_salt, 4, 8) as kid from tenants
    where click_salt like 'v1:%' order by kid`.execute(database.db)
  return rows.map((r) => r.kid)
}

/**
 * Fails the start, naming secrets.key, when stored secrets were sealed with a key the ring lacks or
 * do not open under the one it has: better than every delivery and click failing after.
 */
export async function checkStoredSecrets(database: Database, keyring: Keyring): Promise<void> {
  for (const kid of await sealedKeyIds(database)) {
    if (!keyring.knows(kid)) throw new StartupError(keyring.unknownKid(kid))
    const sample = await sql<{ id: string; click_salt: string }>`select id, click_salt from tenants
      where substr(click_salt, 1, 12) = ${`v1:${kid}:`} limit 1`.execute(database.db)
    const row = sample.rows[0]
    if (!row) continue
    try {
      keyring.open(row.click_salt, { table: 'tenants', id: row.id })
    } catch (err) {
      throw err instanceof SecretKeyError ? new StartupError(err.message) : err
    }
  }
}

export interface ResealReport {
  /** The key everything is sealed under now. */
  kid: string
  /** Stored secret values seen. */
  stored: number
  resealed: number
}

/**
 * Re-seals under the current key every stored value `needs` picks (plaintext, or sealed under an old
 * key), in one transaction: all or nothing. Each update is conditional on the value read, so a
 * server writing meanwhile loses nothing. `inside` runs last, in the same transaction.
 */
export async function resealStoredSecrets(
  database: Database,
  keyring: Keyring,
  needs: (value: string) => boolean,
  inside?: (trx: Transaction<DB>) => Promise<void>,
): Promise<ResealReport> {
  // No key, no work: this fails before anything is read.
  const report: ResealReport = { kid: keyring.current.kid, stored: 0, resealed: 0 }
  await database.db.transaction().execute(async (trx) => {
    const tenantIds = (await trx.selectFrom('tenants').select('id').orderBy('id').execute()).map((t) => t.id)
    for (const sealed of SEALED_COLUMNS.filter((s) => !s.tenantOwned)) await resealTable(trx, keyring, sealed, needs, report)
    for (const tenantId of tenantIds) {
      if (database.dialect === 'postgres') await sql`select set_config('app.tenant_id', ${tenantId}, true)`.execute(trx)
      for (const sealed of SEALED_COLUMNS.filter((s) => s.tenantOwned)) await resealTable(trx, keyring, sealed, needs, report, tenantId)
    }
    await inside?.(trx)
  })
  return report
}

async function resealTable(
  trx: Kysely<any>,
  keyring: Keyring,
  { table, columns }: SealedColumns,
  needs: (value: string) => boolean,
  report: ResealReport,
  tenantId?: string,
): Promise<void> {
  let query = trx.selectFrom(table).select(['id', ...columns])
  if (tenantId) query = query.where('tenant_id', '=', tenantId)
  for (const row of (await query.execute()) as Record<string, string | null>[]) {
    const at = { table, id: row.id! }
    const set: Record<string, string> = {}
    let update = trx.updateTable(table).where('id', '=', at.id)
    for (const column of columns) {
      const value = row[column]
      if (value === null || value === undefined) continue
      report.stored++
      if (!needs(value)) continue
      set[column] = keyring.seal(Keyring.isSealed(value) ? keyring.open(value, at) : value, at)
      update = update.where(column, '=', value)
    }
    if (Object.keys(set).length === 0) continue
    if (tenantId) update = update.where('tenant_id', '=', tenantId)
    const result = await update.set(set).executeTakeFirst()
    report.resealed += Object.keys(set).length * Number(result.numUpdatedRows)
  }
}

/**
 * Seals the values a partnerd from before sealing stored in plaintext, once: migration 0016 notes the
 * task (a migration cannot reach the key), the first start after it does the work and removes the
 * note in the same transaction; a start that dies midway leaves the note for the next. Plaintext is
 * told by its lack of the `v1:` prefix. On SQLite the file is then rebuilt (VACUUM) and its log
 * emptied: an updated row leaves its old bytes in the page's free space and in pages split off, even
 * with secure_delete (measured), and only a rebuild leaves none. It costs one pass over the file, once.
 * On PostgreSQL the old row versions stay until autovacuum reclaims them.
 */
export async function sealNotedPlaintext(database: Database, keyring: Keyring): Promise<ResealReport | undefined> {
  const noted = await database.db.selectFrom('upkeep').select('task').where('task', '=', SEAL_PLAINTEXT_TASK).executeTakeFirst()
  if (!noted) return undefined
  const report = await resealStoredSecrets(
    database,
    keyring,
    (value) => !Keyring.isSealed(value),
    async (trx) => void (await trx.deleteFrom('upkeep').where('task', '=', SEAL_PLAINTEXT_TASK).execute()),
  )
  if (database.dialect === 'sqlite' && report.resealed > 0) {
    await sql`VACUUM`.execute(database.db)
    await sql`PRAGMA wal_checkpoint(TRUNCATE)`.execute(database.db)
  }
  return report
}
