/**
 * Links: every partner's links with their program, destination, clicks and conversions; making one
 * (which enrols the partner in the program on its terms of the day); archiving one; the short URL to
 * copy.
 */
import { AppError } from '../../errors.ts'
import { archiveLink, createLink, getLink, type Link, listLinks } from '../../links/service.ts'
import { reachPartner } from '../../partners/reach.ts'
import { getPartner, listPartners } from '../../partners/service.ts'
import { linkTotals } from '../../reports/service.ts'
import { Confirm } from '../components/confirm.tsx'
import { Csrf, ErrorSummary, Input, Select } from '../components/field.tsx'
import { Filters } from '../components/filters.tsx'
import { PageHead } from '../components/page-head.tsx'
import { Status } from '../components/status.tsx'
import { DataTable, EmptyState, Pager } from '../components/table.tsx'
import { Time } from '../components/time.tsx'
import { type MemberPage, redirectTo } from '../context.ts'
import { defined, errorsOf, type FieldErrors } from '../forms.ts'
import type { ConsoleRoute } from '../routes.tsx'
import { consolePage } from './layout.tsx'
import { partnerLabel } from './partners.tsx'
import { allPrograms, dateOrder, shortId, urlWith } from './shared.tsx'

/** The URL a partner shares: `/r/<key>`, or `/r/<slug>/<key>` in multi mode. */
export function shortUrl(page: MemberPage, key: string): string {
  const origin = page.deps.config.server.public_url.replace(/\/$/, '')
  return `${origin}/r/${page.deps.config.mode === 'multi' ? `${page.tenant.slug}/` : ''}${key}`
}

