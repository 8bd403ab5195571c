/**
 * Programs: the list; a new program and its settings, with a rules builder (fixed or percent, per
 * event, once or recurring for N months or for life, with a step-down), the attribution window and
 * model, holdback, currency, destination and deep-link hosts; status changes; and what to put on the
 * company's site (the tracking snippet and the server-side event), ready to copy.
 */
import { MODELS } from '../../attribution/models.ts'
import { AppError } from '../../errors.ts'
import { ProgramBody, ProgramChanges } from '../../programs/routes.ts'
import type { RuleInput } from '../../programs/rules.ts'
import { createProgram, DEFAULTS, getProgram, type Program, type ProgramStatus, updateProgram } from '../../programs/service.ts'
import { stats } from '../../reports/service.ts'
import { Confirm } from '../components/confirm.tsx'
import { Csrf, ErrorSummary, Fields, Input, Select, TextArea } from '../components/field.tsx'
import { Kpi } from '../components/kpi.tsx'
import { PageHead } from '../components/page-head.tsx'
import { CopyBlock } from '../components/secret.tsx'
import { Status } from '../components/status.tsx'
import { DataTable, EmptyState } from '../components/table.tsx'
import { type MemberPage, redirectTo } from '../context.ts'
import { defined, errorsOf, type FieldErrors, type Form, schemaErrors } from '../forms.ts'
import type { ConsoleRoute } from '../routes.tsx'
import { consolePage } from './layout.tsx'
import { allPrograms } from './shared.tsx'

const MODEL_LABELS: Record<(typeof MODELS)[number], string> = {
  last_click: 'Last click: the latest click gets all the credit',
  first_click: 'First click: the first click gets all the credit',
  linear: 'Linear: every click in the window shares equally',
  position: 'Position: 40% first, 40% last, 20% shared between',
}

/** What a program pays, in words: "$5.00 a sign-up · 20% of each payment for 12 months". */
export function rulesText(program: Pick<Program, 'rules' | 'currency'>, money: (a: string, c: string) => string): string {
  if (program.rules.length === 0) return 'Pays nothing yet'
  return program.rules
    .map((r) => {
      const what = r.amount !== undefined ? money(r.amount, program.currency) : `${r.percent}%`
      const of = r.on === 'signup' ? 'a sign-up' : r.amount !== undefined ? 'a sale' : r.recurring ? 'of each payment' : 'of the first sale'
      const span = r.recurring?.lifetime ? ' for life' : r.recurring?.months ? ` for ${r.recurring.months} months` : ''
      const step = r.stepDown ? `, then ${r.stepDown.percent}% after ${r.stepDown.afterMonths} months` : ''
      return `${what} ${of}${span}${step}`
    })
    .join(' · ')
}

// --- the form ---------------------------------------------------------------------------------------

interface ProgramValues {
  [field: string]: string | undefined
}

/** A program's values, or a new one's (in the organization's default currency). */
function valuesOf(program?: Program, defaultCurrency = 'USD'): ProgramValues {
  if (!program) {
    return {
      currency: defaultCurrency,
      status: 'draft',
      'attribution.windowDays': String(DEFAULTS.windowDays),
      'attribution.model': DEFAULTS.model,
      holdbackDays: String(DEFAULTS.holdbackDays),
      'signup.kind': 'none',
      'sale.kind': 'percent',
      'sale.value': '20',
      'sale.recurring': 'once',
    }
  }
  const signup = program.rules.find((r) => r.on === 'signup')
  const sale = program.rules.find((r) => r.on === 'sale')
  return {
    name: program.name,
    currency: program.currency,
    status: program.status,
    destinationUrl: program.destinationUrl,
    deepLinkHosts: program.deepLinkHosts.join('\n'),
    'attribution.windowDays': String(program.attribution.windowDays),
    'attribution.model': program.attribution.model,
    holdbackDays: String(program.holdbackDays),
    'signup.kind': signup ? 'amount' : 'none',
    'signup.amount': signup?.amount,
    'sale.kind': sale ? (sale.amount !== undefined ? 'amount' : 'percent') : 'none',
    'sale.value': sale?.amount ?? sale?.percent,
    'sale.recurring': sale?.recurring?.lifetime ? 'lifetime' : sale?.recurring?.months ? 'months' : 'once',
    'sale.months': sale?.recurring?.months ? String(sale.recurring.months) : undefined,
    'sale.stepDownAfter': sale?.stepDown ? String(sale.stepDown.afterMonths) : undefined,
    'sale.stepDownPercent': sale?.stepDown?.percent,
  }
}

