/**
 * The only ways request code reaches tenant data. withTenant runs its callback in one transaction (so a
 * request never leaves a partial write) and, on PostgreSQL, first sets app.tenant_id for that
 * transaction only (set_config(..., true): a session-level setting would leak to the next user of the
 * pooled connection), which is what the row-level security policies read. A transaction PostgreSQL
 * aborted for a concurrent one's sake (deadlock, serialization failure) is run again from its start,
 * here and nowhere else. readTenantRow is the one exception: a single read in a single statement, for
 * the checks every request makes.
 */
import { type Selectable, sql, type Transaction } from 'kysely'
import type { DomainEvent, DomainEventBus } from '../domain-events/bus.ts'
import type { Keyring } from '../secrets/keyring.ts'
import { isoNow } from './codec.ts'
import type { Database } from './database.ts'
import { isTransientConflict } from './errors.ts'
import { type BatchWork, GroupCommit, type GroupCommitOptions, ONE_BATCH_AT_A_TIME } from './group-commit.ts'
import { beginningWith } from './postgres-dialect.ts'
import type { DB } from './schema.ts'
import { insideTenantTransaction, runInsideTenantTransaction } from './transaction-context.ts'

export interface TenantScope {
  tenantId: string
  /** The transaction; every query through it still filters by tenant_id explicitly. */
  db: Transaction<DB>
  /** Raise a domain event (a type of domain-events/catalogue.ts, or a plugin's); published once the transaction has committed. */
  emit(type: string, data: unknown): void
  /** Seals and opens the stored secrets a store reads back (src/secrets/stored.ts lists them). */
  secrets: Keyring
}

export interface TenantTransactionOptions {
  /**
   * The transaction only reads: PostgreSQL runs it READ ONLY, SQLite without taking the write lock
   * (db/sqlite-dialect.ts). A write in it fails.
   */
  readOnly?: boolean
}

export type WithTenant = (<T>(
  tenantId: string,
  fn: (scope: TenantScope) => Promise<T>,
  options?: TenantTransactionOptions,
) => Promise<T>) & {
  /**
   * Hands `item` to `work` together with the items of the same tenant arriving around it, in one
   * transaction and one commit (db/group-commit.ts): for small writes that come many at once. Each
   * item is still all or nothing, and answered once its batch is durable.
   */
  batched<I, O>(tenantId: string, work: BatchWork<I, O>, item: I): Promise<O>
}

/** Runs before the commit of a transaction that raised events, in it (the webhook outbox). */
export type BeforeCommit = (trx: Transaction<DB>, tenantId: string, events: DomainEvent[]) => Promise<void>

/**
 * How often a transaction that lost to another (a deadlock PostgreSQL broke by aborting it, a
 * serialization failure) is run again before the conflict is let through (http/errors.ts answers it
 * 503 with Retry-After), and the longest wait before each run, jittered so that the two transactions
 * that collided do not collide again in step.
 */
export const CONFLICT_RETRIES = 2
const CONFLICT_WAIT_MS = 20

export interface TenantRunnerOptions {
  beforeCommit?: BeforeCommit
  /** Told of each transaction run again after a conflict (logged: a steady stream of them is a lock-order bug). */
  onConflict?: (err: unknown, retry: number) => void
  /** How grouped units are batched (db/group-commit.ts); by default one batch at a time. */
  group?: GroupCommitOptions
}

