/**
 * Group commit for clicks. A redirect is answered only once its click is stored, but one transaction
 * per click would cap the router at the database's commit rate. Each click waits in a queue; while
 * one batch commits, the clicks that arrive meanwhile gather into the next, so under load many clicks
 * share a commit and an idle router still writes the first click at once.
 *
 * On PostgreSQL the batches are stored by a thread of their own (click-thread.ts): this thread
 * queues, hands over and answers, and the thread does the driver's work.
 *
 * On SQLite a batch is committed on this thread, on a connection of its own, whenever nothing is in
 * flight. Each hand-over to the thread costs this thread a JSON copy of the batch and two messages,
 * and the other thread its wake-ups and the copy back, for less work than a click's insert (3-5 µs);
 * and while a batch travels the next cannot start, so batches were smaller and commits more. With
 * synchronous `full` a commit holds this thread for the WAL's sync (0.08-0.3 ms on this disk; the
 * clicks read meanwhile gather into the next batch, as they would while a batch travelled). Measured
 * against handing every batch over (paired runs, synchronous full): at 32 connections 1.26x the
 * clicks answered, p99 7 ms instead of 28, 35 µs of CPU a click instead of 45; at 256, 19 µs a click
 * instead of 25. What it would cost if every batch were committed here: while hundreds of visitors
 * click at once, every other request (the API, /health, the console) would wait behind the commits,
 * /health's median going from 0.05 ms to 2-5 ms (its p99 11-30 ms instead of 6-13). So batches of
 * more than COMMIT_HERE_MAX clicks, which only such a flood makes, still go to the thread: a
 * campaign's traffic does not slow the people running the program, for about 6 µs more CPU a click
 * there. The thread also takes the batches that must wait for the write lock, which this
 * connection never waits for.
 *
 * A batch due to follow a tail (ClickThread.takeTail) copies it first, wherever it is committed:
 * the checkpoint thread has copied and synced nearly all of the WAL by then, so the tail is a few
 * frames and a sync (1-2 ms, measured), against sending that batch to the thread, where every batch
 * after it waited for it to come back: 1.1-1.35x the clicks answered, 1-8 µs less CPU a click, p99
 * no worse (paired runs, 32 and 256 connections).
 */
import { Checkpointer } from '../db/checkpointer.ts'
import type { Database } from '../db/database.ts'
import { isBusy } from '../db/errors.ts'
import { openSqlite } from '../db/sqlite-connection.ts'
import type { GivesWay } from '../db/write-turns.ts'
import type { Logger } from '../log/logger.ts'
import { threadEntry } from '../threads.ts'
import { type ClickRow, type ClickValues, clickValues, POSTGRES_CONNECTIONS } from './click-columns.ts'
import { type SqliteClickStore, sqliteClickStore } from './click-store.ts'
import type { ClickThreadReply, ClickThreadRequest } from './click-thread.ts'

/** The clicks gathering for the next commit (as their column values), and the one promise they all wait on. */
interface Batch {
  rows: ClickValues[]
  committed: Promise<void>
  settle: (err?: unknown) => void
}

/** Clicks in one batch at most. */
const MAX_BATCH = 2000
/**
 * SQLite: the largest batch committed on this thread (see above). Batches stay below it up to some
 * 64 visitors clicking at once; above, they go to the thread, where their commit holds up no request.
 */
const COMMIT_HERE_MAX = 64

export interface ClickWriterOptions {
  /** The URL of the thread's entry file (click-thread.ts); tests start one that fails on cue. */
  thread?: string
  /** SQLite: whether batches may be committed on this thread (yes, unless told otherwise: tests send every batch over). */
  commitHere?: boolean
}

/**
 * On SQLite it gives way to the serving connection's transactions (db/write-turns.ts): while one asks
 * for the write lock or holds it, clicks gather and wait, and go in one batch once it is over.
 */
