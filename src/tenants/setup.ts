/**
 * Setting up an organization: the first start of an empty one prints a one-time link
 * (`<public_url>/setup?token=…`, or `/t/<slug>/setup?token=…`), valid 24 hours and usable once, and
 * whoever opens it becomes the organization's first owner. Only the token's digest is stored. A new
 * link can be asked for (`partnerd setup-link`) while the organization has no owner.
 */
import { recordAudit } from '../audit/service.ts'
import { randomSecret, sha256Hex } from '../auth/secrets.ts'
import type { TenantScope } from '../db/with-tenant.ts'
import { AppError } from '../errors.ts'
import { newId } from '../ids.ts'
import { addMembership, createUser, findUserRowByEmail, normalizeEmail, verifyPassword } from '../users/service.ts'

const LIFETIME_MS = 24 * 3_600_000

/** Where the setup page of a tenant is: `/setup` in single mode, `/t/<slug>/setup` in multi mode. */
export function setupLink(publicUrl: string, mode: 'single' | 'multi', slug: string, token: string): string {
  return `${publicUrl.replace(/\/$/, '')}${mode === 'multi' ? `/t/${slug}` : ''}/setup?token=${token}`
}

export async function hasOwner(scope: TenantScope): Promise<boolean> {
  const row = await scope.db
    .selectFrom('memberships')
    .select('id')
    .where('tenant_id', '=', scope.tenantId)
    .where('role', '=', 'owner')
    .executeTakeFirst()
  return row !== undefined
}

/** A new setup token (shown once); refused once the organization has an owner. */
export async function issueSetupToken(scope: TenantScope, now = new Date()): Promise<{ token: string; expiresAt: string }> {
  if (await hasOwner(scope))
    throw new AppError(409, 'already_set_up', 'this organization has an owner: they can invite people from the console')
  const token = randomSecret(32)
  const expiresAt = new Date(now.getTime() + LIFETIME_MS).toISOString()
  await scope.db
    .insertInto('setup_tokens')
    .values({
      id: newId('setupToken'),
      tenant_id: scope.tenantId,
      token_hash: sha256Hex(token),
      created_at: now.toISOString(),
      expires_at: expiresAt,
      used_at: null,
    })
    .execute()
  return { token, expiresAt }
}

/** Whether the token opens setup now: known, unused, unexpired, and no owner yet. */
export async function setupTokenValid(scope: TenantScope, token: string, now = new Date()): Promise<boolean> {
  const row = await scope.db
    .selectFrom('setup_tokens')
    .select(['used_at', 'expires_at'])
    .where('tenant_id', '=', scope.tenantId)
    .where('token_hash', '=', sha256Hex(token))
    .executeTakeFirst()
  return row !== undefined && row.used_at === null && row.expires_at > now.toISOString() && !(await hasOwner(scope))
}

export const SETUP_LINK_INVALID = new AppError(
  410,
  'setup_link_invalid',
  'this setup link was already used or has expired; ask the operator for a new one (partnerd setup-link)',
)

/**
 * Makes the first owner and spends the token, in one transaction: two people opening the same link
 * cannot both succeed (the token's row is claimed by its update). An email that already has an
 * account (in another organization) becomes owner only with that account's password.
 */
export async function completeSetup(
  scope: TenantScope,
  token: string,
  input: { email: string; name?: string; password: string },
  ip: string | undefined,
  now = new Date(),
): Promise<{ userId: string }> {
  const email = normalizeEmail(input.email)
  const claimed = await scope.db
    .updateTable('setup_tokens')
    .set({ used_at: now.toISOString() })
    .where('tenant_id', '=', scope.tenantId)
    .where('token_hash', '=', sha256Hex(token))
    .where('used_at', 'is', null)
    .where('expires_at', '>', now.toISOString())
    .executeTakeFirst()
  if (Number(claimed.numUpdatedRows) !== 1 || (await hasOwner(scope))) throw SETUP_LINK_INVALID
  let userId: string
  if (await findUserRowByEmail(scope.db, email)) {
    const user = await verifyPassword(scope.db, email, input.password)
    if (!user) throw new AppError(409, 'email_taken', 'this email already has an account: enter that account’s password')
    userId = user.id
  } else {
    userId = (await createUser(scope.db, { email, name: input.name, password: input.password })).id
  }
  await addMembership(scope, userId, 'owner')
  await recordAudit(scope, { type: 'setup.completed', actor: userId, subject: userId, ip: ip ?? null, detail: { email } })
  return { userId }
}
