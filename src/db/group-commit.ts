/**
 * Group commit for work that arrives many items at once (conversion events). One transaction per item
 * costs a commit each (a WAL sync on SQLite; on PostgreSQL begin, the tenant setting, the webhook
 * outbox's read and the commit), and statements one after another, each a round trip. Here the items
 * of a tenant that arrive while a batch commits gather into the next batch; the batch's work takes
 * them all at once in one transaction (reading what they need in a few statements, writing their rows
 * together) and commits once. An idle server still starts on the first item at once. Each caller is
 * answered only when the batch has committed, so an answer still means "durable".
 *
 * Each item keeps its own all-or-nothing outcome. The work answers an outcome per item, and an item it
 * answers `failed` must have written nothing (its writes are held back, or taken back to a savepoint).
 * When the work throws instead (a write refused, PostgreSQL's transaction aborted), the batch is
 * rolled back and each item is run again alone, in a savepoint of its own, so that a failure is that
 * item's alone; its domain events are kept back until it has succeeded. An item refused by a unique
 * constraint runs once more, as againOnUniqueViolation runs a lone request: on PostgreSQL a
 * concurrent batch may have stored what it was about to (the same event sent twice at once). A
 * conflict PostgreSQL broke by aborting the transaction is withTenant's to run again, whole.
 */
import { sql } from 'kysely'
import { isTransientConflict, isUniqueViolation } from './errors.ts'
import type { TenantScope } from './with-tenant.ts'

/** What became of one item: its value, or the error that is its answer. */
export type Outcome<O> = { value: O } | { failed: unknown }

/**
 * Does a batch's items in the open transaction, in order, and answers one outcome per item. An item
 * answered `failed` wrote nothing; throwing takes the whole batch back.
 */
export type BatchWork<I, O> = (scope: TenantScope, items: I[]) => Promise<Outcome<O>[]>

/** Runs a function in one tenant transaction (withTenant without the grouping). */
type Transact = <T>(tenantId: string, fn: (scope: TenantScope) => Promise<T>) => Promise<T>

interface Unit {
  work: BatchWork<unknown, unknown>
  item: unknown
  resolve: (value: unknown) => void
  reject: (err: unknown) => void
  /** Refused once by a unique constraint already: the next refusal is its answer. */
  again: boolean
}

export interface GroupCommitOptions {
  /** Batches in flight at once: SQLite has one connection; PostgreSQL a pool shared with every request. */
  concurrency: number
  /** Items in one batch at most: a batch holds its transaction (on SQLite, the write lock) until it is done. */
  maxBatch: number
}

export const ONE_BATCH_AT_A_TIME: GroupCommitOptions = { concurrency: 1, maxBatch: 50 }

export class GroupCommit {
  /** Units waiting, by tenant, in arrival order. */
  readonly #waiting = new Map<string, Unit[]>()
  #inFlight = 0
  #scheduled = false

  constructor(
    private readonly transact: Transact,
    private readonly options: GroupCommitOptions,
  ) {}

  /** Hands `item` to `work` in a batch with the items around it; resolves once that batch has committed. */
  run<I, O>(tenantId: string, work: BatchWork<I, O>, item: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      const queue = this.#waiting.get(tenantId) ?? []
      queue.push({ work: work as BatchWork<unknown, unknown>, item, resolve: resolve as (value: unknown) => void, reject, again: false })
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
    let outcomes: Outcome<unknown>[]
    try {
      outcomes = await this.transact(tenantId, (scope) => together(scope, units))
    } catch (together) {
      if (isTransientConflict(together)) return rejectAll(units, together)
      try {
        outcomes = await this.transact(tenantId, (scope) => alone(scope, units))
      } catch (err) {
        return rejectAll(units, err)
      }
    }
    units.forEach((unit, i) => {
      const outcome = outcomes[i]!
      if ('failed' in outcome) unit.reject(outcome.failed)
      else unit.resolve(outcome.value)
    })
  }
}

function rejectAll(units: Unit[], err: unknown): void {
  for (const unit of units) unit.reject(err)
}

/** The batch's items, each run of items of the same work handed to it at once. */
async function together(scope: TenantScope, units: Unit[]): Promise<Outcome<unknown>[]> {
  const outcomes: Outcome<unknown>[] = []
  for (let start = 0; start < units.length; ) {
    let end = start + 1
    while (end < units.length && units[end]!.work === units[start]!.work) end++
    const run = units.slice(start, end)
    outcomes.push(
      ...(await run[0]!.work(
        scope,
        run.map((u) => u.item),
      )),
    )
    start = end
  }
  return outcomes
}

/** Each item alone, in a savepoint: a failure takes back that item's writes and events, and is its answer. */
async function alone(scope: TenantScope, units: Unit[]): Promise<Outcome<unknown>[]> {
  const outcomes: Outcome<unknown>[] = []
  for (const unit of units) {
    for (;;) {
      const raised: [string, unknown][] = []
      await sql`savepoint grouped_item`.execute(scope.db)
      try {
        const [outcome] = await unit.work({ ...scope, emit: (type, data) => void raised.push([type, data]) }, [unit.item])
        if (outcome && 'failed' in outcome) throw outcome.failed
        for (const [type, data] of raised) scope.emit(type, data)
        await sql`release savepoint grouped_item`.execute(scope.db)
        outcomes.push(outcome!)
        break
      } catch (err) {
        if (isTransientConflict(err)) throw err
        await sql`rollback to savepoint grouped_item`.execute(scope.db)
        await sql`release savepoint grouped_item`.execute(scope.db)
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

/** Work for plain units of work: each function in turn; any failure takes the batch back (and each is then run alone). */
export const inTurn: BatchWork<(scope: TenantScope) => Promise<unknown>, unknown> = async (scope, fns) => {
  const outcomes: Outcome<unknown>[] = []
  for (const fn of fns) outcomes.push({ value: await fn(scope) })
  return outcomes
}
