/**
 * The credentials plugins issue besides API keys (X-Auth pairs, from the xauth plugin), beside the
 * keys: a list (never the secrets: name, what it reaches, last use), issuing one from the plugin's
 * form with its secrets shown once, revoking one. Who may do what is the keys' rule: keys:read to
 * see them, an owner or admin to issue or revoke. The plugin's own schema and service say what is
 * valid, as on its API route.
 */
import type { CredentialField, CredentialKind, IssuedCredential } from '../../auth/credential-kinds.ts'
import { ALL_SCOPES, SCOPES } from '../../auth/scopes.ts'
import { AppError } from '../../errors.ts'
import { listPartners } from '../../partners/service.ts'
import { Confirm } from '../components/confirm.tsx'
import { Checkboxes, Csrf, ErrorSummary, Input, Select } from '../components/field.tsx'
import { PageHead } from '../components/page-head.tsx'
import { ShownOnce } from '../components/secret.tsx'
import { Status } from '../components/status.tsx'
import { DataTable, EmptyState } from '../components/table.tsx'
import { Time } from '../components/time.tsx'
import { type MemberPage, redirectTo } from '../context.ts'
import { defined, errorsOf, type FieldErrors, schemaErrors } from '../forms.ts'
import type { ConsoleRoute } from '../routes.tsx'
import { KeyTabs, SCOPE_WORDS } from './keys.tsx'
import { consolePage } from './layout.tsx'
import { partnerLabel } from './partners.tsx'

function kindOf(page: MemberPage): CredentialKind {
  const kind = page.deps.credentialKinds.find((k) => k.id === page.params.kind)
  if (!kind) throw new AppError(404, 'not_found', 'There is no such kind of credential here.')
  return kind
}

async function list(page: MemberPage): Promise<Response> {
  const kind = kindOf(page)
  const { credentials, partners } = await page.withTenant(async (scope) => {
    const credentials = (await kind.list(scope)).sort((a, b) => b.createdAt.localeCompare(a.createdAt))
    const ids = credentials.map((c) => c.partnerId).filter((id): id is string => Boolean(id))
    return { credentials, partners: await page.deps.reads.partnerNames(scope, ids) }
  })
  const { fmt, paths } = page
  const admin = page.can(ALL_SCOPES)
  const base = paths.to(`/credentials/${kind.id}`)
  return consolePage(page, { title: kind.title, section: 'keys' }, [
    <PageHead title={kind.title}>
      {admin && (
        <a class="button" href={`${base}/new`}>
          New {kind.one}
        </a>
      )}
    </PageHead>,
    <KeyTabs page={page} />,
    <p>{kind.about}</p>,
    credentials.length === 0 ? (
      <EmptyState title={`No ${kind.title.toLowerCase()} yet`} text="Issue one for each integration, with only what it needs." />
    ) : (
      <DataTable
        caption={`${kind.title}, newest first`}
        rows={credentials}
        rowId={(c) => `credential-${c.id}`}
        columns={[
          { label: 'Name', cell: (c) => c.name },
          { label: 'Id', cell: (c) => <code>{c.id}</code> },
          {
            label: 'Reaches',
            cell: (c) => {
              const partner = c.partnerId ? partners.get(c.partnerId) : undefined
              return partner ? <a href={paths.to(`/partners/${partner.id}`)}>acts as {partnerLabel(partner)}</a> : c.reach
            },
          },
          { label: 'Issued', cell: (c) => <Time at={c.createdAt} fmt={fmt} /> },
          { label: 'Last used', cell: (c) => <Time at={c.lastUsedAt} fmt={fmt} /> },
          { label: 'Status', cell: (c) => <Status value={c.revokedAt ? 'revoked' : 'live'} /> },
          {
            label: 'Actions',
            hiddenLabel: true,
            cell: (c) =>
              admin &&
              !c.revokedAt && (
                <a class="button secondary outline small" href={`${base}/${encodeURIComponent(c.id)}/revoke`}>
                  Revoke…
                </a>
              ),
          },
        ]}
      />
    ),
  ])
}

function FieldFor({ field, values, errors }: { field: CredentialField; values: Record<string, string | string[]>; errors: FieldErrors }) {
  const common = { name: field.name, label: field.label, hint: field.hint, error: errors[field.name], required: field.required }
  switch (field.type) {
    case 'choice':
      return <Select {...common} value={values[field.name] as string} options={field.options ?? []} />
    case 'scopes':
      return (
        <Checkboxes
          {...common}
          checked={[values[field.name] ?? []].flat()}
          options={SCOPES.map((s) => ({ value: s, label: s, hint: SCOPE_WORDS[s] }))}
        />
      )
    default:
      return <Input {...common} value={values[field.name] as string} />
  }
}

