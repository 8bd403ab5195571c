/**
 * Partners as people: the invitation that makes a partner's portal user, and what revoking a partner
 * takes away (its keys, its sessions). The invitation mail itself is sent by whichever sign-in plugin
 * subscribes to `partner.invited` (the magic plugin mails a sign-in link), so that the core holds no
 * sign-in method of its own.
 */
import { isoNow } from '../db/codec.ts'
import type { TenantScope } from '../db/with-tenant.ts'
import { AppError } from '../errors.ts'
import { addMembership, createUser, findUserRowByEmail } from '../users/service.ts'
import { getPartner, toPartner } from './service.ts'

/** What one partner may hold of its own making; refused past it with 409 quota_exceeded. */
export const PARTNER_QUOTAS = { apiKeys: 10, links: 200 }

/** The partner's use of its quotas, as `GET /me` shows it. */
export async function partnerQuotas(scope: TenantScope, partnerId: string) {
  const count = async (table: 'api_keys' | 'links', live: 'revoked_at' | 'archived_at') =>
    Number(
      (
        await scope.db
          .selectFrom(table)
          .select((eb) => eb.fn.countAll<number | string>().as('n'))
          .where('tenant_id', '=', scope.tenantId)
          .where('partner_id', '=', partnerId)
          .where(live, 'is', null)
          .executeTakeFirstOrThrow()
      ).n,
    )
  return {
    api_keys: { used: await count('api_keys', 'revoked_at'), limit: PARTNER_QUOTAS.apiKeys },
    links: { used: await count('links', 'archived_at'), limit: PARTNER_QUOTAS.links },
  }
}

export async function assertWithinQuota(scope: TenantScope, partnerId: string, what: 'api_keys' | 'links'): Promise<void> {
  const quota = (await partnerQuotas(scope, partnerId))[what]
  if (quota.used >= quota.limit) throw new AppError(409, 'quota_exceeded', `a partner may hold ${quota.limit} ${what.replace('_', ' ')}`)
}

/** Whether invitations can be sent (a sign-in plugin mails them), and where a tenant's partners sign in. */
export interface Invitations {
  /** 409 invitations_unavailable when no sign-in plugin mails invitations (enable magic). */
  assertAvailable(): void
  /** `/api` or `/api/t/<slug>`: the sign-in link in the mail points there. */
  apiBase(tenant: { slug: string }): string
}

export function invitations(mode: 'single' | 'multi', canInvite: () => boolean): Invitations {
  return {
    assertAvailable() {
      if (!canInvite()) throw new AppError(409, 'invitations_unavailable', 'no sign-in plugin mails invitations: enable the magic plugin')
    },
    apiBase: (tenant) => (mode === 'single' ? '/api' : `/api/t/${tenant.slug}`),
  }
}

export interface Invitation {
  partnerId: string
  email: string
  userId: string
  invitedAt: string
}

/**
 * `apiBase` is where the partner signs in (`/api` or `/api/t/<slug>`); it goes into the mail. A
 * partner that accepted already (signed in, or was made needing no invitation) is 409
 * `already_activated`: it signs in with its email from now on.
 */
export async function invitePartner(scope: TenantScope, partnerId: string, apiBase: string): Promise<Invitation> {
  const partner = await getPartner(scope, partnerId)
  if (partner.status === 'revoked') throw new AppError(409, 'partner_revoked', 'reinstate the partner before inviting it')
  if (partner.activatedAt) {
    throw new AppError(
      409,
      'already_activated',
      `the partner accepted its invitation at ${partner.activatedAt}; it signs in with its email`,
    )
  }
  const user =
    (await findUserRowByEmail(scope.db, partner.email)) ??
    (await createUser(scope.db, { email: partner.email, name: partner.name ?? undefined }))
  const membership = await scope.db
    .selectFrom('memberships')
    .select(['role', 'partner_id'])
    .where('tenant_id', '=', scope.tenantId)
    .where('user_id', '=', user.id)
    .executeTakeFirst()
  if (!membership) await addMembership(scope, user.id, 'partner', partner.id)
  else if (membership.partner_id !== partner.id) {
    throw new AppError(409, 'already_member', `${partner.email} already belongs to this organization in another role`)
  }
  const invitation = { partnerId: partner.id, email: partner.email, userId: user.id, invitedAt: isoNow() }
  scope.emit('partner.invited', { ...invitation, apiBase })
  return invitation
}

/**
 * A portal user signed in: its partner, if it had not accepted yet, has now (`partner.accepted`).
 * One guarded update, so two first sign-ins at once accept it once.
 */
export async function recordAcceptance(scope: TenantScope, userId: string): Promise<void> {
  const accepted = await scope.db
    .updateTable('partners')
    .set({ activated_at: isoNow() })
    .where('tenant_id', '=', scope.tenantId)
    .where('activated_at', 'is', null)
    .where('id', 'in', (eb) =>
      eb
        .selectFrom('memberships')
        .select('partner_id')
        .where('tenant_id', '=', scope.tenantId)
        .where('user_id', '=', userId)
        .where('partner_id', 'is not', null),
    )
    .returningAll()
    .execute()
  for (const row of accepted) scope.emit('partner.accepted', toPartner(row))
}

/** Revoking a partner ends what it could still do: its API keys and its portal users' sessions here. */
export async function endPartnerAccess(scope: TenantScope, partnerId: string): Promise<void> {
  const now = isoNow()
  await scope.db
    .updateTable('api_keys')
    .set({ revoked_at: now })
    .where('tenant_id', '=', scope.tenantId)
    .where('partner_id', '=', partnerId)
    .where('revoked_at', 'is', null)
    .execute()
  const users = await scope.db
    .selectFrom('memberships')
    .select('user_id')
    .where('tenant_id', '=', scope.tenantId)
    .where('partner_id', '=', partnerId)
    .execute()
  if (users.length === 0) return
  await scope.db
    .deleteFrom('sessions')
    .where(
      'user_id',
      'in',
      users.map((u) => u.user_id),
    )
    .where('active_tenant_id', '=', scope.tenantId)
    .execute()
}
