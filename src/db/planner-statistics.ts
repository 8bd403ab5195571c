/**
 * SQLite's planner statistics, kept up to date while a server runs, as SQLite advises for a
 * long-lived connection: PRAGMA optimize when it starts (with 0x10002, every table) and every ten
 * minutes after (ANALYZE of the tables that grew or shrank a lot since, cheap when none did). Only a
 * server does it: the command line's inspections and restores leave the file as they found it.
 *
 * Without statistics the planner guesses that `tenant_id = ?` picks a few rows, and for a lookup of
 * many ids (`tenant_id = ? and id in (…)`) it walked a tenant index over every row of the tenant
 * rather than taking each id from the primary key: the webhook worker's outcomes of 200 deliveries
 * read the whole outbox, a cost that grows with its history (measured over 10,000: 2.7-4.3 ms a
 * batch, against 1.2-2.2 ms with the statistics). PostgreSQL's autovacuum keeps its own.
 */
import { sql } from 'kysely'
import type { Database } from './database.ts'

const EVERY_MS = 10 * 60_000

/** Starts keeping the statistics; answers how to stop. */
export async function keepPlannerStatistics(database: Database): Promise<() => void> {
  if (database.dialect !== 'sqlite') return () => {}
  // Through Kysely, so that each waits its turn on the connection; a busy database waits for the next.
  await sql`pragma optimize = 0x10002`.execute(database.db)
  const timer = setInterval(() => void sql`pragma optimize`.execute(database.db).catch(() => {}), EVERY_MS)
  timer.unref()
  return () => clearInterval(timer)
}
