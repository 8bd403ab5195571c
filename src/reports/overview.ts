/**
 * How the program is doing over a range of days, and what asks for work: the console's overview and
 * `GET /overview` answer this same object, for the whole tenant or one program (a bound key's). Payouts
 * are per partner, across programs: only the tenant-wide report has them. Over [from, to) and the period of the same length before:
 * clicks, sign-ups, sales, revenue; commissions by status; a day-by-day series; the partners and links
 * that converted most; the queues to work through. The two periods and the series come from the same
 * grouped-by-day queries over both periods at once.
 */
import { sql } from 'kysely'
import { isoDate, STANDING_STATUSES } from '../commissions/service.ts'
import { readMinor, type StoredInteger } from '../db/codec.ts'
import type { TenantScope } from '../db/with-tenant.ts'
import { AppError } from '../errors.ts'
import { PROGRAM_TOTAL } from '../links/click-counts.ts'
import { addAmounts, formatAmount } from '../money/money.ts'
import { countPayouts, pendingTotals } from '../payouts/service.ts'
import { type Day, standing } from './service.ts'

const DAY_MS = 86_400_000
/** Counts of work to do are counted up to this many (shown as "999+"): every overview reads them. */
export const TODO_CAP = 1000

export interface PeriodFigures {
  clicks: number
  signups: number
  sales: number
  /** Per currency: the value of the sales converted. */
  revenue: Record<string, string>
}

export interface Overview {
  from: string
  to: string
  /** The period of the same length just before. */
  previous: { from: string; to: string }
  now: PeriodFigures
  before: PeriodFigures
  /** Commissions created in the period: per status, per currency (clawbacks negative). */
  commissions: Record<string, Record<string, string>>
  /** What the period's standing commissions (in holdback, flagged, approved, paid) add up to, per currency. */
  earned: Record<string, string>
  days: Day[]
  top: {
    partners: { partnerId: string; name: string | null; email: string; conversions: number }[]
    links: { linkId: string; key: string; conversions: number }[]
  }
  /** Counted up to TODO_CAP each. */
  toDo: { flagged: number; matured: number }
  /** Pending payouts, when the caller may read payouts. */
  pending?: { count: number; totals: Record<string, string> }
}

function emptyFigures(): PeriodFigures {
  return { clicks: 0, signups: 0, sales: 0, revenue: {} }
}

/** Up to `cap` rows of a status (and, for accrued, of those matured by now). */
async function countUpTo(
  scope: TenantScope,
  status: 'flagged' | 'accrued',
  cap: number,
  options: { maturedBy?: string; programId?: string },
): Promise<number> {
  let q = scope.db.selectFrom('commissions').select('id').where('tenant_id', '=', scope.tenantId).where('status', '=', status)
  if (options.maturedBy) q = q.where('mature_at', '<=', options.maturedBy)
  if (options.programId) q = q.where('program_id', '=', options.programId)
  const row = await scope.db
    .selectFrom(q.limit(cap).as('rows'))
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .executeTakeFirstOrThrow()
  return Number(row.n)
}

