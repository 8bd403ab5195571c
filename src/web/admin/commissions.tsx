/**
 * Commissions: the review queue. Filters (status, partner, program, dates), when each one's holdback
 * ends, why one is flagged; approve, reject, clear or reverse one at a time or the selected ones in
 * bulk, each through a confirmation that names the count and the amounts; the filtered set as CSV
 * (the API's own export, which the session may call).
 */
import {
  approveCommission,
  type Commission,
  clearCommission,
  commissionRow,
  listCommissions,
  rejectCommission,
  reverseById,
  toCommission,
} from '../../commissions/service.ts'
import type { CommissionStatus } from '../../db/schema.ts'
import type { TenantScope } from '../../db/with-tenant.ts'
import { AppError } from '../../errors.ts'
import { addAmounts } from '../../money/money.ts'
import { Bulk } from '../components/bulk.tsx'
import { Confirm } from '../components/confirm.tsx'
import { Filters } from '../components/filters.tsx'
import { PageHead } from '../components/page-head.tsx'
import { Status } from '../components/status.tsx'
import { DataTable, EmptyState, Pager } from '../components/table.tsx'
import { Time } from '../components/time.tsx'
import { type MemberPage, redirectTo } from '../context.ts'
import type { ConsoleRoute } from '../routes.tsx'
import { consolePage } from './layout.tsx'
import { partnerLabel } from './partners.tsx'
import { allPrograms, dateOrder, oneOf, shortId, urlWith } from './shared.tsx'

const STATUSES = ['accrued', 'flagged', 'approved', 'paid', 'reversed', 'voided'] as const
const STATUS_WORDS: Record<CommissionStatus, string> = {
  accrued: 'Waiting out the refund window',
  flagged: 'Flagged for review',
  approved: 'Approved, to be paid',
  paid: 'Paid',
  reversed: 'Reversed',
  voided: 'Voided',
}
const FLAG_WORDS: Record<string, string> = {
  revoked: 'the partner was revoked',
  velocity: 'too many clicks from one address',
  self_referral: 'the partner seems to have referred itself',
}

/** What each action does, to which commissions, and its words. */
const ACTIONS = {
  approve: {
    label: 'Approve',
    doing: 'approve',
    done: 'approved',
    does: 'They will be paid in the next payout run.',
    applies: (c: Commission, now: string) => c.status === 'accrued' && c.matureAt <= now,
  },
  clear: {
    label: 'Clear',
    doing: 'clear',
    done: 'cleared',
    does: 'They accrue as if they had never been flagged.',
    applies: (c: Commission) => c.status === 'flagged',
  },
  reject: {
    label: 'Reject',
    doing: 'reject',
    done: 'rejected',
    does: 'They are voided: they earn nothing.',
    applies: (c: Commission) => c.status === 'flagged',
  },
  reverse: {
    label: 'Reverse',
    doing: 'reverse',
    done: 'reversed',
    does: 'Unpaid ones are cancelled; paid ones get a clawback, taken from the partner’s next payout.',
    applies: (c: Commission) => c.kind === 'commission' && c.status !== 'reversed' && c.status !== 'voided',
  },
} as const
type Action = keyof typeof ACTIONS
const capitalized = (word: string) => word[0]!.toUpperCase() + word.slice(1)
const isAction = (value: string | undefined): value is Action => value !== undefined && value in ACTIONS

function filtersOf(page: MemberPage) {
  const q = page.url.searchParams
  const date = (name: string) => {
    const value = q.get(name) ?? ''
    return /^\d{4}-\d{2}-\d{2}$/.test(value) ? value : undefined
  }
  return {
    status: oneOf(page, 'status', STATUSES),
    partnerId: q.get('partner') || undefined,
    programId: q.get('program') || undefined,
    from: date('from'),
    to: date('to'),
  }
}

