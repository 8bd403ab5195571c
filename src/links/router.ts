/**
 * The click router: `/r/<linkKey>` (single mode) or `/r/<slug>/<linkKey>` (multi mode). It records the
 * click, sets the first-party `_cref` cookie (readable by the site's scripts; for a parent domain with
 * tracking.cookie_domain) and answers 302 to the link's destination with
 * `cref=<clickId>` added, only once the click is committed (group commit, click-writer.ts).
 *
 * - A deep link given as `?to=` is followed only when its host is allowed (destination.ts); otherwise
 *   the visitor goes to the stored destination.
 * - `?sub=` is kept as the click's sub-source, for partners who tag their placements.
 * - Crawlers and link previewers are redirected without a click being counted.
 * - A revoked partner's link still redirects; its clicks are flagged `revoked`. An address clicking
 *   faster than tracking.velocity_per_minute gets its clicks flagged `velocity`; past
 *   tracking.max_per_minute it gets 429. An IPv6 /64 counts as one address (http/client-address.ts). Flagged clicks earn nothing until a reviewer clears them.
 * - Paused and draft programs redirect and record; they earn nothing (commissions/accrue.ts).
 *   Archived links and programs answer 404.
 */
import { Elysia } from 'elysia'
import { readCookie } from '../auth/sessions/cookie.ts'
import type { Config } from '../config/schema.ts'
import type { Database } from '../db/database.ts'
import type { ClickFlag } from '../db/schema.ts'
import type { WithTenant } from '../db/with-tenant.ts'
import type { DomainEventBus } from '../domain-events/bus.ts'
import { AppError } from '../errors.ts'
import type { NativeHandler } from '../http/app.ts'
import { type AddressSource, addressGroup, clientAddress } from '../http/client-address.ts'
import { withoutNul } from '../http/input-guard.ts'
import { RateLimiter } from '../http/rate-limit.ts'
import { newId } from '../ids.ts'
import type { Logger } from '../log/logger.ts'
import type { TenantResolver } from '../tenants/resolver.ts'
import type { Tenant } from '../tenants/service.ts'
import { ClickWriter } from './click-writer.ts'
import { allowedDeepLink, withClickRef } from './destination.ts'
import { LinkDirectory, type RoutedLink } from './directory.ts'
import { LINK_KEY_PATTERN } from './service.ts'
import { hashAddress, isBot } from './visitor.ts'

export const CLICK_COOKIE = '_cref'
const LINK_KEY = new RegExp(LINK_KEY_PATTERN)
const MINUTE = 60_000

const linkNotFound = (linkKey: string) => new AppError(404, 'link_not_found', `no link ${linkKey}`)

/** Domain events after which a cached link may be stale. */
const LINK_CHANGES = ['partner.revoked', 'partner.activated', 'program.updated', 'link.archived']

export interface ClickRouterDeps {
  config: Config
  log: Logger
  database: Database
  withTenant: WithTenant
  bus: DomainEventBus
  resolveTenant: TenantResolver
}

/** The router's path parameters: the tenant's slug (multi mode) and the link's key. */
export interface FollowedLink {
  slug?: string
  linkKey: string
}