export async function overview(
  scope: TenantScope,
  range: { from?: string; to?: string },
  options: { payouts: boolean; programId?: string; now?: Date },
): Promise<Overview> {
  // By default the last 30 days, today included.
  const to = range.to ? isoDate(range.to, 'to') : new Date((options.now ?? new Date()).getTime() + DAY_MS).toISOString().slice(0, 10)
  const from = range.from ? isoDate(range.from, 'from') : new Date(Date.parse(to) - 30 * DAY_MS).toISOString().slice(0, 10)
  if (from >= to) throw new AppError(400, 'invalid_request', 'query.from must come before query.to')
  if (Date.parse(to) - Date.parse(from) > 400 * DAY_MS) throw new AppError(400, 'invalid_request', 'a range of at most 400 days')
  const start = new Date(2 * Date.parse(from) - Date.parse(to)).toISOString()
  const dayOf = (column: string) => sql<string>`substr(${sql.ref(column)}, 1, 10)`
  const now = emptyFigures()
  const before = emptyFigures()
  const days = new Map<string, Day>()
  for (let t = Date.parse(from); t < Date.parse(to); t += DAY_MS) {
    const day = new Date(t).toISOString().slice(0, 10)
    days.set(day, { day, clicks: 0, conversions: 0, revenue: {} })
  }
  const periodOf = (day: string) => (day >= from.slice(0, 10) ? now : before)
  const { programId } = options

  // Clicks by day, both periods: the programs' total rows (one per quarter hour, whatever the partners).
  const clicks = await scope.db
    .selectFrom('click_counts')
    .select([dayOf('period_start').as('day'), (eb) => eb.fn.sum<number | string>('clicks').as('clicks')])
    .where('tenant_id', '=', scope.tenantId)
    .where('partner_id', '=', PROGRAM_TOTAL)
    .where('period_start', '>=', start)
    .where('period_start', '<', to)
    .$if(programId !== undefined, (q) => q.where('program_id', '=', programId!))
    .groupBy(dayOf('period_start'))
    .execute()
  for (const row of clicks) {
    periodOf(row.day).clicks += Number(row.clicks)
    const d = days.get(row.day)
    if (d) d.clicks = Number(row.clicks)
  }

  // Conversions and the sales' value by day, both periods: the events that earned (as stats count them).
  const converted = await scope.db
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
    .where('events.occurred_at', '<', to)
    .$if(programId !== undefined, (q) => q.where('commissions.program_id', '=', programId!))
    .groupBy([dayOf('events.occurred_at'), 'commissions.trigger', 'events.currency'])
    .execute()
  const revenue = { now: {} as Record<string, string[]>, before: {} as Record<string, string[]> }
  for (const row of converted) {
    const period = periodOf(row.day)
    const n = Number(row.events)
    if (row.trigger === 'signup') period.signups += n
    else period.sales += n
    const d = days.get(row.day)
    if (d) d.conversions += n
    if (row.trigger === 'sale' && row.currency) {
      const amount = formatAmount(readMinor(row.value), row.currency)
      const bucket = period === now ? revenue.now : revenue.before
      bucket[row.currency] = [...(bucket[row.currency] ?? []), amount]
      if (d) d.revenue[row.currency] = addAmounts([d.revenue[row.currency] ?? '0', amount], row.currency)
    }
  }
  now.revenue = Object.fromEntries(Object.entries(revenue.now).map(([c, a]) => [c, addAmounts(a, c)]))
  before.revenue = Object.fromEntries(Object.entries(revenue.before).map(([c, a]) => [c, addAmounts(a, c)]))

  const amounts = await scope.db
    .selectFrom('commissions')
    .select(['status', 'currency', (eb) => eb.fn.sum<StoredInteger>('amount_minor').as('amount')])
    .where('tenant_id', '=', scope.tenantId)
    .where('created_at', '>=', from)
    .where('created_at', '<', to)
    .$if(programId !== undefined, (q) => q.where('program_id', '=', programId!))
    .groupBy(['status', 'currency'])
    .execute()
  const commissions: Record<string, Record<string, string>> = {}
  const earned: Record<string, string[]> = {}
  for (const row of amounts) {
    const amount = formatAmount(readMinor(row.amount), row.currency)
    commissions[row.status] = { ...commissions[row.status], [row.currency]: amount }
    if ((STANDING_STATUSES as readonly string[]).includes(row.status)) earned[row.currency] = [...(earned[row.currency] ?? []), amount]
  }

  // The five partners are ranked on the commissions alone; only their five rows of partners are read
  // for the names (joining first would read a partner for every commission in the period).
  const conversions = sql<number | string>`count(distinct case when ${standing('commissions.status')} then commissions.event_id end)`
  const ranked = scope.db
    .selectFrom('commissions')
    .select(['commissions.partner_id', conversions.as('conversions')])
    .where('commissions.tenant_id', '=', scope.tenantId)
    .where('commissions.kind', '=', 'commission')
    .where('commissions.created_at', '>=', from)
    .where('commissions.created_at', '<', to)
    .$if(programId !== undefined, (q) => q.where('commissions.program_id', '=', programId!))
    .groupBy('commissions.partner_id')
    .having(conversions, '>', 0)
    .orderBy('conversions', 'desc')
    .orderBy('commissions.partner_id')
    .limit(5)
  const topPartners = await scope.db
    .selectFrom(ranked.as('top'))
    .innerJoin('partners', (join) => join.onRef('partners.id', '=', 'top.partner_id').on('partners.tenant_id', '=', scope.tenantId))
    .select(['top.partner_id', 'top.conversions', 'partners.name', 'partners.email'])
    .orderBy('top.conversions', 'desc')
    .orderBy('top.partner_id')
    .execute()
  const topLinks = await scope.db
    .selectFrom('commissions')
    .innerJoin('clicks', (join) => join.onRef('clicks.id', '=', 'commissions.click_id').on('clicks.tenant_id', '=', scope.tenantId))
    .innerJoin('links', (join) => join.onRef('links.id', '=', 'clicks.link_id').on('links.tenant_id', '=', scope.tenantId))
    .select([
      'links.id',
      'links.key',
      sql<number | string>`count(distinct case when ${standing('commissions.status')} then commissions.event_id end)`.as('conversions'),
    ])
    .where('commissions.tenant_id', '=', scope.tenantId)
    .where('commissions.kind', '=', 'commission')
    .where('commissions.created_at', '>=', from)
    .where('commissions.created_at', '<', to)
    .$if(programId !== undefined, (q) => q.where('commissions.program_id', '=', programId!))
    .groupBy(['links.id', 'links.key'])
    .having(sql`count(distinct case when ${standing('commissions.status')} then commissions.event_id end)`, '>', 0)
    .orderBy('conversions', 'desc')
    .orderBy('links.id')
    .limit(5)
    .execute()

  const at = (options.now ?? new Date()).toISOString()
  return {
    from,
    to,
    previous: { from: start, to: from },
    now,
    before,
    commissions,
    earned: Object.fromEntries(Object.entries(earned).map(([c, a]) => [c, addAmounts(a, c)])),
    days: [...days.values()],
    top: {
      partners: topPartners.map((r) => ({ partnerId: r.partner_id, name: r.name, email: r.email, conversions: Number(r.conversions) })),
      links: topLinks.map((r) => ({ linkId: r.id, key: r.key, conversions: Number(r.conversions) })),
    },
    toDo: {
      flagged: await countUpTo(scope, 'flagged', TODO_CAP, { programId }),
      matured: await countUpTo(scope, 'accrued', TODO_CAP, { maturedBy: at, programId }),
    },
    ...(options.payouts && !programId
      ? { pending: { count: await countPayouts(scope, 'pending'), totals: await pendingTotals(scope) } }
      : {}),
  }
}
