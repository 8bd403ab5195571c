/**
 * SQLite has one write lock per file. On the serving thread two writers want it: the API's
 * transactions (db/sqlite-dialect.ts) and the click writer (links/click-writer.ts), whose thread
 * takes it batch after batch while clicks keep coming. A transaction that only retried until the lock
 * happened to be free would find it free only in the instants between two batches. So a transaction
 * asks for a turn first: every writer that gives way stops handing over work and lets what it has in
 * flight finish, and the transaction then finds the lock free, unless another process holds it.
 */

/** A writer that gives way to the serving connection's transactions. */
export interface GivesWay {
  /** Hands over no new work; resolves, with the function that lets it go on, once none is in flight. */
  pause(): Promise<() => void>
}

export class WriteTurns {
  readonly #writers = new Set<GivesWay>()

  /** Registers a writer that gives way; the function returned unregisters it. */
  add(writer: GivesWay): () => void {
    this.#writers.add(writer)
    return () => this.#writers.delete(writer)
  }

  /** Waits until every writer that gives way is idle and paused; the function returned (once) lets them go on. */
  async take(): Promise<() => void> {
    const resumes = await Promise.all([...this.#writers].map((writer) => writer.pause()))
    let ended = false
    return () => {
      if (ended) return
      ended = true
      for (const resume of resumes) resume()
    }
  }
}
