/**
 * Slug → tenant for each request. Single mode has one tenant, known at start. Multi mode looks the slug
 * up and keeps it for a short while (cache.ts); the cache is advisory (each instance has its own, and a
 * tenant created elsewhere is found on its first request because misses are not kept).
 */
import type { Kysely } from 'kysely'
import { ReadThroughCache } from '../cache.ts'
import type { DB } from '../db/schema.ts'
import type { DomainEventBus } from '../domain-events/bus.ts'
import { findTenantBySlug, SLUG_PATTERN, type Tenant } from './service.ts'

const TTL_MS = 30_000
const MAX_ENTRIES = 10_000
const SLUG = new RegExp(SLUG_PATTERN)

/** Answers at once when it knows the tenant (the click router takes that path on every click). */
export type TenantResolver = (slug: string | undefined) => Tenant | undefined | Promise<Tenant | undefined>

/** `bus`: a renamed tenant (tenant.updated) is read afresh at once on this instance, within TTL_MS elsewhere. */
export function tenantResolver(db: Kysely<DB>, single?: Tenant, bus?: DomainEventBus): TenantResolver {
  if (single) {
    let current = single
    bus?.subscribe('tenant.updated', (event) => {
      const tenant = event.data as Tenant
      if (tenant.id === current.id) current = tenant
    })
    return () => current
  }
  const cache = new ReadThroughCache((slug) => findTenantBySlug(db, slug), {
    ttlMs: TTL_MS,
    maxEntries: MAX_ENTRIES,
    keep: (tenant) => tenant !== undefined,
  })
  bus?.subscribe('tenant.updated', () => cache.clear())
  return (slug) => (slug && SLUG.test(slug) ? cache.get(slug) : undefined)
}
