/**
 * Webhooks: the endpoints; making one (its signing secret shown once); an endpoint's page, to change
 * its URL, label and events, switch it off and on, rotate its secret, delete it, send a test event;
 * its delivery log (status, attempts, the receiver's status code and the start of its answer) with
 * retries; and how a receiver verifies what it gets.
 */
import { AppError } from '../../errors.ts'
import { listDeliveries, retryDelivery, retryFailed, sendTest } from '../../webhooks/deliveries.ts'
import {
  createEndpoint,
  deleteEndpoint,
  endpointRow,
  listEndpoints,
  rotateSecret,
  toEndpoint,
  updateEndpoint,
  type WebhookEndpoint,
} from '../../webhooks/endpoints.ts'
import { Confirm } from '../components/confirm.tsx'
import { Checkboxes, Csrf, ErrorSummary, Input, Select } from '../components/field.tsx'
import { PageHead } from '../components/page-head.tsx'
import { CopyBlock, ShownOnce } from '../components/secret.tsx'
import { Status } from '../components/status.tsx'
import { DataTable, EmptyState, Pager } from '../components/table.tsx'
import { Time } from '../components/time.tsx'
import { type MemberPage, redirectTo } from '../context.ts'
import { defined, errorsOf, type FieldErrors, type Form } from '../forms.ts'
import type { ConsoleRoute } from '../routes.tsx'
import { consolePage } from './layout.tsx'
import { urlWith } from './shared.tsx'

const VERIFY = `import { Webhook } from 'standardwebhooks'   // or svix's Webhook: the same format

const wh = new Webhook(process.env.PARTNERD_WEBHOOK_SECRET)   // whsec_…
// headers: webhook-id, webhook-timestamp, webhook-signature; body: the raw text, unparsed
const event = wh.verify(rawBody, headers)   // throws when the signature or timestamp is wrong
// drop repeats by webhook-id: a retry carries the same one`

function eventOptions(page: MemberPage) {
  return [
    { value: '*', label: 'Every event', hint: 'including ones added later' },
    ...page.deps.bus.types().map((t) => ({ value: t.type, label: t.type, hint: t.description })),
  ]
}

function endpointInput(form: Form) {
  return defined({ url: form.text('url'), label: form.text('label'), events: form.all('events'), format: form.text('format') })
}

const CODES = { invalid_url: 'url', destination_unresolvable: 'url', destination_not_allowed: 'url', invalid_events: 'events' }
const LABELS = { url: 'URL', events: 'Events', label: 'Label' }

async function list(page: MemberPage): Promise<Response> {
  const endpoints = await page.withTenant((scope) => listEndpoints(scope))
  const { fmt, paths } = page
  return consolePage(page, { title: 'Webhooks', section: 'webhooks' }, [
    <PageHead title="Webhooks">
      {page.can('webhooks:manage') && (
        <a class="button" href={paths.to('/webhooks/new')}>
          New endpoint
        </a>
      )}
    </PageHead>,
    endpoints.length === 0 ? (
      <EmptyState
        title="No endpoints yet"
        text="An endpoint is a URL of yours that hears of what happens (a new partner, a commission approved, a payout paid), signed so that it can check it came from here."
        action={
          page.can('webhooks:manage') && (
            <a class="button" href={paths.to('/webhooks/new')}>
              Add an endpoint
            </a>
          )
        }
        api={`curl -H "Authorization: Bearer $KEY" -H 'content-type: application/json' \\\n  ${page.deps.config.server.public_url}${paths.api}/webhooks -d '{"url":"https://example.com/hooks","events":["commission.approved"]}'`}
      />
    ) : (
      <DataTable
        caption="Webhook endpoints"
        rows={endpoints}
        rowId={(e) => `endpoint-${e.id}`}
        columns={[
          { label: 'URL', cell: (e) => <a href={paths.to(`/webhooks/${e.id}`)}>{e.label ?? e.url}</a> },
          { label: 'Events', cell: (e) => e.events.join(', ') },
          { label: 'Format', cell: (e) => (e.format === 'openpartner' ? 'OpenPartner' : 'Standard Webhooks') },
          {
            label: 'Status',
            cell: (e) => (
              <Status
                value={e.active ? 'enabled' : 'disabled'}
                label={e.active ? 'On' : `Off${e.disabledReason ? `: ${e.disabledReason}` : ''}`}
              />
            ),
          },
          { label: 'Failing since', cell: (e) => <Time at={e.failingSince} fmt={fmt} /> },
        ]}
      />
    ),
  ])
}

