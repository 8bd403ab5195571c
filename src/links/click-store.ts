/**
 * Where a batch of clicks is committed, with their counts (click-counts.ts): one transaction per batch
 * on SQLite, one statement (and transaction) per tenant on PostgreSQL. The click thread
 * (click-thread.ts) holds one store; on SQLite the writer holds one more, for the batches it commits
 * itself (click-writer.ts).
 */
import type { Database } from 'bun:sqlite'
import {
  type ClickValues,
  POSTGRES_CLICK_INSERT,
  POSTGRES_CONNECTIONS,
  SQLITE_CLICK_INSERT,
  SQLITE_COUNT_UPSERT,
  TENANT_COLUMN,
} from './click-columns.ts'
import { countClicks } from './click-counts.ts'

export interface ClickStore {
  write(rows: ClickValues[]): Promise<void> | void
  /** SQLite: copies what the checkpoint thread's last pass left of the WAL. */
  tail?(): void
}

/** A SQLite store: its writes are synchronous, and its connection is closed with it. */
export interface SqliteClickStore extends ClickStore {
  write(rows: ClickValues[]): void
  tail(): void
  close(): void
}

/**
 * A SQLite connection's store. Its commits never checkpoint: the WAL is copied into the database
 * file by the checkpoint thread (db/checkpoint-thread.ts), whose fsyncs would stall every click
 * waiting on a commit.
 */
export function sqliteClickStore(db: Database): SqliteClickStore {
  db.exec('PRAGMA wal_autocheckpoint = 0')
  const insert = db.query(SQLITE_CLICK_INSERT)
  const count = db.query(SQLITE_COUNT_UPSERT)
  const checkpoint = db.query('PRAGMA wal_checkpoint(PASSIVE)')
  return {
    // BEGIN IMMEDIATE … COMMIT, or ROLLBACK when a row throws.
    write: db.transaction((rows: ClickValues[]) => {
      for (const row of rows) insert.run(row as never)
      for (const c of countClicks(rows)) count.run(c.tenant_id, c.partner_id, c.program_id, c.period_start, c.clicks, c.flagged)
    }).immediate,
    tail: () => void checkpoint.get(),
    close: () => db.close(),
  }
}

export async function postgresClickStore(url: string): Promise<ClickStore> {
  // Loaded only here: a thread that has loaded pg without opening a pool is never ended by
  // terminate() (Bun 1.4), so a SQLite server would never finish stopping.
  const { default: pg } = await import('pg')
  const pool = new pg.Pool({ connectionString: url, max: POSTGRES_CONNECTIONS })
  // An idle client that loses its server must not end the thread; the pool replaces it.
  pool.on('error', () => {})
  const write = async (rows: ClickValues[]) => {
    const byTenant = new Map<string, ClickValues[]>()
    for (const row of rows) {
      const tenantId = row[TENANT_COLUMN]!
      const group = byTenant.get(tenantId)
      if (group) group.push(row)
      else byTenant.set(tenantId, [row])
    }
    // A prepared statement per tenant: it sets the tenant, inserts and counts, one round trip and one
    // transaction each (click-columns.ts).
    await Promise.all(
      [...byTenant].map(([tenantId, group]) => {
        const counts = countClicks(group).map((c) => [c.partner_id, c.program_id, c.period_start, c.clicks, c.flagged])
        return pool.query({
          name: 'partnerd_insert_clicks',
          text: POSTGRES_CLICK_INSERT,
          values: [JSON.stringify(group), tenantId, JSON.stringify(counts)],
        })
      }),
    )
  }
  return { write }
}
