/**
 * Settings and data: the organization's name, the addresses clients use, the whole tenant as JSON
 * (the API's export, which the session may call) and an import into an empty one, and the audit log
 * with its filters.
 */
import { listAudit } from '../../audit/service.ts'
import { importTenant } from '../../data/transfer.ts'
import { AppError } from '../../errors.ts'
import { updateTenant } from '../../tenants/service.ts'
import { Csrf, ErrorSummary, Input } from '../components/field.tsx'
import { Filters } from '../components/filters.tsx'
import { PageHead } from '../components/page-head.tsx'
import { DataTable, Pager } from '../components/table.tsx'
import { Time } from '../components/time.tsx'
import { type MemberPage, redirectTo } from '../context.ts'
import { errorsOf, type FieldErrors } from '../forms.ts'
import type { ConsoleRoute } from '../routes.tsx'
import { consolePage } from './layout.tsx'
import { urlWith } from './shared.tsx'

async function settings(page: MemberPage, errors: FieldErrors = {}, status = 200): Promise<Response> {
  const q = page.url.searchParams
  const filter = {
    type: q.get('type')?.trim() || undefined,
    actor: q.get('actor')?.trim() || undefined,
    subject: q.get('subject')?.trim() || undefined,
  }
  const audit = page.can('audit:read')
    ? await page.withTenant((scope) => listAudit(scope, { ...filter, cursor: q.get('cursor') ?? undefined, limit: 50 }))
    : undefined
  const { fmt, paths } = page
  const origin = page.deps.config.server.public_url.replace(/\/$/, '')
  const admin = page.can('*')
  return consolePage(page, { title: 'Settings', section: 'settings', status }, [
    <PageHead title="Settings" />,
    <ErrorSummary errors={errors} labels={{ name: 'Name', defaultCurrency: 'Default currency', file: 'Export file' }} />,
    <div class="grid-2">
      <article>
        <h2>Organization</h2>
        {admin ? (
          <form method="post" action={paths.to('/settings/name')}>
            <Csrf token={page.csrf} />
            <Input
              name="name"
              label="Name"
              required
              value={page.tenant.name}
              error={errors.name}
              hint="Shown to your team and your partners."
            />
            <Input
              name="defaultCurrency"
              label="Default currency"
              required
              value={page.tenant.defaultCurrency}
              error={errors.defaultCurrency}
              hint="ISO 4217, e.g. USD, EUR. A program created without a currency is in this one."
            />
            <button type="submit">Save</button>
          </form>
        ) : (
          <p>
            {page.tenant.name} · {page.tenant.defaultCurrency}
          </p>
        )}
        <dl class="summary">
          <dt>Console</dt>
          <dd>
            <code>{origin + paths.admin}</code>
          </dd>
          <dt>API</dt>
          <dd>
            <code>{origin + paths.api}</code>
          </dd>
          <dt>Links</dt>
          <dd>
            <code>{`${origin}/r/${page.deps.config.mode === 'multi' ? `${page.tenant.slug}/` : ''}<key>`}</code>
          </dd>
        </dl>
        <p class="hint">The public address is server.public_url in the configuration.</p>
      </article>
      {admin && (
        <article>
          <h2>Data</h2>
          <p>Everything of this organization (programs, partners, links, clicks, events, commissions, payouts) as one JSON document.</p>
          <p>
            <a class="button secondary" href={`${paths.api}/export`} download="partnerd-export.json">
              Download the export
            </a>
          </p>
          <form method="post" action={paths.to('/settings/import')} enctype="multipart/form-data">
            <Csrf token={page.csrf} />
            <label for="f-file">Import an export</label>
            <input
              id="f-file"
              type="file"
              name="file"
              accept="application/json,.json"
              aria-describedby="f-file-hint"
              aria-invalid={errors.file ? 'true' : undefined}
            />
            <small id="f-file-hint" class="hint">
              Into an organization with no programs or partners yet; all or nothing. Large ones: <code>partnerd import</code>.
            </small>
            {errors.file && <small class="field-error">{errors.file}</small>}
            <button type="submit" class="secondary">
              Import
            </button>
          </form>
        </article>
      )}
    </div>,
    audit && [
      <h2 id="audit">Audit log</h2>,
      <Filters action={paths.to('/settings')} results="audit-results">
        <label for="filter-type">
          What
          <input id="filter-type" name="type" value={filter.type} placeholder="sign_in, api_key, partner.revoked…" />
        </label>
        <label for="filter-actor">
          By
          <input id="filter-actor" name="actor" value={filter.actor} placeholder="usr_…, key_…" />
        </label>
        <label for="filter-subject">
          About
          <input id="filter-subject" name="subject" value={filter.subject} placeholder="An id or an email" />
        </label>
      </Filters>,
      <div id="audit-results">
        <DataTable
          caption="Audit log, newest first"
          rows={audit.items}
          columns={[
            { label: 'When', cell: (a) => <Time at={a.createdAt} fmt={fmt} /> },
            { label: 'What', cell: (a) => <code>{a.type}</code> },
            { label: 'By', cell: (a) => a.actor ?? '—' },
            { label: 'About', cell: (a) => a.subject ?? '—' },
            { label: 'From', cell: (a) => a.ip ?? '—' },
            {
              label: 'Detail',
              cell: (a) => (Object.keys(a.detail).length ? <code>{JSON.stringify(a.detail).slice(0, 120)}</code> : '—'),
            },
          ]}
        />
        <Pager
          first={q.get('cursor') ? urlWith(page, { cursor: undefined }) : undefined}
          next={audit.nextCursor ? urlWith(page, { cursor: audit.nextCursor }) : undefined}
        />
      </div>,
    ],
  ])
}

