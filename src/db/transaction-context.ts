/**
 * Marks code running inside a tenant transaction (withTenant). SQLite has one connection, held by that
 * transaction until it ends: anything that asks for another connection meanwhile (a nested withTenant,
 * a query on the root handle) would wait forever. Both are refused at once with an error saying why.
 * The mark also carries what is to run once the transaction has committed (afterCommit).
 */
import { AsyncLocalStorage } from 'node:async_hooks'

interface OpenTransaction {
  committed: (() => void)[]
}

const inside = new AsyncLocalStorage<OpenTransaction>()

export function insideTenantTransaction(): boolean {
  return inside.getStore() !== undefined
}

/** Runs `fn` marked as inside a tenant transaction; `commit` runs the transaction's end and, if it committed, what waits for that. */
export async function runInsideTenantTransaction<T>(fn: () => Promise<T>): Promise<{ result: T; committed: () => void }> {
  const open: OpenTransaction = { committed: [] }
  const result = await inside.run(open, fn)
  return {
    result,
    committed: () => {
      for (const run of open.committed) run()
    },
  }
}

/** Runs `fn` once the tenant transaction in progress commits (never if it rolls back), or now outside one. */
export function afterCommit(fn: () => void): void {
  const open = inside.getStore()
  if (open) open.committed.push(fn)
  else fn()
}

export const NESTED_ACCESS =
  'a query asked for a new database connection inside withTenant: use the open scope (scope.db) instead, or query before entering withTenant'
