/**
 * Group commit for units of tenant work that arrive many at once (conversion events). One
 * transaction per unit costs a commit each: a WAL sync on SQLite, and on PostgreSQL begin, the tenant
 * setting, the webhook outbox's read and commit, four round trips. Here the units of a tenant that
 * arrive while a batch commits gather into the next batch, which runs them one after another in one
 * transaction and commits once; an idle server still runs the first unit at once. Each caller is
 * answered only when the batch has committed, so an answer still means "durable".
 *
 * Each unit keeps its own all-or-nothing outcome. A batch first runs its units back to back, the
 * cheap way. When one fails, the batch is rolled back (its failure may have left the transaction
 * unusable: PostgreSQL aborts it), that unit is answered its error, and the rest run again, now each
 * in a savepoint of its own, so that a further failure rolls back that unit alone and the batch runs
 * at most twice. A unit's domain events are kept apart until it succeeds: a unit rolled back to its
 * savepoint raises nothing.
 *
 * A unit refused by a unique constraint runs once more, as againOnUniqueViolation runs a lone one:
 * on PostgreSQL a concurrent batch may have stored what it was about to (a customer's referral).
 * A conflict PostgreSQL broke by aborting the transaction is withTenant's to run again, whole.
 */
import { sql } from 'kysely'
import { isTransientConflict, isUniqueViolation } from './errors.ts'
import type { TenantScope } from './with-tenant.ts'

/** Runs a function in one tenant transaction (withTenant without the grouping). */
type Transact = <T>(tenantId: string, fn: (scope: TenantScope) => Promise<T>) => Promise<T>

interface Unit {
  fn: (scope: TenantScope) => Promise<unknown>
  resolve: (value: unknown) => void
  reject: (err: unknown) => void
  /** Refused once by a unique constraint already: the next refusal is its answer. */
  again: boolean
}

export interface GroupCommitOptions {
  /** Batches in flight at once: SQLite has one connection; PostgreSQL a pool shared with every request. */
  concurrency: number
  /** Units in one batch at most: a batch holds its transaction (on SQLite, the write lock) until all have run. */
  maxBatch: number
}

export const ONE_BATCH_AT_A_TIME: GroupCommitOptions = { concurrency: 1, maxBatch: 50 }

/** A unit's failure, carried out of the batch's transaction so that it rolls back. */
class UnitFailed extends Error {
  constructor(
    readonly unit: Unit,
    readonly reason: unknown,
  ) {
    super('a unit of the batch failed')
  }
}

export class GroupCommit {
  /** Units waiting, by tenant, in arrival order. */
  readonly #waiting = new Map<string, Unit[]>()
  #inFlight = 0
  #scheduled = false

  constructor(
    private readonly transact: Transact,
    private readonly options: GroupCommitOptions,
  ) {}

  /** Runs `fn` in a transaction shared with the units around it; resolves once that has committed. */
  run<T>(tenantId: string, fn: (scope: TenantScope) => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const queue = this.#waiting.get(tenantId) ?? []
      queue.push({ fn, resolve: resolve as (value: unknown) => void, reject, again: false })
      this.#waiting.set(tenantId, queue)
      // One turn of the event loop, so that the requests read in the same burst join the batch.
      if (!this.#scheduled) {
        this.#scheduled = true
        setImmediate(() => {
          this.#scheduled = false
          this.#send()
        })
      }
    })
  }

  #send(): void {
    while (this.#inFlight < this.options.concurrency && this.#waiting.size > 0) {
      // Tenants take turns: the first tenant waiting goes, and what it leaves waits at the back.
      const [tenantId, queue] = this.#waiting.entries().next().value as [string, Unit[]]
      this.#waiting.delete(tenantId)
      const units = queue.splice(0, this.options.maxBatch)
      if (queue.length > 0) this.#waiting.set(tenantId, queue)
      this.#inFlight++
      void this.#commit(tenantId, units).finally(() => {
        this.#inFlight--
        this.#send()
      })
    }
  }

  async #commit(tenantId: string, units: Unit[]): Promise<void> {
    let pending = units
    let isolated = false
    while (pending.length > 0) {
      const running = pending
      try {
        const results = await this.transact(tenantId, (scope) => (isolated ? runIsolated(scope, running) : runInTurn(scope, running)))
        running.forEach((unit, i) => {
          const result = results[i]!
          if ('failed' in result) unit.reject(result.failed)
          else unit.resolve(result.value)
        })
        return
      } catch (err) {
        if (!(err instanceof UnitFailed)) {
          for (const unit of running) unit.reject(err)
          return
        }
        const { unit, reason } = err
        if (isUniqueViolation(reason) && !unit.again) unit.again = true
        else {
          unit.reject(reason)
          pending = running.filter((u) => u !== unit)
        }
        isolated = true
      }
    }
  }
}

type Outcome = { value: unknown } | { failed: unknown }

/** A scope whose events wait in `raised` until the unit has succeeded. */
function unitScope(scope: TenantScope, raised: [string, unknown][]): TenantScope {
  return { ...scope, emit: (type, data) => void raised.push([type, data]) }
}

async function runUnit(scope: TenantScope, unit: Unit): Promise<unknown> {
  const raised: [string, unknown][] = []
  const value = await unit.fn(unitScope(scope, raised))
  for (const [type, data] of raised) scope.emit(type, data)
  return value
}

/** The units back to back; the first failure ends the transaction. */
async function runInTurn(scope: TenantScope, units: Unit[]): Promise<Outcome[]> {
  const outcomes: Outcome[] = []
  for (const unit of units) {
    try {
      outcomes.push({ value: await runUnit(scope, unit) })
    } catch (err) {
      if (isTransientConflict(err)) throw err
      throw new UnitFailed(unit, err)
    }
  }
  return outcomes
}

/** Each unit in a savepoint: a failure rolls back that unit alone and is its answer. */
async function runIsolated(scope: TenantScope, units: Unit[]): Promise<Outcome[]> {
  const outcomes: Outcome[] = []
  for (const unit of units) {
    for (;;) {
      await sql`savepoint grouped_unit`.execute(scope.db)
      try {
        const value = await runUnit(scope, unit)
        await sql`release savepoint grouped_unit`.execute(scope.db)
        outcomes.push({ value })
        break
      } catch (err) {
        if (isTransientConflict(err)) throw err
        await sql`rollback to savepoint grouped_unit`.execute(scope.db)
        await sql`release savepoint grouped_unit`.execute(scope.db)
        if (isUniqueViolation(err) && !unit.again) {
          unit.again = true
          continue
        }
        outcomes.push({ failed: err })
        break
      }
    }
  }
  return outcomes
}
