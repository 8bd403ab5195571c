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
