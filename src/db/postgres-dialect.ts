/**
 * Kysely's PostgreSQL dialect, with one addition: a transaction begun inside withoutDiskWait commits
 * without waiting for the WAL flush (synchronous_commit off for that transaction alone; see
 * db/commit-durability.ts). Every other transaction keeps the server's setting.
 */
import {
  CompiledQuery,
  type DatabaseConnection,
  type Driver,
  PostgresDialect,
  type PostgresDialectConfig,
  PostgresDriver,
  type TransactionSettings,
} from 'kysely'
import { diskWaitSkipped } from './commit-durability.ts'

class ServingPostgresDriver extends PostgresDriver {
  override async beginTransaction(connection: DatabaseConnection, settings: TransactionSettings): Promise<void> {
    await super.beginTransaction(connection, settings)
    if (diskWaitSkipped()) await connection.executeQuery(CompiledQuery.raw('set local synchronous_commit = off'))
  }
}

export class ServingPostgresDialect extends PostgresDialect {
  readonly #config: PostgresDialectConfig

  constructor(config: PostgresDialectConfig) {
    super(config)
    this.#config = config
  }

  override createDriver(): Driver {
    return new ServingPostgresDriver(this.#config)
  }
}
