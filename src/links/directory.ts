/**
 * The router's view of a link: everything a redirect needs, in one read, kept for a few seconds
 * (tracking.link_cache_seconds) so a busy link costs no query (cache.ts: a busy link that expires is
 * read once, not once per click in flight). Changes made through this instance clear the cache at once
 * (see the domain events in router.ts); other instances see them within the TTL and a second.
 */
import { ReadThroughCache } from '../cache.ts'
import { readJson } from '../db/codec.ts'
import type { WithTenant } from '../db/with-tenant.ts'
import { clickRefTemplate } from './destination.ts'

export interface RoutedLink {
  linkId: string
  partnerId: string
  programId: string
  /** The link's own deep link, else the program's destination. */
  destinationUrl: string
  /** `destinationUrl` with `cref=<clickId>` added, prepared once. */
  locationFor: (clickId: string) => string
  programDestinationUrl: string
  deepLinkHosts: string[]
  programStatus: string
  partnerStatus: string
  archived: boolean
  clickSalt: string
}

const MAX_ENTRIES = 50_000

export class LinkDirectory {
  readonly #cache: ReadThroughCache<RoutedLink | undefined>

  constructor(
    private readonly withTenant: WithTenant,
    ttlMs: number,
  ) {
    this.#cache = new ReadThroughCache((cacheKey) => this.#read(cacheKey), { ttlMs, maxEntries: MAX_ENTRIES })
  }

  /** The link, at once when it is cached (the router's every click), else once read. */
  find(tenantId: string, key: string): RoutedLink | undefined | Promise<RoutedLink | undefined> {
    return this.#cache.get(`${tenantId}\n${key}`)
  }

  #read(cacheKey: string): Promise<RoutedLink | undefined> {
    const [tenantId, key] = cacheKey.split('\n') as [string, string]
    return this.withTenant(
      tenantId,
      async ({ db, secrets }) => {
        const row = await db
          .selectFrom('links')
          .innerJoin('programs', 'programs.id', 'links.program_id')
          .innerJoin('partners', 'partners.id', 'links.partner_id')
          .innerJoin('tenants', 'tenants.id', 'links.tenant_id')
          .select([
            'links.id',
            'links.partner_id',
            'links.program_id',
            'links.destination_url',
            'links.archived_at',
            'programs.destination_url as program_destination',
            'programs.deep_link_hosts',
            'programs.status as program_status',
            'partners.status as partner_status',
            'tenants.click_salt',
          ])
          .where('links.tenant_id', '=', tenantId)
          .where('links.key', '=', key)
          .executeTakeFirst()
        if (!row) return undefined
        if (!row.click_salt) throw new Error(`tenant ${tenantId} has no click_salt`)
        return {
          linkId: row.id,
          partnerId: row.partner_id,
          programId: row.program_id,
          destinationUrl: row.destination_url ?? row.program_destination,
          locationFor: clickRefTemplate(row.destination_url ?? row.program_destination),
          programDestinationUrl: row.program_destination,
          deepLinkHosts: readJson<string[]>(row.deep_link_hosts),
          programStatus: row.program_status,
          partnerStatus: row.partner_status,
          archived: row.archived_at !== null,
          clickSalt: secrets.open(row.click_salt, { table: 'tenants', id: tenantId }),
        }
      },
      { readOnly: true },
    )
  }

  forget(): void {
    this.#cache.clear()
  }
}
