/**
 * Payouts: running them with a preview first (who gets what, who is below the minimum, what is still
 * held back), then confirming; the pending, paid and failed lists; marking the selected pending ones
 * paid (with a reference) or failed; the generic and PayPal CSVs (the API's exports, which the session
 * may call); a payout's page with its commissions.
 */
import { listCommissions } from '../../commissions/service.ts'
import { AppError } from '../../errors.ts'
import { addAmounts, currencyDigits } from '../../money/money.ts'
import { getPartner } from '../../partners/service.ts'
import {
  applyOutcomes,
  getPayout,
  type HeldBack,
  listPayouts,
  markFailed,
  markPaid,
  type Payout,
  type PlannedPayout,
  payoutRequests,
  planPayouts,
  type RunOptions,
  runPayouts,
  toPayout,
} from '../../payouts/service.ts'
import { Bulk } from '../components/bulk.tsx'
import { Confirm } from '../components/confirm.tsx'
import { ErrorSummary, Fields, Input, Select } from '../components/field.tsx'
import { PageHead } from '../components/page-head.tsx'
import { Status } from '../components/status.tsx'
import { DataTable, EmptyState, Pager } from '../components/table.tsx'
import { Time } from '../components/time.tsx'
import type { PartnerName } from '../console-reads.ts'
import { type MemberPage, redirectTo } from '../context.ts'
import { defined, type FieldErrors, type Form } from '../forms.ts'
import type { ConsoleRoute } from '../routes.tsx'
import { consolePage } from './layout.tsx'
import { partnerLabel } from './partners.tsx'
import { allPrograms, dateOrder, oneOf, shortId, urlWith } from './shared.tsx'

const STATUSES = ['pending', 'paid', 'failed'] as const
const OUTCOME_WORDS: Record<PlannedPayout['outcome'], string> = {
  due: 'Will be paid',
  below_minimum: 'Below the minimum: waits for the next run',
  too_few_referrals: 'Too few referrals yet: waits',
  nothing_due: 'Nothing due (clawbacks cover it)',
}

async function partnersOf(page: MemberPage, ids: string[]): Promise<Map<string, PartnerName>> {
  return page.withTenant(async (scope) => await page.deps.reads.partnerNames(scope, ids))
}

async function list(page: MemberPage): Promise<Response> {
  const status = oneOf(page, 'status', STATUSES) ?? 'pending'
  const q = page.url.searchParams
  const byDate = dateOrder(page, 'made')
  const { payouts, partners } = await page.withTenant(async (scope) => {
    const payouts = await listPayouts(scope, { status, cursor: q.get('cursor') ?? undefined, limit: 50, order: byDate.order })
    return {
      payouts,
      partners: await page.deps.reads.partnerNames(
        scope,
        payouts.items.map((p) => p.partnerId),
      ),
    }
  })
  const { fmt, paths } = page
  const canManage = page.can('payouts:manage')
  const tabs = STATUSES.map((s) => (
    <a
      href={urlWith(page, { status: s === 'pending' ? undefined : s })}
      aria-current={s === status ? 'page' : undefined}
      class={`button small ${s === status ? '' : 'secondary outline'}`}
    >
      {s === 'pending' ? 'To pay' : s === 'paid' ? 'Paid' : 'Failed'}
    </a>
  ))
  return consolePage(page, { title: 'Payouts', section: 'payouts' }, [
    <PageHead title="Payouts">
      {canManage && (
        <a class="button" href={paths.to('/payouts/run')}>
          Run payouts
        </a>
      )}
    </PageHead>,
    <nav aria-label="Payouts by status" class="filters">
      {tabs}
    </nav>,
    status === 'pending' && payouts.items.length > 0 && (
      <p>
        Pay them your way, then mark them paid here. Files to pay with:{' '}
        <a href={`${paths.api}/payouts/export.csv?status=pending`} download="payouts.csv">
          generic CSV
        </a>{' '}
        ·{' '}
        <a href={`${paths.api}/payouts/export.csv?status=pending&format=paypal`} download="payouts-paypal.csv">
          PayPal mass payment
        </a>
      </p>
    ),
    <div id="results">
      {payouts.items.length === 0 ? (
        <EmptyState
          title={status === 'pending' ? 'Nothing to pay' : status === 'paid' ? 'Nothing paid yet' : 'No failed payouts'}
          text="A payout run groups each partner's approved commissions in one currency into one payout."
          action={
            canManage &&
            status === 'pending' && (
              <a class="button" href={paths.to('/payouts/run')}>
                Run payouts
              </a>
            )
          }
        />
      ) : (
        <Bulk page={page} action={paths.to('/payouts/confirm')} active={canManage && status === 'pending'}>
          <DataTable
            caption={`Payouts: ${status}`}
            rows={payouts.items}
            sort={byDate.sort}
            rowId={(p) => `payout-${p.id}`}
            select={canManage && status === 'pending' ? (p) => p.id : undefined}
            columns={[
              {
                label: 'Made',
                sort: 'made',
                cell: (p) => (
                  <a href={paths.to(`/payouts/${p.id}`)}>
                    <Time at={p.createdAt} fmt={fmt} />
                  </a>
                ),
              },
              {
                label: 'Partner',
                cell: (p) => {
                  const partner = partners.get(p.partnerId)
                  return <a href={paths.to(`/partners/${p.partnerId}`)}>{partner ? partnerLabel(partner) : shortId(p.partnerId)}</a>
                },
              },
              { label: 'Amount', num: true, cell: (p) => fmt.money(p.amount, p.currency) },
              { label: 'Commissions', num: true, cell: (p) => fmt.number(p.commissionCount) },
              { label: 'Method', cell: (p) => p.method },
              { label: 'Status', cell: (p) => <Status value={p.status} /> },
              {
                label: status === 'failed' ? 'Reason' : 'Reference',
                cell: (p) => (status === 'failed' ? p.failureReason : p.reference) ?? '—',
              },
            ]}
          />
          {canManage && status === 'pending' && (
            <div class="bulk-bar" data-bulk-bar data-count="0">
              <span data-bulk-count>With the selected:</span>
              <button type="submit" name="action" value="paid">
                Mark paid…
              </button>
              <button type="submit" name="action" value="failed" class="secondary">
                Mark failed…
              </button>
            </div>
          )}
        </Bulk>
      )}
      <Pager
        first={q.get('cursor') ? urlWith(page, { cursor: undefined }) : undefined}
        next={payouts.nextCursor ? urlWith(page, { cursor: payouts.nextCursor }) : undefined}
      />
    </div>,
  ])
}

