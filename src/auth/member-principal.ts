/**
 * A signed-in person as a principal of the tenant in the URL, whatever proved who they are (a session
 * cookie, a JWT). The role comes from the membership, read on every request. Single mode: no
 * membership is 400 no_active_organization. Multi mode: the organization is the one in the URL, and a
 * person not in it gets the 404 of a foreign tenant.
 */
import type { Config } from '../config/schema.ts'
import type { Database } from '../db/database.ts'
import { readTenantRow } from '../db/with-tenant.ts'
import { AppError } from '../errors.ts'
import type { Tenant } from '../tenants/service.ts'
import { roleOf, type TenantRole } from '../users/service.ts'
import type { MemberStanding } from './credential-cache.ts'
import type { MaybePromise, Principal } from './principal.ts'
import { ROLE_SCOPES } from './roles.ts'

/**
 * Every request a person signs makes both reads (the role, and a portal user's partner), so each is
 * one statement outside a transaction (readTenantRow), and a standing remembered is answered at once,
 * with no promise (the common request of a signed-in person).
 */
export function principalOfMember(
  mode: Config['mode'],
  database: Database,
  tenant: Tenant,
  userId: string,
  sessionId?: string,
): MaybePromise<Principal> {
  // As read at most a few seconds ago: a role change, a removal or a partner's revocation forgets it (auth/credential-cache.ts).
  const members = database.credentials.members
  const key = `${tenant.id}:${userId}`
  const remembered = members.peek(key)
  if (remembered) return memberAs(mode, tenant, userId, remembered, sessionId)
  return members
    .get(key, async () => {
      const membership = await roleOf(database, tenant.id, userId)
      if (!membership) return undefined
      const partnerActive = membership.partnerId
        ? (await readTenantRow(database, tenant.id, 'partners', 'id', membership.partnerId))?.status === 'active'
        : true
      return { ...membership, partnerActive }
    })
    .then((standing) => memberAs(mode, tenant, userId, standing, sessionId))
}

/** The same, always as a promise. */
export async function memberPrincipal(
  mode: Config['mode'],
  database: Database,
  tenant: Tenant,
  userId: string,
  extra: Pick<Principal, 'sessionId'> = {},
): Promise<Principal> {
  return principalOfMember(mode, database, tenant, userId, extra.sessionId)
}

function memberAs(
  mode: Config['mode'],
  tenant: Tenant,
  userId: string,
  standing: MemberStanding | undefined,
  sessionId?: string,
): Principal {
  if (!standing) {
    if (mode === 'single') throw new AppError(400, 'no_active_organization', 'this account belongs to no organization here')
    throw new AppError(404, 'tenant_not_found', `no tenant ${tenant.slug}`)
  }
  // A revoked partner's portal users keep their accounts but reach nothing until it is reinstated.
  if (!standing.partnerActive) throw new AppError(403, 'partner_revoked', 'this partner has been revoked')
  const role = standing.role as TenantRole['role']
  // Built field by field rather than spread: this is made on every request a person signs.
  const principal: Principal = { kind: 'user', id: userId, tenantId: tenant.id, scopes: ROLE_SCOPES[role], role }
  if (standing.partnerId) principal.partnerId = standing.partnerId
  if (sessionId !== undefined) principal.sessionId = sessionId
  return principal
}
