/**
 * The two drivers disagree on what comes back: bun:sqlite returns 1/0 for booleans and text for JSON,
 * pg returns true/false and parsed jsonb. Repositories read stored values through these helpers only.
 */

export function readBool(value: unknown): boolean {
  return value === true || value === 1 || value === '1' || value === 't'
}

/** JSON to store: always a string, so a JS array is never bound as a PostgreSQL array. */
export function writeJson(value: unknown): string {
  return JSON.stringify(value)
}

export function readJson<T>(value: unknown): T {
  return (typeof value === 'string' ? JSON.parse(value) : value) as T
}

/** Timestamps are written by the app as ISO-8601 UTC text, never by the database's own clock. */
export function isoNow(clock: () => Date = () => new Date()): string {
  return clock().toISOString()
}

/**
 * An integer as the drivers read it back: a number while it is exact (within ±2^53), a bigint beyond
 * (db/database.ts for pg, db/sqlite-dialect.ts for bun:sqlite), or text where PostgreSQL answers
 * numeric (sum() of a bigint column does).
 */
export type StoredInteger = number | bigint | string

/**
 * Money read back, exact, as BigInt: a stored amount or a SQL sum of amounts, however large (a
 * payout of many commissions goes past 2^53 minor units). A sum over no rows (null) is zero.
 */
export function readMinor(value: StoredInteger | null | undefined): bigint {
  return value === null || value === undefined ? 0n : BigInt(value)
}
