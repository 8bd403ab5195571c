/**
 * Commits that need not wait for the disk. A transaction commits durably by default: SQLite syncs its
 * WAL (synchronous FULL, database.sqlite.synchronous), PostgreSQL flushes its WAL before COMMIT
 * answers. Some writes lose nothing that matters when a power cut or an OS crash undoes them: the
 * webhook worker's own bookkeeping (a claim, an outcome, the next retry's time) at worst makes it
 * send a delivery again, which at-least-once delivery allows. The deliveries themselves are written
 * by the change that raised them, durably.
 *
 * Transactions begun inside `withoutDiskWait` commit without that wait: on SQLite with synchronous
 * NORMAL for the transaction (in WAL mode its frames are written and the next durable commit's sync
 * covers them too, so nothing is reordered), on PostgreSQL with synchronous_commit off. A kill -9 of
 * partnerd loses none of them: the writes are in the operating system's hands already.
 *
 * Why it matters: bun:sqlite is synchronous, so a sync holds up the thread that commits and every
 * request it serves (0.1 ms on a quiet disk, 4 ms on this machine's disk under load, measured).
 */
import { AsyncLocalStorage } from 'node:async_hooks'

const noDiskWait = new AsyncLocalStorage<true>()

/** Runs `fn`; the transactions it begins commit without waiting for the disk. */
export function withoutDiskWait<T>(fn: () => Promise<T>): Promise<T> {
  return noDiskWait.run(true, fn)
}

/** Whether the transaction being begun here may commit without waiting for the disk. */
export function diskWaitSkipped(): boolean {
  return noDiskWait.getStore() === true
}
