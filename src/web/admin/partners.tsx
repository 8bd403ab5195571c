/**
 * Partners: a searchable, filterable, paged list with each partner's clicks, conversions, revenue
 * and earnings; adding one; a partner's page (links, coupons, commissions, payouts, a chart of the
 * last 30 days, and its audit trail); inviting it to the portal; revoking and reinstating it, with a
 * reason kept in the audit log.
 */
import { listAudit } from '../../audit/service.ts'
import { listCommissions } from '../../commissions/service.ts'
import { listCoupons } from '../../coupons/service.ts'
import { AppError } from '../../errors.ts'
import { listLinks } from '../../links/service.ts'
import { invitePartner } from '../../partners/portal.ts'
import { createPartnerAs, reachPartner } from '../../partners/reach.ts'
import { listPartners, type Partner, setPartnerStatus } from '../../partners/service.ts'
import { listPayouts } from '../../payouts/service.ts'
import { daily, partnerTotals } from '../../reports/service.ts'
import { ChartWithTable } from '../components/chart.tsx'
import { Confirm } from '../components/confirm.tsx'
import { Csrf, ErrorSummary, Input, TextArea } from '../components/field.tsx'
import { Filters } from '../components/filters.tsx'
import { PageHead } from '../components/page-head.tsx'
import { Status } from '../components/status.tsx'
import { DataTable, EmptyState, Pager } from '../components/table.tsx'
import { Time } from '../components/time.tsx'
import { type MemberPage, redirectTo } from '../context.ts'
import { defined, errorsOf, type FieldErrors } from '../forms.ts'
import type { ConsoleRoute } from '../routes.tsx'
import { consolePage } from './layout.tsx'
import { allPrograms, dateOrder, oneOf, shortId, urlWith } from './shared.tsx'

export const partnerLabel = (p: Pick<Partner, 'name' | 'email'>) => p.name ?? p.email

async function list(page: MemberPage): Promise<Response> {
  const q = page.url.searchParams
  const status = oneOf(page, 'status', ['active', 'revoked'] as const)
  const programId = q.get('program') || undefined
  const search = q.get('q')?.trim() || undefined
  const byDate = dateOrder(page, 'joined')
  const { programs, partners, totals } = await page.withTenant(async (scope) => {
    const programs = await allPrograms(page, scope)
    const partners = await listPartners(scope, {
      status,
      search,
      programId,
      cursor: q.get('cursor') ?? undefined,
      limit: 50,
      order: byDate.order,
    })
    const totals = await partnerTotals(
      scope,
      partners.items.map((p) => p.id),
      programId,
    )
    return { programs, partners, totals }
  })
  const { fmt, paths } = page
  const filtered = Boolean(status || programId || search)
  return consolePage(page, { title: 'Partners', section: 'partners' }, [
    <PageHead title="Partners">
      {page.can('partners:write') && (
        <a class="button" href={paths.to('/partners/new')}>
          Add a partner
        </a>
      )}
    </PageHead>,
    <Filters action={paths.to('/partners')}>
      <label for="filter-q">
        Search
        <input id="filter-q" type="search" name="q" value={search} placeholder="Name or email" />
      </label>
      <label for="filter-status">
        Status
        <select id="filter-status" name="status">
          <option value="">Any</option>
          <option value="active" selected={status === 'active'}>
            Active
          </option>
          <option value="revoked" selected={status === 'revoked'}>
            Revoked
          </option>
        </select>
      </label>
      <label for="filter-program">
        Program
        <select id="filter-program" name="program">
          <option value="">Any</option>
          {programs.map((p) => (
            <option value={p.id} selected={p.id === programId}>
              {p.name}
            </option>
          ))}
        </select>
      </label>
      {byDate.oldest && <input type="hidden" name="sort" value="oldest" />}
    </Filters>,
    <div id="results">
      {partners.items.length === 0 ? (
        filtered ? (
          <p>No partner matches these filters.</p>
        ) : (
          <EmptyState
            title="No partners yet"
            text="Partners share links to your site and earn commissions on what they bring."
            action={
              page.can('partners:write') && (
                <a class="button" href={paths.to('/partners/new')}>
                  Add your first partner
                </a>
              )
            }
            api={`curl -H "Authorization: Bearer $KEY" -H 'content-type: application/json' \\\n  ${page.deps.config.server.public_url}${paths.api}/partners -d '{"email":"ada@example.com","name":"Ada"}'`}
          />
        )
      ) : (
        <>
          <DataTable
            caption="Partners"
            rows={partners.items}
            rowId={(p) => `partner-${p.id}`}
            sort={byDate.sort}
            columns={[
              {
                label: 'Partner',
                cell: (p) => (
                  <>
                    <a href={paths.to(`/partners/${p.id}`)}>{partnerLabel(p)}</a>
                    {p.name && (
                      <>
                        <br />
                        <small class="muted">{p.email}</small>
                      </>
                    )}
                  </>
                ),
              },
              { label: 'Status', cell: (p) => <Status value={p.status} /> },
              { label: 'Clicks', num: true, cell: (p) => fmt.number(totals.get(p.id)!.clicks) },
              { label: 'Conversions', num: true, cell: (p) => fmt.number(totals.get(p.id)!.conversions) },
              { label: 'Revenue', num: true, cell: (p) => fmt.amounts(totals.get(p.id)!.revenue) },
              { label: 'Earned', num: true, cell: (p) => fmt.amounts(totals.get(p.id)!.earned) },
              { label: 'Joined', sort: 'joined', cell: (p) => <Time at={p.createdAt} fmt={fmt} /> },
            ]}
          />
          <Pager
            first={q.get('cursor') ? urlWith(page, {}) : undefined}
            next={partners.nextCursor ? urlWith(page, { cursor: partners.nextCursor }) : undefined}
          />
        </>
      )}
    </div>,
  ])
}