export class ClickWriter implements GivesWay {
  /** Batches not yet handed over; the last one gathers the clicks that arrive. */
  readonly #waiting: Batch[] = []
  #inFlight = 0
  #idle: (() => void)[] = []
  /** How many of the serving connection's transactions this writer gives way to; and theirs waiting for nothing to be in flight. */
  #paused = 0
  #drained: (() => void)[] = []
  readonly #leaveTurns: (() => void) | undefined
  readonly #thread: ClickThread
  /**
   * Batches in flight at once. SQLite takes them one after another: a second waits in the thread, so
   * the thread starts on it while the first one's answer travels back. PostgreSQL takes one per
   * connection of the thread's pool (click-columns.ts).
   */
  readonly #concurrency: number
  /**
   * SQLite: the store for the batches committed here. Its connection never waits for a lock: a batch
   * that finds the database locked (by the thread, or a transaction of the API's) goes to the thread,
   * which waits as long as busy_timeout_ms allows.
   */
  readonly #here: SqliteClickStore | undefined

  constructor(database: Database, log: Logger, options: ClickWriterOptions = {}) {
    const { location } = database
    this.#thread = new ClickThread(database, log, options.thread ?? threadEntry('./links/click-thread.ts'))
    this.#concurrency = 'sqlite' in location ? 2 : POSTGRES_CONNECTIONS
    if ('sqlite' in location && options.commitHere !== false) {
      this.#here = sqliteClickStore(openSqlite({ ...location.sqlite, busyTimeoutMs: 0 }))
    }
    this.#leaveTurns = database.writeTurns?.add(this)
  }