export function tenantRunner(
  database: Database,
  bus: DomainEventBus,
  secrets: Keyring,
  { beforeCommit, onConflict, group }: TenantRunnerOptions = {},
): WithTenant {
  /**
   * One run of the unit, from its start. Only what it did in the transaction happens: a run that fails
   * rolls back its writes, and its events die with it (`raised` is the run's own, published after the
   * commit of the run that succeeded). That is what makes running it again safe; side effects that
   * cannot be undone (mail, calls to other services) belong after withTenant returns, as
   * everywhere in partnerd.
   */
  const run = async <T>(tenantId: string, fn: (scope: TenantScope) => Promise<T>, options: TenantTransactionOptions): Promise<T> => {
    const raised: DomainEvent[] = []
    // What the run asked to do once it has committed (afterCommit): known when its work is done.
    let committed = () => {}
    const transaction = database.db.transaction()
    // On PostgreSQL the tenant is set by the BEGIN itself (db/postgres-dialect.ts): one round trip.
    const result = await beginningWith({ 'app.tenant_id': tenantId }, (applied) =>
      (options.readOnly ? transaction.setAccessMode('read only') : transaction).execute(async (trx) => {
        if (database.dialect === 'postgres' && !applied()) {
          await sql`select set_config('app.tenant_id', ${tenantId}, true)`.execute(trx)
        }
        const inner = await runInsideTenantTransaction(() =>
          fn({
            tenantId,
            db: trx,
            secrets,
            emit: (type, data) => {
              // A type no one could subscribe to is a typo; fail the change rather than lose the event.
              if (!bus.isKnown(type)) throw new Error(`emit: no event type ${type}`)
              raised.push({ type, tenantId, occurredAt: isoNow(), data })
            },
          }),
        )
        committed = inner.committed
        if (raised.length > 0 && beforeCommit) await beforeCommit(trx, tenantId, raised)
        return inner.result
      }),
    )
    committed()
    if (raised.length > 0) void bus.publish(raised)
    return result
  }

  const transact = async <T>(
    tenantId: string,
    fn: (scope: TenantScope) => Promise<T>,
    options: TenantTransactionOptions = {},
  ): Promise<T> => {
    // Every request's transaction comes through here, so this is the one place a lost transaction is
    // run again. SQLite has no such conflicts: its write transactions take the file's lock up front and
    // run one at a time (db/sqlite-dialect.ts), and a lock held elsewhere past busy_timeout_ms is
    // already a 503 (http/errors.ts); waiting longer than the configured timeout would not help.
    for (let retries = 0; ; retries++) {
      try {
        return await run(tenantId, fn, options)
      } catch (err) {
        if (!isTransientConflict(err) || retries >= CONFLICT_RETRIES) throw err
        onConflict?.(err, retries + 1)
        await Bun.sleep(CONFLICT_WAIT_MS * (retries + 1) * (0.25 + Math.random() * 0.75))
      }
    }
  }
  const grouped = new GroupCommit(transact, group ?? ONE_BATCH_AT_A_TIME)
  // A nested withTenant would wait for a second connection (on SQLite, forever): refuse it loudly.
  const notNested = () => {
    if (insideTenantTransaction()) throw new Error('withTenant was called inside withTenant: pass the open scope down instead')
  }
  return Object.assign(
    async <T>(tenantId: string, fn: (scope: TenantScope) => Promise<T>, options: TenantTransactionOptions = {}) => {
      notNested()
      return transact(tenantId, fn, options)
    },
    {
      batched: async <I, O>(tenantId: string, work: BatchWork<I, O>, item: I) => {
        notNested()
        return grouped.run(tenantId, work, item)
      },
    },
  )
}

/**
 * The row of a tenant's table whose `column` (unique within the tenant) is `value`, read in one
 * statement outside a transaction: for the checks every request makes (an API key's, a member's),
 * where withTenant's transaction would cost three more round trips on PostgreSQL (begin, set the
 * tenant, commit). There the tenant that row-level security compares with is set by a one-row CTE
 * that the read is LATERAL to, so the read cannot run before it (and would find nothing if it did:
 * the check fails closed). The read filters by tenant_id as well.
 */
export async function readTenantRow<T extends keyof DB & string>(
  database: Database,
  tenantId: string,
  table: T,
  column: keyof DB[T] & string,
  value: string,
): Promise<Selectable<DB[T]> | undefined> {
  // The read names the CTE's column: without that reference it is not LATERAL to it in fact, and
  // PostgreSQL may run it first.
  const query =
    database.dialect === 'postgres'
      ? sql<Selectable<DB[T]>>`with tenant as materialized (select set_config('app.tenant_id', ${tenantId}, true) as id)
          select found.* from tenant cross join lateral (
            select * from ${sql.table(table)} where tenant_id = tenant.id and ${sql.ref(column)} = ${value}
          ) as found`
      : sql<Selectable<DB[T]>>`select * from ${sql.table(table)} where tenant_id = ${tenantId} and ${sql.ref(column)} = ${value}`
  return (await query.execute(database.db)).rows[0]
}