async function newForm(page: MemberPage, values: Record<string, string> = {}, errors: FieldErrors = {}, status = 200): Promise<Response> {
  return consolePage(page, { title: 'Add a partner', section: 'partners', status }, [
    <PageHead title="Add a partner" crumbs={[{ label: 'Partners', href: page.paths.to('/partners') }]} />,
    <form method="post" action={page.paths.to('/partners/new')} class="narrow">
      <Csrf token={page.csrf} />
      <ErrorSummary errors={errors} labels={{ email: 'Email', name: 'Name' }} />
      <Input
        name="email"
        label="Email"
        type="email"
        required
        value={values.email}
        error={errors.email}
        hint="Where the partner gets its invitation and sign-in codes."
      />
      <Input name="name" label="Name" value={values.name} error={errors.name} />
      {canInvite(page) ? (
        <label for="f-invite">
          <input id="f-invite" type="checkbox" name="invite" value="yes" checked={values.invite === 'yes' || values.email === undefined} />
          Invite them to the partner portal now
        </label>
      ) : (
        <p class="hint">Partners are invited to their portal by mail through the magic plugin; switch it on to invite them.</p>
      )}
      <button type="submit">Add partner</button>
    </form>,
  ])
}

async function create(page: MemberPage): Promise<Response> {
  const form = page.form!
  const input = defined({ email: form.text('email'), name: form.text('name') })
  const errors: FieldErrors = input.email ? {} : { email: 'Enter the partner’s email' }
  if (Object.keys(errors).length === 0) {
    try {
      const invite = form.checked('invite') && canInvite(page)
      const partner = await page.withTenant(async (scope) => {
        const made = await createPartnerAs(scope, page.principal, input as { email: string; name?: string })
        if (invite) await invitePartner(scope, made.id, page.paths.api)
        return made
      })
      const invited = invite ? ' and invited to the portal' : ''
      return redirectTo(page, page.paths.to(`/partners/${partner.id}`), { kind: 'ok', text: `${partnerLabel(partner)} added${invited}.` })
    } catch (err) {
      if (!(err instanceof AppError)) throw err
      Object.assign(errors, errorsOf(err, { email_taken: 'email', invalid_email: 'email' }))
    }
  }
  return newForm(page, form.values(), errors, 400)
}

