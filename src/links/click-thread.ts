/**
 * The click writer's thread: it stores the batches the router hands it (click-writer.ts) on a
 * connection of its own, so that the thread answering requests never waits on a commit, a WAL flush
 * or the database driver's work. Measured on that thread, each click's insert and share of a SQLite
 * commit cost it 8-14 µs, and the checkpoints a commit set off stalled it for 10-40 ms.
 *
 * On SQLite it is also where the WAL is checkpointed. Its connection keeps SQLite's own checkpoint
 * after the commit that takes the WAL past 1,000 pages; as the writer of nearly every commit, it
 * finds the WAL wholly copied afterwards, so the WAL is rewound and stays small (a long WAL makes
 * every page lookup slower). The main connection checkpoints nothing while this thread runs, so no
 * request waits on a checkpoint's fsync; when clicks are idle, a timer here checkpoints the API's
 * writes.
 *
 * Messages in: `{open}` once, then `{seq, rows}` with the batch's click rows as JSON (one string crosses
 * threads far cheaper than a structured clone of many objects). Messages out: `{seq}` once the batch
 * is committed, or `{seq, error}` once it is rolled back.
 */
import type { Database } from 'bun:sqlite'
import type { DatabaseLocation } from '../db/database.ts'
import { openSqlite } from '../db/sqlite-connection.ts'
import {
  type ClickRow,
  type ClickValues,
  clickValues,
  POSTGRES_CLICK_INSERT,
  POSTGRES_CONNECTIONS,
  SQLITE_CLICK_INSERT,
  TENANT_COLUMN,
} from './click-columns.ts'

export type ClickThreadRequest = { open: DatabaseLocation } | { seq: number; rows: string }
export interface ClickThreadReply {
  seq: number
  error?: string
}

const IDLE_CHECKPOINT_MS = 1000

declare const self: Worker
type Store = (rows: ClickValues[]) => Promise<void> | void
let opened: Promise<Store> | undefined

self.onmessage = async ({ data }: MessageEvent<ClickThreadRequest>) => {
  if ('open' in data) {
    opened = open(data.open)
    opened.catch(() => {}) // a database that cannot be opened is reported with each batch
    return
  }
  const reply: ClickThreadReply = { seq: data.seq }
  try {
    if (!opened) throw new Error('click thread: no database opened')
    const store = await opened
    await store((JSON.parse(data.rows) as ClickRow[]).map(clickValues))
  } catch (err) {
    reply.error = (err as Error).message ?? String(err)
  }
  self.postMessage(reply)
}

async function open(location: DatabaseLocation): Promise<Store> {
  return 'sqlite' in location ? sqliteStore(openSqlite(location.sqlite)) : postgresStore(location.postgres.url)
}

function sqliteStore(db: Database): Store {
  const insert = db.query(SQLITE_CLICK_INSERT)
  // BEGIN IMMEDIATE … COMMIT, or ROLLBACK when a row throws.
  const insertAll = db.transaction((rows: ClickValues[]) => {
    for (const row of rows) insert.run(row as never)
  }).immediate
  let wrote = false
  setInterval(() => {
    if (!wrote) db.query('PRAGMA wal_checkpoint(PASSIVE)').get()
    wrote = false
  }, IDLE_CHECKPOINT_MS)
  return (rows: ClickValues[]) => {
    insertAll(rows)
    wrote = true
  }
}

async function postgresStore(url: string): Promise<Store> {
  // Loaded only here: a thread that has loaded pg without opening a pool is never ended by
  // terminate() (Bun 1.4), so a SQLite server would never finish stopping.
  const { default: pg } = await import('pg')
  const pool = new pg.Pool({ connectionString: url, max: POSTGRES_CONNECTIONS })
  // An idle client that loses its server must not end the thread; the pool replaces it.
  pool.on('error', () => {})
  return async (rows: ClickValues[]) => {
    const byTenant = new Map<string, ClickValues[]>()
    for (const row of rows) {
      const tenantId = row[TENANT_COLUMN]!
      const group = byTenant.get(tenantId)
      if (group) group.push(row)
      else byTenant.set(tenantId, [row])
    }
    // A prepared statement per tenant: it sets the tenant and inserts, one round trip and one
    // transaction each (click-columns.ts).
    await Promise.all(
      [...byTenant].map(([tenantId, group]) =>
        pool.query({ name: 'partnerd_insert_clicks', text: POSTGRES_CLICK_INSERT, values: [JSON.stringify(group), tenantId] }),
      ),
    )
  }
}
