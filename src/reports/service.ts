/**
 * Stats of a partner or a program over a date range: clicks (and how many were flagged), conversions
 * (signups and sales that earned the partner something), the revenue of those sales, and commissions
 * by status. Each figure is one indexed aggregate query, not a walk over rows in the app. Clicks are
 * counted by quarter hour: a range edge inside a quarter hour takes that quarter hour whole, and a range
 * of days, in any time zone, is counted exactly.
 */

import { isoDate } from '../commissions/service.ts'
import type { TenantScope } from '../db/with-tenant.ts'
import { AppError } from '../errors.ts'
import { PROGRAM_TOTAL, periodOf } from '../links/click-counts.ts'
import { formatAmount } from '../money/money.ts'

export interface StatsRange {
  from?: string
  to?: string
}

export interface Stats {
  from: string | null
  to: string | null
  clicks: { total: number; flagged: number }
  conversions: { signups: number; sales: number }
  /** Per currency: the value of the sales counted above. */
  revenue: Record<string, string>
  /** Per status, per currency; clawbacks are included (negative). */
  commissions: Record<string, Record<string, string>>
}

/**
 * A partner's or a program's stats; a partner's within one program when both are given (a key bound
 * to that program asks for them).
 */
export async function stats(scope: TenantScope, subject: { partnerId?: string; programId?: string }, range: StatsRange): Promise<Stats> {
  const from = range.from ? isoDate(range.from, 'from') : undefined
  const to = range.to ? isoDate(range.to, 'to') : undefined
  if (from && to && from >= to) throw new AppError(400, 'invalid_request', 'query.from must come before query.to')
  const table = subject.partnerId ? 'partners' : 'programs'
  const id = (subject.partnerId ?? subject.programId)!
  // Each query keeps the rows of the subject: its partner, its program, or both.
  const filters = [
    ...(subject.partnerId ? [['partner_id', subject.partnerId] as const] : []),
    ...(subject.programId ? [['program_id', subject.programId] as const] : []),
  ]
  const exists = await scope.db
    .selectFrom(table)
    .select('id')
    .where('tenant_id', '=', scope.tenantId)
    .where('id', '=', id)
    .executeTakeFirst()
  if (!exists) throw new AppError(404, 'not_found', `no ${table.slice(0, -1)} ${id}`)

  // Clicks are counted by quarter hour (links/click-counts.ts): the quarter hours that overlap the range,
  // in the partner's rows, or in the program's total rows.
  const countFilters = subject.partnerId ? filters : [...filters, ['partner_id', PROGRAM_TOTAL] as const]
  let clicks = scope.db
    .selectFrom('click_counts')
    .select((eb) => [eb.fn.sum<number | string | null>('clicks').as('total'), eb.fn.sum<number | string | null>('flagged').as('flagged')])
    .where('tenant_id', '=', scope.tenantId)
    .where((eb) => eb.and(countFilters.map(([column, value]) => eb(column, '=', value))))
  if (from) clicks = clicks.where('period_start', '>=', periodOf(from))
  if (to) clicks = clicks.where('period_start', '<', to)
  const clickRow = await clicks.executeTakeFirstOrThrow()

  let earned = scope.db
    .selectFrom('commissions')
    .innerJoin('events', 'events.id', 'commissions.event_id')
    .select(['commissions.trigger', 'events.currency'])
    .select((eb) => [
      eb.fn.count<number | string>('commissions.event_id').distinct().as('events'),
      eb.fn.sum<number | string>('events.value_minor').as('value'),
    ])
    .where('commissions.tenant_id', '=', scope.tenantId)
    .where((eb) => eb.and(filters.map(([column, value]) => eb(`commissions.${column}`, '=', value))))
    .where('commissions.kind', '=', 'commission')
    .where('commissions.status', 'not in', ['voided'])
    .groupBy(['commissions.trigger', 'events.currency'])
  if (from) earned = earned.where('events.occurred_at', '>=', from)
  if (to) earned = earned.where('events.occurred_at', '<', to)
  const conversions = { signups: 0, sales: 0 }
  const revenue: Record<string, string> = {}
  for (const row of await earned.execute()) {
    if (row.trigger === 'signup') conversions.signups += Number(row.events)
    else {
      conversions.sales += Number(row.events)
      // A sale shared by several partners is counted once per partner, its whole value to each.
      if (row.currency) revenue[row.currency] = formatAmount(Number(row.value ?? 0), row.currency)
    }
  }

  let amounts = scope.db
    .selectFrom('commissions')
    .select(['status', 'currency'])
    .select((eb) => eb.fn.sum<number | string>('amount_minor').as('amount'))
    .where('tenant_id', '=', scope.tenantId)
    .where((eb) => eb.and(filters.map(([column, value]) => eb(column, '=', value))))
    .groupBy(['status', 'currency'])
  if (from) amounts = amounts.where('created_at', '>=', from)
  if (to) amounts = amounts.where('created_at', '<', to)
  const commissions: Record<string, Record<string, string>> = {}
  for (const row of await amounts.execute()) {
    commissions[row.status] ??= {}
    commissions[row.status]![row.currency] = formatAmount(Number(row.amount), row.currency)
  }
  return {
    from: from ?? null,
    to: to ?? null,
    clicks: { total: Number(clickRow.total ?? 0), flagged: Number(clickRow.flagged ?? 0) },
    conversions,
    revenue,
    commissions,
  }
}