// --- a run: its options, the preview, the run -------------------------------------------------------

/** The run's options from the form (or the preview's query), and what is wrong with them. */
function runOptionsOf(
  read: (name: string) => string | undefined,
  methods: string[],
): { options: RunOptions & { method: string }; errors: FieldErrors } {
  const errors: FieldErrors = {}
  const currency = read('currency')?.toUpperCase()
  const minimum = read('minimum')
  const minimumReferrals = read('minimumReferrals')
  const method = read('method') ?? 'manual'
  if (currency !== undefined) {
    try {
      currencyDigits(currency)
    } catch {
      errors.currency = 'Use an ISO 4217 code, e.g. USD'
    }
  }
  if (minimum !== undefined && !currency) errors.minimum = 'Choose the currency the minimum is in'
  else if (minimum !== undefined && !/^\d{1,12}(\.\d{1,3})?$/.test(minimum)) errors.minimum = 'Write an amount like 50.00'
  if (minimumReferrals !== undefined && !/^\d{1,6}$/.test(minimumReferrals)) errors.minimumReferrals = 'Enter a whole number'
  if (!methods.includes(method)) errors.method = `Choose one of: ${methods.join(', ')}`
  const options = defined({
    currency,
    minimumAmount: currency && minimum ? { [currency]: minimum } : undefined,
    minimumReferrals: minimumReferrals ? Number(minimumReferrals) : undefined,
    method,
  })
  return { options, errors }
}

function RunForm({ page, values, errors }: { page: MemberPage; values: Record<string, string | undefined>; errors: FieldErrors }) {
  const methods = [...page.deps.payoutProviders.keys()]
  return (
    <form method="get" action={page.paths.to('/payouts/preview')} class="narrow">
      <ErrorSummary
        errors={errors}
        labels={{ currency: 'Currency', minimum: 'Minimum', minimumReferrals: 'Referrals', method: 'Pay by' }}
      />
      <Fields>
        <Input
          name="currency"
          label="Currency"
          value={values.currency}
          error={errors.currency}
          hint="Empty: every currency."
          pattern="[A-Za-z]{3}"
        />
        <Input
          name="minimum"
          label="Minimum per payout"
          inputmode="decimal"
          value={values.minimum}
          error={errors.minimum}
          hint="In that currency, e.g. 50.00."
        />
      </Fields>
      <Fields>
        <Input
          name="minimumReferrals"
          label="Minimum referrals"
          type="number"
          min={0}
          value={values.minimumReferrals}
          error={errors.minimumReferrals}
          hint="Optional: customers a partner must have brought."
        />
        <Select
          name="method"
          label="Pay by"
          value={values.method ?? 'manual'}
          error={errors.method}
          options={methods.map((m) => ({ value: m, label: m === 'manual' ? 'Myself (CSV, bank, PayPal), then mark paid' : m }))}
        />
      </Fields>
      <button type="submit">Preview the run</button>
    </form>
  )
}

