/**
 * The console's home: over a range of days (7, 30 or 90, or any), clicks, sign-ups, sales, revenue
 * and commissions by status against the period before; a chart of clicks and conversions per day;
 * what asks for work (flagged commissions to review, matured ones to approve, payouts to make); the
 * partners and links that converted most. An empty program says what to do next.
 */
import { overview, TODO_CAP } from '../../reports/overview.ts'
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

async function overviewPage(page: MemberPage): Promise<Response> {
  const range = rangeOf(page)
  const { fmt, paths } = page
  const head = <PageHead title="Overview" />
  const data = await page.withTenant(async (scope) => {
    const programs = await allPrograms(page, scope)
    if (programs.length === 0 || !page.can('commissions:read')) return { programs, report: undefined }
    // The same report GET /overview answers.
    return { programs, report: await overview(scope, range, { payouts: page.can('payouts:read') }) }
  })
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
  const report = data.report
  if (!report) return consolePage(page, { title: 'Overview', section: 'overview' }, [head])
  const { now, before } = report
  const period = `${range.days} days`
  const capped = (n: number) => (n >= TODO_CAP ? `${fmt.number(TODO_CAP - 1)}+` : fmt.number(n))
  const toDo = [
    { n: report.toDo.flagged, text: 'flagged commissions to review', href: paths.to('/commissions?status=flagged') },
    { n: report.toDo.matured, text: 'commissions past their holdback, to approve', href: paths.to('/commissions?status=accrued') },
    ...(report.pending
      ? [{ n: report.pending.count, text: `pending payouts to pay (${fmt.amounts(report.pending.totals)})`, href: paths.to('/payouts') }]
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
      <Kpi label="Clicks" value={fmt.number(now.clicks)} change={changeText(now.clicks, before.clicks, period)} />
      <Kpi label="Sign-ups" value={fmt.number(now.signups)} change={changeText(now.signups, before.signups, period)} />
      <Kpi label="Sales" value={fmt.number(now.sales)} change={changeText(now.sales, before.sales, period)} />
      <Kpi label="Revenue" value={fmt.amounts(now.revenue)} />
      <Kpi label="Commissions earned" value={fmt.amounts(report.earned)} />
      {report.pending && (
        <Kpi label="Payouts due" value={fmt.amounts(report.pending.totals)} change={`${fmt.number(report.pending.count)} pending`} />
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
                  {capped(t.n)} {t.text}
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
              <dd>{fmt.amounts(report.commissions[s] ?? {})}</dd>
            </>
          ))}
        </dl>
      </article>
    </div>,
    <ChartWithTable
      title={`Clicks and conversions per day (UTC), the last ${period}`}
      series={['Clicks', 'Conversions']}
      rows={report.days.map((d) => ({
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
        {report.top.partners.length === 0 ? (
          <p class="muted">No conversions in this period.</p>
        ) : (
          <DataTable
            caption="The partners with the most conversions"
            rows={report.top.partners}
            columns={[
              { label: 'Partner', cell: (t) => <a href={paths.to(`/partners/${t.partnerId}`)}>{partnerLabel(t)}</a> },
              { label: 'Conversions', num: true, cell: (t) => fmt.number(t.conversions) },
            ]}
          />
        )}
      </article>
      <article>
        <h2>Top links</h2>
        {report.top.links.length === 0 ? (
          <p class="muted">No conversions in this period.</p>
        ) : (
          <DataTable
            caption="The links with the most conversions"
            rows={report.top.links}
            columns={[
              { label: 'Link', cell: (t) => <code>{shortUrl(page, t.key)}</code> },
              { label: 'Conversions', num: true, cell: (t) => fmt.number(t.conversions) },
            ]}
          />
        )}
      </article>
    </div>,
  ])
}

export const overviewPages: ConsoleRoute[] = [{ method: 'GET', path: '', handle: overviewPage }]
