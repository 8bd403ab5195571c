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
import type { TenantScope } from '../db/with-tenant.ts'
import type { DomainEventBus } from '../domain-events/bus.ts'
import { AppError } from '../errors.ts'
import { newId } from '../ids.ts'
import { currencyDigits } from '../money/money.ts'
import type { Keyring } from '../secrets/keyring.ts'

export interface Tenant {
  id: string
  slug: string
  name: string
  /** ISO 4217: what a program created without a currency is in (USD unless changed). */
  defaultCurrency: string
  createdAt: string
}

/** The settings a tenant's owners and admins change (PATCH /tenant, the console's settings). */
export interface TenantChanges {
  name?: string
  defaultCurrency?: string
}

const DEFAULT_CURRENCY = 'USD'

export const DEFAULT_TENANT_SLUG = 'default'

/** Lower-case letters, digits and inner hyphens, 1–63 characters: safe in a URL path and a DNS label. */
export const SLUG_PATTERN = '^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$'
const SLUG = new RegExp(SLUG_PATTERN)

function toTenant(row: DB['tenants']): Tenant {
  return { id: row.id, slug: row.slug, name: row.name, defaultCurrency: row.default_currency, createdAt: row.created_at }
}

export async function createTenant(
  db: Kysely<DB>,
  events: DomainEventBus,
  secrets: Keyring,
  input: { slug: string; name?: string; defaultCurrency?: string },
): Promise<Tenant> {
  const slug = input.slug.trim().toLowerCase()
  if (!SLUG.test(slug)) {
    throw new AppError(400, 'invalid_slug', 'slug must be 1-63 lower-case letters, digits or inner hyphens')
  }
  const name = input.name === undefined ? slug : nameOf(input.name)
  const id = newId('tenant')
  // The key of the tenant's click-address hashes, sealed: with it, a stolen database's hashes could be tested against addresses.
  const row = {
    id,
    slug,
    name,
    created_at: isoNow(),
    click_salt: secrets.seal(randomSecret(), { table: 'tenants', id }),
    default_currency: input.defaultCurrency === undefined ? DEFAULT_CURRENCY : currencyOf(input.defaultCurrency),
  }
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

/**
 * A new display name or default currency, in the tenant's own transaction; told to every resolver
 * (tenant.updated, published once it commits) so requests and pages see it at once.
 */
export async function updateTenant(scope: TenantScope, changes: TenantChanges): Promise<Tenant> {
  const set: Partial<DB['tenants']> = {}
  if (changes.name !== undefined) set.name = nameOf(changes.name)
  if (changes.defaultCurrency !== undefined) set.default_currency = currencyOf(changes.defaultCurrency)
  if (Object.keys(set).length > 0) await scope.db.updateTable('tenants').set(set).where('id', '=', scope.tenantId).execute()
  const tenant = toTenant(await scope.db.selectFrom('tenants').selectAll().where('id', '=', scope.tenantId).executeTakeFirstOrThrow())
  if (Object.keys(set).length > 0) scope.emit('tenant.updated', tenant)
  return tenant
}

/** A tenant's display name, trimmed: 1 to 200 characters. */
function nameOf(name: string): string {
  const trimmed = name.trim()
  if (!trimmed || trimmed.length > 200) throw new AppError(400, 'invalid_name', 'name: 1 to 200 characters')
  return trimmed
}

/** A currency programs can be in (one whose digits partnerd knows): 400 unknown_currency otherwise. */
function currencyOf(currency: string): string {
  currencyDigits(currency)
  return currency
}

/** The currency a program created without one is in. */
export async function defaultCurrency(scope: TenantScope): Promise<string> {
  const row = await scope.db.selectFrom('tenants').select('default_currency').where('id', '=', scope.tenantId).executeTakeFirstOrThrow()
  return row.default_currency
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