/** The API's program input from the form, and where each of its rules came from (for errors). */
function inputOf(form: Form): { input: Record<string, unknown>; ruleFields: string[] } {
  const rules: RuleInput[] = []
  const ruleFields: string[] = []
  if (form.text('signup.kind') === 'amount') {
    rules.push({ on: 'signup', amount: form.text('signup.amount') ?? '' })
    ruleFields.push('signup')
  }
  const saleKind = form.text('sale.kind')
  if (saleKind === 'amount') {
    rules.push({ on: 'sale', amount: form.text('sale.value') ?? '' })
    ruleFields.push('sale')
  } else if (saleKind === 'percent') {
    const recurring = form.text('sale.recurring')
    const months = form.integer('sale.months')
    const after = form.integer('sale.stepDownAfter')
    rules.push(
      defined({
        on: 'sale' as const,
        percent: form.text('sale.value') ?? '',
        recurring:
          recurring === 'lifetime' ? { lifetime: true as const } : recurring === 'months' ? { months: months as number } : undefined,
        stepDown:
          recurring !== 'once' && after !== undefined
            ? { afterMonths: after as number, percent: form.text('sale.stepDownPercent') ?? '' }
            : undefined,
      }),
    )
    ruleFields.push('sale')
  }
  const hosts = (form.text('deepLinkHosts') ?? '')
    .split(/[\s,]+/)
    .map((h) => h.trim())
    .filter(Boolean)
  return {
    input: defined({
      name: form.text('name'),
      currency: form.text('currency')?.toUpperCase(),
      status: form.text('status'),
      destinationUrl: form.text('destinationUrl'),
      deepLinkHosts: hosts,
      attribution: defined({ windowDays: form.integer('attribution.windowDays'), model: form.text('attribution.model') }),
      holdbackDays: form.integer('holdbackDays'),
      rules,
    }),
    ruleFields,
  }
}

/** An error path of the API (`rules.1.amount`) as the form's field (`sale.value`). */
function formField(path: string, ruleFields: string[]): string {
  const rule = /^rules\.(\d+)(?:\.(.*))?$/.exec(path)
  if (!rule) return path
  const event = ruleFields[Number(rule[1])] ?? 'sale'
  const part = rule[2] ?? ''
  if (part.startsWith('stepDown.afterMonths')) return `${event}.stepDownAfter`
  if (part.startsWith('stepDown')) return `${event}.stepDownPercent`
  if (part.startsWith('recurring.months')) return `${event}.months`
  if (part.startsWith('recurring')) return `${event}.recurring`
  if (part.startsWith('amount')) return event === 'signup' ? 'signup.amount' : 'sale.value'
  if (part.startsWith('percent')) return `${event}.value`
  return `${event}.kind`
}

function mappedErrors(errors: FieldErrors, ruleFields: string[]): FieldErrors {
  return Object.fromEntries(Object.entries(errors).map(([path, message]) => [formField(path, ruleFields), message]))
}

const LABELS: Record<string, string> = {
  name: 'Name',
  currency: 'Currency',
  destinationUrl: 'Destination',
  deepLinkHosts: 'Deep-link hosts',
  'attribution.windowDays': 'Attribution window',
  holdbackDays: 'Holdback',
  'signup.amount': 'Sign-up amount',
  'sale.value': 'Sale commission',
  'sale.months': 'Months',
  'sale.stepDownAfter': 'Step down after',
  'sale.stepDownPercent': 'Step-down percent',
}

