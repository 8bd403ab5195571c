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
  type SqliteDialectConfig,
  SqliteDriver,
  type SqliteStatement,
  type TransactionSettings,
} from 'kysely'
import { diskWaitSkipped } from './commit-durability.ts'
import { isBusy } from './errors.ts'
import { insideTenantTransaction, NESTED_ACCESS } from './transaction-context.ts'
import type { WriteTurns } from './write-turns.ts'

function adapt(db: BunDatabase): SqliteDatabase {
  return {
    close: () => db.close(),
    prepare(sql: string): SqliteStatement {
      // query() caches the compiled statement; Kysely emits parameterised SQL, so the set stays small.
      const stmt = db.query(sql)
      // Only a plain SELECT may be read twice (readRows): in SQLite a WITH may lead into a write.
      const select = /^\s*select\b/i.test(sql)
      return {
        reader: stmt.columnNames.length > 0,
        // Bindings go in as ONE array: spread, a lone object argument would become a named-parameter
        // bag and bun:sqlite would bind NULL without complaint.
        all: (params) => readRows(stmt, params as never, select),
        run: (params) => stmt.run(params as never),
        // Kysely's stream(): read whole (partnerd streams nothing), so that it reads integers as all() does.
        iterate: (params) => readRows(stmt, params as never, select)[Symbol.iterator](),
      }
    },
  }
}

type BunStatement = ReturnType<BunDatabase['query']>

/**
 * Rows with every integer exact, as pg reads them (db/database.ts): a number within ±2^53, a bigint
 * beyond. bun:sqlite reads integers as numbers, rounding those beyond 2^53 without a word (a payout's
 * sum of many commissions goes that far); with safeIntegers it reads every integer as a bigint, which
 * costs twice the time of a plain read. So a SELECT is read plainly, and read again with bigints only
 * if a number beyond 2^53 came back (rare: only money sums get there; a REAL that large re-reads as
 * itself). Reading twice is safe for a plain SELECT alone: any other statement that answers rows (a
 * write's RETURNING) is read with bigints at once, and its few rows narrowed.
 */
function readRows(stmt: BunStatement, params: never, select: boolean): unknown[] {
  if (select) {
    const rows = stmt.all(params) as Record<string, unknown>[]
    if (!beyondSafe(rows)) return rows
  }
  stmt.safeIntegers(true)
  try {
    return narrow(stmt.all(params) as Record<string, unknown>[])
  } finally {
    // The statement is cached and shared: leave it as the next caller expects it.
    stmt.safeIntegers(false)
  }
}

function beyondSafe(rows: Record<string, unknown>[]): boolean {
  for (const row of rows)
    for (const key in row) {
      const value = row[key]
      if (typeof value === 'number' && (value > Number.MAX_SAFE_INTEGER || value < Number.MIN_SAFE_INTEGER)) return true
    }
  return false
}

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER)
const MIN_SAFE = BigInt(Number.MIN_SAFE_INTEGER)