function EndpointFields({
  page,
  values,
  errors,
  creating,
}: {
  page: MemberPage
  values: Record<string, string | string[]>
  errors: FieldErrors
  creating: boolean
}) {
  return (
    <>
      <Input
        name="url"
        label="URL"
        type="url"
        required
        value={values.url as string}
        error={errors.url}
        hint="An https URL of yours that answers 2xx."
      />
      <Input name="label" label="Label" value={values.label as string} error={errors.label} hint="To tell endpoints apart." />
      {creating && (
        <Select
          name="format"
          label="Format"
          value={values.format as string}
          options={[
            { value: 'standard', label: 'Standard Webhooks (svix and standardwebhooks verify it)' },
            { value: 'openpartner', label: 'OpenPartner’s (x-openpartner-signature)' },
          ]}
        />
      )}
      <Checkboxes name="events" label="Events" error={errors.events} options={eventOptions(page)} checked={[values.events ?? []].flat()} />
    </>
  )
}

async function newForm(
  page: MemberPage,
  values: Record<string, string | string[]> = {},
  errors: FieldErrors = {},
  status = 200,
): Promise<Response> {
  return consolePage(page, { title: 'New endpoint', section: 'webhooks', status }, [
    <PageHead title="New endpoint" crumbs={[{ label: 'Webhooks', href: page.paths.to('/webhooks') }]} />,
    <form method="post" action={page.paths.to('/webhooks/new')} class="narrow">
      <Csrf token={page.csrf} />
      <ErrorSummary errors={errors} labels={LABELS} />
      <EndpointFields page={page} values={values} errors={errors} creating />
      <button type="submit">Add the endpoint</button>
    </form>,
  ])
}

async function create(page: MemberPage): Promise<Response> {
  const form = page.form!
  const input = endpointInput(form)
  const errors: FieldErrors = defined({
    url: input.url ? undefined : 'Enter the URL',
    events: input.events.length ? undefined : 'Choose at least one event',
  }) as FieldErrors
  if (Object.keys(errors).length === 0) {
    try {
      const endpoint = await page.withTenant((scope) =>
        createEndpoint(scope, input as Parameters<typeof createEndpoint>[1], page.deps.config.webhooks.allow_hosts),
      )
      return secretPage(page, endpoint, 'The endpoint is ready')
    } catch (err) {
      if (!(err instanceof AppError)) throw err
      Object.assign(errors, errorsOf(err, CODES))
    }
  }
  return newForm(page, { ...form.values(), events: form.all('events') }, errors, 400)
}

/** The secret, once: right after the endpoint is made or its secret rotated. Never stored in the page's URL. */
async function secretPage(page: MemberPage, endpoint: WebhookEndpoint & { secret: string }, title: string): Promise<Response> {
  return consolePage(page, { title, section: 'webhooks', status: 201 }, [
    <PageHead title={title} crumbs={[{ label: 'Webhooks', href: page.paths.to('/webhooks') }]} />,
    <ShownOnce name="secret" label="Signing secret" value={endpoint.secret} what="secret" />,
    <p>Give it to the receiver at {endpoint.url}: it checks each message's signature with it.</p>,
    <p>
      <a class="button" href={page.paths.to(`/webhooks/${endpoint.id}`)}>
        Go to the endpoint
      </a>
    </p>,
  ])
}

