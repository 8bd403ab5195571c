/**
 * Kysely's PostgreSQL dialect, with what a transaction begins with sent in the same message as its
 * BEGIN, one round trip rather than one each:
 * - begun inside withoutDiskWait, it commits without waiting for the WAL flush (synchronous_commit
 *   off for that transaction alone; see db/commit-durability.ts). Every other transaction keeps the
 *   server's setting.
 * - begun inside beginningWith, it sets those settings for itself alone (set_config(…, true)), as
 *   withTenant's app.tenant_id, which row-level security reads.
 * The statements go as one simple query, so the values are written into it as literals; a value that
 * could not be (a NUL) is refused, and the caller sets it with a statement of its own.
 */
import { AsyncLocalStorage } from 'node:async_hooks'
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

/** Settings for the transaction about to begin; `applied` once its BEGIN has set them. */
interface BeginSettings {
  values: Record<string, string>
  applied: boolean
}

const beginning = new AsyncLocalStorage<BeginSettings>()
const SETTING_NAME = /^[a-z_]+\.[a-z_]+$/

/**
 * Runs `fn`; the first transaction it begins sets `values` (set_config(name, value, true)) with its
 * BEGIN. Answers whether they were so set, to be asked once that transaction has begun (else the
 * caller sets them itself: the transaction was not begun by this dialect, or a value had a NUL).
 */
export function beginningWith<T>(values: Record<string, string>, fn: (applied: () => boolean) => Promise<T>): Promise<T> {
  const settings: BeginSettings = { values, applied: false }
  return beginning.run(settings, () => fn(() => settings.applied))
}

function literal(value: string): string {
  return `'${value.replaceAll("'", "''")}'`
}

class ServingPostgresDriver extends PostgresDriver {
  override async beginTransaction(connection: DatabaseConnection, settings: TransactionSettings): Promise<void> {
    let begin = 'begin'
    if (settings.isolationLevel || settings.accessMode) {
      begin = 'start transaction'
      if (settings.isolationLevel) begin += ` isolation level ${settings.isolationLevel}`
      if (settings.accessMode) begin += ` ${settings.accessMode}`
    }
    const statements = [begin]
    if (diskWaitSkipped()) statements.push('set local synchronous_commit = off')
    const pending = beginning.getStore()
    const values = pending && !pending.applied ? Object.entries(pending.values) : []
    const writable = values.every(([name, value]) => SETTING_NAME.test(name) && !value.includes('\0'))
    if (writable) for (const [name, value] of values) statements.push(`select set_config(${literal(name)}, ${literal(value)}, true)`)
    await connection.executeQuery(CompiledQuery.raw(statements.join('; ')))
    if (pending && writable) pending.applied = true
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
