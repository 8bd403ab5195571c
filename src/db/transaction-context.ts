/**
 * Marks code running inside a tenant transaction (withTenant). SQLite has one connection, held by that
 * transaction until it ends: anything that asks for another connection meanwhile (a nested withTenant,
 * a query on the root handle) would wait forever. Both are refused at once with an error saying why.
 */
import { AsyncLocalStorage } from 'node:async_hooks'

const inside = new AsyncLocalStorage<true>()

export function insideTenantTransaction(): boolean {
  return inside.getStore() === true
}

export function runInsideTenantTransaction<T>(fn: () => Promise<T>): Promise<T> {
  return inside.run(true, fn)
}

export const NESTED_ACCESS =
  'a query asked for a new database connection inside withTenant: use the open scope (scope.db) instead, or query before entering withTenant'
