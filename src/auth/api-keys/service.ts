/**
 * API keys: `<prefix><43 base64url chars>` (256 random bits), shown once at minting. Only the SHA-256
 * of the key is stored, with a short non-secret `start` for display. A key belongs to one tenant and
 * carries scopes; `*` makes it the tenant's admin key.
 */

import type { Kysely } from 'kysely'
import { type Actor, recordAudit } from '../../audit/service.ts'
import { readJson, writeJson } from '../../db/codec.ts'
import type { Database } from '../../db/database.ts'
import { fetchPage, type Page, type PageRequest, sliced } from '../../db/pagination.ts'
import type { DB } from '../../db/schema.ts'
import { readTenantRow, type TenantScope, type WithTenant } from '../../db/with-tenant.ts'
import { AppError } from '../../errors.ts'
import { newId } from '../../ids.ts'
import type { CheckedKey } from '../credential-cache.ts'
import { type MaybePromise, type Principal, sharedPrincipal } from '../principal.ts'
import { ALL_SCOPES, isScope } from '../scopes.ts'
import { randomSecret, sha256Hex } from '../secrets.ts'

export interface ApiKey {
  id: string
  name: string
  /** OpenPartner's name for `name`. */
  label: string
  start: string
  /** OpenPartner's name for `start`. */
  prefix: string
  scopes: string[]
  createdAt: string
  expiresAt: string | null
  revokedAt: string | null
  lastUsedAt: string | null
  /** Bound to a partner: the key acts only as that partner. */
  partnerId: string | null
  /** Bound to a program: the key sees and records only that program's data. */
  programId: string | null
}

export interface MintedApiKey extends ApiKey {
  /** The key itself. Returned once, never stored. */
  key: string
  /** The same key, under OpenPartner's name for it. */
  plaintext: string
}

export interface MintInput {
  name: string
  scopes?: string[]
  expiresAt?: string
  partnerId?: string
  programId?: string
}

/** What a key bound to one program may do: its program's partners, links, events and commissions. */
export const PROGRAM_KEY_SCOPES = ['events:write', 'partners:read', 'partners:write', 'commissions:read', 'links:read', 'links:write']

const SECRET_LENGTH = 43 // base64url of 32 bytes
/** last_used_at is written at most this often per key, so verifying a key stays a read. */
const LAST_USED_RESOLUTION_MS = 60_000

function toApiKey(row: DB['api_keys']): ApiKey {
  return {
    id: row.id,
    name: row.name,
    label: row.name,
    start: row.start,
    prefix: row.start,
    scopes: readJson<string[]>(row.scopes),
    createdAt: row.created_at,
    expiresAt: row.expires_at,
    revokedAt: row.revoked_at,
    lastUsedAt: row.last_used_at,
    partnerId: row.partner_id,
    programId: row.program_id,
  }
}

export function validateScopes(scopes: readonly string[]): string[] {
  if (scopes.length === 0) throw new AppError(400, 'invalid_scopes', 'give at least one scope, or * for an admin key')
  for (const s of scopes) {
    if (s !== ALL_SCOPES && !isScope(s)) throw new AppError(400, 'invalid_scopes', `unknown scope ${s}`)
  }
  if (scopes.includes(ALL_SCOPES) && scopes.length > 1) {
    throw new AppError(400, 'invalid_scopes', '* already grants every scope; give it alone')
  }
  return [...new Set(scopes)]
}

