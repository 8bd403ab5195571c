/**
 * The pages' routes, outside /api: the assets, `/`, each organization's sign-in and setup pages, and
 * the areas of signed-in pages: the console (`/admin`, or `/t/<slug>/admin` in multi mode), and any
 * other set of pages built the same way (a PageArea: its prefix, who it admits, its routes, its frame
 * for errors). Every page request is run the same way: the organization from the URL, then for an
 * area the session (the only credential pages take), whether the area admits its principal, the
 * role's scopes for the route, the CSRF token of every POST; errors become pages a person reads (a
 * 403 says which role is needed, a missing session goes to sign-in and back).
 */
import { Elysia } from 'elysia'
import { authorize } from '../auth/guard.ts'
import type { Principal } from '../auth/principal.ts'
import type { ALL_SCOPES, Scope } from '../auth/scopes.ts'
import { readSessionToken, sessionCookie, sessionSettings } from '../auth/sessions/cookie.ts'
import { resolveSession } from '../auth/sessions/service.ts'
import { AppError } from '../errors.ts'
import { clientAddress } from '../http/client-address.ts'
import { organizationsOf } from '../users/organizations.ts'
import { consoleArea } from './admin/index.tsx'
import { ASSET_PREFIX, assetPaths, serveAsset } from './assets/index.ts'
import { Document } from './components/document.tsx'
import { Plain } from './components/frame.tsx'
import { canFor, htmlPage, type MemberPage, pathsFor, readFlash, redirectTo, type TenantPage, type WebDeps } from './context.ts'
import { formatterFor, negotiateLocale } from './format.ts'
import { Form } from './forms.ts'
import { assertCsrf, CSRF_FIELD, CSRF_HEADER, csrfToken } from './security.ts'
import { publicRoutes } from './sign-in/routes.tsx'

export interface PageRoute<C> {
  method: 'GET' | 'POST'
  /** Under the organization's pages (`/sign-in`) or the console (`/partners/:id`). */
  path: string
  handle(page: C): Promise<Response>
}

export interface ConsoleRoute extends PageRoute<MemberPage> {
  /** What the member's role must grant; the console shows the action only then, and the server refuses otherwise. */
  scopes?: (Scope | typeof ALL_SCOPES)[]
}

/** A set of signed-in pages under one prefix of the organization's pages: the console is one. */
export interface PageArea {
  /** `/admin`: the routes' paths follow it. */
  prefix: string
  routes: ConsoleRoute[]
  /** Whether the signed-in principal may use the area (the console: members, not partners). */
  admits(principal: Principal): boolean
  /** What someone signed in but not admitted reads. */
  refusal: { title: string; text: string }
  /** An error inside the area, in the area's own frame. */
  errorPage(page: MemberPage, status: number, title: string, text: string): Promise<Response>
}

type Server = Parameters<typeof clientAddress>[1]