function ProgramForm({
  page,
  action,
  values,
  errors,
  program,
}: {
  page: MemberPage
  action: string
  values: ProgramValues
  errors: FieldErrors
  program?: Program
}) {
  const currencyLocked = program !== undefined && program.status !== 'draft'
  return (
    <form method="post" action={action} class="narrow">
      <Csrf token={page.csrf} />
      <ErrorSummary errors={errors} labels={LABELS} />
      <Input name="name" label="Name" required value={values.name} error={errors.name} hint="Partners see it in their portal." />
      <Fields>
        <Input
          name="currency"
          label="Currency"
          required
          value={values.currency}
          error={errors.currency}
          pattern="[A-Za-z]{3}"
          hint={currencyLocked ? 'Fixed once the program has left draft.' : 'ISO 4217, e.g. USD, EUR, GBP.'}
          {...(currencyLocked ? { readonly: true } : {})}
        />
        {!program && (
          <Select
            name="status"
            label="Start as"
            value={values.status}
            options={[
              { value: 'draft', label: 'Draft: set it up first' },
              { value: 'active', label: 'Active: links earn at once' },
            ]}
          />
        )}
      </Fields>
      <Input
        name="destinationUrl"
        label="Destination"
        type="url"
        required
        value={values.destinationUrl}
        error={errors.destinationUrl}
        hint="Where a partner's link sends visitors, e.g. https://shop.example.com/."
      />
      <TextArea
        name="deepLinkHosts"
        label="Deep-link hosts"
        rows={2}
        value={values.deepLinkHosts}
        error={errors.deepLinkHosts}
        hint="Other hosts a link may send visitors to with ?to=, one per line (e.g. docs.example.com)."
      />

      <fieldset class="rule">
        <legend>What partners earn</legend>
        <Fields>
          <Select
            name="signup.kind"
            label="For a sign-up"
            value={values['signup.kind']}
            error={errors['signup.kind']}
            options={[
              { value: 'none', label: 'Nothing' },
              { value: 'amount', label: 'A fixed amount' },
            ]}
          />
          <Input
            name="signup.amount"
            label="Amount"
            inputmode="decimal"
            value={values['signup.amount']}
            error={errors['signup.amount']}
            hint="e.g. 5.00"
          />
        </Fields>
        <Fields>
          <Select
            name="sale.kind"
            label="For a sale"
            value={values['sale.kind']}
            error={errors['sale.kind']}
            options={[
              { value: 'none', label: 'Nothing' },
              { value: 'percent', label: 'A percentage of it' },
              { value: 'amount', label: 'A fixed amount' },
            ]}
          />
          <Input
            name="sale.value"
            label="Percent or amount"
            inputmode="decimal"
            value={values['sale.value']}
            error={errors['sale.value']}
            hint="20 for 20%, or 10.00"
          />
        </Fields>
        <Fields>
          <Select
            name="sale.recurring"
            label="Of which payments (percentages)"
            value={values['sale.recurring']}
            error={errors['sale.recurring']}
            options={[
              { value: 'once', label: 'The first sale only' },
              { value: 'months', label: 'Each payment, for some months' },
              { value: 'lifetime', label: 'Each payment, for life' },
            ]}
          />
          <Input
            name="sale.months"
            label="Months"
            type="number"
            min={1}
            max={120}
            value={values['sale.months']}
            error={errors['sale.months']}
          />
        </Fields>
        <Fields>
          <Input
            name="sale.stepDownAfter"
            label="Step down after (months)"
            type="number"
            min={1}
            max={119}
            value={values['sale.stepDownAfter']}
            error={errors['sale.stepDownAfter']}
            hint="Optional: pay less after a while."
          />
          <Input
            name="sale.stepDownPercent"
            label="…to this percent"
            inputmode="decimal"
            value={values['sale.stepDownPercent']}
            error={errors['sale.stepDownPercent']}
          />
        </Fields>
      </fieldset>

      <Fields>
        <Input
          name="attribution.windowDays"
          label="Attribution window (days)"
          type="number"
          min={1}
          max={365}
          required
          value={values['attribution.windowDays']}
          error={errors['attribution.windowDays']}
          hint="How long after a click a conversion counts."
        />
        <Input
          name="holdbackDays"
          label="Holdback (days)"
          type="number"
          min={0}
          max={365}
          required
          value={values.holdbackDays}
          error={errors.holdbackDays}
          hint="How long earnings wait for refunds before they can be approved."
        />
      </Fields>
      <Select
        name="attribution.model"
        label="Who gets the credit"
        value={values['attribution.model']}
        error={errors['attribution.model']}
        options={MODELS.map((m) => ({ value: m, label: MODEL_LABELS[m] }))}
      />
      <button type="submit">{program ? 'Save changes' : 'Create program'}</button>
    </form>
  )
}