async function list(page: MemberPage): Promise<Response> {
  const q = page.url.searchParams
  const programId = q.get('program') || undefined
  const partnerId = q.get('partner') || undefined
  const byDate = dateOrder(page, 'created')
  const data = await page.withTenant(async (scope) => {
    const links = await listLinks(scope, {
      programId,
      partnerId,
      cursor: q.get('cursor') ?? undefined,
      limit: 50,
      order: byDate.order,
    })
    const partnerIds = [...new Set(links.items.map((l) => l.partnerId))]
    const partners = await page.deps.reads.partnerNames(scope, partnerIds)
    return { links, partners, programs: await allPrograms(page, scope), totals: await linkTotals(scope, links.items) }
  })
  const { fmt, paths } = page
  const programName = (id: string) => data.programs.find((p) => p.id === id)?.name ?? shortId(id)
  const filterPartner = partnerId ? data.partners.get(partnerId) : undefined
  return consolePage(page, { title: 'Links', section: 'links' }, [
    <PageHead title="Links">
      {page.can('links:write') && (
        <a class="button" href={paths.to(`/links/new${partnerId ? `?partner=${partnerId}` : ''}`)}>
          New link
        </a>
      )}
    </PageHead>,
    <Filters action={paths.to('/links')}>
      <label for="filter-program">
        Program
        <select id="filter-program" name="program">
          <option value="">Any</option>
          {data.programs.map((p) => (
            <option value={p.id} selected={p.id === programId}>
              {p.name}
            </option>
          ))}
        </select>
      </label>
      {partnerId && <input type="hidden" name="partner" value={partnerId} />}
    </Filters>,
    filterPartner && (
      <p>
        Links of {partnerLabel(filterPartner)} · <a href={urlWith(page, { partner: undefined })}>every partner's</a>
      </p>
    ),
    <div id="results">
      {data.links.items.length === 0 ? (
        <EmptyState
          title="No links yet"
          text="A link is what a partner shares: it counts the click, keeps it in a cookie, and sends the visitor to your site."
          action={
            page.can('links:write') && (
              <a class="button" href={paths.to('/links/new')}>
                Make a link
              </a>
            )
          }
          api={`curl -H "Authorization: Bearer $KEY" -H 'content-type: application/json' \\\n  ${page.deps.config.server.public_url}${paths.api}/links -d '{"partnerId":"…","programId":"…","key":"ada"}'`}
        />
      ) : (
        <>
          <DataTable
            caption="Links"
            rows={data.links.items}
            rowId={(l) => `link-${l.id}`}
            sort={byDate.sort}
            columns={[
              {
                label: 'Short URL',
                cell: (l) => (
                  <>
                    <code id={`url-${l.id}`}>{shortUrl(page, l.key)}</code>{' '}
                    <button type="button" class="secondary outline small" data-copy={`url-${l.id}`} data-label="Copy" hidden>
                      Copy
                    </button>
                  </>
                ),
              },
              {
                label: 'Partner',
                cell: (l) => {
                  const partner = data.partners.get(l.partnerId)
                  return <a href={paths.to(`/partners/${l.partnerId}`)}>{partner ? partnerLabel(partner) : shortId(l.partnerId)}</a>
                },
              },
              { label: 'Program', cell: (l) => <a href={paths.to(`/programs/${l.programId}`)}>{programName(l.programId)}</a> },
              { label: 'Goes to', cell: (l) => l.destinationUrl ?? <span class="muted">the program's destination</span> },
              { label: 'Clicks', num: true, cell: (l) => fmt.number(data.totals.get(l.id)!.clicks) },
              { label: 'Conversions', num: true, cell: (l) => fmt.number(data.totals.get(l.id)!.conversions) },
              { label: 'Created', sort: 'created', cell: (l) => <Time at={l.createdAt} fmt={fmt} /> },
              {
                label: 'Actions',
                hiddenLabel: true,
                cell: (l) =>
                  l.archivedAt ? (
                    <Status value="archived" />
                  ) : (
                    page.can('links:write') && (
                      <a class="button secondary outline small" href={paths.to(`/links/${l.id}/archive`)}>
                        Archive…
                      </a>
                    )
                  ),
              },
            ]}
          />
          <p class="hint">Clicks are counted per partner and program: a partner's links in one program share their count.</p>
          <Pager
            first={q.get('cursor') ? urlWith(page, {}) : undefined}
            next={data.links.nextCursor ? urlWith(page, { cursor: data.links.nextCursor }) : undefined}
          />
        </>
      )}
    </div>,
  ])
}

async function newForm(page: MemberPage, values: Record<string, string> = {}, errors: FieldErrors = {}, status = 200): Promise<Response> {
  const preset = values.partnerId ?? page.url.searchParams.get('partner') ?? undefined
  const data = await page.withTenant(async (scope) => ({
    programs: (await allPrograms(page, scope)).filter((p) => p.status !== 'archived'),
    // A few hundred partners fit a select; past that, the partner's page opens this form with its id set.
    partners: (await listPartners(scope, { status: 'active', limit: 200, order: 'newest' })).items,
    preset: preset ? await getPartner(scope, preset).catch(() => undefined) : undefined,
  }))
  const partners = data.preset && !data.partners.some((p) => p.id === data.preset!.id) ? [data.preset, ...data.partners] : data.partners
  return consolePage(page, { title: 'New link', section: 'links', status }, [
    <PageHead title="New link" crumbs={[{ label: 'Links', href: page.paths.to('/links') }]} />,
    data.programs.length === 0 || partners.length === 0 ? (
      <p>
        A link needs a program and a partner: {data.programs.length === 0 && <a href={page.paths.to('/programs/new')}>create a program</a>}
        {data.programs.length === 0 && partners.length === 0 && ' and '}
        {partners.length === 0 && <a href={page.paths.to('/partners/new')}>add a partner</a>} first.
      </p>
    ) : (
      <form method="post" action={page.paths.to('/links/new')} class="narrow">
        <Csrf token={page.csrf} />
        <ErrorSummary errors={errors} labels={{ partnerId: 'Partner', programId: 'Program', key: 'Key', destinationUrl: 'Goes to' }} />
        <Select
          name="partnerId"
          label="Partner"
          required
          value={preset}
          error={errors.partnerId}
          options={partners.map((p) => ({ value: p.id, label: p.name ? `${p.name} (${p.email})` : p.email }))}
        />
        <Select
          name="programId"
          label="Program"
          required
          value={values.programId}
          error={errors.programId}
          options={data.programs.map((p) => ({ value: p.id, label: p.name }))}
          hint="The partner joins the program on its current terms, if not in it yet."
        />
        <Input
          name="key"
          label="Key"
          value={values.key}
          error={errors.key}
          pattern="[A-Za-z0-9_\-]{3,64}"
          hint="The end of the short URL (/r/<key>): 3 to 64 letters, digits, - or _. Left empty, one is made up."
        />
        <Input
          name="destinationUrl"
          label="Goes to"
          type="url"
          value={values.destinationUrl}
          error={errors.destinationUrl}
          hint="Optional: a page on the program's destination or deep-link hosts. Empty: the program's destination."
        />
        <button type="submit">Make the link</button>
      </form>
    ),
  ])
}

async function create(page: MemberPage): Promise<Response> {
  const form = page.form!
  const input = defined({
    partnerId: form.text('partnerId'),
    programId: form.text('programId'),
    key: form.text('key'),
    destinationUrl: form.text('destinationUrl'),
  })
  const errors: FieldErrors = defined({
    partnerId: input.partnerId ? undefined : 'Choose the partner',
    programId: input.programId ? undefined : 'Choose the program',
    key: input.key === undefined || /^[A-Za-z0-9_-]{3,64}$/.test(input.key) ? undefined : 'Use 3 to 64 letters, digits, - or _',
  }) as FieldErrors
  if (Object.keys(errors).length === 0) {
    try {
      const link = await page.withTenant(async (scope) => {
        await reachPartner(scope, page.principal, input.partnerId!, 'read')
        return createLink(scope, input as { partnerId: string; programId: string })
      })
      return redirectTo(page, page.paths.to(`/links?partner=${link.partnerId}`), {
        kind: 'ok',
        text: `Link made: ${shortUrl(page, link.key)}`,
      })
    } catch (err) {
      if (!(err instanceof AppError)) throw err
      Object.assign(
        errors,
        errorsOf(err, {
          key_taken: 'key',
          destination_not_allowed: 'destinationUrl',
          program_archived: 'programId',
          partner_revoked: 'partnerId',
        }),
      )
    }
  }
  return newForm(page, form.values(), errors, 400)
}

async function confirmArchive(page: MemberPage): Promise<Response> {
  const link: Link = await page.withTenant((scope) => getLink(scope, page.params.id!))
  return consolePage(page, { title: 'Archive a link', section: 'links' }, [
    <PageHead title="Archive a link" crumbs={[{ label: 'Links', href: page.paths.to('/links') }]} />,
    <Confirm
      title="Archive this link?"
      action={page.paths.to(`/links/${link.id}/archive`)}
      fields={[]}
      confirmLabel="Archive the link"
      cancelHref={page.paths.to('/links')}
      csrf={page.csrf}
      danger
    >
      <p>
        <code>{shortUrl(page, link.key)}</code> will answer “not found” from now on. Its clicks and commissions stay. This cannot be undone.
      </p>
    </Confirm>,
  ])
}

async function archive(page: MemberPage): Promise<Response> {
  const link = await page.withTenant((scope) => archiveLink(scope, page.params.id!))
  return redirectTo(page, page.paths.to('/links'), { kind: 'ok', text: `${shortUrl(page, link.key)} is archived.` })
}

const write = ['links:write' as const]
export const linkPages: ConsoleRoute[] = [
  { method: 'GET', path: '/links', scopes: ['links:read'], handle: list },
  { method: 'GET', path: '/links/new', scopes: write, handle: (page) => newForm(page) },
  { method: 'POST', path: '/links/new', scopes: write, handle: create },
  { method: 'GET', path: '/links/:id/archive', scopes: write, handle: confirmArchive },
  { method: 'POST', path: '/links/:id/archive', scopes: write, handle: archive },
]