export function webRoutes(deps: WebDeps, areas: PageArea[] = [consoleArea]) {
  const { config } = deps
  const root = config.mode === 'single' ? '' : '/t/:slug'
  const cookie = sessionCookie(config)

  /** The organization's page context, or the 404 page of an unknown organization. */
  async function tenantPage(request: Request, params: Record<string, string>, server: Server): Promise<TenantPage | Response> {
    const tenant = await deps.resolveTenant(params.slug)
    const fmt = formatterFor(negotiateLocale(request.headers.get('accept-language')))
    const assets = await assetPaths()
    const base = {
      deps,
      request,
      url: new URL(request.url),
      params,
      fmt,
      assets,
      ip: clientAddress(request, server, config.server.trust_proxy),
    }
    if (!tenant)
      return plainError({ ...base, flash: undefined }, 404, 'No such organization', `There is no organization ${params.slug} here.`)
    return {
      ...base,
      tenant,
      paths: pathsFor(config.mode, tenant),
      flash: readFlash(request),
      form: undefined,
      withTenant: (fn, options) => deps.withTenant(tenant.id, fn, { readOnly: request.method === 'GET', ...options }),
    }
  }

  /** Reads a POST's form once; on a signed-in page its CSRF token (form field or htmx header) must be the session's. */
  async function readPost(page: TenantPage, sessionToken: string | undefined): Promise<void> {
    if (page.request.method !== 'POST') return
    page.form = await Form.read(page.request)
    if (sessionToken !== undefined) assertCsrf(sessionToken, page.request.headers.get(CSRF_HEADER) ?? page.form.text(CSRF_FIELD))
  }

  /** The signed-in member the area admits, or the answer for someone else (sign in first, or no access). */
  async function memberPage(page: TenantPage, area: PageArea): Promise<MemberPage | Response> {
    const token = readSessionToken(page.request, cookie)
    const signIn = () => {
      const next = page.request.method === 'GET' ? page.url.pathname + page.url.search : page.paths.admin
      return redirectTo(page, `${page.paths.signIn}?next=${encodeURIComponent(next)}`)
    }
    if (!token) return signIn()
    let principal: Awaited<ReturnType<WebDeps['sessions']['authenticate']>>
    try {
      principal = await deps.sessions.authenticate({ request: page.request, tenant: page.tenant, withTenant: deps.withTenant })
    } catch (err) {
      if (err instanceof AppError && err.status === 401) return signIn()
      if (err instanceof AppError && (err.status === 404 || err.code === 'no_active_organization')) {
        return plainError(
          page,
          403,
          'Not a member here',
          `Your account is not a member of ${page.tenant.name}. Sign in with another account.`,
        )
      }
      throw err
    }
    if (!principal) return signIn()
    if (!area.admits(principal)) return plainError(page, 403, area.refusal.title, area.refusal.text)
    // Remembered with the session's checks, and forgotten by any write to users (auth/credential-cache.ts).
    const user = await deps.database.credentials.people.get(principal.id, () =>
      deps.database.db.selectFrom('users').select(['id', 'email', 'name']).where('id', '=', principal.id).executeTakeFirst(),
    )
    if (!user) return signIn()
    await readPost(page, token)
    return { ...page, principal, user, csrf: csrfToken(token), can: canFor(principal) }
  }

  /** A page outside the console: an unknown organization, a refusal before sign-in. */
  function plainError(
    page: Pick<TenantPage, 'deps' | 'fmt' | 'assets' | 'flash'> & { paths?: TenantPage['paths'] },
    status: number,
    title: string,
    text: string,
  ): Response {
    return htmlPage(
      page as TenantPage,
      <Document title={`${title} · partnerd`} locale={page.fmt.locale} assets={page.assets}>
        <Plain title={title}>
          <p>{text}</p>
          {page.paths && (
            <p>
              <a href={page.paths.signIn}>Sign in</a>
            </p>
          )}
        </Plain>
      </Document>,
      status,
    )
  }

  /** An error as a page: a refusal says why in plain words; anything unexpected is logged and apologised for. */
  async function errorPage(page: TenantPage | MemberPage, err: unknown, area?: PageArea): Promise<Response> {
    const known = err instanceof AppError ? err : undefined
    if (!known) deps.log.error({ err, path: page.url.pathname }, 'page failed')
    const status = known?.status ?? 500
    const title =
      status === 403
        ? 'You cannot do this'
        : status === 404
          ? 'Not found'
          : status >= 500
            ? 'Something went wrong'
            : 'This could not be done'
    const text =
      known?.code === 'forbidden_scope' && 'principal' in page
        ? `Your role (${page.principal.role}) does not allow this. An owner or admin can change roles in Team.`
        : (known?.detail ?? 'The error was logged. Try again in a moment.')
    if (!('principal' in page) || !area) return plainError(page, status, title, text)
    return area.errorPage(page, status, title, text)
  }

  const runPublic =
    (route: PageRoute<TenantPage>) =>
    async ({ request, params, server }: { request: Request; params: Record<string, string>; server: unknown }) => {
      const page = await tenantPage(request, params ?? {}, server as Server)
      if (page instanceof Response) return page
      try {
        await readPost(page, undefined)
        return await route.handle(page)
      } catch (err) {
        return errorPage(page, err)
      }
    }

  const runArea =
    (area: PageArea) =>
    (route: ConsoleRoute) =>
    async ({ request, params, server }: { request: Request; params: Record<string, string>; server: unknown }) => {
      const base = await tenantPage(request, params ?? {}, server as Server)
      if (base instanceof Response) return base
      let page: MemberPage | TenantPage = base
      try {
        const member = await memberPage(base, area)
        if (member instanceof Response) return member
        page = member
        if (route.scopes) authorize(member.principal, { scopes: route.scopes }, member.tenant)
        return await route.handle(member)
      } catch (err) {
        return errorPage(page, err, area)
      }
    }

  // Pages are not the API: none of them is in the OpenAPI document.
  const hide = { detail: { hide: true } }
  const app = new Elysia({ name: 'pages' })
    .get(`${ASSET_PREFIX}*`, ({ request }) => serveAsset(request), hide)
    // `/`: the console for a signed-in member (its sign-in page sends anyone else there after signing in).
    .get(
      '/',
      async ({ request, server }) => {
        if (config.mode === 'multi') return chooseOrganization(request)
        const page = await tenantPage(request, {}, server as Server)
        return page instanceof Response ? page : redirectTo(page, page.paths.admin)
      },
      hide,
    )
  const mount = <C,>(path: string, route: PageRoute<C>, run: (route: PageRoute<C>) => (ctx: never) => Promise<Response>) => {
    if (route.method === 'GET') app.get(path, run(route) as never, hide)
    else app.post(path, run(route) as never, { ...hide, parse: 'none' })
  }
  for (const route of publicRoutes()) mount(`${root}${route.path}`, route, runPublic as never)
  for (const area of areas) {
    for (const route of area.routes) mount(`${root}${area.prefix}${route.path}`, route, runArea(area) as never)
    // A page of the area that does not exist: said on a page, for a person.
    app.all(
      `${root}${area.prefix}/*`,
      runArea(area)({
        method: 'GET',
        path: '',
        handle: async () => Promise.reject(new AppError(404, 'not_found', 'There is no such page here.')),
      }) as never,
      hide,
    )
  }
  return app

  /** Multi mode's `/`: which organization to sign in to. */
  async function chooseOrganization(request: Request): Promise<Response> {
    const fmt = formatterFor(negotiateLocale(request.headers.get('accept-language')))
    const slug = new URL(request.url).searchParams.get('organization')?.trim().toLowerCase()
    if (slug && /^[a-z0-9-]{1,63}$/.test(slug)) return redirectTo({ deps }, `/t/${slug}/admin`)
    // Someone signed in goes to their organization's console, or picks one of theirs.
    const token = readSessionToken(request, cookie)
    const session = token ? await resolveSession(deps.database, token, sessionSettings(config)) : null
    const theirs = session ? await organizationsOf(deps.database, session.userId) : []
    if (theirs.length === 1) return redirectTo({ deps }, `/t/${theirs[0]!.slug}/admin`)
    const page = { deps, fmt, assets: await assetPaths(), flash: undefined }
    return htmlPage(
      page as TenantPage,
      <Document title={theirs.length > 0 ? 'Your organizations · partnerd' : 'Sign in · partnerd'} locale={fmt.locale} assets={page.assets}>
        <Plain title={theirs.length > 0 ? 'Your organizations' : 'Sign in'}>
          {theirs.length > 0 && (
            <ul>
              {theirs.map((o) => (
                <li>
                  <a href={`/t/${o.slug}/admin`}>{o.name}</a>
                </li>
              ))}
            </ul>
          )}
          <form method="get" action="/">
            <label for="organization">{theirs.length > 0 ? 'Another organization' : 'Your organization'}</label>
            <input id="organization" name="organization" required pattern="[a-z0-9\-]{1,63}" autocomplete="organization" />
            <small class="hint">The name in your organization's address: /t/&lt;name&gt;/admin</small>
            <button type="submit">Continue</button>
          </form>
        </Plain>
      </Document>,
    )
  }
}