// --- pages ------------------------------------------------------------------------------------------

async function list(page: MemberPage): Promise<Response> {
  const programs = await page.withTenant((scope) => allPrograms(page, scope))
  const canEdit = page.can('*')
  const money = page.fmt.money
  return consolePage(page, { title: 'Programs', section: 'programs' }, [
    <PageHead title="Programs">
      {canEdit && (
        <a class="button" href={page.paths.to('/programs/new')}>
          New program
        </a>
      )}
    </PageHead>,
    programs.length === 0 ? (
      <EmptyState
        title="No programs yet"
        text="A program holds what partners earn: its commission rules, attribution window, holdback and currency."
        action={
          canEdit && (
            <a class="button" href={page.paths.to('/programs/new')}>
              Create your first program
            </a>
          )
        }
        api={`curl -H "Authorization: Bearer $KEY" -H 'content-type: application/json' \\\n  ${page.deps.config.server.public_url}${page.paths.api}/programs -d '{"name":"Launch","currency":"USD","destinationUrl":"https://shop.example.com/"}'`}
      />
    ) : (
      <DataTable
        caption="Programs"
        rows={programs}
        rowId={(p) => `program-${p.id}`}
        columns={[
          { label: 'Name', cell: (p) => <a href={page.paths.to(`/programs/${p.id}`)}>{p.name}</a> },
          { label: 'Status', cell: (p) => <Status value={p.status} /> },
          { label: 'Earns', cell: (p) => rulesText(p, money) },
          { label: 'Currency', cell: (p) => p.currency },
          { label: 'Window', num: true, cell: (p) => `${p.attribution.windowDays} d` },
          { label: 'Holdback', num: true, cell: (p) => `${p.holdbackDays} d` },
        ]}
      />
    ),
  ])
}

async function newForm(
  page: MemberPage,
  values = valuesOf(undefined, page.tenant.defaultCurrency),
  errors: FieldErrors = {},
  status = 200,
): Promise<Response> {
  return consolePage(page, { title: 'New program', section: 'programs', status }, [
    <PageHead title="New program" crumbs={[{ label: 'Programs', href: page.paths.to('/programs') }]} />,
    <ProgramForm page={page} action={page.paths.to('/programs/new')} values={values} errors={errors} />,
  ])
}

async function create(page: MemberPage): Promise<Response> {
  const form = page.form!
  const { input, ruleFields } = inputOf(form)
  let errors = mappedErrors(schemaErrors(ProgramBody, input), ruleFields)
  if (Object.keys(errors).length === 0) {
    try {
      const program = await page.withTenant((scope) => createProgram(scope, input as never))
      return redirectTo(page, page.paths.to(`/programs/${program.id}`), { kind: 'ok', text: `Program “${program.name}” created.` })
    } catch (err) {
      if (!(err instanceof AppError)) throw err
      errors = programErrors(err, ruleFields)
    }
  }
  return newForm(page, form.values(), errors, 400)
}

