/**
 * What the click writer and its thread (click-thread.ts) share: the columns a click is written with,
 * in one order (SQLite binds them positionally, PostgreSQL reads them by position from jsonb), the
 * statements, and the thread's PostgreSQL connections. Every column is text (or null). The writer
 * takes from the thread's module only types: its top level is the thread's own.
 */
import type { DB } from '../db/schema.ts'

export type ClickRow = DB['clicks']

export const CLICK_COLUMNS = [
  'id',
  'tenant_id',
  'link_id',
  'partner_id',
  'program_id',
  'source',
  'ip_hash',
  'user_agent',
  'referer',
  'sub_source',
  'flag',
  'created_at',
] as const satisfies readonly (keyof ClickRow)[]

/** Where tenant_id stands in CLICK_COLUMNS. */
export const TENANT_COLUMN = CLICK_COLUMNS.indexOf('tenant_id')

/** A click as the values of CLICK_COLUMNS, in order. */
export type ClickValues = (string | null)[]

/**
 * The row's values in CLICK_COLUMNS' order, written out: the router makes one per click, and mapping
 * over the column names (a property read by a name known only at run time) took 0.33 µs of each.
 * test/click-router.test.ts holds the two orders together.
 */
export function clickValues(row: ClickRow): ClickValues {
  return [
    row.id,
    row.tenant_id,
    row.link_id,
    row.partner_id,
    row.program_id,
    row.source,
    row.ip_hash,
    row.user_agent,
    row.referer,
    row.sub_source,
    row.flag,
    row.created_at,
  ]
}

/** One row per statement run, prepared once (bun:sqlite caches it). */
export const SQLITE_CLICK_INSERT = `insert into clicks (${CLICK_COLUMNS.join(', ')}) values (${CLICK_COLUMNS.map(() => '?').join(', ')})`

/** SQLite: adds one of a batch's counts (click-counts.ts), inside the transaction that stores its clicks. */
export const SQLITE_COUNT_UPSERT = `insert into click_counts (tenant_id, partner_id, program_id, period_start, clicks, flagged)
values (?, ?, ?, ?, ?, ?)
on conflict (tenant_id, partner_id, program_id, period_start)
do update set clicks = clicks + excluded.clicks, flagged = flagged + excluded.flagged`

/**
 * One statement per batch of a tenant, its own transaction: it stores the clicks and adds their counts
 * (click-counts.ts). The rows travel as one JSON array of CLICK_COLUMNS values ($1), read as jsonb:
 * parsed once, where `->>` on json parses each row again. Measured on the server, per row: jsonb
 * 17-25 µs, a text[] per column 25-30 µs, json 28-46 µs. The counts come grouped and in key order
 * ($3: [partner, program, period, clicks, flagged] each). Row-level security checks every row against
 * app.tenant_id, which the statement sets first ($2): neither insert can take a row before the
 * one-row CTE has been read. The clicks' insert runs though nothing reads it, as every data-modifying
 * CTE does.
 */
export const POSTGRES_CLICK_INSERT = `with tenant as materialized (select set_config('app.tenant_id', $2, true)),
stored as (
  insert into clicks (${CLICK_COLUMNS.join(', ')})
  select ${CLICK_COLUMNS.map((_, i) => `row->>${i}`).join(', ')}
  from tenant, jsonb_array_elements($1::jsonb) as row
)
insert into click_counts (tenant_id, partner_id, program_id, period_start, clicks, flagged)
select $2, count->>0, count->>1, count->>2, (count->>3)::integer, (count->>4)::integer
from tenant, jsonb_array_elements($3::jsonb) as count
on conflict (tenant_id, partner_id, program_id, period_start)
do update set clicks = click_counts.clicks + excluded.clicks, flagged = click_counts.flagged + excluded.flagged`

/**
 * Connections of the thread's PostgreSQL pool: the batches the writer keeps in flight at once. One:
 * batches committed side by side contend for the same last pages of the clicks' indexes, and each is
 * smaller. Measured at 256 connections against four: 17-26 µs of server CPU per click instead of
 * 31-37, and 1.1-1.3× the clicks answered; at 32 connections 1.05-1.09×. The operator's count of
 * connections names it too (database.postgres.pool_size in config/schema.ts and config.example.yaml).
 */
export const POSTGRES_CONNECTIONS = 1
