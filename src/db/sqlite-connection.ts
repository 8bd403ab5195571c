/**
 * One bun:sqlite connection with the settings every connection to partnerd's file needs. Kept apart
 * from the Kysely dialect so that a worker thread (the click writer's, links/click-thread.ts) can open
 * its own connection without loading the query builder.
 */
import { Database as BunDatabase } from 'bun:sqlite'

export interface BunSqliteOptions {
  path: string
  busyTimeoutMs: number
}

export function openSqlite({ path, busyTimeoutMs }: BunSqliteOptions): BunDatabase {
  const db = new BunDatabase(path, { create: true, strict: false })
  db.exec('PRAGMA journal_mode = WAL')
  db.exec('PRAGMA foreign_keys = ON')
  db.exec(`PRAGMA busy_timeout = ${Math.trunc(busyTimeoutMs)}`)
  db.exec('PRAGMA synchronous = NORMAL') // durable across process crashes in WAL mode; fsync at checkpoints
  return db
}
