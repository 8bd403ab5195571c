/**
 * The click writer's thread: it stores the batches the router hands it (click-writer.ts) on a
 * connection of its own. On PostgreSQL every batch, so that the thread answering requests does not do
 * the driver's work; on SQLite only the batches that must wait for the write lock, which the serving
 * thread's own connection never waits for.
 *
 * Its SQLite commits never checkpoint (click-store.ts). A batch may come with `tail`: first copy the
 * frames the checkpoint thread's last pass left, so that the batch's commit rewinds the WAL (why, in
 * ClickThread.takeTail, click-writer.ts).
 *
 * Messages in: `{open}` once, then `{seq, rows, tail}` with the batch's clicks as JSON, each click its
 * values in CLICK_COLUMNS' order (one string crosses threads far cheaper than a structured clone of
 * many objects, and arrays make a shorter string than objects naming every column). Messages out:
 * `{seq}` once the batch is committed, or `{seq, error}` once it is rolled back.
 */
import type { DatabaseLocation } from '../db/database.ts'
import { openSqlite } from '../db/sqlite-connection.ts'
import type { ClickValues } from './click-columns.ts'
import { type ClickStore, postgresClickStore, sqliteClickStore } from './click-store.ts'

export type ClickThreadRequest = { open: DatabaseLocation } | { seq: number; rows: string; tail: boolean }
export interface ClickThreadReply {
  seq: number
  error?: string
}

declare const self: Worker
let opened: Promise<ClickStore> | undefined

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
    if (data.tail) tailOf(store)
    await store.write(JSON.parse(data.rows) as ClickValues[])
  } catch (err) {
    reply.error = (err as Error).message ?? String(err)
  }
  self.postMessage(reply)
}

/** A tail that fails (the disk errs) is left to the next pass: the batch is still written. */
function tailOf(store: ClickStore): void {
  try {
    store.tail?.()
  } catch {}
}

async function open(location: DatabaseLocation): Promise<ClickStore> {
  return 'sqlite' in location ? sqliteClickStore(openSqlite(location.sqlite)) : postgresClickStore(location.postgres.url)
}