async function rename(page: MemberPage): Promise<Response> {
  const name = page.form!.text('name')
  const currency = page.form!.text('defaultCurrency')?.toUpperCase()
  if (!name) return settings(page, { name: 'Enter a name' }, 400)
  try {
    await page.withTenant((scope) => updateTenant(scope, { name, ...(currency ? { defaultCurrency: currency } : {}) }))
  } catch (err) {
    if (!(err instanceof AppError)) throw err
    return settings(page, errorsOf(err, { invalid_name: 'name', unknown_currency: 'defaultCurrency' }), 400)
  }
  return redirectTo(page, page.paths.to('/settings'), {
    kind: 'ok',
    text: `Saved: ${name}, in ${currency ?? page.tenant.defaultCurrency}.`,
  })
}

async function importFile(page: MemberPage): Promise<Response> {
  const file = page.form!.file('file')
  if (!file) return settings(page, { file: 'Choose the export file' }, 400)
  let document: Record<string, unknown>
  try {
    document = JSON.parse(await file.text())
  } catch {
    return settings(page, { file: 'This file is not a JSON document from an export' }, 400)
  }
  try {
    const counts = await page.withTenant((scope) => importTenant(scope, document))
    const text = Object.entries(counts)
      .filter(([, n]) => n > 0)
      .map(([table, n]) => `${n} ${table}`)
      .join(', ')
    return redirectTo(page, page.paths.to('/settings'), { kind: 'ok', text: `Imported ${text || 'nothing'}.` })
  } catch (err) {
    if (!(err instanceof AppError)) throw err
    return settings(page, { file: errorsOf(err)[''] ?? Object.values(errorsOf(err))[0]! }, err.status)
  }
}

const admin = ['*' as const]
export const settingsPages: ConsoleRoute[] = [
  { method: 'GET', path: '/settings', handle: (page) => settings(page) },
  { method: 'POST', path: '/settings/name', scopes: admin, handle: rename },
  { method: 'POST', path: '/settings/import', scopes: admin, handle: importFile },
]