async function runForm(page: MemberPage): Promise<Response> {
  return consolePage(page, { title: 'Run payouts', section: 'payouts' }, [
    <PageHead title="Run payouts" crumbs={[{ label: 'Payouts', href: page.paths.to('/payouts') }]} />,
    <p>A run makes one payout per partner and currency of their approved commissions. You see who gets what before anything is made.</p>,
    <RunForm page={page} values={{}} errors={{}} />,
  ])
}

async function preview(page: MemberPage): Promise<Response> {
  const q = page.url.searchParams
  const read = (name: string) => q.get(name)?.trim() || undefined
  const { options, errors } = runOptionsOf(read, [...page.deps.payoutProviders.keys()])
  const values = Object.fromEntries(['currency', 'minimum', 'minimumReferrals', 'method'].map((n) => [n, read(n)]))
  const back = [{ label: 'Payouts', href: page.paths.to('/payouts') }]
  if (Object.keys(errors).length > 0) {
    return consolePage(page, { title: 'Run payouts', section: 'payouts', status: 400 }, [
      <PageHead title="Run payouts" crumbs={back} />,
      <RunForm page={page} values={values} errors={errors} />,
    ])
  }
  const plan = await page.withTenant((scope) => planPayouts(scope, options))
  const partners = await partnersOf(page, [...plan.payouts.map((p) => p.partnerId), ...plan.heldBack.map((h) => h.partnerId)])
  const due = plan.payouts.filter((p) => p.outcome === 'due')
  const waiting = plan.payouts.filter((p) => p.outcome !== 'due')
  const { fmt } = page
  const name = (id: string) => (partners.get(id) ? partnerLabel(partners.get(id)!) : shortId(id))
  const perCurrency = new Map<string, PlannedPayout[]>()
  for (const p of due) perCurrency.set(p.currency, [...(perCurrency.get(p.currency) ?? []), p])
  const sumText = [...perCurrency]
    .map(([currency, ps]) =>
      fmt.money(
        addAmounts(
          ps.map((p) => p.amount),
          currency,
        ),
        currency,
      ),
    )
    .join(' and ')
  const currencies = perCurrency.size
  return consolePage(page, { title: 'Check the payout run', section: 'payouts' }, [
    <PageHead title="Check the payout run" crumbs={back} />,
    due.length === 0 ? (
      <article class="narrow">
        <p>Nobody is due a payout with these settings.</p>
        <a class="button secondary" href={page.paths.to('/payouts/run')}>
          Change the settings
        </a>
      </article>
    ) : (
      <Confirm
        title={`Pay ${page.fmt.count(due.length, 'partner', 'partners')} ${sumText}${currencies > 1 ? ` in ${currencies} currencies` : ''}?`}
        action={page.paths.to('/payouts/run')}
        fields={Object.entries(values).filter((e): e is [string, string] => e[1] !== undefined)}
        confirmLabel="Make these payouts"
        cancelHref={page.paths.to('/payouts/run')}
        csrf={page.csrf}
      >
        <p>
          Each becomes a pending payout
          {options.method === 'manual' ? ': pay it, then mark it paid with your reference.' : `, submitted to ${options.method}.`}
        </p>
      </Confirm>
    ),
    due.length > 0 && [
      <h2>Who gets what</h2>,
      <DataTable
        caption="Payouts this run makes"
        rows={due}
        columns={[
          { label: 'Partner', cell: (p) => name(p.partnerId) },
          { label: 'Amount', num: true, cell: (p) => fmt.money(p.amount, p.currency) },
          { label: 'Commissions', num: true, cell: (p) => fmt.number(p.commissionIds.length) },
          { label: 'Referrals', num: true, cell: (p) => fmt.number(p.referrals) },
        ]}
      />,
    ],
    waiting.length > 0 && [
      <h2>Waiting for a later run</h2>,
      <DataTable
        caption="Approved but not paid by this run"
        rows={waiting}
        columns={[
          { label: 'Partner', cell: (p) => name(p.partnerId) },
          { label: 'Amount', num: true, cell: (p) => fmt.money(p.amount, p.currency) },
          { label: 'Why', cell: (p) => OUTCOME_WORDS[p.outcome] },
        ]}
      />,
    ],
    plan.heldBack.length > 0 && [
      <h2>Still in the refund window</h2>,
      <DataTable
        caption="Earned, not yet approvable"
        rows={plan.heldBack}
        columns={[
          { label: 'Partner', cell: (h: HeldBack) => name(h.partnerId) },
          { label: 'Amount', num: true, cell: (h: HeldBack) => fmt.money(h.amount, h.currency) },
          { label: 'Commissions', num: true, cell: (h: HeldBack) => fmt.number(h.count) },
          { label: 'First one approvable', cell: (h: HeldBack) => <Time at={h.nextMatureAt} fmt={fmt} /> },
        ]}
      />,
    ],
  ])
}

