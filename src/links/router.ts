/**
 * The click router: `/r/<linkKey>` (single mode) or `/r/<slug>/<linkKey>` (multi mode). It records the
 * click, sets the first-party `_cref` cookie and answers 302 to the link's destination with
 * `cref=<clickId>` added, only once the click is committed (group commit, click-writer.ts).
 *
 * - A deep link given as `?to=` is followed only when its host is allowed (destination.ts); otherwise
 *   the visitor goes to the stored destination.
 * - `?sub=` is kept as the click's sub-source, for partners who tag their placements.
 * - Crawlers and link previewers are redirected without a click being counted.
 * - A revoked partner's link still redirects; its clicks are flagged `revoked`. An address clicking
 *   faster than tracking.velocity_per_minute gets its clicks flagged `velocity`; past
 *   tracking.max_per_minute it gets 429. Flagged clicks earn nothing until a reviewer clears them.
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
import { clientAddress } from '../http/client-address.ts'
import { RateLimiter } from '../http/rate-limit.ts'
import { newId } from '../ids.ts'
import type { Tenant } from '../tenants/service.ts'
import { ClickWriter } from './click-writer.ts'
import { allowedDeepLink, withClickRef } from './destination.ts'
import { LinkDirectory } from './directory.ts'
import { LINK_KEY_PATTERN } from './service.ts'
import { hashAddress, isBot } from './visitor.ts'

export const CLICK_COOKIE = '_cref'
const LINK_KEY = new RegExp(LINK_KEY_PATTERN)
const MINUTE = 60_000

/** Domain events after which a cached link may be stale. */
const LINK_CHANGES = ['partner.revoked', 'partner.activated', 'program.updated', 'link.archived']

export interface ClickRouterDeps {
  config: Config
  database: Database
  withTenant: WithTenant
  bus: DomainEventBus
  resolveTenant: (slug: string | undefined) => Promise<Tenant | undefined>
}

export function createClickRouter(deps: ClickRouterDeps) {
  const { config } = deps
  const writer = new ClickWriter(deps.database)
  const directory = new LinkDirectory(deps.withTenant, config.tracking.link_cache_seconds * 1000)
  for (const type of LINK_CHANGES) deps.bus.subscribe(type, () => directory.forget())
  const hardCap = new RateLimiter({ limit: config.tracking.max_per_minute, windowMs: MINUTE })
  const velocity = new RateLimiter({ limit: Number.MAX_SAFE_INTEGER, windowMs: MINUTE })
  const secure = config.server.public_url.startsWith('https://')
  const cookieTail = `; Path=/; Max-Age=${config.tracking.cookie_days * 86_400}; HttpOnly; SameSite=Lax${secure ? '; Secure' : ''}`

  const route = async (ctx: {
    params: Record<string, string>
    query: Record<string, string | undefined>
    request: Request
    server: Parameters<typeof clientAddress>[1]
    set: { status?: number | string; headers: Record<string, string | number> }
  }) => {
    const { params, query, request, set } = ctx
    const notFound = () => new AppError(404, 'link_not_found', `no link ${params.linkKey}`)
    const tenant = await deps.resolveTenant(params.slug)
    if (!tenant) throw new AppError(404, 'tenant_not_found', `no tenant ${params.slug}`)
    if (!LINK_KEY.test(params.linkKey ?? '')) throw notFound()
    const link = await directory.find(tenant.id, params.linkKey!)
    if (!link || link.archived || link.programStatus === 'archived') throw notFound()

    const userAgent = request.headers.get('user-agent')?.slice(0, 512) ?? null
    const deepLink = query.to
      ? allowedDeepLink(query.to, { destinationUrl: link.programDestinationUrl, deepLinkHosts: link.deepLinkHosts })
      : undefined
    const destination = deepLink ?? link.destinationUrl
    set.status = 302
    set.headers['cache-control'] = 'no-store'

    if (isBot(userAgent)) {
      set.headers.location = destination
      return null
    }
    const ipHash = hashAddress(link.clickSalt, clientAddress(request, ctx.server, config.server.trust_proxy))
    const visitor = `${tenant.id}\n${ipHash ?? '-'}`
    hardCap.hit(visitor)
    let flag: ClickFlag | null = null
    if (link.partnerStatus === 'revoked') flag = 'revoked'
    else if (velocity.record(visitor) > config.tracking.velocity_per_minute) flag = 'velocity'

    const clickId = newId('click')
    await writer.write({
      id: clickId,
      tenant_id: tenant.id,
      link_id: link.linkId,
      partner_id: link.partnerId,
      program_id: link.programId,
      source: 'link',
      ip_hash: ipHash,
      user_agent: userAgent,
      referer: request.headers.get('referer')?.slice(0, 1024) ?? null,
      sub_source: query.sub?.slice(0, 128) || null,
      flag,
      created_at: new Date().toISOString(),
    })
    set.headers.location = deepLink ? withClickRef(deepLink, clickId) : link.locationFor(clickId)
    set.headers['set-cookie'] = `${CLICK_COOKIE}=${clickId}${cookieTail}`
    return null
  }

  const plugin = new Elysia({ name: 'click-router' })
  const detail = { tags: ['Tracking'], summary: 'Follow a partner link: records the click, sets _cref, 302 to the destination with cref' }
  if (config.mode === 'single') plugin.get('/r/:linkKey', route, { detail })
  else plugin.get('/r/:slug/:linkKey', route, { detail })
  return { plugin, writer, directory }
}

/** The click id a visitor's browser carries, from the router's cookie. */
export function clickCookie(request: Request): string | undefined {
  return readCookie(request, CLICK_COOKIE)
}
