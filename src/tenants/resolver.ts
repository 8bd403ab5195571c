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

/** Answers at once when it knows the tenant (the click router takes that path on every click). */
export type TenantResolver = (slug: string | undefined) => Tenant | undefined | Promise<Tenant | undefined>

export function tenantResolver(db: Kysely<DB>, single?: Tenant): TenantResolver {
  if (single) return () => single
  const cache = new Map<string, { tenant: Tenant; until: number }>()
  const read = async (slug: string) => {
    const tenant = await findTenantBySlug(db, slug)
    if (tenant) {
      if (cache.size >= MAX_ENTRIES) cache.clear()
      cache.set(slug, { tenant, until: Date.now() + TTL_MS })
    }
    return tenant
  }
  return (slug) => {
    if (!slug || !SLUG.test(slug)) return undefined
    const hit = cache.get(slug)
    if (hit && hit.until > Date.now()) return hit.tenant
    return read(slug)
  }
}
