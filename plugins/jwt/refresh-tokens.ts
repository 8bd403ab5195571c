/**
 * Refresh tokens: opaque, 256 random bits, stored as SHA-256, single use. Each sign-in starts a family
 * with an absolute end; each refresh spends the presented token and issues the next of the family.
 *
 * Spending is one conditional UPDATE (`… where used_at is null`), so of two refreshes racing with the
 * same token exactly one wins, on either database. A token presented after it was spent means it was
 * copied: the whole family is revoked, the thief's tokens and the owner's alike.
 */
import type { PluginTenantScope } from '../../src/plugins/contract.ts'

export interface IssuedRefresh {
  token: string
  familyId: string
  expiresAt: string
}

export type RefreshOutcome = { ok: true; userId: string; next: IssuedRefresh } | { ok: false; reason: 'unknown' | 'expired' | 'reused' }

const now = () => new Date().toISOString()

async function sha256Hex(value: string): Promise<string> {
  return new Bun.CryptoHasher('sha256').update(value).digest('hex')
}

function randomToken(): string {
  return Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString('base64url')
}

async function insert(scope: PluginTenantScope, userId: string, familyId: string, expiresAt: string): Promise<IssuedRefresh> {
  const token = randomToken()
  await scope.db
    .insertInto('jwt_refresh_tokens')
    .values({
      id: crypto.randomUUID(),
      tenant_id: scope.tenantId,
      family_id: familyId,
      user_id: userId,
      token_hash: await sha256Hex(token),
      created_at: now(),
      expires_at: expiresAt,
      used_at: null,
      revoked_at: null,
    })
    .execute()
  return { token, familyId, expiresAt }
}

export function startFamily(scope: PluginTenantScope, userId: string, lifetimeMs: number): Promise<IssuedRefresh> {
  return insert(scope, userId, crypto.randomUUID(), new Date(Date.now() + lifetimeMs).toISOString())
}

export async function rotate(scope: PluginTenantScope, presented: string): Promise<RefreshOutcome> {
  const hash = await sha256Hex(presented)
  const at = now()
  const spent = await scope.db
    .updateTable('jwt_refresh_tokens')
    .set({ used_at: at })
    .where('tenant_id', '=', scope.tenantId)
    .where('token_hash', '=', hash)
    .where('used_at', 'is', null)
    .where('revoked_at', 'is', null)
    .where('expires_at', '>', at)
    .returning(['user_id', 'family_id', 'expires_at'])
    .executeTakeFirst()
  if (spent) return { ok: true, userId: spent.user_id, next: await insert(scope, spent.user_id, spent.family_id, spent.expires_at) }

  const row = await scope.db
    .selectFrom('jwt_refresh_tokens')
    .select(['family_id', 'used_at', 'revoked_at', 'expires_at'])
    .where('tenant_id', '=', scope.tenantId)
    .where('token_hash', '=', hash)
    .executeTakeFirst()
  if (!row) return { ok: false, reason: 'unknown' }
  if (row.used_at && !row.revoked_at) {
    await revokeFamily(scope, row.family_id)
    return { ok: false, reason: 'reused' }
  }
  return { ok: false, reason: 'expired' }
}

export async function revokeFamily(scope: PluginTenantScope, familyId: string): Promise<void> {
  await scope.db
    .updateTable('jwt_refresh_tokens')
    .set({ revoked_at: now() })
    .where('tenant_id', '=', scope.tenantId)
    .where('family_id', '=', familyId)
    .where('revoked_at', 'is', null)
    .execute()
}

/** The family of a live or spent token, for sign-out. */
export async function familyOf(scope: PluginTenantScope, presented: string): Promise<string | undefined> {
  const row = await scope.db
    .selectFrom('jwt_refresh_tokens')
    .select('family_id')
    .where('tenant_id', '=', scope.tenantId)
    .where('token_hash', '=', await sha256Hex(presented))
    .executeTakeFirst()
  return row?.family_id
}
