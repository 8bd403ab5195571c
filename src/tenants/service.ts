/**
 * Tenants (organizations). The tenants table is the one table that is not tenant-owned: the slug in
 * the URL is looked up here before any tenant is known. Single mode has one tenant, `default`.
 */
import type { Kysely } from 'kysely'
import { randomSecret } from '../auth/secrets.ts'
import { isoNow } from '../db/codec.ts'
import { isUniqueViolation } from '../db/errors.ts'
import { fetchPage, type Page, type PageRequest, sliced } from '../db/pagination.ts'
import type { DB } from '../db/schema.ts'
import type { DomainEventBus } from '../domain-events/bus.ts'
import { AppError } from '../errors.ts'
import { newId } from '../ids.ts'
import type { Keyring } from '../secrets/keyring.ts'

export interface Tenant {
  id: string
  slug: string
  name: string
  createdAt: string
}

export const DEFAULT_TENANT_SLUG = 'default'

/** Lower-case letters, digits and inner hyphens, 1–63 characters: safe in a URL path and a DNS label. */
export const SLUG_PATTERN = '^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$'
const SLUG = new RegExp(SLUG_PATTERN)

function toTenant(row: DB['tenants']): Tenant {
  return { id: row.id, slug: row.slug, name: row.name, createdAt: row.created_at }
}

export async function createTenant(
  db: Kysely<DB>,
  events: DomainEventBus,
  secrets: Keyring,
  input: { slug: string; name?: string },
): Promise<Tenant> {
  const slug = input.slug.trim().toLowerCase()
  if (!SLUG.test(slug)) {
    throw new AppError(400, 'invalid_slug', 'slug must be 1-63 lower-case letters, digits or inner hyphens')
  }
  const name = input.name?.trim() || slug
  const id = newId('tenant')
  // The key of the tenant's click-address hashes, sealed: with it, a stolen database's hashes could be tested against addresses.
  const row = { id, slug, name, created_at: isoNow(), click_salt: secrets.seal(randomSecret(), { table: 'tenants', id }) }
  try {
    await db.insertInto('tenants').values(row).execute()
  } catch (err) {
    if (isUniqueViolation(err)) throw new AppError(409, 'slug_taken', `a tenant with slug ${slug} exists`)
    throw err
  }
  const tenant = toTenant(row)
  await events.publish([{ type: 'tenant.created', tenantId: tenant.id, occurredAt: row.created_at, data: tenant }])
  return tenant
}

/** A new display name; told to every resolver (tenant.updated) so pages show it at once. */
export async function renameTenant(db: Kysely<DB>, events: DomainEventBus, id: string, name: string): Promise<Tenant> {
  const trimmed = name.trim()
  if (!trimmed || trimmed.length > 200) throw new AppError(400, 'invalid_name', 'name: 1 to 200 characters')
  await db.updateTable('tenants').set({ name: trimmed }).where('id', '=', id).execute()
  const row = await db.selectFrom('tenants').selectAll().where('id', '=', id).executeTakeFirstOrThrow()
  const tenant = toTenant(row)
  await events.publish([{ type: 'tenant.updated', tenantId: id, occurredAt: new Date().toISOString(), data: tenant }])
  return tenant
}

export async function findTenantBySlug(db: Kysely<DB>, slug: string): Promise<Tenant | undefined> {
  const row = await db.selectFrom('tenants').selectAll().where('slug', '=', slug).executeTakeFirst()
  return row && toTenant(row)
}

export async function listTenants(db: Kysely<DB>, page: PageRequest): Promise<Page<Tenant>> {
  const result = await fetchPage(page, (slice) => {
    const q = db.selectFrom('tenants').selectAll()
    return sliced(q, slice).execute()
  })
  return { items: result.items.map(toTenant), nextCursor: result.nextCursor }
}

/** Single mode's tenant, created on first start. Returns it and whether it was just created. */
export async function ensureDefaultTenant(
  db: Kysely<DB>,
  events: DomainEventBus,
  secrets: Keyring,
): Promise<{ tenant: Tenant; created: boolean }> {
  const found = await findTenantBySlug(db, DEFAULT_TENANT_SLUG)
  if (found) return { tenant: found, created: false }
  try {
    return { tenant: await createTenant(db, events, secrets, { slug: DEFAULT_TENANT_SLUG, name: 'Default' }), created: true }
  } catch (err) {
    // Another instance starting at the same moment created it first.
    const raced = await findTenantBySlug(db, DEFAULT_TENANT_SLUG)
    if (raced) return { tenant: raced, created: false }
    throw err
  }
}