function programErrors(err: AppError, ruleFields: string[]): FieldErrors {
  const found = errorsOf(
    err,
    {
      invalid_destination: 'destinationUrl',
      invalid_deep_link_host: 'deepLinkHosts',
      unknown_currency: 'currency',
      currency_locked: 'currency',
    },
    [],
  )
  const path = /^(rules\.\d+(?:\.[\w.]+)?):/.exec(err.detail ?? '')?.[1]
  if (path) return { [formField(path, ruleFields)]: Object.values(found)[0]! }
  return found
}

async function detail(page: MemberPage, values?: ProgramValues, errors: FieldErrors = {}, status = 200): Promise<Response> {
  const id = page.params.id!
  const since = new Date(Date.now() - 30 * 86_400_000).toISOString().slice(0, 10)
  const [program, last30] = await page.withTenant(
    async (scope) => [await getProgram(scope, id), await stats(scope, { programId: id }, { from: since })] as const,
  )
  const { fmt, paths } = page
  const origin = page.deps.config.server.public_url.replace(/\/$/, '')
  const tenantAttr = page.deps.config.mode === 'multi' ? ` data-tenant="${page.tenant.slug}"` : ''
  const snippet = `<script src="${origin}/sdk.js"${tenantAttr} defer></script>\n<!-- once the visitor has signed up, with your own id for them: -->\n<script>addEventListener('load', () => partnerd.identify('customer-42'))</script>`
  const serverEvent = `curl ${origin}${paths.api}/attribution/events \\\n  -H "Authorization: Bearer $KEY_WITH_EVENTS_WRITE" -H 'content-type: application/json' \\\n  -d '{"userId":"customer-42","type":"sale","value":"49.00","currency":"${program.currency}","externalEventId":"inv_123"}'`
  const canEdit = page.can('*')
  const transitions: { to: ProgramStatus; label: string }[] =
    program.status === 'archived'
      ? []
      : [
          ...(program.status !== 'active' ? [{ to: 'active' as const, label: 'Activate' }] : []),
          ...(program.status === 'active' ? [{ to: 'paused' as const, label: 'Pause' }] : []),
          { to: 'archived', label: 'Archive…' },
        ]
  return consolePage(page, { title: program.name, section: 'programs', status }, [
    <PageHead title={program.name} crumbs={[{ label: 'Programs', href: paths.to('/programs') }]}>
      {canEdit &&
        transitions.map((t) =>
          t.to === 'archived' ? (
            <a class="button secondary outline" href={paths.to(`/programs/${program.id}/archive`)}>
              {t.label}
            </a>
          ) : (
            <form method="post" action={paths.to(`/programs/${program.id}/status`)}>
              <Csrf token={page.csrf} />
              <input type="hidden" name="status" value={t.to} />
              <button type="submit" class={t.to === 'paused' ? 'secondary' : undefined}>
                {t.label}
              </button>
            </form>
          ),
        )}
    </PageHead>,
    <p>
      <Status value={program.status} /> · {rulesText(program, fmt.money)} · {program.currency}
      {program.status === 'paused' && <span class="muted"> · Links still redirect, but earn nothing while paused.</span>}
    </p>,
    <section class="kpis" aria-label="The last 30 days">
      <Kpi label="Clicks, 30 days" value={fmt.number(last30.clicks.total)} />
      <Kpi label="Sign-ups, 30 days" value={fmt.number(last30.conversions.signups)} />
      <Kpi label="Sales, 30 days" value={fmt.number(last30.conversions.sales)} />
      <Kpi label="Revenue, 30 days" value={fmt.amounts(last30.revenue)} />
    </section>,
    <div class="grid-2">
      <article>
        <h2>On your site</h2>
        <p>Keeps the click a partner's link brought, and ties it to your customer once they sign up:</p>
        <CopyBlock id="snippet" text={snippet} label="snippet" />
      </article>
      <article>
        <h2>From your server</h2>
        <p>
          Report each sale (or sign-up, or refund) with a key that has the <code>events:write</code> scope:
        </p>
        <CopyBlock id="server-event" text={serverEvent} label="example" />
      </article>
    </div>,
    canEdit ? (
      <>
        <h2>Settings</h2>
        <ProgramForm
          page={page}
          action={paths.to(`/programs/${program.id}`)}
          values={values ?? valuesOf(program)}
          errors={errors}
          program={program}
        />
      </>
    ) : (
      <>
        <h2>Settings</h2>
        <dl class="summary">
          <dt>Destination</dt>
          <dd>{program.destinationUrl}</dd>
          <dt>Deep-link hosts</dt>
          <dd>{program.deepLinkHosts.join(', ') || '—'}</dd>
          <dt>Attribution</dt>
          <dd>
            {program.attribution.windowDays} days, {MODEL_LABELS[program.attribution.model]}
          </dd>
          <dt>Holdback</dt>
          <dd>{program.holdbackDays} days</dd>
        </dl>
      </>
    ),
  ])
}

