/**
 * A partner's dashboard as OpenPartner answers it (`GET /partners/:id/dashboard`): clicks, attributed
 * events, attributed revenue and commissions by status since a date (30 days back by default).
 * Revenue is OpenPartner's: each attributed sale's value times the partner's share of its credit
 * (a linear split over two partners gives each half), taken exactly from the weights the event was
 * attributed with. Money stays decimal strings: OpenPartner's flat `attributedRevenue` and
 * `commissionByStatus` are given in the partner's one currency, and are null when its figures span
 * several (then `revenue` and `commissions` hold each currency, as `GET /partners/:id/stats` does).
 */
import { readJson, readMinor } from '../db/codec.ts'
import type { TenantScope } from '../db/with-tenant.ts'
import { AppError } from '../errors.ts'
import { formatAmount, prorate } from '../money/money.ts'
import { stats } from '../reports/service.ts'

export interface Dashboard {
  partnerId: string
  since: string
  clicks: number
  /** Events that earned the partner a commission. */
  attributedEvents: number
  /** Its share of its attributed sales' value, in `currency`; null across several currencies. */
  attributedRevenue: string | null
  /** Per status, in `currency`; null across several currencies. */
  commissionByStatus: Record<string, string> | null
  /** The one currency of its figures; null when there are none, or several. */
  currency: string | null
  /** Its share of attributed revenue, per currency. */
  revenue: Record<string, string>
  /** Per status, then per currency. */
  commissions: Record<string, Record<string, string>>
}

const DEFAULT_DAYS = 30

/** `programId`: within that program only (a key bound to it asks). */
export async function partnerDashboard(
  scope: TenantScope,
  partnerId: string,
  options: { since?: string; programId?: string } = {},
  now = new Date(),
): Promise<Dashboard> {
  const from = options.since ?? new Date(now.getTime() - DEFAULT_DAYS * 86_400_000).toISOString()
  if (Number.isNaN(Date.parse(from))) throw new AppError(400, 'invalid_request', 'query.since: an ISO 8601 date or date-time')
  const figures = await stats(scope, { partnerId, programId: options.programId }, { from })
  const attributed = await attributedRevenue(scope, partnerId, figures.from ?? from, options.programId)
  const currencies = new Set([...Object.keys(attributed.revenue), ...Object.values(figures.commissions).flatMap((c) => Object.keys(c))])
  const currency = currencies.size === 1 ? [...currencies][0]! : null
  const several = currencies.size > 1
  return {
    partnerId,
    since: figures.from ?? from,
    clicks: figures.clicks.total,
    attributedEvents: attributed.events,
    attributedRevenue: several ? null : currency ? (attributed.revenue[currency] ?? formatAmount(0, currency)) : '0',
    commissionByStatus: several
      ? null
      : Object.fromEntries(Object.entries(figures.commissions).map(([status, amounts]) => [status, amounts[currency!]!])),
    currency,
    revenue: attributed.revenue,
    commissions: figures.commissions,
  }
}

/** The events that earned the partner something since `from`, and its weighted share of their value. */
async function attributedRevenue(scope: TenantScope, partnerId: string, from: string, programId: string | undefined) {
  const rows = await scope.db
    .selectFrom('events')
    .select(['events.id', 'events.value_minor', 'events.currency', 'events.attribution'])
    .where('events.tenant_id', '=', scope.tenantId)
    .where('events.occurred_at', '>=', from)
    .where((eb) =>
      eb.exists(
        eb
          .selectFrom('commissions')
          .select('commissions.id')
          .where('commissions.tenant_id', '=', scope.tenantId)
          .where('commissions.partner_id', '=', partnerId)
          .where('commissions.kind', '=', 'commission')
          .where('commissions.status', '!=', 'voided')
          .$if(programId !== undefined, (q) => q.where('commissions.program_id', '=', programId!))
          .whereRef('commissions.event_id', '=', 'events.id'),
      ),
    )
    .execute()
  const sums = new Map<string, bigint>()
  for (const row of rows) {
    if (row.value_minor === null || row.currency === null) continue
    const { touches } = readJson<{ touches: { partnerId: string; programId: string; weight: string }[] }>(row.attribution)
    const weightBp = touches
      .filter((t) => t.partnerId === partnerId && (programId === undefined || t.programId === programId))
      .reduce((sum, t) => sum + Math.round(Number(t.weight) * 10_000), 0)
    const share = prorate(Number(readMinor(row.value_minor)), Math.min(weightBp, 10_000), 10_000)
    sums.set(row.currency, (sums.get(row.currency) ?? 0n) + BigInt(share))
  }
  const revenue = Object.fromEntries([...sums].map(([currency, minor]) => [currency, formatAmount(minor, currency)]))
  return { events: rows.length, revenue }
}
