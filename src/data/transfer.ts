/**
 * A tenant's partner-program data as one JSON document, and back: to move from a self-hosted SQLite
 * install to a PostgreSQL server, or to keep a copy. People, sessions and API keys stay behind (they
 * hold credentials; re-invite and re-mint on the other side). Ids are kept, so links, crefs and
 * references in other systems still resolve after a move; an import goes only into a tenant with no
 * programs or partners, in one transaction, and refuses the whole document if any row does not fit.
 */
import { readJson, writeJson } from '../db/codec.ts'
import { isTransientConflict } from '../db/errors.ts'
import type { DB } from '../db/schema.ts'
import type { TenantScope } from '../db/with-tenant.ts'
import { AppError } from '../errors.ts'
import type { ClickRow } from '../links/click-columns.ts'
import { addClickCounts } from '../links/click-counts.ts'
import { checkMinor } from '../money/money.ts'

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
      // An integer past 2^53 (a payout's sum) goes as its digits: JSON has no bigint, and a JSON
      // number that large would lose digits in most parsers. The import takes either.
      for (const [column, value] of Object.entries(rest)) if (typeof value === 'bigint') rest[column] = value.toString()
      return rest
    })
  }
  return document
}

function invalid(detail: string): AppError {
  return new AppError(400, 'invalid_export', detail)
}

/** A payout's amount column: a 64-bit integer on both databases. */
const INT64_MAX = 2n ** 63n - 1n

/**
 * The money of an imported row holds to the rules of money that came in through the API
 * (money/money.ts): one amount (a sale's value, a commission, a rule's fixed amount) is a whole number
 * of minor units within the maximum; a payout, a sum, is any whole number, as a number or as digits.
 */
function checkMoney(table: string, i: number, values: Record<string, unknown>): void {
  const check = (column: string, value: unknown, options: { signed?: boolean; nullable?: boolean } = {}) => {
    if (value === null && options.nullable) return
    const wrong = checkMinor(value, options)
    if (wrong) throw invalid(`${table}.${i}.${column} ${wrong}`)
  }
  const rules = (column: string, list: unknown) => {
    if (!Array.isArray(list)) return // no list, no amounts
    for (const [r, rule] of list.entries())
      if (rule && typeof rule === 'object' && (rule as { kind?: unknown }).kind === 'fixed')
        check(`${column}.${r}.minor`, (rule as { minor?: unknown }).minor)
  }
  if (table === 'events') check('value_minor', values.value_minor ?? null, { nullable: true })
  if (table === 'commissions') check('amount_minor', values.amount_minor, { signed: true })
  if (table === 'programs') rules('rules', values.rules)
  if (table === 'enrolments') rules('terms.rules', (values.terms as { rules?: unknown } | null)?.rules)
  if (table === 'payouts') {
    const amount = values.amount_minor
    const whole =
      (typeof amount === 'number' && Number.isSafeInteger(amount)) ||
      (typeof amount === 'string' && /^-?\d{1,19}$/.test(amount) && BigInt(amount) <= INT64_MAX && BigInt(amount) >= -INT64_MAX)
    if (!whole) throw invalid(`payouts.${i}.amount_minor must be a whole number of minor units (got ${JSON.stringify(amount)})`)
    // As a bigint, so SQLite stores it as an integer rather than as text.
    values.amount_minor = BigInt(amount as number | string)
  }
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
      checkMoney(table.name, i, values)
      for (const column of table.json) values[column] = writeJson(values[column] ?? null)
      try {
        await scope.db
          .insertInto(table.name)
          .values(values as never)
          .execute()
      } catch (err) {
        // A lock conflict is no fault of the document: the whole import is tried again (db/with-tenant.ts).
        if (isTransientConflict(err)) throw err
        throw invalid(`${table.name}.${i}: ${(err as Error).message.split('\n')[0]!.slice(0, 200)}`)
      }
    }
    counts[table.name] = rows.length
    // Click counts are derived, not exported: they are counted from the clicks imported.
    if (table.name === 'clicks')
      await addClickCounts(
        scope.db,
        rows.map((row) => ({ ...row, tenant_id: scope.tenantId }) as ClickRow),
      )
  }
  scope.emit('tenant.imported', counts)
  return counts
}