async function update(page: MemberPage): Promise<Response> {
  const form = page.form!
  const { input, ruleFields } = inputOf(form)
  const { status: _status, ...changes } = input
  let errors = mappedErrors(schemaErrors(ProgramChanges, changes), ruleFields)
  if (Object.keys(errors).length === 0) {
    try {
      const program = await page.withTenant(async (scope) => {
        const current = await getProgram(scope, page.params.id!)
        // A currency that cannot change any more is not sent (the field is read-only then).
        if (current.status !== 'draft') delete changes.currency
        return updateProgram(scope, current.id, changes as never)
      })
      return redirectTo(page, page.paths.to(`/programs/${program.id}`), { kind: 'ok', text: 'Changes saved.' })
    } catch (err) {
      if (!(err instanceof AppError) || err.status === 404) throw err
      errors = programErrors(err, ruleFields)
    }
  }
  return detail(page, form.values(), errors, 400)
}

async function setStatus(page: MemberPage): Promise<Response> {
  const status = page.form!.text('status') as ProgramStatus | undefined
  if (!status || !['active', 'paused', 'archived', 'draft'].includes(status)) throw new AppError(400, 'invalid_request', 'choose a status')
  const program = await page.withTenant((scope) => updateProgram(scope, page.params.id!, { status }))
  const said = {
    active: 'is active: its links earn',
    paused: 'is paused: its links redirect but earn nothing',
    archived: 'is archived',
    draft: 'is a draft again',
  }
  return redirectTo(page, page.paths.to(`/programs/${program.id}`), { kind: 'ok', text: `“${program.name}” ${said[status]}.` })
}

async function confirmArchive(page: MemberPage): Promise<Response> {
  const program = await page.withTenant((scope) => getProgram(scope, page.params.id!))
  return consolePage(page, { title: `Archive ${program.name}`, section: 'programs' }, [
    <PageHead
      title={`Archive ${program.name}`}
      crumbs={[
        { label: 'Programs', href: page.paths.to('/programs') },
        { label: program.name, href: page.paths.to(`/programs/${program.id}`) },
      ]}
    />,
    <Confirm
      title="Archive this program?"
      action={page.paths.to(`/programs/${program.id}/status`)}
      fields={[['status', 'archived']]}
      confirmLabel="Archive the program"
      cancelHref={page.paths.to(`/programs/${program.id}`)}
      csrf={page.csrf}
      danger
    >
      <p>
        “{program.name}” stops for good: it takes no new partners and its settings can no longer change. Its clicks, commissions and payouts
        stay. This cannot be undone.
      </p>
    </Confirm>,
  ])
}

const admin = ['*' as const]
export const programPages: ConsoleRoute[] = [
  { method: 'GET', path: '/programs', handle: list },
  { method: 'GET', path: '/programs/new', scopes: admin, handle: (page) => newForm(page) },
  { method: 'POST', path: '/programs/new', scopes: admin, handle: create },
  { method: 'GET', path: '/programs/:id', handle: (page) => detail(page) },
  { method: 'POST', path: '/programs/:id', scopes: admin, handle: update },
  { method: 'POST', path: '/programs/:id/status', scopes: admin, handle: setStatus },
  { method: 'GET', path: '/programs/:id/archive', scopes: admin, handle: confirmArchive },
]
