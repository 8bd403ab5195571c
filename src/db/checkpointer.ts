/**
 * The main thread's side of the WAL's checkpoint thread (checkpoint-thread.ts): it starts the thread,
 * passes on each report that a pass copied frames, and starts a new thread, a second later, if one
 * dies. While it runs, no other connection needs to checkpoint.
 */
import type { Logger } from '../log/logger.ts'
import { threadEntry } from '../threads.ts'
import type { CheckpointThreadReport, CheckpointThreadRequest } from './checkpoint-thread.ts'
import type { BunSqliteOptions } from './sqlite-connection.ts'

const RESTART_DELAY_MS = 1000

export class Checkpointer {
  #worker: Worker | undefined
  #restart: ReturnType<typeof setTimeout> | undefined
  #stopped = false

  constructor(
    private readonly sqlite: BunSqliteOptions,
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
  }

  #start(): void {
    const worker = new Worker(threadEntry('./db/checkpoint-thread.ts'))
    worker.onmessage = (_: MessageEvent<CheckpointThreadReport>) => this.copied()
    const died = (reason: string) => {
      if (this.#worker !== worker || this.#stopped) return
      this.#worker = undefined
      worker.terminate()
      this.log.error(`the WAL checkpoint thread ${reason}; a new one starts in a second`)
      this.#restart = setTimeout(() => this.#start(), RESTART_DELAY_MS)
      this.#restart.unref()
    }
    worker.addEventListener('error', (event) => died(`failed: ${event.message}`))
    worker.addEventListener('close', () => died('stopped'))
    // The server keeps the process alive; an idle database's checkpoints should not.
    ;(worker as Worker & { unref(): void }).unref()
    worker.postMessage({ open: this.sqlite } satisfies CheckpointThreadRequest)
    this.#worker = worker
  }
}