async function detail(
  page: MemberPage,
  values?: Record<string, string | string[]>,
  errors: FieldErrors = {},
  status = 200,
): Promise<Response> {
  const id = page.params.id!
  const q = page.url.searchParams
  const deliveryStatus = q.get('status') as 'pending' | 'delivered' | 'failed' | null
  const data = await page.withTenant(async (scope) => ({
    endpoint: toEndpoint(await endpointRow(scope, id)),
    deliveries: await listDeliveries(scope, id, {
      status: deliveryStatus && ['pending', 'delivered', 'failed'].includes(deliveryStatus) ? deliveryStatus : undefined,
      cursor: q.get('cursor') ?? undefined,
      limit: 25,
      order: 'newest',
    }),
  }))
  const { endpoint, deliveries } = data
  const { fmt, paths } = page
  const manage = page.can('webhooks:manage')
  const action = (path: string, label: string, kind = 'secondary') => (
    <form method="post" action={paths.to(`/webhooks/${id}${path}`)}>
      <Csrf token={page.csrf} />
      <button type="submit" class={kind}>
        {label}
      </button>
    </form>
  )
  return consolePage(page, { title: endpoint.label ?? endpoint.url, section: 'webhooks', status }, [
    <PageHead title={endpoint.label ?? endpoint.url} crumbs={[{ label: 'Webhooks', href: paths.to('/webhooks') }]}>
      {manage && action('/test', 'Send a test event')}
      {manage &&
        action(
          endpoint.active ? '/disable' : '/enable',
          endpoint.active ? 'Switch off' : 'Switch on',
          endpoint.active ? 'secondary outline' : '',
        )}
      {manage && (
        <a class="button secondary outline" href={paths.to(`/webhooks/${id}/rotate`)}>
          Rotate the secret…
        </a>
      )}
      {manage && (
        <a class="button secondary outline" href={paths.to(`/webhooks/${id}/delete`)}>
          Delete…
        </a>
      )}
    </PageHead>,
    <dl class="summary">
      <dt>URL</dt>
      <dd>
        <code>{endpoint.url}</code>
      </dd>
      <dt>Status</dt>
      <dd>
        <Status value={endpoint.active ? 'enabled' : 'disabled'} label={endpoint.active ? 'On' : 'Off'} />
        {endpoint.disabledReason && <span class="muted"> — {endpoint.disabledReason}</span>}
        {endpoint.failingSince && (
          <span class="muted">
            {' '}
            — failing since <Time at={endpoint.failingSince} fmt={fmt} />
          </span>
        )}
      </dd>
      <dt>Format</dt>
      <dd>{endpoint.format === 'openpartner' ? 'OpenPartner’s headers' : 'Standard Webhooks'}</dd>
      <dt>Events</dt>
      <dd>{endpoint.events.join(', ')}</dd>
    </dl>,
    <h2>Deliveries</h2>,
    <p>
      {(['', 'failed', 'pending', 'delivered'] as const).map((s) => (
        <>
          <a href={urlWith(page, { status: s || undefined })} aria-current={(deliveryStatus ?? '') === s ? 'page' : undefined}>
            {s === '' ? 'All' : s[0]!.toUpperCase() + s.slice(1)}
          </a>{' '}
        </>
      ))}
      {manage && deliveryStatus === 'failed' && deliveries.items.length > 0 && action('/retry-failed', 'Send every failed one again')}
    </p>,
    <div id="results">
      {deliveries.items.length === 0 ? (
        <p class="muted">No deliveries{deliveryStatus ? ` ${deliveryStatus}` : ''} yet. “Send a test event” makes one.</p>
      ) : (
        <DataTable
          caption="Deliveries, newest first"
          rows={deliveries.items}
          rowId={(d) => `delivery-${d.id}`}
          columns={[
            { label: 'When', cell: (d) => <Time at={d.createdAt} fmt={fmt} /> },
            { label: 'Event', cell: (d) => <code>{d.eventType}</code> },
            { label: 'Status', cell: (d) => <Status value={d.status} /> },
            { label: 'Attempts', num: true, cell: (d) => fmt.number(d.attempts) },
            { label: 'Answer', num: true, cell: (d) => d.lastStatus ?? '—' },
            {
              label: 'What it said',
              cell: (d) => (d.lastResponse || d.lastError ? <code>{(d.lastResponse ?? d.lastError ?? '').slice(0, 140)}</code> : '—'),
            },
            {
              label: 'Actions',
              hiddenLabel: true,
              cell: (d) =>
                manage &&
                d.status !== 'pending' && (
                  <form method="post" action={paths.to(`/webhooks/${id}/deliveries/${d.id}/retry`)}>
                    <Csrf token={page.csrf} />
                    <button type="submit" class="secondary outline small">
                      Send again
                    </button>
                  </form>
                ),
            },
          ]}
        />
      )}
      <Pager
        first={q.get('cursor') ? urlWith(page, { cursor: undefined }) : undefined}
        next={deliveries.nextCursor ? urlWith(page, { cursor: deliveries.nextCursor }) : undefined}
      />
    </div>,
    <h2>Verifying signatures</h2>,
    endpoint.format === 'openpartner' ? (
      <p>
        Each message carries <code>x-openpartner-timestamp</code> and <code>x-openpartner-signature</code>: the hex HMAC-SHA256 of{' '}
        <code>timestamp.body</code> with the endpoint's secret. Compare in constant time, and refuse old timestamps.
      </p>
    ) : (
      <CopyBlock id="verify" text={VERIFY} label="example" />
    ),
    manage && [
      <h2>Settings</h2>,
      <form method="post" action={paths.to(`/webhooks/${id}`)} class="narrow">
        <Csrf token={page.csrf} />
        <ErrorSummary errors={errors} labels={LABELS} />
        <EndpointFields
          page={page}
          values={values ?? { url: endpoint.url, label: endpoint.label ?? '', events: endpoint.events }}
          errors={errors}
          creating={false}
        />
        <button type="submit">Save changes</button>
      </form>,
    ],
  ])
}

