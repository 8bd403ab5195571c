/**
 * The console's home: over a range of days (7, 30 or 90, or any), clicks, sign-ups, sales, revenue
 * and commissions by status against the period before; a chart of clicks and conversions per day;
 * what asks for work (flagged commissions to review, matured ones to approve, payouts to make); the
 * partners and links that converted most. An empty program says what to do next.
 */
import { commissionCounts } from '../../commissions/service.ts'
import { getLink } from '../../links/service.ts'
import { addAmounts } from '../../money/money.ts'
import { getPartner } from '../../partners/service.ts'
import { countPayouts, pendingTotals } from '../../payouts/service.ts'
import { daily, stats, topLinks, topPartners } from '../../reports/service.ts'
import { ChartWithTable } from '../components/chart.tsx'
import { changeText, Kpi } from '../components/kpi.tsx'
import { PageHead } from '../components/page-head.tsx'
import { DataTable } from '../components/table.tsx'
import type { MemberPage } from '../context.ts'
import type { ConsoleRoute } from '../routes.tsx'
import { consolePage } from './layout.tsx'
import { shortUrl } from './links.tsx'
import { partnerLabel } from './partners.tsx'
import { allPrograms } from './shared.tsx'

const DAY = 86_400_000
const PRESETS = [7, 30, 90] as const

/** The range asked for: `?days=` (a preset) or `?from=&to=` (dates, both inclusive); 30 days by default. */
function rangeOf(page: MemberPage): { from: string; to: string; days: number; preset?: number } {
  const q = page.url.searchParams
  const day = (value: string | null) => (value && /^\d{4}-\d{2}-\d{2}$/.test(value) && !Number.isNaN(Date.parse(value)) ? value : undefined)
  const from = day(q.get('from'))
  const to = day(q.get('to'))
  if (from && to && from <= to) {
    const end = new Date(Date.parse(to) + DAY).toISOString().slice(0, 10)
    const days = Math.round((Date.parse(end) - Date.parse(from)) / DAY)
    if (days <= 400) return { from, to: end, days }
  }
  const preset = PRESETS.find((p) => String(p) === q.get('days')) ?? 30
  const end = new Date(Date.now() + DAY).toISOString().slice(0, 10)
  return { from: new Date(Date.parse(end) - preset * DAY).toISOString().slice(0, 10), to: end, days: preset, preset }
}

