/**
 * The click writer's thread: it stores the batches the router hands it (click-writer.ts) on a
 * connection of its own, so that the thread answering requests never waits on a commit, a WAL flush
 * or the database driver's work. Measured on that thread, each click's insert and share of a SQLite
 * commit cost it 8-14 µs.
 *
 * On SQLite its commits never checkpoint: the WAL is copied into the database file by a thread of
 * its own (db/checkpoint-thread.ts), whose fsyncs would stall every click waiting on a commit here.
 * After each of that thread's passes, this one (the writer of nearly every commit) copies the few
 * frames written meanwhile (`{tail}`), so its next commit finds the WAL wholly copied and rewinds
 * it: the WAL stays small (a long WAL makes every page lookup slower).
 *
 * Messages in: `{open}` once, then `{seq, rows}` with the batch's click rows as JSON (one string crosses
 * threads far cheaper than a structured clone of many objects), and `{tail}`. Messages out: `{seq}`
 * once the batch is committed, or `{seq, error}` once it is rolled back.
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

export type ClickThreadRequest = { open: DatabaseLocation } | { seq: number; rows: string } | { tail: true }
export interface ClickThreadReply {
  seq: number
  error?: string
}

declare const self: Worker
interface Store {
  write(rows: ClickValues[]): Promise<void> | void
  /** SQLite: copies what the checkpoint thread's last pass left of the WAL. */
  tail?(): void
}
let opened: Promise<Store> | undefined

self.onmessage = async ({ data }: MessageEvent<ClickThreadRequest>) => {
  if ('tail' in data) {
    // A tail that fails (the database cannot be opened, the disk errs) is left to the next pass.
    await opened?.then((store) => store.tail?.()).catch(() => {})
    return
  }
  if ('open' in data) {
    opened = open(data.open)
    opened.catch(() => {}) // a database that cannot be opened is reported with each batch
    return
  }
  const reply: ClickThreadReply = { seq: data.seq }
  try {
    if (!opened) throw new Error('click thread: no database opened')
    const store = await opened
    await store.write((JSON.parse(data.rows) as ClickRow[]).map(clickValues))
  } catch (err) {
    reply.error = (err as Error).message ?? String(err)
  }
  self.postMessage(reply)
}

async function open(location: DatabaseLocation): Promise<Store> {
  return 'sqlite' in location ? sqliteStore(openSqlite(location.sqlite)) : postgresStore(location.postgres.url)
}

function sqliteStore(db: Database): Store {
  db.exec('PRAGMA wal_autocheckpoint = 0')
  const insert = db.query(SQLITE_CLICK_INSERT)
  const checkpoint = db.query('PRAGMA wal_checkpoint(PASSIVE)')
  return {
    // BEGIN IMMEDIATE … COMMIT, or ROLLBACK when a row throws.
    write: db.transaction((rows: ClickValues[]) => {
      for (const row of rows) insert.run(row as never)
    }).immediate,
    tail: () => void checkpoint.get(),
  }
}

async function postgresStore(url: string): Promise<Store> {
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
    // A prepared statement per tenant: it sets the tenant and inserts, one round trip and one
    // transaction each (click-columns.ts).
    await Promise.all(
      [...byTenant].map(([tenantId, group]) =>
        pool.query({ name: 'partnerd_insert_clicks', text: POSTGRES_CLICK_INSERT, values: [JSON.stringify(group), tenantId] }),
      ),
    )
  }
  return { write }
}
