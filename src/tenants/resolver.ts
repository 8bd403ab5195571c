/**
 * Slug → tenant for each request. Single mode has one tenant, known at start. Multi mode looks the slug
 * up and keeps it for a short while; the cache is advisory (each instance has its own, and a tenant
 * created elsewhere is found on its first request because misses are not cached).
 */
import type { Kysely } from 'kysely'
import type { DB } from '../db/schema.ts'
import { findTenantBySlug, SLUG_PATTERN, type Tenant } from './service.ts'

const TTL_MS = 30_000
const MAX_ENTRIES = 10_000
const SLUG = new RegExp(SLUG_PATTERN)

export function tenantResolver(db: Kysely<DB>, single?: Tenant): (slug: string | undefined) => Promise<Tenant | undefined> {
  if (single) return async () => single
  const cache = new Map<string, { tenant: Tenant; until: number }>()
  return async (slug) => {
    if (!slug || !SLUG.test(slug)) return undefined
    const hit = cache.get(slug)
    if (hit && hit.until > Date.now()) return hit.tenant
    const tenant = await findTenantBySlug(db, slug)
    if (tenant) {
      if (cache.size >= MAX_ENTRIES) cache.clear()
      cache.set(slug, { tenant, until: Date.now() + TTL_MS })
    }
    return tenant
  }
}