async function update(page: MemberPage): Promise<Response> {
  const form = page.form!
  const { format: _format, ...input } = endpointInput(form)
  const errors: FieldErrors = defined({
    url: input.url ? undefined : 'Enter the URL',
    events: input.events.length ? undefined : 'Choose at least one event',
  }) as FieldErrors
  if (Object.keys(errors).length === 0) {
    try {
      await page.withTenant((scope) =>
        updateEndpoint(scope, page.params.id!, { ...input, label: input.label ?? null }, page.deps.config.webhooks.allow_hosts),
      )
      return redirectTo(page, page.paths.to(`/webhooks/${page.params.id}`), { kind: 'ok', text: 'Changes saved.' })
    } catch (err) {
      if (!(err instanceof AppError) || err.status === 404) throw err
      Object.assign(errors, errorsOf(err, CODES))
    }
  }
  return detail(page, { ...form.values(), events: form.all('events') }, errors, 400)
}

function simple(path: string, run: (page: MemberPage) => Promise<string>) {
  return {
    method: 'POST' as const,
    path,
    scopes: ['webhooks:manage' as const],
    handle: async (page: MemberPage) =>
      redirectTo(page, page.paths.to(`/webhooks/${page.params.id}`), { kind: 'ok', text: await run(page) }),
  }
}

