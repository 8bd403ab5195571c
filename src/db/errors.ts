/** A unique constraint refused the write, on either database. */
export function isUniqueViolation(err: unknown): boolean {
  const e = err as { code?: string; message?: string }
  return e?.code === '23505' || e?.code === 'SQLITE_CONSTRAINT_UNIQUE' || /UNIQUE constraint failed/.test(e?.message ?? '')
}

/**
 * PostgreSQL refused a NUL character (22021 in text, 22P05 as jsonb's \u0000), which it cannot store.
 * Requests carrying one are refused before any route runs (http/input-guard.ts); this is input that
 * came by another way.
 */
export function isNulRefusal(err: unknown): boolean {
  const code = (err as { code?: string })?.code
  return code === '22021' || code === '22P05'
}

/**
 * Runs `write` and, when a unique constraint refused it, once more: for idempotent writes whose second
 * run finds what the concurrent first one stored (the same event sent twice at once) and answers it.
 */
export async function againOnUniqueViolation<T>(write: () => Promise<T>): Promise<T> {
  try {
    return await write()
  } catch (err) {
    if (!isUniqueViolation(err)) throw err
    return write()
  }
}

/** SQLite's write lock stayed taken (by another connection or process) past the wait allowed. */
export function isBusy(err: unknown): boolean {
  return String((err as { code?: unknown })?.code).startsWith('SQLITE_BUSY')
}

/**
 * PostgreSQL gave up on the transaction for another one's sake: a deadlock (40P01: it picked this one
 * to break the cycle) or a serialization failure (40001). Nothing is wrong with the transaction; run
 * again from its start, it succeeds (db/with-tenant.ts does, then answers 503).
 */
export function isTransientConflict(err: unknown): boolean {
  const code = (err as { code?: unknown })?.code
  return code === '40P01' || code === '40001'
}
