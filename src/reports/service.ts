/**
 * Stats of a partner or a program over a date range: clicks (and how many were flagged), conversions
 * (signups and sales that earned the partner something), the revenue of those sales, and commissions
 * by status. Each figure is one indexed aggregate query, not a walk over rows in the app. Clicks are
 * counted by quarter hour: a range edge inside a quarter hour takes that quarter hour whole, and a range
 * of days, in any time zone, is counted exactly.
 */

import { sql } from 'kysely'
import { isoDate, STANDING_STATUSES } from '../commissions/service.ts'
import { readMinor, type StoredInteger } from '../db/codec.ts'
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
      eb.fn.sum<StoredInteger | null>('events.value_minor').as('value'),
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
      if (row.currency) revenue[row.currency] = formatAmount(readMinor(row.value), row.currency)
    }
  }

  let amounts = scope.db
    .selectFrom('commissions')
    .select(['status', 'currency'])
    .select((eb) => eb.fn.sum<StoredInteger>('amount_minor').as('amount'))
    .where('tenant_id', '=', scope.tenantId)
    .where((eb) => eb.and(filters.map(([column, value]) => eb(column, '=', value))))
    .groupBy(['status', 'currency'])
  if (from) amounts = amounts.where('created_at', '>=', from)
  if (to) amounts = amounts.where('created_at', '<', to)
  const commissions: Record<string, Record<string, string>> = {}
  for (const row of await amounts.execute()) {
    commissions[row.status] ??= {}
    commissions[row.status]![row.currency] = formatAmount(readMinor(row.amount), row.currency)
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

/** A row's figures in a list: its clicks, conversions, revenue and what it earned (all time). */
export interface Totals {
  clicks: number
  conversions: number
  /** Per currency: the value of the sales converted. */
  revenue: Record<string, string>
  /** Per currency: commissions that stand (accrued, flagged, approved or paid, less clawbacks). */
  earned: Record<string, string>
}

/**
 * Whether a commission stands (in holdback, flagged, approved or paid), as an expression the grouped
 * queries count and sum by. It stays out of their WHERE clauses on purpose: given a status
 * predicate, SQLite's planner took the (tenant, status) index and walked every commission instead of
 * the few rows of the page's partners, or of the period (500 ms at 100k commissions, not 3).
 */
export function standing(column: 'status' | 'commissions.status') {
  return sql<boolean>`${sql.ref(column)} in (${sql.join(STANDING_STATUSES.map((s) => sql.lit(s)))})`
}

function emptyTotals(): Totals {
  return { clicks: 0, conversions: 0, revenue: {}, earned: {} }
}

/**
 * The totals of a page of partners, in three grouped queries whatever the page's size (a list must
 * not cost a query per row). `programId`: within that program only.
 */
export async function partnerTotals(scope: TenantScope, partnerIds: string[], programId?: string): Promise<Map<string, Totals>> {
  const totals = new Map(partnerIds.map((id) => [id, emptyTotals()]))
  if (partnerIds.length === 0) return totals
  let clicks = scope.db
    .selectFrom('click_counts')
    .select(['partner_id', (eb) => eb.fn.sum<number | string>('clicks').as('clicks')])
    .where('tenant_id', '=', scope.tenantId)
    .where('partner_id', 'in', partnerIds)
    .groupBy('partner_id')
  if (programId) clicks = clicks.where('program_id', '=', programId)
  for (const row of await clicks.execute()) totals.get(row.partner_id)!.clicks = Number(row.clicks)

  let converted = scope.db
    .selectFrom('commissions')
    .innerJoin('events', 'events.id', 'commissions.event_id')
    .select(['commissions.partner_id', 'commissions.trigger', 'events.currency'])
    .select([
      sql<number | string>`count(distinct case when ${standing('commissions.status')} then commissions.event_id end)`.as('events'),
      sql<StoredInteger | null>`sum(case when ${standing('commissions.status')} then events.value_minor end)`.as('value'),
    ])
    .where('commissions.tenant_id', '=', scope.tenantId)
    .where('commissions.partner_id', 'in', partnerIds)
    .where('commissions.kind', '=', 'commission')
    .groupBy(['commissions.partner_id', 'commissions.trigger', 'events.currency'])
  if (programId) converted = converted.where('commissions.program_id', '=', programId)
  for (const row of await converted.execute()) {
    const t = totals.get(row.partner_id)!
    t.conversions += Number(row.events)
    if (row.trigger === 'sale' && row.currency && row.value !== null)
      t.revenue[row.currency] = formatAmount(readMinor(row.value), row.currency)
  }

  let earned = scope.db
    .selectFrom('commissions')
    .select(['partner_id', 'currency', sql<StoredInteger | null>`sum(case when ${standing('status')} then amount_minor end)`.as('amount')])
    .where('tenant_id', '=', scope.tenantId)
    .where('partner_id', 'in', partnerIds)
    .groupBy(['partner_id', 'currency'])
  if (programId) earned = earned.where('program_id', '=', programId)
  for (const row of await earned.execute()) {
    if (row.amount !== null) totals.get(row.partner_id)!.earned[row.currency] = formatAmount(readMinor(row.amount), row.currency)
  }
  return totals
}

/**
 * The totals of a page of links: clicks are counted per partner and program (click_counts has no link
 * column: a partner's links in one program share one count), conversions per link exactly, through
 * the click each commission came from.
 */
export async function linkTotals(
  scope: TenantScope,
  links: { id: string; partnerId: string; programId: string }[],
): Promise<Map<string, { clicks: number; conversions: number }>> {
  const totals = new Map(links.map((l) => [l.id, { clicks: 0, conversions: 0 }]))
  if (links.length === 0) return totals
  const clicks = await scope.db
    .selectFrom('click_counts')
    .select(['partner_id', 'program_id', (eb) => eb.fn.sum<number | string>('clicks').as('clicks')])
    .where('tenant_id', '=', scope.tenantId)
    .where('partner_id', 'in', [...new Set(links.map((l) => l.partnerId))])
    .groupBy(['partner_id', 'program_id'])
    .execute()
  for (const link of links) {
    const row = clicks.find((c) => c.partner_id === link.partnerId && c.program_id === link.programId)
    totals.get(link.id)!.clicks = Number(row?.clicks ?? 0)
  }
  const conversions = await scope.db
    .selectFrom('commissions')
    .innerJoin('clicks', (join) => join.onRef('clicks.id', '=', 'commissions.click_id').on('clicks.tenant_id', '=', scope.tenantId))
    .select([
      'clicks.link_id',
      sql<number | string>`count(distinct case when ${standing('commissions.status')} then commissions.event_id end)`.as('events'),
    ])
    .where('commissions.tenant_id', '=', scope.tenantId)
    // By the links' partners first (an index), then by the links themselves.
    .where('commissions.partner_id', 'in', [...new Set(links.map((l) => l.partnerId))])
    .where('commissions.kind', '=', 'commission')
    .where(
      'clicks.link_id',
      'in',
      links.map((l) => l.id),
    )
    .groupBy('clicks.link_id')
    .execute()
  for (const row of conversions) if (row.link_id) totals.get(row.link_id)!.conversions = Number(row.events)
  return totals
}

/** One UTC day of a series: clicks, conversions (sign-ups and sales that earned), and the sales' value per currency. */
export interface Day {
  day: string
  clicks: number
  conversions: number
  revenue: Record<string, string>
}

/**
 * Day by day from `from` (a date, inclusive) to `to` (exclusive), in UTC, for a partner, a program, or
 * the whole tenant (no subject): every day of the range, zeros included, so a chart has no gaps.
 */
export async function daily(
  scope: TenantScope,
  subject: { partnerId?: string; programId?: string },
  from: string,
  to: string,
): Promise<Day[]> {
  const start = isoDate(from, 'from')
  const end = isoDate(to, 'to')
  if (start >= end) throw new AppError(400, 'invalid_request', 'query.from must come before query.to')
  const days = new Map<string, Day>()
  for (let t = Date.parse(start); t < Date.parse(end); t += 86_400_000) {
    const day = new Date(t).toISOString().slice(0, 10)
    days.set(day, { day, clicks: 0, conversions: 0, revenue: {} })
  }
  const dayOf = (column: string) => sql<string>`substr(${sql.ref(column)}, 1, 10)`

  let clicks = scope.db
    .selectFrom('click_counts')
    .select([dayOf('period_start').as('day'), (eb) => eb.fn.sum<number | string>('clicks').as('clicks')])
    .where('tenant_id', '=', scope.tenantId)
    .where('period_start', '>=', start)
    .where('period_start', '<', end)
    .groupBy(dayOf('period_start'))
  // A partner's own rows; otherwise the programs' total rows (one per quarter hour, whatever the partners).
  clicks = subject.partnerId ? clicks.where('partner_id', '=', subject.partnerId) : clicks.where('partner_id', '=', PROGRAM_TOTAL)
  if (subject.programId) clicks = clicks.where('program_id', '=', subject.programId)
  for (const row of await clicks.execute()) {
    const d = days.get(row.day)
    if (d) d.clicks = Number(row.clicks)
  }

  let converted = scope.db
    .selectFrom('commissions')
    .innerJoin('events', 'events.id', 'commissions.event_id')
    .select([dayOf('events.occurred_at').as('day'), 'commissions.trigger', 'events.currency'])
    .select([
      sql<number | string>`count(distinct case when ${standing('commissions.status')} then commissions.event_id end)`.as('events'),
      sql<StoredInteger | null>`sum(case when ${standing('commissions.status')} then events.value_minor end)`.as('value'),
    ])
    .where('commissions.tenant_id', '=', scope.tenantId)
    .where('commissions.kind', '=', 'commission')
    .where('events.occurred_at', '>=', start)
    .where('events.occurred_at', '<', end)
    .groupBy([dayOf('events.occurred_at'), 'commissions.trigger', 'events.currency'])
  if (subject.partnerId) converted = converted.where('commissions.partner_id', '=', subject.partnerId)
  if (subject.programId) converted = converted.where('commissions.program_id', '=', subject.programId)
  for (const row of await converted.execute()) {
    const d = days.get(row.day)
    if (!d) continue
    d.conversions += Number(row.events)
    if (row.trigger === 'sale' && row.currency) d.revenue[row.currency] = formatAmount(readMinor(row.value), row.currency)
  }
  return [...days.values()]
}
