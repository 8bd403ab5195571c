import { AsyncLocalStorage } from 'node:async_hooks'
import pg from 'pg'

/**
 * The statements sent to PostgreSQL while `fn` runs, in order. By default only `fn`'s own, by async
 * context, not those the server's background work (the webhook worker's polls, the approval job)
 * sends meanwhile, which a slow run on a loaded machine would otherwise count. `everyone`: those of
 * the whole process (requests `fn` makes over HTTP are served in contexts of their own).
 */
export async function pgQueriesDuring<T>(
  fn: () => Promise<T>,
  { everyone = false }: { everyone?: boolean } = {},
): Promise<{ result: T; queries: string[] }> {
  const queries: string[] = []
  const mine = new AsyncLocalStorage<true>()
  const query = pg.Client.prototype.query
  pg.Client.prototype.query = function (this: pg.Client, ...args: unknown[]) {
    if (everyone || mine.getStore()) queries.push(typeof args[0] === 'string' ? args[0] : String((args[0] as { text?: unknown }).text))
    return (query as (...a: unknown[]) => unknown).apply(this, args)
  } as typeof query
  try {
    return { result: await mine.run(true, fn), queries }
  } finally {
    pg.Client.prototype.query = query
  }
}
