/**
 * Group commit for clicks. A redirect is answered only once its click is stored, but one transaction
 * per click would cap the router at the database's commit rate. Each click waits in a queue; while
 * one batch commits, the clicks that arrive meanwhile gather into the next, so under load many clicks
 * share a commit and an idle router still writes the first click at once.
 */
import { sql } from 'kysely'
import type { Database } from '../db/database.ts'
import type { DB } from '../db/schema.ts'

type ClickRow = DB['clicks']

interface Waiting {
  row: ClickRow
  resolve: () => void
  reject: (err: unknown) => void
}

/** Rows per INSERT statement: well under SQLite's bound-parameter limit (12 columns each). */
const ROWS_PER_STATEMENT = 500

export class ClickWriter {
  #queue: Waiting[] = []
  #draining: Promise<void> | undefined
  /** Batches committed, and clicks in them: what the benchmark reports. */
  readonly stats = { batches: 0, clicks: 0 }

  constructor(
    private readonly database: Database,
    private readonly maxBatch = 2000,
  ) {}

  /** Resolves once the click is committed; rejects if its batch failed. */
  write(row: ClickRow): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#queue.push({ row, resolve, reject })
      this.#draining ??= this.#drain()
    })
  }

  /** Waits for every queued click to be written. */
  async flush(): Promise<void> {
    while (this.#draining) await this.#draining
  }

  async #drain(): Promise<void> {
    try {
      while (this.#queue.length > 0) {
        const batch = this.#queue.splice(0, this.maxBatch)
        try {
          await this.#insert(batch.map((w) => w.row))
          this.stats.batches++
          this.stats.clicks += batch.length
          for (const w of batch) w.resolve()
        } catch (err) {
          for (const w of batch) w.reject(err)
        }
      }
    } finally {
      this.#draining = undefined
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
        // Row-level security checks each row against the transaction's tenant: set it per group.
        if (this.database.dialect === 'postgres') await sql`select set_config('app.tenant_id', ${tenantId}, true)`.execute(trx)
        for (let i = 0; i < tenantRows.length; i += ROWS_PER_STATEMENT) {
          await trx
            .insertInto('clicks')
            .values(tenantRows.slice(i, i + ROWS_PER_STATEMENT))
            .execute()
        }
      }
    })
  }
}
