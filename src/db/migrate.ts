/**
 * Schema migrations, embedded in the binary: the core set (migrations/index.ts) and one set per
 * plugin that declares tables. Each set keeps its own history table, so a plugin that is switched off
 * leaves its history alone instead of looking like a corrupted one. Kysely's Migrator runs each batch
 * in one transaction (on SQLite too, see sqlite-dialect.ts) under a lock, so two instances starting
 * together apply a migration once.
 */
import { type Kysely, sql } from 'kysely'
import { type Migration, Migrator } from 'kysely/migration'
import { coreMigrations } from '../../migrations/index.ts'
import { StartupError } from '../errors.ts'
import type { Database } from './database.ts'

export interface MigrationSet {
  /** `core`, or `plugin-<name>` for a plugin's tables. */
  owner: string
  migrations: Record<string, Migration>
}

export const coreMigrationSet: MigrationSet = { owner: 'core', migrations: coreMigrations }

function historyTable(owner: string): string {
  return owner === 'core' ? 'partnerd_migrations' : `partnerd_migrations_${owner.replace(/[^a-z0-9]/gi, '_').toLowerCase()}`
}

function migratorFor(db: Kysely<any>, set: MigrationSet): Migrator {
  const table = historyTable(set.owner)
  return new Migrator({
    db,
    provider: { getMigrations: async () => set.migrations },
    migrationTableName: table,
    migrationLockTableName: `${table}_lock`,
  })
}

/** Applies every pending migration of each set, in order; returns the names applied. */
export async function migrate(database: Database, sets: MigrationSet[]): Promise<string[]> {
  const applied: string[] = []
  for (const set of sets) {
    const status = await schemaStatus(database, set)
    refuseNewerSchema(set, status)
    // Most starts have nothing to apply: then Kysely's migrator is not run, for before it looks at its
    // own tables it reads the columns of every table in the database.
    if (status.pending.length === 0) continue
    const { error, results } = await migratorFor(database.db, set).migrateToLatest()
    const failed = results?.find((r) => r.status === 'Error')
    if (error) {
      const which = failed ? ` ${failed.migrationName}` : ''
      throw new StartupError(`migrate: ${set.owner} migration${which} failed, nothing of it was applied: ${(error as Error).message}`)
    }
    for (const r of results ?? []) applied.push(`${set.owner}/${r.migrationName}`)
  }
  return applied
}

export interface SchemaStatus {
  pending: string[]
  /** Applied migrations this binary does not know: the database was migrated by a newer partnerd. */
  unknown: string[]
}

export async function schemaStatus(database: Database, set: MigrationSet): Promise<SchemaStatus> {
  const applied = await appliedMigrations(database, set)
  const known = Object.keys(set.migrations)
  return {
    pending: known.filter((name) => !applied.includes(name)),
    unknown: applied.filter((name) => !known.includes(name)),
  }
}

function refuseNewerSchema(set: MigrationSet, { unknown }: SchemaStatus): void {
  if (unknown.length > 0) {
    throw new StartupError(
      `database: the ${set.owner} schema is newer than this partnerd (it has migration ${unknown.join(', ')}); run a newer partnerd`,
    )
  }
}

/** Checks, without changing anything, that every set is fully applied and none is newer than this binary. */
export async function assertSchemaCurrent(database: Database, sets: MigrationSet[]): Promise<void> {
  for (const set of sets) {
    const status = await schemaStatus(database, set)
    refuseNewerSchema(set, status)
    const { pending } = status
    if (pending.length > 0) {
      throw new StartupError(
        `database: ${pending.length} ${set.owner} migration(s) pending (${pending.join(', ')}); run \`partnerd migrate\` or set database.auto_migrate`,
      )
    }
  }
}

/**
 * For a restore: what is wrong with a database's history of `set`, or null when it is this binary's
 * known migrations or the first of them (the rest are then applied by the next start).
 */
export async function historyProblem(database: Database, set: MigrationSet): Promise<string | null> {
  const applied = await appliedMigrations(database, set)
  const known = Object.keys(set.migrations).sort()
  const unknown = applied.filter((name) => !known.includes(name))
  if (unknown.length > 0) return `its ${set.owner} schema is newer than this partnerd (it has migration ${unknown.join(', ')})`
  const gap = known.slice(0, applied.length).find((name, i) => name !== applied[i])
  if (gap) return `its ${set.owner} migrations skip ${gap}: they are not a history this partnerd made`
  return null
}

async function appliedMigrations(database: Database, set: MigrationSet): Promise<string[]> {
  const table = historyTable(set.owner)
  const exists =
    database.dialect === 'sqlite'
      ? await sql<{ n: number }>`select count(*) as n from sqlite_master where type = 'table' and name = ${table}`.execute(database.db)
      : await sql<{
          n: number
        }>`select count(*)::int as n from information_schema.tables where table_schema = current_schema() and table_name = ${table}`.execute(
          database.db,
        )
  if (Number(exists.rows[0]?.n) === 0) return []
  const rows = await sql<{ name: string }>`select name from ${sql.table(table)} order by name`.execute(database.db)
  return rows.rows.map((r) => r.name)
}

/**
 * When migrations run as the schema owner and the server as another role, that role needs rights on
 * the tables: read and write on partnerd's tables, read only on the migration history (the server
 * checks it at start). Idempotent; re-run by every `migrate`.
 */
export async function grantServingRole(owner: Database, servingRole: string): Promise<void> {
  const role = sql.id(servingRole)
  await sql`grant usage on schema public to ${role}`.execute(owner.db)
  const tables = await sql<{ table_name: string }>`select table_name from information_schema.tables
    where table_schema = current_schema() and table_type = 'BASE TABLE'`.execute(owner.db)
  for (const { table_name } of tables.rows) {
    const rights = table_name.startsWith('partnerd_migrations') ? sql`select` : sql`select, insert, update, delete`
    await sql`grant ${rights} on ${sql.table(table_name)} to ${role}`.execute(owner.db)
  }
}