/** Invitations go out by mail through the magic plugin; without it the page says how to switch it on. */
function canInvite(page: MemberPage): boolean {
  return page.deps.bus.hasSubscribers('partner.invited')
}

async function detail(page: MemberPage): Promise<Response> {
  const id = page.params.id!
  const since = new Date(Date.now() - 29 * 86_400_000).toISOString().slice(0, 10)
  const until = new Date(Date.now() + 86_400_000).toISOString().slice(0, 10)
  const data = await page.withTenant(async (scope) => {
    const partner = await reachPartner(scope, page.principal, id, 'read')
    return {
      partner,
      programs: await allPrograms(page, scope),
      totals: (await partnerTotals(scope, [id])).get(id)!,
      days: await daily(scope, { partnerId: id }, since, until),
      links: (await listLinks(scope, { partnerId: id, limit: 50, order: 'newest' })).items,
      coupons: await listCoupons(scope, id, undefined),
      commissions: (await listCommissions(scope, { partnerId: id, limit: 20, order: 'newest' })).items,
      payouts: page.can('payouts:read') ? (await listPayouts(scope, { partnerId: id, limit: 20, order: 'newest' })).items : [],
      audit: page.can('audit:read') ? (await listAudit(scope, { subject: id, limit: 20 })).items : [],
    }
  })
  const { partner, totals, days } = data
  const { fmt, paths } = page
  const programName = (pid: string) => data.programs.find((p) => p.id === pid)?.name ?? shortId(pid)
  const shortUrl = (key: string) =>
    `${page.deps.config.server.public_url.replace(/\/$/, '')}/r/${page.deps.config.mode === 'multi' ? `${page.tenant.slug}/` : ''}${key}`
  const canWrite = page.can('partners:write')
  return consolePage(page, { title: partnerLabel(partner), section: 'partners' }, [
    <PageHead title={partnerLabel(partner)} crumbs={[{ label: 'Partners', href: paths.to('/partners') }]}>
      {canWrite && partner.status === 'active' && canInvite(page) && (
        <form method="post" action={paths.to(`/partners/${id}/invite`)}>
          <Csrf token={page.csrf} />
          <button type="submit" class="secondary">
            Invite to the portal
          </button>
        </form>
      )}
      {canWrite && page.can('links:write') && partner.status === 'active' && (
        <a class="button" href={paths.to(`/links/new?partner=${id}`)}>
          New link
        </a>
      )}
      {canWrite &&
        (partner.status === 'active' ? (
          <a class="button secondary outline" href={paths.to(`/partners/${id}/revoke`)}>
            Revoke…
          </a>
        ) : (
          <a class="button secondary" href={paths.to(`/partners/${id}/reinstate`)}>
            Reinstate…
          </a>
        ))}
    </PageHead>,
    <dl class="summary">
      <dt>Email</dt>
      <dd>{partner.email}</dd>
      <dt>Status</dt>
      <dd>
        <Status value={partner.status} />
        {partner.revokedAt && (
          <>
            {' '}
            since <Time at={partner.revokedAt} fmt={fmt} />: its links still redirect, its clicks earn nothing
          </>
        )}
      </dd>
      <dt>Joined</dt>
      <dd>
        <Time at={partner.createdAt} fmt={fmt} />
      </dd>
      <dt>All time</dt>
      <dd>
        {fmt.count(totals.clicks, 'click', 'clicks')} · {fmt.count(totals.conversions, 'conversion', 'conversions')} ·{' '}
        {fmt.amounts(totals.revenue)} revenue · {fmt.amounts(totals.earned)} earned
      </dd>
      {!canInvite(page) && canWrite && (
        <>
          <dt>Portal</dt>
          <dd class="muted">Invitations are mailed by the magic plugin: switch it on in the configuration to invite partners.</dd>
        </>
      )}
    </dl>,
    <ChartWithTable
      title="The last 30 days (UTC days)"
      series={['Clicks', 'Conversions']}
      rows={days.map((d) => ({
        x: d.day,
        label: d.day,
        values: [
          { value: d.clicks, text: fmt.number(d.clicks) },
          { value: d.conversions, text: fmt.number(d.conversions) },
        ],
      }))}
    />,
    <h2>Links</h2>,
    data.links.length === 0 ? (
      <p class="muted">No links yet.</p>
    ) : (
      <DataTable
        caption="The partner's links"
        rows={data.links}
        columns={[
          { label: 'Short URL', cell: (l) => <code>{shortUrl(l.key)}</code> },
          { label: 'Program', cell: (l) => programName(l.programId) },
          { label: 'Goes to', cell: (l) => l.destinationUrl ?? <span class="muted">the program's destination</span> },
          { label: 'Status', cell: (l) => (l.archivedAt ? <Status value="archived" /> : <Status value="active" />) },
        ]}
      />
    ),
    <h2>Coupon codes</h2>,
    data.coupons.length === 0 ? (
      <p class="muted">No coupon codes.</p>
    ) : (
      <DataTable
        caption="The partner's coupon codes"
        rows={data.coupons}
        columns={[
          { label: 'Code', cell: (c) => <code>{c.code}</code> },
          { label: 'Program', cell: (c) => programName(c.programId) },
          { label: 'Created', cell: (c) => <Time at={c.createdAt} fmt={fmt} /> },
        ]}
      />
    ),
    <h2>Latest commissions</h2>,
    data.commissions.length === 0 ? (
      <p class="muted">Nothing earned yet.</p>
    ) : (
      <>
        <DataTable
          caption="The partner's latest commissions"
          rows={data.commissions}
          columns={[
            { label: 'When', cell: (c) => <Time at={c.createdAt} fmt={fmt} /> },
            { label: 'Program', cell: (c) => programName(c.programId) },
            { label: 'For', cell: (c) => (c.kind === 'clawback' ? 'Clawback' : c.trigger === 'sale' ? 'A sale' : 'A sign-up') },
            { label: 'Amount', num: true, cell: (c) => fmt.money(c.amount, c.currency) },
            { label: 'Status', cell: (c) => <Status value={c.status} /> },
          ]}
        />
        <p>
          <a href={paths.to(`/commissions?partner=${id}`)}>All of its commissions</a>
        </p>
      </>
    ),
    page.can('payouts:read') && [
      <h2>Payouts</h2>,
      data.payouts.length === 0 ? (
        <p class="muted">No payouts yet.</p>
      ) : (
        <DataTable
          caption="The partner's payouts"
          rows={data.payouts}
          columns={[
            {
              label: 'Made',
              cell: (p) => (
                <a href={paths.to(`/payouts/${p.id}`)}>
                  <Time at={p.createdAt} fmt={fmt} />
                </a>
              ),
            },
            { label: 'Amount', num: true, cell: (p) => fmt.money(p.amount, p.currency) },
            { label: 'Status', cell: (p) => <Status value={p.status} /> },
            { label: 'Reference', cell: (p) => p.reference ?? '—' },
          ]}
        />
      ),
    ],
    page.can('audit:read') && [
      <h2>Audit trail</h2>,
      data.audit.length === 0 ? (
        <p class="muted">No revocation or reinstatement recorded.</p>
      ) : (
        <DataTable
          caption="What was done to this partner"
          rows={data.audit}
          columns={[
            { label: 'When', cell: (a) => <Time at={a.createdAt} fmt={fmt} /> },
            { label: 'What', cell: (a) => a.type },
            { label: 'By', cell: (a) => a.actor ?? '—' },
            { label: 'Reason', cell: (a) => (typeof a.detail.reason === 'string' ? a.detail.reason : '—') },
          ]}
        />
      ),
    ],
  ])
}

async function invite(page: MemberPage): Promise<Response> {
  if (!canInvite(page))
    throw new AppError(409, 'invitations_unavailable', 'Invitations are mailed by the magic plugin; switch it on first.')
  const id = page.params.id!
  const invitation = await page.withTenant(async (scope) => {
    await reachPartner(scope, page.principal, id, 'change')
    return invitePartner(scope, id, page.paths.api)
  })
  return redirectTo(page, page.paths.to(`/partners/${id}`), { kind: 'ok', text: `Invitation mailed to ${invitation.email}.` })
}

function confirmStatus(to: 'revoked' | 'active') {
  return async (page: MemberPage): Promise<Response> => {
    const partner = await page.withTenant((scope) => reachPartner(scope, page.principal, page.params.id!, 'change'))
    const revoking = to === 'revoked'
    const title = `${revoking ? 'Revoke' : 'Reinstate'} ${partnerLabel(partner)}`
    return consolePage(page, { title, section: 'partners' }, [
      <PageHead
        title={title}
        crumbs={[
          { label: 'Partners', href: page.paths.to('/partners') },
          { label: partnerLabel(partner), href: page.paths.to(`/partners/${partner.id}`) },
        ]}
      />,
      <Confirm
        title={revoking ? 'Revoke this partner?' : 'Reinstate this partner?'}
        action={page.paths.to(`/partners/${partner.id}/${revoking ? 'revoke' : 'reinstate'}`)}
        fields={[]}
        confirmLabel={revoking ? 'Revoke the partner' : 'Reinstate the partner'}
        cancelHref={page.paths.to(`/partners/${partner.id}`)}
        csrf={page.csrf}
        danger={revoking}
        inputs={<TextArea name="reason" label="Reason (kept in the audit log)" rows={2} />}
      >
        <p>
          {revoking
            ? 'Its links keep redirecting, but new clicks are flagged and earn nothing; its API keys stop working and its portal users are signed out. Commissions earned so far stay.'
            : 'Its links earn again from now on, and its portal users can sign in again.'}
        </p>
      </Confirm>,
    ])
  }
}

function applyStatus(to: 'revoked' | 'active') {
  return async (page: MemberPage): Promise<Response> => {
    const id = page.params.id!
    const partner = await page.withTenant(async (scope) => {
      await reachPartner(scope, page.principal, id, 'change')
      return setPartnerStatus(scope, id, to, { id: page.principal.id, ip: page.ip, reason: page.form!.text('reason') })
    })
    const text = to === 'revoked' ? `${partnerLabel(partner)} is revoked.` : `${partnerLabel(partner)} is active again.`
    return redirectTo(page, page.paths.to(`/partners/${id}`), { kind: 'ok', text })
  }
}

const write = ['partners:write' as const]
export const partnerPages: ConsoleRoute[] = [
  { method: 'GET', path: '/partners', scopes: ['partners:read'], handle: list },
  { method: 'GET', path: '/partners/new', scopes: write, handle: (page) => newForm(page) },
  { method: 'POST', path: '/partners/new', scopes: write, handle: create },
  { method: 'GET', path: '/partners/:id', scopes: ['partners:read'], handle: detail },
  { method: 'POST', path: '/partners/:id/invite', scopes: write, handle: invite },
  { method: 'GET', path: '/partners/:id/revoke', scopes: write, handle: confirmStatus('revoked') },
  { method: 'POST', path: '/partners/:id/revoke', scopes: write, handle: applyStatus('revoked') },
  { method: 'GET', path: '/partners/:id/reinstate', scopes: write, handle: confirmStatus('active') },
  { method: 'POST', path: '/partners/:id/reinstate', scopes: write, handle: applyStatus('active') },
]