export function createClickRouter(deps: ClickRouterDeps) {
  const { config } = deps
  const writer = new ClickWriter(deps.database, deps.log)
  const directory = new LinkDirectory(deps.withTenant, config.tracking.link_cache_seconds * 1000)
  for (const type of LINK_CHANGES) deps.bus.subscribe(type, () => directory.forget())
  // One count of an address's clicks per minute: past velocity_per_minute they are flagged, past
  // max_per_minute refused.
  const perMinute = new RateLimiter({ limit: config.tracking.max_per_minute, windowMs: MINUTE })
  const secure = config.server.public_url.startsWith('https://')
  // Not HttpOnly: the click id is no secret (it is in the destination's URL too), and OpenPartner's
  // browser SDK reads the cookie from document.cookie when the URL has lost it. With
  // tracking.cookie_domain, a router on go.example.com sets it for the site on example.com.
  const domain = config.tracking.cookie_domain ? `; Domain=${config.tracking.cookie_domain}` : ''
  const cookieTail = `; Path=/${domain}; Max-Age=${config.tracking.cookie_days * 86_400}; SameSite=Lax${secure ? '; Secure' : ''}`

  /**
   * The whole router, from request to response; errors are thrown as AppErrors for the caller to map.
   * Not an async function: on nearly every click the tenant and the link answer at once from their
   * caches, and the click's only wait is its commit, so one promise (the commit's, then the
   * response) is all a click makes. A read the caches start is awaited in `followRead`.
   */
  function follow(request: Request, server: AddressSource, params: FollowedLink, headers: Record<string, string> = {}): Promise<Response> {
    const tenant = deps.resolveTenant(params.slug)
    if (tenant instanceof Promise) return followRead(request, server, params, headers, tenant)
    if (!tenant) throw new AppError(404, 'tenant_not_found', `no tenant ${params.slug}`)
    if (!LINK_KEY.test(params.linkKey)) throw linkNotFound(params.linkKey)
    const link = directory.find(tenant.id, params.linkKey)
    if (link instanceof Promise) return followRead(request, server, params, headers, tenant, link)
    return click(request, server, params, headers, tenant, link)
  }

  /** follow(), once the tenant or the link has been read. */
  async function followRead(
    request: Request,
    server: AddressSource,
    params: FollowedLink,
    headers: Record<string, string>,
    tenantRead: Tenant | undefined | Promise<Tenant | undefined>,
    linkRead?: Promise<RoutedLink | undefined>,
  ): Promise<Response> {
    const tenant = await tenantRead
    if (!tenant) throw new AppError(404, 'tenant_not_found', `no tenant ${params.slug}`)
    if (!LINK_KEY.test(params.linkKey)) throw linkNotFound(params.linkKey)
    const link = await (linkRead ?? directory.find(tenant.id, params.linkKey))
    return click(request, server, params, headers, tenant, link)
  }

  /** The click on a link found: recorded, then answered once committed. */
  function click(
    request: Request,
    server: AddressSource,
    params: FollowedLink,
    headers: Record<string, string>,
    tenant: Tenant,
    link: RoutedLink | undefined,
  ): Promise<Response> {
    if (!link || link.archived || link.programStatus === 'archived') throw linkNotFound(params.linkKey)

    // Most clicks carry no query: parse one only when there is one.
    const query = request.url.includes('?') ? new URL(request.url).searchParams : undefined
    const to = query?.get('to')
    const userAgent = stored(request.headers.get('user-agent'), 512)
    const deepLink = to ? allowedDeepLink(to, { destinationUrl: link.programDestinationUrl, deepLinkHosts: link.deepLinkHosts }) : undefined

    if (isBot(userAgent)) return Promise.resolve(redirect(headers, deepLink ?? link.destinationUrl))
    const address = clientAddress(request, server, config.server.trust_proxy)
    const ipHash = hashAddress(link.clickSalt, address)
    const clicks = perMinute.hit(`${tenant.id}\n${address ? addressGroup(address) : '-'}`)
    let flag: ClickFlag | null = null
    if (link.partnerStatus === 'revoked') flag = 'revoked'
    else if (clicks > config.tracking.velocity_per_minute) flag = 'velocity'

    const clickId = newId('click')
    const committed = writer.write({
      id: clickId,
      tenant_id: tenant.id,
      link_id: link.linkId,
      partner_id: link.partnerId,
      program_id: link.programId,
      source: 'link',
      ip_hash: ipHash,
      user_agent: userAgent,
      referer: stored(request.headers.get('referer'), 1024),
      sub_source: stored(query?.get('sub'), 128) || null,
      flag,
      created_at: clickTimestamp(),
    })
    const location = deepLink ? withClickRef(deepLink, clickId) : link.locationFor(clickId)
    return committed.then(() => redirect(headers, location, `${CLICK_COOKIE}=${clickId}${cookieTail}`))
  }

  const path = config.mode === 'single' ? '/r/:linkKey' : '/r/:slug/:linkKey'
  // Documented, and reachable through app.handle(); a listening server answers the same path straight
  // from Bun's router through `native` (see http/app.ts), with no framework in between.
  const plugin = new Elysia({ name: 'click-router' }).get(
    path,
    ({ request, server, params }) => follow(request, server, params as unknown as FollowedLink),
    { detail: { tags: ['Tracking'], summary: 'Follow a partner link: records the click, sets _cref, 302 to the destination with cref' } },
  )
  const native: Record<string, NativeHandler> = {
    [path]: (request, server, headers) => follow(request, server, request.params as unknown as FollowedLink, headers),
  }
  return { plugin, native, writer, directory }
}

/**
 * A visitor's text as a click stores it: cut to `max`, and without NULs, which PostgreSQL refuses and
 * would fail the whole batch the click shares with others (http/input-guard.ts).
 */
function stored(text: string | null | undefined, max: number): string | null {
  return text == null ? null : withoutNul(text.slice(0, max))
}

/**
 * The time of a click, as db/codec.ts isoNow writes it, but made once per millisecond: the clicks of
 * one millisecond share it, and under load a millisecond has dozens of them.
 */
let isoMs = -1
let isoText = ''
function clickTimestamp(): string {
  const now = Date.now()
  if (now !== isoMs) {
    isoMs = now
    isoText = new Date(now).toISOString()
  }
  return isoText
}

/** A 302 carrying `headers` (the envelope's) as well. */
function redirect(headers: Record<string, string>, location: string, cookie?: string): Response {
  headers.location = location
  headers['cache-control'] = 'no-store'
  if (cookie) headers['set-cookie'] = cookie
  return new Response(null, { status: 302, headers })
}

/** The click id a visitor's browser carries, from the router's cookie. */
export function clickCookie(request: Request): string | undefined {
  return readCookie(request, CLICK_COOKIE)
}
