/**
 * API keys: the organization's keys (never the keys themselves: their first characters, scopes,
 * binding, last use, expiry); minting one with scopes and an optional program binding, shown once
 * with a copy button; revoking one, which acts on its next request.
 */
import { listApiKeys, mintApiKey, PROGRAM_KEY_SCOPES, revokeApiKey } from '../../auth/api-keys/service.ts'
import { ALL_SCOPES, SCOPES } from '../../auth/scopes.ts'
import { fetchAll } from '../../db/pagination.ts'
import { AppError } from '../../errors.ts'
import { Confirm } from '../components/confirm.tsx'
import { Checkboxes, Csrf, ErrorSummary, Input, Select } from '../components/field.tsx'
import { PageHead } from '../components/page-head.tsx'
import { ShownOnce } from '../components/secret.tsx'
import { Status } from '../components/status.tsx'
import { DataTable, EmptyState } from '../components/table.tsx'
import { Tabs } from '../components/tabs.tsx'
import { Time } from '../components/time.tsx'
import { type MemberPage, redirectTo } from '../context.ts'
import { defined, errorsOf, type FieldErrors } from '../forms.ts'
import type { ConsoleRoute } from '../routes.tsx'
import { consolePage } from './layout.tsx'
import { allPrograms, shortId } from './shared.tsx'

/** What each scope allows, in a sentence (the README's table). */
export const SCOPE_WORDS: Record<(typeof SCOPES)[number], string> = {
  'events:write': 'record conversion events and coupon redemptions',
  'partners:read': 'read partners, enrolments and postbacks',
  'partners:write': 'create and change partners',
  'commissions:read': 'read commissions and stats',
  'commissions:write': 'approve, reject, clear or reverse commissions',
  'links:read': 'read links and coupon codes',
  'links:write': 'create and archive links and coupon codes',
  'payouts:read': 'read payouts and their CSVs',
  'payouts:manage': 'run payouts and mark them paid or failed',
  'webhooks:read': 'read webhook endpoints and deliveries',
  'webhooks:manage': 'manage webhook endpoints',
  'team:read': 'read the team',
  'keys:read': 'read the API keys (never the keys)',
  'audit:read': 'read the audit log',
}

/** The keys area's tabs: the API keys, then the credentials plugins issue (credentials.tsx). */
export function KeyTabs({ page }: { page: MemberPage }) {
  const tabs = [
    { href: page.paths.to('/keys'), label: 'API keys' },
    ...page.deps.credentialKinds.map((k) => ({ href: page.paths.to(`/credentials/${k.id}`), label: k.title })),
  ]
  return <Tabs label="Kinds of credential" tabs={tabs} current={page.url.pathname} />
}

async function list(page: MemberPage): Promise<Response> {
  const { keys, programs } = await page.withTenant(async (scope) => ({
    keys: await fetchAll((request) => listApiKeys(scope, { ...request, order: 'newest' })),
    programs: await allPrograms(page, scope),
  }))
  const { fmt, paths } = page
  const now = new Date().toISOString()
  const state = (k: (typeof keys)[number]) => (k.revokedAt ? 'revoked' : k.expiresAt && k.expiresAt <= now ? 'expired' : 'live')
  const admin = page.can(ALL_SCOPES)
  return consolePage(page, { title: 'API keys', section: 'keys' }, [
    <PageHead title="API keys">
      {admin && (
        <a class="button" href={paths.to('/keys/new')}>
          New key
        </a>
      )}
    </PageHead>,
    <KeyTabs page={page} />,
    <p>
      Keys let your servers and integrations call the API at{' '}
      <code>
        {page.deps.config.server.public_url}
        {paths.api}
      </code>
      , as <code>Authorization: Bearer &lt;key&gt;</code> or <code>x-api-key</code>.
    </p>,
    keys.length === 0 ? (
      <EmptyState title="No keys yet" text="Mint one for each server or integration, with only the scopes it needs." />
    ) : (
      <DataTable
        caption="API keys, newest first"
        rows={keys}
        rowId={(k) => `key-${k.id}`}
        columns={[
          { label: 'Name', cell: (k) => k.name },
          { label: 'Key', cell: (k) => <code>{k.start}…</code> },
          {
            label: 'Scopes',
            cell: (k) => (k.partnerId ? 'acts as one partner' : k.scopes.includes(ALL_SCOPES) ? 'everything (admin)' : k.scopes.join(', ')),
          },
          {
            label: 'Bound to',
            cell: (k) =>
              k.programId
                ? (programs.find((p) => p.id === k.programId)?.name ?? shortId(k.programId))
                : k.partnerId
                  ? `partner ${shortId(k.partnerId)}`
                  : '—',
          },
          { label: 'Last used', cell: (k) => <Time at={k.lastUsedAt} fmt={fmt} /> },
          { label: 'Expires', cell: (k) => <Time at={k.expiresAt} fmt={fmt} /> },
          { label: 'Status', cell: (k) => <Status value={state(k)} /> },
          {
            label: 'Actions',
            hiddenLabel: true,
            cell: (k) =>
              admin &&
              state(k) === 'live' && (
                <a class="button secondary outline small" href={paths.to(`/keys/${k.id}/revoke`)}>
                  Revoke…
                </a>
              ),
          },
        ]}
      />
    ),
  ])
}

