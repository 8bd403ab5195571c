/**
 * The click writer's thread: it stores the batches the router hands it (click-writer.ts) on a
 * connection of its own, so that the thread answering requests never waits on a commit, a WAL flush
 * or the database driver's work. Measured on that thread, each click's insert and share of a SQLite
 * commit cost it 8-14 µs.
 *
 * On SQLite its commits never checkpoint: the WAL is copied into the database file by a thread of
 * its own (db/checkpoint-thread.ts), whose fsyncs would stall every click waiting on a commit here.
 * After each of that thread's passes, the writer asks this one to copy the few frames written
 * meanwhile (`tail`) before its next batch, so that batch's commit finds the WAL wholly copied and
 * rewinds it: the WAL stays small (a long WAL makes every page lookup slower).
 *
 * Messages in: `{open}` once, then `{seq, rows, tail}` with the batch's click rows as JSON (one string
 * crosses threads far cheaper than a structured clone of many objects). Messages out: `{seq}` once
 * the batch is committed, or `{seq, error}` once it is rolled back.
 */
import type { DatabaseLocation } from '../db/database.ts'
import { openSqlite } from '../db/sqlite-connection.ts'
import { type ClickRow, clickValues } from './click-columns.ts'
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
    await store.write((JSON.parse(data.rows) as ClickRow[]).map(clickValues))
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
