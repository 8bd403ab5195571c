/**
 * One-time account links, each used once before it expires, only its token's digest stored:
 *
 * - setup (`<public_url>/setup?token=…`, `/t/<slug>/setup?token=…` in multi mode), 24 hours: printed
 *   on the first start of an empty organization (or by `partnerd setup-link` while it has no owner);
 *   whoever opens it becomes the organization's first owner.
 * - invitation (`…/welcome?token=…`), 7 days: made when a team member without a password is added,
 *   mailed to them and shown once to whoever added them; it lets them choose their password.
 */
import { recordAudit } from '../audit/service.ts'
import { randomSecret, sha256Hex } from '../auth/secrets.ts'
import type { DB } from '../db/schema.ts'
import type { TenantScope } from '../db/with-tenant.ts'
import { AppError } from '../errors.ts'
import { newId } from '../ids.ts'
import { addMembership, createUser, findUserRowByEmail, normalizeEmail, setPassword, verifyPassword } from './service.ts'

type Purpose = DB['account_links']['purpose']
const LIFETIME_MS: Record<Purpose, number> = { setup: 24 * 3_600_000, invitation: 7 * 86_400_000 }
const PAGE: Record<Purpose, string> = { setup: 'setup', invitation: 'welcome' }

/** The link's URL: the page of the purpose, in the tenant's pages. */
export function accountLink(publicUrl: string, mode: 'single' | 'multi', slug: string, purpose: Purpose, token: string): string {
  return `${publicUrl.replace(/\/$/, '')}${mode === 'multi' ? `/t/${slug}` : ''}/${PAGE[purpose]}?token=${token}`
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

async function issue(
  scope: TenantScope,
  purpose: Purpose,
  userId: string | null,
  now: Date,
): Promise<{ token: string; expiresAt: string }> {
  const token = randomSecret(32)
  const expiresAt = new Date(now.getTime() + LIFETIME_MS[purpose]).toISOString()
  await scope.db
    .insertInto('account_links')
    .values({
      id: newId('accountLink'),
      tenant_id: scope.tenantId,
      purpose,
      user_id: userId,
      token_hash: sha256Hex(token),
      created_at: now.toISOString(),
      expires_at: expiresAt,
      used_at: null,
    })
    .execute()
  return { token, expiresAt }
}

/** A new setup token (shown once); refused once the organization has an owner. */
export async function issueSetupToken(scope: TenantScope, now = new Date()): Promise<{ token: string; expiresAt: string }> {
  if (await hasOwner(scope))
    throw new AppError(409, 'already_set_up', 'this organization has an owner: they can invite people from the console')
  return issue(scope, 'setup', null, now)
}

/** An invitation for a member to choose their password (shown once, and mailed). */
export function issueInvitation(scope: TenantScope, userId: string, now = new Date()): Promise<{ token: string; expiresAt: string }> {
  return issue(scope, 'invitation', userId, now)
}

/** The link's row when it opens its page now: known, of this purpose, unused, unexpired. */
export async function openLink(scope: TenantScope, purpose: Purpose, token: string, now = new Date()) {
  const row = await scope.db
    .selectFrom('account_links')
    .selectAll()
    .where('tenant_id', '=', scope.tenantId)
    .where('token_hash', '=', sha256Hex(token))
    .where('purpose', '=', purpose)
    .executeTakeFirst()
  if (!row || row.used_at !== null || row.expires_at <= now.toISOString()) return undefined
  if (purpose === 'setup' && (await hasOwner(scope))) return undefined
  return row
}

export const LINK_SPENT = new AppError(410, 'link_invalid', 'this link was already used or has expired; ask for a new one')

/** Spends the link: one of two people opening the same link wins (the row is claimed by its update). */
async function spend(scope: TenantScope, purpose: Purpose, token: string, now: Date) {
  const row = await openLink(scope, purpose, token, now)
  if (!row) throw LINK_SPENT
  const claimed = await scope.db
    .updateTable('account_links')
    .set({ used_at: now.toISOString() })
    .where('tenant_id', '=', scope.tenantId)
    .where('id', '=', row.id)
    .where('used_at', 'is', null)
    .executeTakeFirst()
  if (Number(claimed.numUpdatedRows) !== 1) throw LINK_SPENT
  return row
}

/**
 * Makes the first owner and spends the setup link, in one transaction. An email that already has an
 * account (in another organization) becomes owner only with that account's password.
 */
export async function completeSetup(
  scope: TenantScope,
  token: string,
  input: { email: string; name?: string; password?: string },
  ip: string | undefined,
  now = new Date(),
): Promise<{ userId: string }> {
  const email = normalizeEmail(input.email)
  await spend(scope, 'setup', token, now)
  let userId: string
  if (await findUserRowByEmail(scope.db, email)) {
    // An account that exists is joined only by whoever knows its password.
    const user = input.password === undefined ? null : await verifyPassword(scope.db, email, input.password)
    if (!user) throw new AppError(409, 'email_taken', 'this email already has an account: enter that account’s password')
    userId = user.id
  } else {
    userId = (await createUser(scope.db, { email, name: input.name, password: input.password })).id
  }
  await addMembership(scope, userId, 'owner')
  await recordAudit(scope, { type: 'setup.completed', actor: userId, subject: userId, ip: ip ?? null, detail: { email } })
  return { userId }
}

/** The invited member chooses a password (their email is proven: the link came by mail); spends the link. */
export async function acceptInvitation(
  scope: TenantScope,
  token: string,
  password: string,
  ip: string | undefined,
  now = new Date(),
): Promise<{ userId: string }> {
  const row = await spend(scope, 'invitation', token, now)
  const userId = row.user_id!
  await setPassword(scope.db, userId, password, { emailVerified: true })
  await recordAudit(scope, { type: 'invitation.accepted', actor: userId, subject: userId, ip: ip ?? null })
  return { userId }
}