export async function mintApiKey(scope: TenantScope, prefix: string, input: MintInput, by: Actor, now = new Date()): Promise<MintedApiKey> {
  const name = input.name.trim()
  if (!name) throw new AppError(400, 'invalid_name', 'name must not be empty')
  if (input.partnerId !== undefined && input.programId !== undefined) {
    throw new AppError(400, 'invalid_binding', 'bind a key to a partner or to a program, not both')
  }
  let scopes: string[]
  if (input.partnerId !== undefined) {
    // A partner's key carries no management scopes: it reaches the partner's own routes (/me/…) only.
    if (input.scopes?.length) throw new AppError(400, 'invalid_scopes', 'a key bound to a partner acts as the partner; give no scopes')
    const partner = await scope.db
      .selectFrom('partners')
      .select('id')
      .where('tenant_id', '=', scope.tenantId)
      .where('id', '=', input.partnerId)
      .executeTakeFirst()
    if (!partner) throw new AppError(404, 'not_found', `no partner ${input.partnerId}`)
    scopes = []
  } else {
    // Left out, a key gets all it may hold: everything, or, bound to a program (Partnero's "Create
    // API key" in a program's settings names no permissions), everything a program's key may do.
    scopes = validateScopes(input.scopes ?? (input.programId !== undefined ? PROGRAM_KEY_SCOPES : [ALL_SCOPES]))
  }
  if (input.programId !== undefined) {
    const outside = scopes.filter((s) => !PROGRAM_KEY_SCOPES.includes(s))
    if (outside.length > 0)
      throw new AppError(400, 'invalid_scopes', `a key bound to a program may carry only ${PROGRAM_KEY_SCOPES.join(', ')}`)
    const program = await scope.db
      .selectFrom('programs')
      .select('id')
      .where('tenant_id', '=', scope.tenantId)
      .where('id', '=', input.programId)
      .executeTakeFirst()
    if (!program) throw new AppError(404, 'not_found', `no program ${input.programId}`)
  }
  let expiresAt: string | null = null
  if (input.expiresAt !== undefined) {
    const at = new Date(input.expiresAt)
    if (Number.isNaN(at.getTime())) throw new AppError(400, 'invalid_expiry', 'expiresAt must be an ISO-8601 timestamp')
    if (at <= now) throw new AppError(400, 'invalid_expiry', 'expiresAt must be in the future')
    expiresAt = at.toISOString()
  }
  const key = prefix + randomSecret(32)
  const row: DB['api_keys'] = {
    id: newId('apiKey'),
    tenant_id: scope.tenantId,
    name,
    start: key.slice(0, prefix.length + 4),
    key_hash: sha256Hex(key),
    scopes: writeJson(scopes),
    created_at: now.toISOString(),
    expires_at: expiresAt,
    revoked_at: null,
    last_used_at: null,
    partner_id: input.partnerId ?? null,
    program_id: input.programId ?? null,
  }
  await scope.db.insertInto('api_keys').values(row).execute()
  await scope.db.insertInto('api_key_index').values({ key_hash: row.key_hash, tenant_id: scope.tenantId }).execute()
  const minted = toApiKey(row)
  scope.emit('api_key.created', minted)
  await recordAudit(scope, { type: 'api_key.created', actor: by.id, subject: minted.id, ip: by.ip, detail: { name, scopes } })
  return { ...minted, key, plaintext: key }
}

/**
 * `partnerId`: only the keys bound to that partner. `scope`: only the keys minted with that scope
 * (as OpenPartner's integrations page lists the keys it made; `*` keys are not listed for a scope).
 */
export async function listApiKeys(scope: TenantScope, page: PageRequest & { partnerId?: string; scope?: string }): Promise<Page<ApiKey>> {
  const wanted = page.scope
  if (wanted !== undefined && wanted !== ALL_SCOPES && !isScope(wanted)) {
    throw new AppError(400, 'invalid_scopes', `query.scope: unknown scope ${wanted}`)
  }
  const result = await fetchPage(page, (slice) => {
    let q = scope.db.selectFrom('api_keys').selectAll().where('tenant_id', '=', scope.tenantId)
    if (page.partnerId) q = q.where('partner_id', '=', page.partnerId)
    // Scopes are a JSON array in a text column on both databases; a known scope holds no LIKE wildcard.
    if (wanted !== undefined) q = q.where('scopes', 'like', `%${JSON.stringify(wanted)}%`)
    return sliced(q, slice).execute()
  })
  return { items: result.items.map(toApiKey), nextCursor: result.nextCursor }
}