async function run(page: MemberPage): Promise<Response> {
  const form = page.form!
  if (form.text('confirmed') !== 'yes') throw new AppError(400, 'invalid_request', 'Preview the run and confirm it first.')
  const { options, errors } = runOptionsOf((n) => form.text(n), [...page.deps.payoutProviders.keys()])
  if (Object.keys(errors).length > 0) throw new AppError(400, 'invalid_request', Object.values(errors).join('; '))
  const provider = page.deps.payoutProviders.get(options.method)!
  let created = await page.withTenant((scope) => runPayouts(scope, options))
  // As POST /payouts/run does: the run is committed first, then handed to the provider.
  if (provider.name !== 'manual' && created.length > 0) {
    const outcomes = await provider.submit(await page.withTenant((scope) => payoutRequests(scope, created)))
    await page.withTenant((scope) => applyOutcomes(scope, outcomes))
    created = await page.withTenant(async (scope) => Promise.all(created.map(async (p) => toPayout(await getPayout(scope, p.id)))))
  }
  const text = created.length === 0 ? 'Nobody was due a payout any more.' : `${page.fmt.count(created.length, 'payout', 'payouts')} made.`
  return redirectTo(page, page.paths.to('/payouts'), { kind: 'ok', text })
}

// --- marking paid or failed ---------------------------------------------------------------------------

async function confirmMark(page: MemberPage): Promise<Response> {
  const form = page.form!
  const action = form.text('action')
  const ids = [...new Set(form.all('ids'))]
  if (action !== 'paid' && action !== 'failed') throw new AppError(400, 'invalid_request', 'Choose paid or failed.')
  if (ids.length === 0) throw new AppError(400, 'invalid_request', 'Select at least one payout.')
  const payouts = await page.withTenant(async (scope) => Promise.all(ids.map(async (id) => toPayout(await getPayout(scope, id)))))
  const notPending = payouts.filter((p) => p.status !== 'pending')
  if (notPending.length > 0)
    throw new AppError(409, 'payout_not_pending', `${notPending.length} of them are no longer pending; reload the list.`)
  const byCurrency = new Map<string, Payout[]>()
  for (const p of payouts) byCurrency.set(p.currency, [...(byCurrency.get(p.currency) ?? []), p])
  const sum = [...byCurrency]
    .map(([c, ps]) =>
      page.fmt.money(
        addAmounts(
          ps.map((p) => p.amount),
          c,
        ),
        c,
      ),
    )
    .join(' and ')
  const paid = action === 'paid'
  return consolePage(page, { title: paid ? 'Mark payouts paid' : 'Mark payouts failed', section: 'payouts' }, [
    <PageHead
      title={paid ? 'Mark payouts paid' : 'Mark payouts failed'}
      crumbs={[{ label: 'Payouts', href: page.paths.to('/payouts') }]}
    />,
    <Confirm
      title={`Mark ${page.fmt.count(payouts.length, 'payout', 'payouts')} of ${sum} ${paid ? 'paid' : 'failed'}?`}
      action={page.paths.to('/payouts/mark')}
      fields={[['action', action], ...ids.map((id): [string, string] => ['ids', id])]}
      confirmLabel={paid ? 'Mark paid' : 'Mark failed'}
      cancelHref={page.paths.to('/payouts')}
      csrf={page.csrf}
      danger={!paid}
      inputs={
        paid ? (
          <Input name="reference" label="Reference (optional)" hint="Your bank or PayPal batch reference; kept with each payout." />
        ) : (
          <Input name="reason" label="Reason (optional)" hint="Their commissions go back to be paid by the next run." />
        )
      }
    >
      <p>Exactly these payouts change, all or none; every other payout stays as it is.</p>
    </Confirm>,
  ])
}