/** Bigints back to numbers where a number holds them exactly. */
function narrow(rows: Record<string, unknown>[]): Record<string, unknown>[] {
  for (const row of rows)
    for (const key in row) {
      const value = row[key]
      if (typeof value === 'bigint' && value <= MAX_SAFE && value >= MIN_SAFE) row[key] = Number(value)
    }
  return rows
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

/** How the serving connection waits for the write lock (see the driver below). */
export interface SqliteLockWait {
  /** database.sqlite.busy_timeout_ms: how long a statement waits for the lock before it fails. */
  timeoutMs: number
  turns: WriteTurns
}

/** The longest pause between two tries for the lock: a short wait once the lock is free, few tries while it is not. */
const MAX_RETRY_MS = 16
/** PRAGMA synchronous's levels: NORMAL syncs the WAL only at checkpoints; FULL (and EXTRA) at every commit too. */
const NORMAL = 1

/**
 * Transactions on the one serving connection:
 * - A read-write one begins IMMEDIATE, taking the write lock up front. A deferred transaction that
 *   reads and then writes can fail at once with SQLITE_BUSY when another process (the CLI, a second
 *   server) wrote in between, without waiting out busy_timeout; an immediate one waits its turn
 *   instead. It first takes a turn from the writers on this thread (db/write-turns.ts).
 * - A read-only one (Kysely's accessMode 'read only', withTenant's `readOnly`) begins deferred, with
 *   query_only on: in WAL mode it takes no lock and waits for none, and a write in it fails.
 *
 * The connection's busy_timeout is 0. SQLite's own wait for a lock sleeps on the thread, which holds
 * up every request the thread serves (measured: the router's throughput halved while four API
 * clients read, the serving thread sleeping 1-2 ms at a time in SQLite's busy handler). Instead, a
 * statement refused with SQLITE_BUSY outside a transaction (BEGIN IMMEDIATE, or one statement on its
 * own) is tried again after a timer, until timeoutMs has passed; a statement refused inside one
 * fails, as SQLite's own wait would not help it either.
 */
class ServingSqliteDriver extends SqliteDriver {
  #queue: Promise<void> = Promise.resolve()
  #release: (() => void) | undefined
  #connection: DatabaseConnection | undefined
  /** Ends the turn (or the read-only mode) of the transaction in progress. */
  #endTransaction: (() => void) | undefined

  /** The connection's synchronous level as opened (database.sqlite.synchronous). */
  readonly #synchronous: number

  constructor(
    config: SqliteDialectConfig,
    private readonly raw: BunDatabase,
    private readonly lockWait: SqliteLockWait,
  ) {
    super(config)
    this.#synchronous = (raw.query('pragma synchronous').get() as { synchronous: number }).synchronous
  }

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
    this.#connection ??= patient(await super.acquireConnection(), this.raw, this.lockWait.timeoutMs)
    return this.#connection
  }

  override async releaseConnection(): Promise<void> {
    const release = this.#release
    this.#release = undefined
    release?.()
  }

  override async beginTransaction(connection: DatabaseConnection, settings: TransactionSettings = {}): Promise<void> {
    let begin = 'begin immediate'
    if (settings.accessMode === 'read only') {
      this.raw.exec('pragma query_only = on')
      this.#endTransaction = () => this.raw.exec('pragma query_only = off')
      begin = 'begin'
    } else {
      const endTurn = await this.lockWait.turns.take()
      // Set outside the transaction: SQLite refuses to change it inside one (db/commit-durability.ts).
      if (diskWaitSkipped() && this.#synchronous > NORMAL) {
        this.raw.exec(`pragma synchronous = ${NORMAL}`)
        this.#endTransaction = () => {
          this.raw.exec(`pragma synchronous = ${this.#synchronous}`)
          endTurn()
        }
      } else this.#endTransaction = endTurn
    }
    try {
      await connection.executeQuery(CompiledQuery.raw(begin))
    } catch (err) {
      this.#ended() // Kysely does not roll back a transaction that never began
      throw err
    }
  }

  override async commitTransaction(connection: DatabaseConnection): Promise<void> {
    try {
      await super.commitTransaction(connection)
    } finally {
      this.#ended()
    }
  }

  override async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    try {
      await super.rollbackTransaction(connection)
    } finally {
      this.#ended()
    }
  }

  #ended(): void {
    const end = this.#endTransaction
    this.#endTransaction = undefined
    end?.()
  }
}

/** The connection, with its statements refused SQLITE_BUSY outside a transaction tried again after a timer. */
function patient(connection: DatabaseConnection, raw: BunDatabase, timeoutMs: number): DatabaseConnection {
  return {
    async executeQuery<R>(query: CompiledQuery) {
      const deadline = performance.now() + timeoutMs
      for (let wait = 1; ; wait = Math.min(wait * 2, MAX_RETRY_MS)) {
        try {
          return await connection.executeQuery<R>(query)
        } catch (err) {
          if (!isBusy(err) || raw.inTransaction || performance.now() + wait > deadline) throw err
          await Bun.sleep(wait)
        }
      }
    },
    streamQuery: (query, chunkSize) => connection.streamQuery(query, chunkSize),
  }
}

export class BunSqliteDialect extends SqliteDialect {
  readonly #db: BunDatabase
  readonly #lockWait: SqliteLockWait
  /** `db` with busy_timeout 0: the driver waits for the lock itself, without holding up the thread. */
  constructor(db: BunDatabase, lockWait: SqliteLockWait) {
    super({ database: adapt(db) })
    this.#db = db
    this.#lockWait = lockWait
  }
  override createAdapter(): SqliteAdapter {
    return new TransactionalDdlSqliteAdapter()
  }
  override createDriver(): Driver {
    return new ServingSqliteDriver({ database: adapt(this.#db) }, this.#db, this.#lockWait)
  }
}