async function newForm(
  page: MemberPage,
  values: Record<string, string | string[]> = {},
  errors: FieldErrors = {},
  status = 200,
): Promise<Response> {
  const programs = (await page.withTenant((scope) => allPrograms(page, scope))).filter((p) => p.status !== 'archived')
  return consolePage(page, { title: 'New API key', section: 'keys', status }, [
    <PageHead title="New API key" crumbs={[{ label: 'API keys', href: page.paths.to('/keys') }]} />,
    <form method="post" action={page.paths.to('/keys/new')} class="narrow">
      <Csrf token={page.csrf} />
      <ErrorSummary errors={errors} labels={{ name: 'Name', scopes: 'Scopes', programId: 'Program', expiresAt: 'Expires' }} />
      <Input
        name="name"
        label="Name"
        required
        value={values.name as string}
        error={errors.name}
        hint="What uses it: “Stripe sync”, “CRM”."
      />
      <Checkboxes
        name="scopes"
        label="What it may do"
        hint="Nothing ticked: everything, as an admin. Give a key only what it needs."
        error={errors.scopes}
        checked={[values.scopes ?? []].flat()}
        options={SCOPES.map((s) => ({ value: s, label: s, hint: SCOPE_WORDS[s] }))}
      />
      <Select
        name="programId"
        label="Bound to a program"
        value={values.programId as string}
        error={errors.programId}
        empty="No: every program"
        options={programs.map((p) => ({ value: p.id, label: p.name }))}
        hint={`A bound key sees and records only that program's data, and may carry only ${PROGRAM_KEY_SCOPES.join(', ')}.`}
      />
      <Input
        name="expiresAt"
        label="Expires"
        type="date"
        value={values.expiresAt as string}
        error={errors.expiresAt}
        hint="Optional: the key stops working at the start of this day (UTC)."
      />
      <button type="submit">Mint the key</button>
    </form>,
  ])
}

async function create(page: MemberPage): Promise<Response> {
  const form = page.form!
  const day = form.text('expiresAt')
  const scopes = form.all('scopes')
  const input = defined({
    name: form.text('name'),
    scopes: scopes.length ? scopes : undefined,
    programId: form.text('programId'),
    expiresAt: day && /^\d{4}-\d{2}-\d{2}$/.test(day) ? `${day}T00:00:00.000Z` : day,
  })
  const errors: FieldErrors = input.name ? {} : { name: 'Give the key a name' }
  if (input.programId && !input.scopes)
    errors.scopes = `A key bound to a program needs its scopes chosen among ${PROGRAM_KEY_SCOPES.join(', ')}`
  if (Object.keys(errors).length === 0) {
    try {
      const minted = await page.withTenant((scope) =>
        mintApiKey(scope, page.deps.config.auth.api_key_prefix, input as { name: string }, { id: page.principal.id, ip: page.ip }),
      )
      return consolePage(page, { title: 'Your new key', section: 'keys', status: 201 }, [
        <PageHead title="Your new key" crumbs={[{ label: 'API keys', href: page.paths.to('/keys') }]} />,
        <ShownOnce name="key" label={minted.name} value={minted.key} what="key" />,
        <p>
          <a class="button" href={page.paths.to('/keys')}>
            Done
          </a>
        </p>,
      ])
    } catch (err) {
      if (!(err instanceof AppError)) throw err
      Object.assign(
        errors,
        errorsOf(err, { invalid_scopes: 'scopes', invalid_expiry: 'expiresAt', invalid_name: 'name', not_found: 'programId' }),
      )
    }
  }
  return newForm(page, { ...form.values(), scopes }, errors, 400)
}

async function confirmRevoke(page: MemberPage): Promise<Response> {
  const keys = await page.withTenant((scope) => fetchAll((request) => listApiKeys(scope, request)))
  const key = keys.find((k) => k.id === page.params.id)
  if (!key) throw new AppError(404, 'not_found', 'There is no such key.')
  return consolePage(page, { title: `Revoke ${key.name}`, section: 'keys' }, [
    <PageHead title={`Revoke ${key.name}`} crumbs={[{ label: 'API keys', href: page.paths.to('/keys') }]} />,
    <Confirm
      title="Revoke this key?"
      action={page.paths.to(`/keys/${key.id}/revoke`)}
      fields={[]}
      confirmLabel="Revoke the key"
      cancelHref={page.paths.to('/keys')}
      csrf={page.csrf}
      danger
    >
      <p>
        <code>{key.start}…</code> (“{key.name}”) fails from its next request on. Whatever uses it needs a new key. This cannot be undone.
      </p>
    </Confirm>,
  ])
}

async function revoke(page: MemberPage): Promise<Response> {
  const key = await page.withTenant((scope) => revokeApiKey(scope, page.params.id!, { id: page.principal.id, ip: page.ip }))
  return redirectTo(page, page.paths.to('/keys'), { kind: 'ok', text: `“${key.name}” is revoked.` })
}

const admin = [ALL_SCOPES as typeof ALL_SCOPES]
export const keyPages: ConsoleRoute[] = [
  { method: 'GET', path: '/keys', scopes: ['keys:read'], handle: list },
  { method: 'GET', path: '/keys/new', scopes: admin, handle: (page) => newForm(page) },
  { method: 'POST', path: '/keys/new', scopes: admin, handle: create },
  { method: 'GET', path: '/keys/:id/revoke', scopes: admin, handle: confirmRevoke },
  { method: 'POST', path: '/keys/:id/revoke', scopes: admin, handle: revoke },
]
