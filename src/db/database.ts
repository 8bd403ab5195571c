/**
 * createDatabase(config) → a Kysely handle on SQLite (bun:sqlite) or PostgreSQL (pg Pool), checked
 * reachable before it is returned so a bad path or URL stops start-up with one line naming the key.
 */

import { mkdirSync } from 'node:fs'
import { dirname } from 'node:path'
import { Kysely, sql } from 'kysely'
import { CredentialCache } from '../auth/credential-cache.ts'
import type { Config } from '../config/schema.ts'
import { StartupError } from '../errors.ts'
import { ServingPostgresDialect } from './postgres-dialect.ts'
import type { DB } from './schema.ts'
import { type BunSqliteOptions, openSqlite } from './sqlite-connection.ts'
import { BunSqliteDialect } from './sqlite-dialect.ts'
import { WriteTurns } from './write-turns.ts'

export type Dialect = 'sqlite' | 'postgres'

export interface Database {
  dialect: Dialect
  db: Kysely<DB>
  /** What credential checks read, remembered briefly and forgotten by any write to it (auth/credential-cache.ts). */
  credentials: CredentialCache
  /**
   * SQLite only: sets how many WAL pages make the serving connection checkpoint after a commit (0:
   * never), and answers the setting now in force (no argument: only answers). A setting of the
   * connection, not of a transaction: safe whoever holds the connection. It is off while a WAL
   * checkpoint thread runs (db/checkpointer.ts).
   */
  walAutocheckpoint?: (pages?: number) => number
  /** SQLite only: the turns at the write lock that the serving connection's transactions take (db/write-turns.ts). */
  writeTurns?: WriteTurns
  /** How another thread reaches the same database: the click writer's (links/click-thread.ts). */
  location: DatabaseLocation
  /** Throws when the database cannot answer; /ready uses it. */
  ping(): Promise<void>
  close(): Promise<void>
}

export type DatabaseLocation = { sqlite: BunSqliteOptions } | { postgres: { url: string } }

export interface DatabaseTarget {
  database: Config['database']
  /** Absolute SQLite path, resolved against the config file's folder. */
  sqlitePath?: string
  /** `owner` connects with database.postgres.migration_url (schema changes), `serving` with url. */
  role: 'owner' | 'serving'
}

export async function createDatabase(target: DatabaseTarget): Promise<Database> {
  const pgSettings = target.database.postgres
  if (pgSettings) {
    const useOwner = target.role === 'owner' && pgSettings.migration_url
    return openPostgres(
      useOwner ? pgSettings.migration_url! : pgSettings.url,
      useOwner ? 'database.postgres.migration_url' : 'database.postgres.url',
      pgSettings.pool_size,
    )
  }
  const sqlite = target.database.sqlite!
  return openSqliteDatabase({
    path: target.sqlitePath ?? sqlite.path,
    busyTimeoutMs: sqlite.busy_timeout_ms,
    synchronous: sqlite.synchronous,
  })
}

function openSqliteDatabase(location: BunSqliteOptions): Database {
  const { path, busyTimeoutMs } = location
  let raw: ReturnType<typeof openSqlite>
  try {
    mkdirSync(dirname(path), { recursive: true })
    // busy_timeout 0: the dialect waits for the write lock itself, without holding up the thread.
    raw = openSqlite({ ...location, busyTimeoutMs: 0 })
    raw.query('select count(*) from sqlite_master').get()
  } catch (err) {
    throw new StartupError(`database.sqlite.path: cannot open ${path}: ${(err as Error).message}`)
  }
  const writeTurns = new WriteTurns()
  const credentials = new CredentialCache()
  let closed = false
  const db = new Kysely<DB>({
    dialect: new BunSqliteDialect(raw, { timeoutMs: busyTimeoutMs, turns: writeTurns }),
    plugins: [credentials.plugin],
  })
  return {
    dialect: 'sqlite',
    db,
    credentials,
    writeTurns,
    walAutocheckpoint: (pages) => {
      // Asked by the checkpoint thread's watcher, which may hear of its thread's end after a close.
      if (closed) return 0
      const setting = pages === undefined ? 'PRAGMA wal_autocheckpoint' : `PRAGMA wal_autocheckpoint = ${Math.trunc(pages)}`
      return (raw.query(setting).get() as { wal_autocheckpoint: number }).wal_autocheckpoint
    },
    location: { sqlite: location },
    ping: async () => void raw.query('select 1').get(),
    close: () => {
      closed = true
      return db.destroy()
    },
  }
}

const INT8_OID = 20

/**
 * bigint columns (money, counters; count() answers bigint too) come back as numbers while a number
 * holds them exactly, and beyond 2^53 as a bigint: every value the column can hold is read, none
 * loses a digit (a payout's sum of many commissions goes that far). SQLite reads the same way
 * (db/sqlite-dialect.ts); money is read through db/codec.ts readMinor.
 */
function parseInt8(text: string): number | bigint {
  const n = Number(text)
  return Number.isSafeInteger(n) ? n : BigInt(text)
}

async function openPostgres(url: string, key: string, poolSize: number): Promise<Database> {
  // Imported here, not at the top: a server on SQLite never evaluates the PostgreSQL client.
  const { default: pg } = await import('pg')
  const pool = new pg.Pool({
    connectionString: url,
    max: poolSize,
    connectionTimeoutMillis: 5000,
    types: {
      getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
        oid === INT8_OID ? parseInt8 : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
    },
  })
  // An idle client that loses its server must not crash the process; the pool replaces it.
  pool.on('error', () => {})
  const credentials = new CredentialCache()
  const db = new Kysely<DB>({ dialect: new ServingPostgresDialect({ pool }), plugins: [credentials.plugin] })
  try {
    await sql`select 1`.execute(db)
  } catch (err) {
    await db.destroy().catch(() => {})
    throw new StartupError(`${key}: cannot connect to ${redactUrl(url)}: ${describePgError(err)}`)
  }
  return {
    dialect: 'postgres',
    db,
    credentials,
    location: { postgres: { url } },
    ping: async () => void (await sql`select 1`.execute(db)),
    close: () => db.destroy(),
  }
}

function describePgError(err: unknown): string {
  const e = err as { code?: string; message?: string; errors?: { message: string }[] }
  return e.errors?.[0]?.message ?? e.message ?? e.code ?? String(err)
}

/** The URL without its password, for messages and logs. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url)
    if (u.password) u.password = '***'
    return u.toString()
  } catch {
    return '(unparseable URL)'
  }
}