async function queue(page: MemberPage): Promise<Response> {
  const filters = filtersOf(page)
  const q = page.url.searchParams
  const byDate = dateOrder(page, 'when')
  const now = new Date().toISOString()
  const data = await page.withTenant(async (scope) => {
    const list = await listCommissions(scope, {
      ...filters,
      // `to` is a day, inclusive: up to the start of the next one.
      to: filters.to ? new Date(Date.parse(filters.to) + 86_400_000).toISOString().slice(0, 10) : undefined,
      cursor: q.get('cursor') ?? undefined,
      limit: 50,
      order: byDate.order,
    })
    // The names of the partners shown (remembered: console-reads.ts).
    const partners = await page.deps.reads.partnerNames(
      scope,
      list.items.map((c) => c.partnerId),
    )
    return { list, partners, programs: await allPrograms(page, scope) }
  })
  const { fmt, paths } = page
  const canAct = page.can('commissions:write')
  const programName = (id: string) => data.programs.find((p) => p.id === id)?.name ?? shortId(id)
  const exportQuery = new URLSearchParams(Object.entries({ ...filters, to: undefined }).filter((e): e is [string, string] => Boolean(e[1])))
  if (filters.to) exportQuery.set('to', new Date(Date.parse(filters.to) + 86_400_000).toISOString().slice(0, 10))
  const rows = data.list.items
  return consolePage(page, { title: 'Commissions', section: 'commissions' }, [
    <PageHead title="Commissions">
      <a class="button secondary outline" href={`${paths.api}/commissions/export.csv?${exportQuery}`} download="commissions.csv">
        Download CSV
      </a>
    </PageHead>,
    <Filters action={paths.to('/commissions')}>
      <label for="filter-status">
        Status
        <select id="filter-status" name="status">
          <option value="">Any</option>
          {STATUSES.map((s) => (
            <option value={s} selected={s === filters.status}>
              {STATUS_WORDS[s]}
            </option>
          ))}
        </select>
      </label>
      <label for="filter-program">
        Program
        <select id="filter-program" name="program">
          <option value="">Any</option>
          {data.programs.map((p) => (
            <option value={p.id} selected={p.id === filters.programId}>
              {p.name}
            </option>
          ))}
        </select>
      </label>
      <label for="filter-from">
        From
        <input id="filter-from" type="date" name="from" value={filters.from} />
      </label>
      <label for="filter-to">
        To
        <input id="filter-to" type="date" name="to" value={filters.to} />
      </label>
      {filters.partnerId && <input type="hidden" name="partner" value={filters.partnerId} />}
      {byDate.oldest && <input type="hidden" name="sort" value="oldest" />}
    </Filters>,
    filters.partnerId && data.partners.get(filters.partnerId) && (
      <p>
        Commissions of {partnerLabel(data.partners.get(filters.partnerId)!)} ·{' '}
        <a href={urlWith(page, { partner: undefined })}>every partner's</a>
      </p>
    ),
    <div id="results">
      {rows.length === 0 ? (
        <EmptyState
          title={Object.values(filters).some(Boolean) ? 'No commission matches these filters' : 'No commissions yet'}
          text="Commissions accrue when a customer a partner referred signs up or pays, and wait out the holdback before they can be approved."
        />
      ) : (
        <Bulk page={page} action={paths.to('/commissions/confirm')} active={canAct}>
          <DataTable
            caption={`Commissions, ${byDate.oldest ? 'oldest' : 'newest'} first`}
            rows={rows}
            sort={byDate.sort}
            rowId={(c) => `commission-${c.id}`}
            select={canAct ? (c) => (Object.values(ACTIONS).some((a) => a.applies(c, now)) ? c.id : undefined) : undefined}
            columns={[
              { label: 'When', sort: 'when', cell: (c) => <Time at={c.createdAt} fmt={fmt} /> },
              {
                label: 'Partner',
                cell: (c) => {
                  const p = data.partners.get(c.partnerId)
                  return <a href={paths.to(`/partners/${c.partnerId}`)}>{p ? partnerLabel(p) : shortId(c.partnerId)}</a>
                },
              },
              { label: 'Program', cell: (c) => programName(c.programId) },
              { label: 'For', cell: (c) => (c.kind === 'clawback' ? 'Clawback' : c.trigger === 'sale' ? 'A sale' : 'A sign-up') },
              { label: 'Amount', num: true, cell: (c) => fmt.money(c.amount, c.currency) },
              {
                label: 'Status',
                cell: (c) => (
                  <>
                    <Status value={c.status} />
                    {c.flag && <small class="muted"> — {FLAG_WORDS[c.flag] ?? c.flag}</small>}
                  </>
                ),
              },
              {
                label: 'Holdback ends',
                cell: (c) => (c.status === 'accrued' ? <Time at={c.matureAt} fmt={fmt} /> : <span class="muted">—</span>),
              },
              {
                label: 'Actions',
                hiddenLabel: true,
                cell: (c) =>
                  canAct &&
                  (Object.entries(ACTIONS) as [Action, (typeof ACTIONS)[Action]][])
                    .filter(([, a]) => a.applies(c, now))
                    .map(([name, a]) => (
                      <a class="button secondary outline small" href={paths.to(`/commissions/confirm?action=${name}&ids=${c.id}`)}>
                        {a.label}…
                      </a>
                    )),
              },
            ]}
          />
          {canAct && (
            <div class="bulk-bar" data-bulk-bar data-count="0">
              <span data-bulk-count>With the selected:</span>
              {(Object.entries(ACTIONS) as [Action, (typeof ACTIONS)[Action]][]).map(([name, a]) => (
                <button type="submit" name="action" value={name} class="secondary">
                  {a.label}…
                </button>
              ))}
            </div>
          )}
        </Bulk>
      )}
      <Pager
        first={q.get('cursor') ? urlWith(page, {}) : undefined}
        next={data.list.nextCursor ? urlWith(page, { cursor: data.list.nextCursor }) : undefined}
      />
    </div>,
  ])
}