/** Revocation acts on the next request. Revoking a revoked key answers the key as it is. */
export async function revokeApiKey(scope: TenantScope, id: string, by: Actor, now = new Date()): Promise<ApiKey> {
  const row = await scope.db
    .selectFrom('api_keys')
    .selectAll()
    .where('tenant_id', '=', scope.tenantId)
    .where('id', '=', id)
    .executeTakeFirst()
  if (!row) throw new AppError(404, 'not_found', `no API key ${id}`)
  if (row.revoked_at) return toApiKey(row)
  const revokedAt = now.toISOString()
  await scope.db
    .updateTable('api_keys')
    .set({ revoked_at: revokedAt })
    .where('tenant_id', '=', scope.tenantId)
    .where('id', '=', id)
    .execute()
  const revoked = toApiKey({ ...row, revoked_at: revokedAt })
  scope.emit('api_key.revoked', revoked)
  await recordAudit(scope, { type: 'api_key.revoked', actor: by.id, subject: id, ip: by.ip, detail: { name: row.name } })
  return revoked
}

/** Whether `presented` has the shape of a key this server mints; checked before any database read. */
export function looksLikeApiKey(presented: string, prefix: string): boolean {
  return (
    presented.length === prefix.length + SECRET_LENGTH &&
    presented.startsWith(prefix) &&
    /^[A-Za-z0-9_-]+$/.test(presented.slice(prefix.length))
  )
}

/** The tenant a key belongs to, by its digest (sha256Hex), whichever tenant is asking (the index holds digests only). */
export async function tenantOfKey(db: Kysely<DB>, digest: string): Promise<string | undefined> {
  const row = await db.selectFrom('api_key_index').select('tenant_id').where('key_hash', '=', digest).executeTakeFirst()
  return row?.tenant_id
}

/** A key's row as its checks need it: its principal made and its times as numbers, once per read. */
function checkedKey(row: DB['api_keys']): CheckedKey {
  const principal: Principal = { kind: 'api_key', id: row.id, tenantId: row.tenant_id, scopes: readJson<string[]>(row.scopes) }
  if (row.partner_id) principal.partnerId = row.partner_id
  if (row.program_id) principal.programId = row.program_id
  return {
    tenantId: row.tenant_id,
    principal: sharedPrincipal(principal),
    revoked: row.revoked_at !== null,
    expiresAt: row.expires_at ? Date.parse(row.expires_at) : Number.POSITIVE_INFINITY,
    lastUsedAt: row.last_used_at ? Date.parse(row.last_used_at) : Number.NEGATIVE_INFINITY,
  }
}

/**
 * The principal for a well-formed key, or null when it is unknown, revoked or expired. Every request a
 * key signs asks this, so it is one read outside a transaction (readTenantRow), or, for a key
 * remembered (auth/credential-cache.ts), an answer at once; the rare write, the throttled
 * `last_used_at`, takes a transaction of its own. `digest` is the key's sha256Hex.
 */
export function keyPrincipal(
  database: Database,
  withTenant: WithTenant,
  tenantId: string,
  digest: string,
  now = Date.now(),
): MaybePromise<Principal | null> {
  const keys = database.credentials.keys
  // Any write to api_keys but a last use forgets what is remembered (auth/credential-cache.ts).
  const remembered = keys.peek(digest, now)
  if (remembered) return admitKey(remembered, withTenant, tenantId, now)
  return keys
    .get(digest, async () => {
      const row = await readTenantRow(database, tenantId, 'api_keys', 'key_hash', digest)
      return row && checkedKey(row)
    })
    .then((checked) => (checked ? admitKey(checked, withTenant, tenantId, now) : null))
}

function admitKey(key: CheckedKey, withTenant: WithTenant, tenantId: string, now: number): MaybePromise<Principal | null> {
  // Another tenant's key is no key here: the strategy answers it as that tenant's resources are.
  if (key.tenantId !== tenantId || key.revoked || key.expiresAt <= now) return null
  if (key.lastUsedAt >= now - LAST_USED_RESOLUTION_MS) return key.principal
  // Moved before the write, so the requests arriving while it runs do not each write it again.
  key.lastUsedAt = now
  const at = new Date(now).toISOString()
  return withTenant(tenantId, (scope) =>
    scope.db
      .updateTable('api_keys')
      .set({ last_used_at: at })
      .where('id', '=', key.principal.id)
      .where('tenant_id', '=', scope.tenantId)
      .execute(),
  ).then(() => key.principal)
}