async function mark(page: MemberPage): Promise<Response> {
  const form: Form = page.form!
  const action = form.text('action')
  const ids = [...new Set(form.all('ids'))]
  if (form.text('confirmed') !== 'yes' || (action !== 'paid' && action !== 'failed'))
    throw new AppError(400, 'invalid_request', 'Confirm first.')
  const changed = await page.withTenant((scope) =>
    action === 'paid' ? markPaid(scope, ids, form.text('reference')) : markFailed(scope, ids, form.text('reason')),
  )
  return redirectTo(page, page.paths.to(action === 'paid' ? '/payouts?status=paid' : '/payouts?status=failed'), {
    kind: 'ok',
    text: `${page.fmt.count(changed.length, 'payout', 'payouts')} marked ${action}.`,
  })
}

async function detail(page: MemberPage): Promise<Response> {
  const id = page.params.id!
  const data = await page.withTenant(async (scope) => {
    const payout = toPayout(await getPayout(scope, id))
    return {
      payout,
      partner: await getPartner(scope, payout.partnerId),
      commissions: (await listCommissions(scope, { payoutId: id, limit: 200 })).items,
      programs: await allPrograms(page, scope),
    }
  })
  const { payout, partner } = data
  const { fmt, paths } = page
  return consolePage(page, { title: 'Payout', section: 'payouts' }, [
    <PageHead
      title={`${fmt.money(payout.amount, payout.currency)} to ${partnerLabel(partner)}`}
      crumbs={[{ label: 'Payouts', href: paths.to('/payouts') }]}
    />,
    <dl class="summary">
      <dt>Status</dt>
      <dd>
        <Status value={payout.status} />
      </dd>
      <dt>Partner</dt>
      <dd>
        <a href={paths.to(`/partners/${partner.id}`)}>{partnerLabel(partner)}</a> ({partner.email})
      </dd>
      <dt>Made</dt>
      <dd>
        <Time at={payout.createdAt} fmt={fmt} />
      </dd>
      <dt>Paid</dt>
      <dd>
        <Time at={payout.paidAt} fmt={fmt} />
      </dd>
      <dt>Method</dt>
      <dd>{payout.method}</dd>
      <dt>Reference</dt>
      <dd>{payout.reference ?? '—'}</dd>
      {payout.failureReason && (
        <>
          <dt>Why it failed</dt>
          <dd>{payout.failureReason}</dd>
        </>
      )}
    </dl>,
    <h2>Its commissions</h2>,
    <DataTable
      caption="The commissions this payout pays"
      rows={data.commissions}
      columns={[
        { label: 'Earned', cell: (c) => <Time at={c.createdAt} fmt={fmt} /> },
        { label: 'Program', cell: (c) => data.programs.find((p) => p.id === c.programId)?.name ?? shortId(c.programId) },
        { label: 'For', cell: (c) => (c.kind === 'clawback' ? 'Clawback' : c.trigger === 'sale' ? 'A sale' : 'A sign-up') },
        { label: 'Customer', cell: (c) => <code>{c.userId}</code> },
        { label: 'Amount', num: true, cell: (c) => fmt.money(c.amount, c.currency) },
        { label: 'Status', cell: (c) => <Status value={c.status} /> },
      ]}
    />,
  ])
}

const manage = ['payouts:manage' as const]
export const payoutPages: ConsoleRoute[] = [
  { method: 'GET', path: '/payouts', scopes: ['payouts:read'], handle: list },
  { method: 'GET', path: '/payouts/run', scopes: manage, handle: runForm },
  { method: 'GET', path: '/payouts/preview', scopes: manage, handle: preview },
  { method: 'POST', path: '/payouts/run', scopes: manage, handle: run },
  { method: 'POST', path: '/payouts/confirm', scopes: manage, handle: confirmMark },
  { method: 'POST', path: '/payouts/mark', scopes: manage, handle: mark },
  { method: 'GET', path: '/payouts/:id', scopes: ['payouts:read'], handle: detail },
]
