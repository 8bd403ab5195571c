/**
 * One bun:sqlite connection with the settings every connection to partnerd's file needs. Kept apart
 * from the Kysely dialect so that a worker thread (the click writer's, links/click-thread.ts) can open
 * its own connection without loading the query builder.
 */
import { Database as BunDatabase } from 'bun:sqlite'

export interface BunSqliteOptions {
  path: string
  busyTimeoutMs: number
  /**
   * database.sqlite.synchronous. In WAL mode, FULL syncs the WAL at every commit, so what was answered
   * survives a power cut; NORMAL syncs it only at checkpoints, so a commit survives a crash of the
   * process but a power cut may undo it. Either way the file itself stays sound.
   */
  synchronous: 'full' | 'normal'
}

export function openSqlite({ path, busyTimeoutMs, synchronous }: BunSqliteOptions): BunDatabase {
  const db = new BunDatabase(path, { create: true, strict: false })
  db.exec('PRAGMA journal_mode = WAL')
  db.exec('PRAGMA foreign_keys = ON')
  db.exec(`PRAGMA busy_timeout = ${Math.trunc(busyTimeoutMs)}`)
  db.exec(`PRAGMA synchronous = ${synchronous === 'full' ? 'FULL' : 'NORMAL'}`)
  return db
}
