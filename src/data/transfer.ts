/**
 * A tenant's partner-program data as one JSON document, and back: to move from a self-hosted SQLite
 * install to a PostgreSQL server, or to keep a copy. People, sessions and API keys stay behind (they
 * hold credentials; re-invite and re-mint on the other side). Ids are kept, so links, crefs and
 * references in other systems still resolve after a move; an import goes only into a tenant with no
 * programs or partners, in one transaction, and refuses the whole document if any row does not fit.
 */
import { readJson, writeJson } from '../db/codec.ts'
import type { DB } from '../db/schema.ts'
import type { TenantScope } from '../db/with-tenant.ts'
import { AppError } from '../errors.ts'
import type { ClickRow } from '../links/click-columns.ts'
import { addClickCounts } from '../links/click-counts.ts'

export const EXPORT_FORMAT = 'partnerd-export'
export const EXPORT_VERSION = 1

/** In insertion order (foreign keys point backwards), with the columns holding JSON. */
const TABLES: { name: keyof DB; json: string[]; orderBy: string }[] = [
  { name: 'programs', json: ['deep_link_hosts', 'rules'], orderBy: 'id' },
  { name: 'partners', json: ['metadata'], orderBy: 'id' },
  { name: 'enrolments', json: ['terms'], orderBy: 'id' },
  { name: 'links', json: [], orderBy: 'id' },
  { name: 'coupons', json: [], orderBy: 'id' },
  { name: 'clicks', json: [], orderBy: 'id' },
  { name: 'identities', json: [], orderBy: 'click_id' },
  { name: 'events', json: ['metadata', 'attribution'], orderBy: 'id' },
  { name: 'referrals', json: ['touches'], orderBy: 'customer_id' },
  { name: 'payouts', json: [], orderBy: 'id' },
  // Clawbacks point at the commission they reverse, which is older: id order puts it first.
  { name: 'commissions', json: [], orderBy: 'id' },
]

export type TenantExport = {
  format: typeof EXPORT_FORMAT
  version: number
  exportedAt: string
  tenant: { slug: string; name: string }
} & Record<string, unknown>

export async function exportTenant(scope: TenantScope): Promise<TenantExport> {
  const tenant = await scope.db.selectFrom('tenants').select(['slug', 'name']).where('id', '=', scope.tenantId).executeTakeFirstOrThrow()
  const document: TenantExport = { format: EXPORT_FORMAT, version: EXPORT_VERSION, exportedAt: new Date().toISOString(), tenant }
  for (const table of TABLES) {
    const rows = await scope.db
      .selectFrom(table.name)
      .selectAll()
      .where('tenant_id', '=', scope.tenantId)
      .orderBy(table.orderBy as never)
      .execute()
    document[table.name] = rows.map((row) => {
      const { tenant_id: _tenant, ...rest } = row as Record<string, unknown>
      for (const column of table.json) rest[column] = readJson(rest[column])
      return rest
    })
  }
  return document
}

function invalid(detail: string): AppError {
  return new AppError(400, 'invalid_export', detail)
}

export async function importTenant(scope: TenantScope, document: Record<string, unknown>): Promise<Record<string, number>> {
  if (document.format !== EXPORT_FORMAT) throw invalid(`format must be ${EXPORT_FORMAT}`)
  if (document.version !== EXPORT_VERSION) throw invalid(`this server reads version ${EXPORT_VERSION} exports`)
  for (const table of ['programs', 'partners'] as const) {
    const any = await scope.db.selectFrom(table).select('id').where('tenant_id', '=', scope.tenantId).executeTakeFirst()
    if (any) throw new AppError(409, 'tenant_not_empty', 'import goes into a tenant without programs or partners')
  }
  const counts: Record<string, number> = {}
  for (const table of TABLES) {
    const rows = document[table.name] ?? []
    if (!Array.isArray(rows)) throw invalid(`${table.name} must be an array`)
    for (const [i, row] of rows.entries()) {
      if (typeof row !== 'object' || row === null || Array.isArray(row)) throw invalid(`${table.name}.${i} must be an object`)
      const values: Record<string, unknown> = { ...row, tenant_id: scope.tenantId }
      // Counted by their time (addClickCounts below), which must be one.
      if (table.name === 'clicks' && (typeof values.created_at !== 'string' || Number.isNaN(Date.parse(values.created_at)))) {
        throw invalid(`clicks.${i}.created_at must be an ISO date-time`)
      }
      for (const column of table.json) values[column] = writeJson(values[column] ?? null)
      try {
        await scope.db
          .insertInto(table.name)
          .values(values as never)
          .execute()
      } catch (err) {
        throw invalid(`${table.name}.${i}: ${(err as Error).message.split('\n')[0]!.slice(0, 200)}`)
      }
    }
    counts[table.name] = rows.length
    // Click counts are derived, not exported: they are counted from the clicks imported.
    if (table.name === 'clicks') await addClickCounts(scope.db, rows.map((row) => ({ ...row, tenant_id: scope.tenantId }) as ClickRow))
  }
  scope.emit('tenant.imported', counts)
  return counts
}
