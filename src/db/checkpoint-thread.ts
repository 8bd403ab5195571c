/**
 * The SQLite WAL's checkpoints, on a thread and a connection of their own (started by checkpointer.ts).
 * A checkpoint fsyncs the WAL and then the database file: 10-15 ms each on this machine's disk, which
 * stalled whichever thread ran it, and every click waiting on that thread's commits (40% of the
 * click thread's time went to checkpoints, measured). Here a PASSIVE checkpoint runs every
 * INTERVAL_MS; it takes no lock that writers wait for, so commits go on while it copies and syncs.
 *
 * The WAL starts over from its beginning only at a write that finds it wholly copied, and under a
 * steady stream of clicks new frames arrive while a pass runs: after each pass that copied frames,
 * the thread says so, and the click writer copies the few frames written meanwhile itself, just
 * before a commit, so that the commit rewinds the WAL (ClickThread.takeTail, links/click-writer.ts).
 *
 * Messages in: `{open: {path, busyTimeoutMs}}`, once. Messages out: `{copied}`, the frames copied,
 * after each pass that copied any.
 */
import { type BunSqliteOptions, openSqlite } from './sqlite-connection.ts'

export interface CheckpointThreadRequest {
  open: BunSqliteOptions
}
export interface CheckpointThreadReport {
  copied: number
}

const INTERVAL_MS = 100

declare const self: Worker

self.onmessage = ({ data }: MessageEvent<CheckpointThreadRequest>) => {
  const db = openSqlite(data.open)
  db.exec('PRAGMA wal_autocheckpoint = 0')
  const checkpoint = db.query('PRAGMA wal_checkpoint(PASSIVE)')
  // The frames of the WAL copied so far, by any connection: a new count means this pass copied some.
  // The first pass only takes the count: it cannot tell its own copying from that of the connections
  // before it (another writer's checkpoint thread, on a database opened twice), and a report of
  // nothing new would send the next batch the long way round for no gain.
  let copiedBefore = (checkpoint.get() as { checkpointed: number }).checkpointed
  const pass = () => {
    const { checkpointed } = checkpoint.get() as { checkpointed: number }
    if (checkpointed > 0 && checkpointed !== copiedBefore) self.postMessage({ copied: checkpointed } satisfies CheckpointThreadReport)
    copiedBefore = checkpointed
    setTimeout(pass, INTERVAL_MS)
  }
  setTimeout(pass, INTERVAL_MS)
}
