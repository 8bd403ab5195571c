/**
 * Kysely's own SqliteDialect over bun:sqlite. better-sqlite3 does not load under Bun nor inside a
 * compiled binary, and kysely-bun-sqlite lacks savepoints; Kysely's dialect needs only `prepare` and
 * three statement methods, so a few lines adapt bun:sqlite to it.
 */
import type { Database as BunDatabase } from 'bun:sqlite'
import {
  CompiledQuery,
  type DatabaseConnection,
  type Driver,
  SqliteAdapter,
  type SqliteDatabase,
  SqliteDialect,
  SqliteDriver,
  type SqliteStatement,
} from 'kysely'
import { insideTenantTransaction, NESTED_ACCESS } from './transaction-context.ts'

function adapt(db: BunDatabase): SqliteDatabase {
  return {
    close: () => db.close(),
    prepare(sql: string): SqliteStatement {
      // query() caches the compiled statement; Kysely emits parameterised SQL, so the set stays small.
      const stmt = db.query(sql)
      return {
        reader: stmt.columnNames.length > 0,
        // Bindings go in as ONE array: spread, a lone object argument would become a named-parameter
        // bag and bun:sqlite would bind NULL without complaint.
        all: (params) => stmt.all(params as never) as unknown[],
        run: (params) => stmt.run(params as never),
        iterate: (params) => stmt.iterate(params as never) as IterableIterator<unknown>,
      }
    },
  }
}

/**
 * SQLite can roll back DDL, but Kysely assumes it cannot and runs each migration outside a
 * transaction, so a failing migration would leave half its tables. Declaring transactional DDL makes
 * the migrator wrap the batch in one transaction.
 */
class TransactionalDdlSqliteAdapter extends SqliteAdapter {
  override get supportsTransactionalDdl(): boolean {
    return true
  }
  /** Not so: but the driver below serializes the one connection itself (see its acquireConnection). */
  override get supportsMultipleConnections(): boolean {
    return true
  }
}

/**
 * BEGIN IMMEDIATE takes the write lock up front. A deferred transaction that reads and then writes can
 * fail at once with SQLITE_BUSY when another process (the CLI, a second server) wrote in between,
 * without waiting out busy_timeout; an immediate one waits its turn instead.
 */
class ImmediateTransactionSqliteDriver extends SqliteDriver {
  #queue: Promise<void> = Promise.resolve()
  #release: (() => void) | undefined

  /**
   * One user of the connection at a time, in arrival order. Kysely would queue too, but before asking
   * the driver, where nothing could tell a caller that it is waiting on its own transaction.
   */
  override async acquireConnection(): Promise<DatabaseConnection> {
    // The connection is held by the tenant transaction this code runs in: waiting would never end.
    if (insideTenantTransaction()) throw new Error(NESTED_ACCESS)
    const previous = this.#queue
    let release!: () => void
    this.#queue = new Promise((resolve) => {
      release = resolve
    })
    await previous
    this.#release = release
    return super.acquireConnection()
  }

  override async releaseConnection(): Promise<void> {
    const release = this.#release
    this.#release = undefined
    release?.()
  }

  override async beginTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('begin immediate'))
  }
}

export class BunSqliteDialect extends SqliteDialect {
  readonly #db: BunDatabase
  constructor(db: BunDatabase) {
    super({ database: adapt(db) })
    this.#db = db
  }
  override createAdapter(): SqliteAdapter {
    return new TransactionalDdlSqliteAdapter()
  }
  override createDriver(): Driver {
    return new ImmediateTransactionSqliteDriver({ database: adapt(this.#db) })
  }
}