function confirmPage(kind: 'rotate' | 'delete') {
  return async (page: MemberPage): Promise<Response> => {
    const endpoint = await page.withTenant(async (scope) => toEndpoint(await endpointRow(scope, page.params.id!)))
    const overlap = page.deps.config.webhooks.rotation_overlap_seconds
    const title = kind === 'rotate' ? 'Rotate the signing secret' : 'Delete the endpoint'
    return consolePage(page, { title, section: 'webhooks' }, [
      <PageHead
        title={title}
        crumbs={[
          { label: 'Webhooks', href: page.paths.to('/webhooks') },
          { label: endpoint.label ?? endpoint.url, href: page.paths.to(`/webhooks/${endpoint.id}`) },
        ]}
      />,
      <Confirm
        title={kind === 'rotate' ? 'Make a new signing secret?' : 'Delete this endpoint?'}
        action={page.paths.to(`/webhooks/${endpoint.id}/${kind}`)}
        fields={[]}
        confirmLabel={kind === 'rotate' ? 'Rotate the secret' : 'Delete the endpoint'}
        cancelHref={page.paths.to(`/webhooks/${endpoint.id}`)}
        csrf={page.csrf}
        danger={kind === 'delete'}
      >
        <p>
          {kind === 'rotate'
            ? `The new secret is shown once. The old one keeps signing beside it for ${Math.round(overlap / 60)} minutes, so the receiver can switch without losing a message.`
            : `${endpoint.url} hears of nothing from now on, and its delivery log is deleted with it. This cannot be undone.`}
        </p>
      </Confirm>,
    ])
  }
}

const manage = ['webhooks:manage' as const]
export const webhookPages: ConsoleRoute[] = [
  { method: 'GET', path: '/webhooks', scopes: ['webhooks:read'], handle: list },
  { method: 'GET', path: '/webhooks/new', scopes: manage, handle: (page) => newForm(page, { format: 'standard' }) },
  { method: 'POST', path: '/webhooks/new', scopes: manage, handle: create },
  { method: 'GET', path: '/webhooks/:id', scopes: ['webhooks:read'], handle: (page) => detail(page) },
  { method: 'POST', path: '/webhooks/:id', scopes: manage, handle: update },
  simple('/webhooks/:id/test', async (page) => {
    await page.withTenant((scope) => sendTest(scope, page.params.id!))
    return 'A test event is on its way; it shows in the deliveries below once sent.'
  }),
  simple('/webhooks/:id/disable', async (page) => {
    await page.withTenant((scope) => updateEndpoint(scope, page.params.id!, { active: false }, page.deps.config.webhooks.allow_hosts))
    return 'The endpoint is off: it hears of nothing until it is switched on.'
  }),
  simple('/webhooks/:id/enable', async (page) => {
    await page.withTenant((scope) => updateEndpoint(scope, page.params.id!, { active: true }, page.deps.config.webhooks.allow_hosts))
    return 'The endpoint is on again.'
  }),
  simple('/webhooks/:id/retry-failed', async (page) => {
    const n = await page.withTenant((scope) => retryFailed(scope, page.params.id!))
    return `${page.fmt.count(n, 'failed delivery goes', 'failed deliveries go')} out again.`
  }),
  simple('/webhooks/:id/deliveries/:deliveryId/retry', async (page) => {
    await page.withTenant((scope) => retryDelivery(scope, page.params.id!, page.params.deliveryId!))
    return 'The delivery goes out again, with the same webhook-id.'
  }),
  { method: 'GET', path: '/webhooks/:id/rotate', scopes: manage, handle: confirmPage('rotate') },
  {
    method: 'POST',
    path: '/webhooks/:id/rotate',
    scopes: manage,
    handle: async (page) => {
      const endpoint = await page.withTenant((scope) =>
        rotateSecret(scope, page.params.id!, page.deps.config.webhooks.rotation_overlap_seconds),
      )
      return secretPage(page, endpoint, 'A new signing secret')
    },
  },
  { method: 'GET', path: '/webhooks/:id/delete', scopes: manage, handle: confirmPage('delete') },
  {
    method: 'POST',
    path: '/webhooks/:id/delete',
    scopes: manage,
    handle: async (page) => {
      await page.withTenant((scope) => deleteEndpoint(scope, page.params.id!))
      return redirectTo(page, page.paths.to('/webhooks'), { kind: 'ok', text: 'The endpoint is deleted.' })
    },
  },
]
