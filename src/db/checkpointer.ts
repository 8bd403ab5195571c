/**
 * The main thread's side of the WAL's checkpoint thread (checkpoint-thread.ts): it starts the thread,
 * passes on each report that a pass copied frames, and starts a new thread, a second later, if one
 * dies. While a checkpoint thread runs, the serving connection makes no checkpoints, so no request
 * waits on one; while none runs, it goes back to SQLite's own.
 */
import type { Logger } from '../log/logger.ts'
import { threadEntry } from '../threads.ts'
import type { CheckpointThreadReport, CheckpointThreadRequest } from './checkpoint-thread.ts'
import type { Database } from './database.ts'

const RESTART_DELAY_MS = 1000
/** SQLite's own default: a commit that takes the WAL past this many pages checkpoints. */
const SQLITE_AUTOCHECKPOINT_PAGES = 1000

export class Checkpointer {
  #worker: Worker | undefined
  #restart: ReturnType<typeof setTimeout> | undefined
  #stopped = false

  constructor(
    /** A SQLite database. */
    private readonly database: Database,
    private readonly log: Logger,
    /** Called after each pass that copied frames. */
    private readonly copied: () => void,
  ) {
    this.#start()
  }

  stop(): void {
    this.#stopped = true
    clearTimeout(this.#restart)
    this.#worker?.terminate()
    this.#worker = undefined
    this.#servingCheckpoints(true)
  }

  #start(): void {
    const { location } = this.database
    if (!('sqlite' in location)) throw new Error('the WAL checkpoint thread is for SQLite')
    const worker = new Worker(threadEntry('./db/checkpoint-thread.ts'))
    worker.onmessage = (_: MessageEvent<CheckpointThreadReport>) => this.copied()
    const died = (reason: string) => {
      if (this.#worker !== worker || this.#stopped) return
      this.#worker = undefined
      worker.terminate()
      this.#servingCheckpoints(true)
      this.log.error(`the WAL checkpoint thread ${reason}; a new one starts in a second`)
      this.#restart = setTimeout(() => this.#start(), RESTART_DELAY_MS)
      this.#restart.unref()
    }
    worker.addEventListener('error', (event) => died(`failed: ${event.message}`))
    worker.addEventListener('close', () => died('stopped'))
    // The server keeps the process alive; an idle database's checkpoints should not.
    ;(worker as Worker & { unref(): void }).unref()
    worker.postMessage({ open: location.sqlite } satisfies CheckpointThreadRequest)
    this.#worker = worker
    this.#servingCheckpoints(false)
  }

  #servingCheckpoints(on: boolean): void {
    this.database.walAutocheckpoint?.(on ? SQLITE_AUTOCHECKPOINT_PAGES : 0)
  }
}