async function newForm(
  page: MemberPage,
  values: Record<string, string | string[]> = {},
  errors: FieldErrors = {},
  status = 200,
): Promise<Response> {
  const kind = kindOf(page)
  const base = page.paths.to(`/credentials/${kind.id}`)
  const title = `New ${kind.one}`
  return consolePage(page, { title, section: 'keys', status }, [
    <PageHead title={title} crumbs={[{ label: kind.title, href: base }]} />,
    <form method="post" action={`${base}/new`} class="narrow">
      <Csrf token={page.csrf} />
      <ErrorSummary errors={errors} labels={Object.fromEntries(kind.fields.map((f) => [f.name, f.label]))} />
      {kind.fields.map((field) => (
        <FieldFor field={field} values={values} errors={errors} />
      ))}
      <button type="submit">Issue it</button>
    </form>,
  ])
}

/** The form as the API body: scopes as a list (left out when none), a partner's email as its id. */
async function inputOf(page: MemberPage, kind: CredentialKind): Promise<{ input: Record<string, unknown>; errors: FieldErrors }> {
  const form = page.form!
  const input: Record<string, unknown> = {}
  const errors: FieldErrors = {}
  for (const field of kind.fields) {
    if (field.type === 'scopes') {
      const scopes = form.all(field.name)
      input[field.name] = scopes.length ? scopes : undefined
    } else if (field.type === 'partner') {
      const value = form.text(field.name)
      if (value?.includes('@')) {
        const found = await page.withTenant((scope) => listPartners(scope, { email: value, limit: 1 }))
        if (found.items[0]) input[field.name] = found.items[0].id
        else errors[field.name] = 'No partner has this email.'
      } else input[field.name] = value
    } else input[field.name] = form.text(field.name)
  }
  return { input: defined(input), errors }
}

async function issue(page: MemberPage): Promise<Response> {
  const kind = kindOf(page)
  const form = page.form!
  const read = await inputOf(page, kind)
  const { input } = read
  // A partner's unknown email is the more useful message than the schema's "required".
  const errors: FieldErrors = { ...schemaErrors(kind.schema, input), ...read.errors }
  if (Object.keys(errors).length === 0) {
    try {
      const issued = await page.withTenant((scope) => kind.issue(scope, input))
      const base = page.paths.to(`/credentials/${kind.id}`)
      return consolePage(page, { title: `Your new ${kind.one}`, section: 'keys', status: 201 }, [
        <PageHead title={issued.credential.name} crumbs={[{ label: kind.title, href: base }]} />,
        ...issued.secrets.map((s, i) => <ShownOnce name={`secret-${i}`} label={s.label} value={s.value} what={s.label} />),
        <p>
          <a class="button" href={base}>
            Done
          </a>
        </p>,
      ])
    } catch (err) {
      if (!(err instanceof AppError) || err.status >= 500) throw err
      Object.assign(
        errors,
        errorsOf(
          err,
          {},
          kind.fields.map((f) => f.name),
        ),
      )
    }
  }
  const scopeFields = kind.fields.filter((f) => f.type === 'scopes').map((f) => f.name)
  const values: Record<string, string | string[]> = { ...form.values(), ...Object.fromEntries(scopeFields.map((n) => [n, form.all(n)])) }
  return newForm(page, values, errors, 400)
}

async function credentialOf(page: MemberPage, kind: CredentialKind): Promise<IssuedCredential> {
  const credential = (await page.withTenant((scope) => kind.list(scope))).find((c) => c.id === page.params.id)
  if (!credential) throw new AppError(404, 'not_found', 'There is no such credential.')
  return credential
}

async function confirmRevoke(page: MemberPage): Promise<Response> {
  const kind = kindOf(page)
  const credential = await credentialOf(page, kind)
  const base = page.paths.to(`/credentials/${kind.id}`)
  return consolePage(page, { title: `Revoke ${credential.name}`, section: 'keys' }, [
    <PageHead title={`Revoke ${credential.name}`} crumbs={[{ label: kind.title, href: base }]} />,
    <Confirm
      title="Revoke this credential?"
      action={`${base}/${encodeURIComponent(credential.id)}/revoke`}
      fields={[]}
      confirmLabel="Revoke it"
      cancelHref={base}
      csrf={page.csrf}
      danger
    >
      <p>
        <code>{credential.id}</code> (“{credential.name}”) fails from its next request on. This cannot be undone.
      </p>
    </Confirm>,
  ])
}

async function revoke(page: MemberPage): Promise<Response> {
  const kind = kindOf(page)
  const revoked = await page.withTenant((scope) => kind.revoke(scope, page.params.id!))
  if (!revoked) throw new AppError(404, 'not_found', 'There is no such credential.')
  return redirectTo(page, page.paths.to(`/credentials/${kind.id}`), { kind: 'ok', text: `“${revoked.name}” is revoked.` })
}

const admin = [ALL_SCOPES as typeof ALL_SCOPES]
export const credentialPages: ConsoleRoute[] = [
  { method: 'GET', path: '/credentials/:kind', scopes: ['keys:read'], handle: list },
  { method: 'GET', path: '/credentials/:kind/new', scopes: admin, handle: (page) => newForm(page) },
  { method: 'POST', path: '/credentials/:kind/new', scopes: admin, handle: issue },
  { method: 'GET', path: '/credentials/:kind/:id/revoke', scopes: admin, handle: confirmRevoke },
  { method: 'POST', path: '/credentials/:kind/:id/revoke', scopes: admin, handle: revoke },
]