/** The selected commissions an action applies to, and those it does not (named, so nothing is silently skipped). */
async function selection(page: MemberPage, action: Action, ids: string[]) {
  if (ids.length === 0) throw new AppError(400, 'invalid_request', 'Select at least one commission.')
  if (ids.length > 200) throw new AppError(400, 'invalid_request', 'Select at most 200 commissions at a time.')
  const now = new Date().toISOString()
  const all = await page.withTenant(async (scope) =>
    Promise.all([...new Set(ids)].map(async (id) => toCommission(await commissionRow(scope, id)))),
  )
  return { applies: all.filter((c) => ACTIONS[action].applies(c, now)), skipped: all.filter((c) => !ACTIONS[action].applies(c, now)) }
}

/** Sums per currency, in words: "€12.00 and $3.40". */
function totalText(page: MemberPage, commissions: Commission[]): string {
  const byCurrency = new Map<string, string[]>()
  for (const c of commissions) byCurrency.set(c.currency, [...(byCurrency.get(c.currency) ?? []), c.amount])
  return [...byCurrency].map(([currency, amounts]) => page.fmt.money(addAmounts(amounts, currency), currency)).join(' and ')
}

async function confirm(page: MemberPage): Promise<Response> {
  const source = page.form ?? undefined
  const action = source ? source.text('action') : (page.url.searchParams.get('action') ?? undefined)
  const ids = source ? source.all('ids') : page.url.searchParams.getAll('ids')
  if (!isAction(action)) throw new AppError(400, 'invalid_request', 'Choose what to do with the selected commissions.')
  const { applies, skipped } = await selection(page, action, ids)
  const a = ACTIONS[action]
  const back = page.paths.to('/commissions')
  return consolePage(page, { title: `${a.label} commissions`, section: 'commissions' }, [
    <PageHead title={`${a.label} commissions`} crumbs={[{ label: 'Commissions', href: back }]} />,
    applies.length === 0 ? (
      <article class="narrow">
        <p>None of the selected commissions can be {a.done} now.</p>
        <a class="button secondary" href={back}>
          Back to the commissions
        </a>
      </article>
    ) : (
      <Confirm
        title={`${a.label} ${page.fmt.count(applies.length, 'commission', 'commissions')} of ${totalText(page, applies)}?`}
        action={page.paths.to('/commissions/apply')}
        fields={[['action', action], ...applies.map((c): [string, string] => ['ids', c.id])]}
        confirmLabel={`${a.label} ${applies.length}`}
        cancelHref={back}
        csrf={page.csrf}
        danger={action === 'reverse' || action === 'reject'}
      >
        <p>{a.does}</p>
        {skipped.length > 0 && (
          <p class="muted">
            {skipped.length} of the selected {skipped.length === 1 ? 'is' : 'are'} left alone: {a.doing} applies to none of them now.
          </p>
        )}
      </Confirm>
    ),
  ])
}

async function apply(page: MemberPage): Promise<Response> {
  const form = page.form!
  const action = form.text('action')
  if (!isAction(action) || form.text('confirmed') !== 'yes') throw new AppError(400, 'invalid_request', 'Confirm the action first.')
  const ids = [...new Set(form.all('ids'))]
  if (ids.length === 0 || ids.length > 200) throw new AppError(400, 'invalid_request', 'Select from 1 to 200 commissions.')
  const run: (scope: TenantScope, id: string) => Promise<unknown> = {
    approve: approveCommission,
    clear: clearCommission,
    reject: rejectCommission,
    reverse: reverseById,
  }[action]
  // One transaction each: one that changed meanwhile (or is still in its holdback) does not stop the others.
  const failed: string[] = []
  for (const id of ids) {
    try {
      await page.withTenant((scope) => run(scope, id))
    } catch (err) {
      if (!(err instanceof AppError) || err.status >= 500) throw err
      failed.push(`${shortId(id)}: ${err.detail ?? err.code}`)
    }
  }
  const done = ids.length - failed.length
  const a = ACTIONS[action]
  const text =
    failed.length === 0
      ? `${capitalized(a.done)} ${page.fmt.count(done, 'commission', 'commissions')}.`
      : `${capitalized(a.done)} ${done}; ${failed.length} could not be: ${failed.join('; ')}.`
  return redirectTo(page, page.paths.to('/commissions'), { kind: failed.length ? 'error' : 'ok', text })
}

const write = ['commissions:write' as const]
export const commissionPages: ConsoleRoute[] = [
  { method: 'GET', path: '/commissions', scopes: ['commissions:read'], handle: queue },
  { method: 'GET', path: '/commissions/confirm', scopes: write, handle: confirm },
  { method: 'POST', path: '/commissions/confirm', scopes: write, handle: confirm },
  { method: 'POST', path: '/commissions/apply', scopes: write, handle: apply },
]