async function overview(page: MemberPage): Promise<Response> {
  const range = rangeOf(page)
  const previous = { from: new Date(Date.parse(range.from) - range.days * DAY).toISOString().slice(0, 10), to: range.from }
  const canCommissions = page.can('commissions:read')
  const canPayouts = page.can('payouts:read')
  const data = await page.withTenant(async (scope) => {
    const programs = await allPrograms(scope)
    if (programs.length === 0 || !canCommissions) return { programs }
    const [now, before, days, counts, top, links] = await Promise.all([
      stats(scope, {}, range),
      stats(scope, {}, previous),
      daily(scope, {}, range.from, range.to),
      commissionCounts(scope),
      topPartners(scope, range, 5),
      topLinks(scope, range, 5),
    ])
    return {
      programs,
      now,
      before,
      days,
      counts,
      top: await Promise.all(top.map(async (t) => ({ ...t, partner: await getPartner(scope, t.partnerId) }))),
      links: await Promise.all(links.map(async (t) => ({ ...t, link: await getLink(scope, t.linkId) }))),
      pending: canPayouts ? { count: await countPayouts(scope, 'pending'), totals: await pendingTotals(scope) } : undefined,
    }
  })
  const { fmt, paths } = page
  const head = <PageHead title="Overview" />
  if (data.programs.length === 0) {
    return consolePage(page, { title: 'Overview', section: 'overview' }, [
      head,
      <article class="empty">
        <h2>Welcome to {page.tenant.name}</h2>
        <p>Three steps to a running partner program:</p>
        <ol>
          <li>Create a program: what partners earn, for how long a click counts, how long earnings wait for refunds.</li>
          <li>Put the tracking snippet on your site (the program's page shows it), and report sales from your server.</li>
          <li>Add partners and give them links.</li>
        </ol>
        {page.can('*') && (
          <a class="button" href={paths.to('/programs/new')}>
            Create your first program
          </a>
        )}
      </article>,
    ])
  }
  if (!('now' in data) || !data.now) return consolePage(page, { title: 'Overview', section: 'overview' }, [head])
  const { now, before, counts } = data
  const period = `${range.days} days`
  const earned = (s: typeof now) => Object.values(s.commissions).flatMap((byCurrency) => Object.keys(byCurrency)).length
  const toDo = [
    { n: counts.byStatus.flagged ?? 0, text: 'flagged commissions to review', href: paths.to('/commissions?status=flagged') },
    { n: counts.matured, text: 'commissions past their holdback, to approve', href: paths.to('/commissions?status=accrued') },
    ...(data.pending
      ? [{ n: data.pending.count, text: `pending payouts to pay (${fmt.amounts(data.pending.totals)})`, href: paths.to('/payouts') }]
      : []),
  ].filter((t) => t.n > 0)
  return consolePage(page, { title: 'Overview', section: 'overview' }, [
    head,
    <div class="period">
      <nav class="presets" aria-label="Period">
        {PRESETS.map((p) => (
          <a
            href={`${paths.admin}?days=${p}`}
            class={`button small ${range.preset === p ? '' : 'secondary outline'}`}
            aria-current={range.preset === p ? 'page' : undefined}
          >
            {p} days
          </a>
        ))}
      </nav>
      <form method="get" action={paths.admin} class="filters" aria-label="Another period">
        <label for="range-from">
          From
          <input id="range-from" type="date" name="from" value={range.from} />
        </label>
        <label for="range-to">
          To
          <input id="range-to" type="date" name="to" value={new Date(Date.parse(range.to) - DAY).toISOString().slice(0, 10)} />
        </label>
        <button type="submit" class="secondary">
          Show
        </button>
      </form>
    </div>,
    <section class="kpis" aria-label={`The last ${period}`}>
      <Kpi label="Clicks" value={fmt.number(now.clicks.total)} change={changeText(now.clicks.total, before!.clicks.total, period)} />
      <Kpi
        label="Sign-ups"
        value={fmt.number(now.conversions.signups)}
        change={changeText(now.conversions.signups, before!.conversions.signups, period)}
      />
      <Kpi
        label="Sales"
        value={fmt.number(now.conversions.sales)}
        change={changeText(now.conversions.sales, before!.conversions.sales, period)}
      />
      <Kpi label="Revenue" value={fmt.amounts(now.revenue)} />
      <Kpi label="Commissions earned" value={earned(now) ? fmt.amounts(sumStanding(now.commissions)) : '—'} />
      {data.pending && (
        <Kpi label="Payouts due" value={fmt.amounts(data.pending.totals)} change={`${fmt.number(data.pending.count)} pending`} />
      )}
    </section>,
    <div class="grid-2">
      <article>
        <h2>To do</h2>
        {toDo.length === 0 ? (
          <p class="muted">Nothing waits for you.</p>
        ) : (
          <ul>
            {toDo.map((t) => (
              <li>
                <a href={t.href}>
                  {fmt.number(t.n)} {t.text}
                </a>
              </li>
            ))}
          </ul>
        )}
      </article>
      <article>
        <h2>Commissions by status</h2>
        <dl class="summary">
          {(['accrued', 'flagged', 'approved', 'paid', 'reversed'] as const).map((s) => (
            <>
              <dt>{{ accrued: 'In holdback', flagged: 'Flagged', approved: 'Approved', paid: 'Paid', reversed: 'Reversed' }[s]}</dt>
              <dd>{fmt.amounts(now.commissions[s] ?? {})}</dd>
            </>
          ))}
        </dl>
      </article>
    </div>,
    <ChartWithTable
      title={`Clicks and conversions per day (UTC), the last ${period}`}
      series={['Clicks', 'Conversions']}
      rows={data.days!.map((d) => ({
        x: d.day,
        label: d.day,
        values: [
          { value: d.clicks, text: fmt.number(d.clicks) },
          { value: d.conversions, text: fmt.number(d.conversions) },
        ],
      }))}
    />,
    <div class="grid-2">
      <article>
        <h2>Top partners</h2>
        {data.top!.length === 0 ? (
          <p class="muted">No conversions in this period.</p>
        ) : (
          <DataTable
            caption="The partners with the most conversions"
            rows={data.top!}
            columns={[
              { label: 'Partner', cell: (t) => <a href={paths.to(`/partners/${t.partnerId}`)}>{partnerLabel(t.partner)}</a> },
              { label: 'Conversions', num: true, cell: (t) => fmt.number(t.conversions) },
            ]}
          />
        )}
      </article>
      <article>
        <h2>Top links</h2>
        {data.links!.length === 0 ? (
          <p class="muted">No conversions in this period.</p>
        ) : (
          <DataTable
            caption="The links with the most conversions"
            rows={data.links!}
            columns={[
              { label: 'Link', cell: (t) => <code>{shortUrl(page, t.link.key)}</code> },
              { label: 'Conversions', num: true, cell: (t) => fmt.number(t.conversions) },
            ]}
          />
        )}
      </article>
    </div>,
  ])
}

/** Commissions that stand (in holdback, flagged, approved, paid), summed per currency. */
function sumStanding(byStatus: Record<string, Record<string, string>>): Record<string, string> {
  const out: Record<string, string[]> = {}
  for (const status of ['accrued', 'flagged', 'approved', 'paid']) {
    for (const [currency, amount] of Object.entries(byStatus[status] ?? {})) out[currency] = [...(out[currency] ?? []), amount]
  }
  return Object.fromEntries(Object.entries(out).map(([currency, amounts]) => [currency, addAmounts(amounts, currency)]))
}

export const overviewPages: ConsoleRoute[] = [{ method: 'GET', path: '', handle: overview }]