  pause(): Promise<() => void> {
    this.#paused++
    let resumed = false
    const resume = () => {
      if (resumed) return
      resumed = true
      this.#paused--
      this.#send()
    }
    if (this.#inFlight === 0) return Promise.resolve(resume)
    return new Promise((resolve) => this.#drained.push(() => resolve(resume)))
  }

  /** Resolves once the click is committed; rejects if its batch failed. A batch's clicks share one promise. */
  write(row: ClickRow): Promise<void> {
    let batch = this.#waiting.at(-1)
    if (!batch || batch.rows.length >= MAX_BATCH) {
      batch = newBatch()
      this.#waiting.push(batch)
      // One turn of the event loop, so the requests read in the same burst join it; then it goes as
      // soon as fewer than #concurrency batches are in flight, gathering clicks until then.
      setImmediate(() => this.#send())
    }
    batch.rows.push(clickValues(row))
    return batch.committed
  }

  /** Waits for every queued click to be written. */
  async flush(): Promise<void> {
    while (this.#waiting.length > 0 || this.#inFlight > 0) await new Promise<void>((resolve) => this.#idle.push(resolve))
  }

  /** Writes what is queued, then stops the thread. */
  async close(): Promise<void> {
    this.#leaveTurns?.()
    await this.flush()
    await this.#thread.stop()
    this.#here?.close()
  }

  #send(): void {
    while (this.#paused === 0 && this.#inFlight < this.#concurrency && this.#waiting.length > 0) {
      const batch = this.#waiting.shift()!
      if (this.#inFlight === 0 && batch.rows.length <= COMMIT_HERE_MAX && this.#commitHere(batch)) continue
      this.#inFlight++
      this.#thread
        .commit(batch.rows)
        .then(
          () => batch.settle(),
          (err) => batch.settle(err),
        )
        .finally(() => {
          this.#inFlight--
          this.#send()
        })
    }
    if (this.#inFlight > 0) return
    for (const resolve of this.#drained.splice(0)) resolve()
    if (this.#waiting.length === 0) for (const resolve of this.#idle.splice(0)) resolve()
  }

  /** Commits the batch on this thread's connection; false if the database was locked and nothing was written. */
  #commitHere(batch: Batch): boolean {
    if (!this.#here) return false
    // Nothing is in flight, so no commit comes between the tail and this batch's (ClickThread.takeTail).
    if (this.#thread.takeTail()) tailOf(this.#here)
    try {
      this.#here.write(batch.rows)
    } catch (err) {
      if (isBusy(err)) return false
      batch.settle(err)
      return true
    }
    batch.settle()
    return true
  }
}

function newBatch(): Batch {
  let settle!: Batch['settle']
  const committed = new Promise<void>((resolve, reject) => {
    settle = (err) => (err === undefined ? resolve() : reject(err))
  })
  return { rows: [], committed, settle }
}

/**
 * The thread, seen from here. It starts with the writer; one that dies fails the batches it held
 * (their redirects answer 500: nothing was stored) and the next batch starts a new one.
 */
const STOP_WAIT_MS = 2000

class ClickThread {
  #worker: Worker | undefined
  /** SQLite: the WAL's checkpoints, which the thread's commits leave to it (click-thread.ts). */
  #checkpointer: Checkpointer | undefined
  #seq = 0
  #tailDue = false
  readonly #pending = new Map<number, { resolve: () => void; reject: (err: Error) => void }>()

  constructor(
    private readonly database: Database,
    private readonly log: Logger,
    private readonly entry: string,
  ) {
    this.#start()
  }

  /**
   * Whether the checkpoint thread has made a pass since the last tail, cleared as it is asked: the
   * next batch's writer then first copies the frames left over, and then commits, with no commit
   * between the two. So the commit finds the WAL wholly copied and rewinds it, and the WAL stays
   * short (a long WAL makes every page lookup slower).
   */
  takeTail(): boolean {
    const due = this.#tailDue
    this.#tailDue = false
    return due
  }

  commit(rows: ClickValues[]): Promise<void> {
    const worker = this.#worker ?? this.#start()
    const seq = ++this.#seq
    const tail = this.takeTail()
    return new Promise((resolve, reject) => {
      this.#pending.set(seq, { resolve, reject })
      send(worker, { seq, rows: JSON.stringify(rows), tail })
    })
  }

  async stop(): Promise<void> {
    const worker = this.#worker
    this.#worker = undefined
    if (worker) {
      const closed = new Promise((resolve) => worker.addEventListener('close', resolve, { once: true }))
      worker.terminate()
      // Stopping must end even if the thread never reports that it closed.
      let timer: ReturnType<typeof setTimeout> | undefined
      await Promise.race([closed, new Promise((resolve) => (timer = setTimeout(resolve, STOP_WAIT_MS)))])
      clearTimeout(timer)
      this.#failAll(new Error('the click writer was stopped'))
    }
    // The checkpoint thread outlives a click thread that died (the next click starts another), so
    // it is stopped whether or not one runs now: left running, it would reach for the serving
    // connection after the database closed, and throw from a timer.
    this.#checkpointer?.stop()
    this.#checkpointer = undefined
  }

  #start(): Worker {
    const worker = new Worker(this.entry)
    worker.onmessage = ({ data }: MessageEvent<ClickThreadReply>) => {
      const waiting = this.#pending.get(data.seq)
      this.#pending.delete(data.seq)
      if (data.error === undefined) waiting?.resolve()
      else waiting?.reject(new Error(`click batch not stored: ${data.error}`))
    }
    const died = (reason: string) => {
      if (this.#worker !== worker) return
      this.#worker = undefined
      worker.terminate()
      this.log.error(`the click writer's thread ${reason}; the next click starts a new one`)
      this.#failAll(new Error(`the click writer's thread ${reason}`))
    }
    worker.addEventListener('error', (event) => died(`failed: ${event.message}`))
    worker.addEventListener('close', () => died('stopped'))
    // The server keeps the process alive; an idle writer's thread should not.
    ;(worker as Worker & { unref(): void }).unref()
    send(worker, { open: this.database.location })
    this.#worker = worker
    if ('sqlite' in this.database.location) {
      this.#checkpointer ??= new Checkpointer(this.database, this.log, () => {
        this.#tailDue = true
      })
    }
    return worker
  }

  #failAll(err: Error): void {
    for (const waiting of this.#pending.values()) waiting.reject(err)
    this.#pending.clear()
  }
}

/** A tail that fails (the disk errs, or another connection is checkpointing) is left to the next pass. */
function tailOf(store: SqliteClickStore): void {
  try {
    store.tail()
  } catch {}
}

function send(worker: Worker, message: ClickThreadRequest): void {
  worker.postMessage(message)
}
