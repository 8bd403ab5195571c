/**
 * What attribution and accrual read of a program on every event (its currency, status, window,
 * model, rules and holdback), remembered so that a busy program costs no statement per event.
 * Forgotten on this instance as soon as a change commits, by the domain events that report one
 * (`program.updated`, `tenant.imported`); on another instance (several on one PostgreSQL) or after a
 * change made with the CLI, within PROGRAM_TERMS_CACHE_MS. The README states this delay.
 */
import { Remembered } from '../cache.ts'
import type { DB } from '../db/schema.ts'
import type { TenantScope } from '../db/with-tenant.ts'
import type { DomainEventBus } from '../domain-events/bus.ts'

/** The longest a program's change made elsewhere goes unseen by the events recorded here. */
export const PROGRAM_TERMS_CACHE_MS = 5_000

/** The domain events after which a program's remembered terms may be wrong. */
const TERMS_CHANGES = ['program.updated', 'tenant.imported'] as const

export type ProgramTermsRow = Pick<
  DB['programs'],
  'id' | 'currency' | 'status' | 'attribution_window_days' | 'attribution_model' | 'rules' | 'holdback_days'
>

/** Reads programs' terms through the open transaction; `cache` (absent: read every time) remembers them. */
export async function programTerms(scope: TenantScope, ids: string[], cache?: ProgramTermsCache): Promise<ProgramTermsRow[]> {
  if (ids.length === 0) return []
  const keys = ids.map((id) => key(scope.tenantId, id))
  const read = (missing: string[]) => readTerms(scope, missing)
  const rows = cache ? await cache.remembered.getMany(keys, read) : await read(keys)
  return [...rows.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
}

function key(tenantId: string, programId: string): string {
  return `${tenantId}\n${programId}`
}

async function readTerms(scope: TenantScope, keys: string[]): Promise<Map<string, ProgramTermsRow>> {
  const ids = keys.map((k) => k.slice(k.indexOf('\n') + 1))
  const rows = await scope.db
    .selectFrom('programs')
    .select(['id', 'currency', 'status', 'attribution_window_days', 'attribution_model', 'rules', 'holdback_days'])
    .where('tenant_id', '=', scope.tenantId)
    .where('id', 'in', ids)
    .execute()
  return new Map(rows.map((row) => [key(scope.tenantId, row.id), row]))
}

export class ProgramTermsCache {
  readonly remembered = new Remembered<ProgramTermsRow>(PROGRAM_TERMS_CACHE_MS)

  /** Forgets every program's terms whenever one may have changed: they change rarely, events come often. */
  constructor(bus: DomainEventBus) {
    for (const type of TERMS_CHANGES) bus.subscribe(type, () => this.remembered.forget())
  }
}
