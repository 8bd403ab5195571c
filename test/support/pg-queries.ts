/** The queries the pg driver sends while `fn` runs: for checks that a path costs the round trips it should. */
import pg from 'pg'

export async function pgQueriesDuring<T>(fn: () => Promise<T>): Promise<{ result: T; queries: string[] }> {
  const queries: string[] = []
  const query = pg.Client.prototype.query
  pg.Client.prototype.query = function (this: pg.Client, ...args: unknown[]) {
    queries.push(typeof args[0] === 'string' ? args[0] : String((args[0] as { text?: unknown }).text))
    return (query as (...a: unknown[]) => unknown).apply(this, args)
  } as typeof query
  try {
    return { result: await fn(), queries }
  } finally {
    pg.Client.prototype.query = query
  }
}
