/**
 * Slug → tenant for each request. Single mode has one tenant, known at start. Multi mode looks the slug
 * up and keeps it for a short while (cache.ts); the cache is advisory (each instance has its own, and a
 * tenant created elsewhere is found on its first request because misses are not kept).
 */
import type { Kysely } from 'kysely'
import { ReadThroughCache } from '../cache.ts'
import type { DB } from '../db/schema.ts'
import { findTenantBySlug, SLUG_PATTERN, type Tenant } from './service.ts'

const TTL_MS = 30_000
const MAX_ENTRIES = 10_000
const SLUG = new RegExp(SLUG_PATTERN)

/** Answers at once when it knows the tenant (the click router takes that path on every click). */
export type TenantResolver = (slug: string | undefined) => Tenant | undefined | Promise<Tenant | undefined>

export function tenantResolver(db: Kysely<DB>, single?: Tenant): TenantResolver {
  if (single) return () => single
  const cache = new ReadThroughCache((slug) => findTenantBySlug(db, slug), {
    ttlMs: TTL_MS,
    maxEntries: MAX_ENTRIES,
    keep: (tenant) => tenant !== undefined,
  })
  return (slug) => (slug && SLUG.test(slug) ? cache.get(slug) : undefined)
}
