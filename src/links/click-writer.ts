/**
 * Group commit for clicks. A redirect is answered only once its click is stored, but one transaction
 * per click would cap the router at the database's commit rate. Each click waits in a queue; while
 * one batch commits, the clicks that arrive meanwhile gather into the next, so under load many clicks
 * share a commit and an idle router still writes the first click at once.
 */
import { CompiledQuery, sql } from 'kysely'
import type { Database } from '../db/database.ts'
import type { DB } from '../db/schema.ts'

type ClickRow = DB['clicks']

interface Waiting {
  row: ClickRow
  resolve: () => void
  reject: (err: unknown) => void
}

/**
 * The hot path writes through fixed SQL text rather than the query builder: building a many-row
 * INSERT for every batch cost more than the database's own work. Every column is text.
 */
const COLUMNS = [
  'id',
  'tenant_id',
  'link_id',
  'partner_id',
  'program_id',
  'source',
  'ip_hash',
  'user_agent',
  'referer',
  'sub_source',
  'flag',
  'created_at',
] as const satisfies readonly (keyof ClickRow)[]
const SQLITE_INSERT = `insert into clicks (${COLUMNS.join(', ')}) values (${COLUMNS.map(() => '?').join(', ')})`
/** One statement per batch: each column sent as an array, unnested back into rows. */
const POSTGRES_INSERT = `insert into clicks (${COLUMNS.join(', ')}) select * from unnest(${COLUMNS.map((_, i) => `$${i + 1}::text[]`).join(', ')})`

export class ClickWriter {
  #queue: Waiting[] = []
  readonly #drains = new Set<Promise<void>>()
  /** Batches committed, and clicks in them: what the benchmark reports. */
  readonly stats = { batches: 0, clicks: 0 }

  constructor(
    private readonly database: Database,
    private readonly maxBatch = 2000,
    /**
     * Batches committing at once. SQLite has one connection, so one. PostgreSQL's commit waits on the
     * server's fsync while the pool has other connections idle: a few batches in flight keep it busy.
     */
    private readonly concurrency = database.dialect === 'postgres' ? 4 : 1,
  ) {}

  /** Resolves once the click is committed; rejects if its batch failed. */
  write(row: ClickRow): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#queue.push({ row, resolve, reject })
      if (this.#drains.size < this.concurrency) {
        const drain: Promise<void> = this.#drain().finally(() => this.#drains.delete(drain))
        this.#drains.add(drain)
      }
    })
  }

  /** Waits for every queued click to be written. */
  async flush(): Promise<void> {
    while (this.#drains.size > 0) await Promise.all(this.#drains)
  }

  async #drain(): Promise<void> {
    while (this.#queue.length > 0) {
      // bun:sqlite runs a commit synchronously, and no request is read meanwhile: yield to the event
      // loop, so the requests already waiting add their clicks to this batch; again while they keep
      // coming (a few turns at most, so an idle router still writes at once).
      for (let turn = 0, before = -1; turn < 4 && this.#queue.length > before; turn++) {
        before = this.#queue.length
        await new Promise<void>((resolve) => setImmediate(resolve))
      }
      const batch = this.#queue.splice(0, this.maxBatch)
      if (batch.length === 0) return
      try {
        await this.#insert(batch.map((w) => w.row))
        this.stats.batches++
        this.stats.clicks += batch.length
        for (const w of batch) w.resolve()
      } catch (err) {
        for (const w of batch) w.reject(err)
      }
    }
  }

  async #insert(rows: ClickRow[]): Promise<void> {
    const byTenant = new Map<string, ClickRow[]>()
    for (const row of rows) {
      const group = byTenant.get(row.tenant_id)
      if (group) group.push(row)
      else byTenant.set(row.tenant_id, [row])
    }
    await this.database.db.transaction().execute(async (trx) => {
      for (const [tenantId, tenantRows] of byTenant) {
        if (this.database.sqlite) {
          // One prepared statement run per row on the connection this transaction holds.
          const insert = this.database.sqlite.query(SQLITE_INSERT)
          for (const row of tenantRows) insert.run(COLUMNS.map((c) => row[c]) as never)
        } else {
          // Row-level security checks each row against the transaction's tenant: set it per group.
          await sql`select set_config('app.tenant_id', ${tenantId}, true)`.execute(trx)
          await trx.executeQuery(
            CompiledQuery.raw(
              POSTGRES_INSERT,
              COLUMNS.map((c) => tenantRows.map((row) => row[c])),
            ),
          )
        }
      }
    })
  }
}
