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
import type { Principal } from './principal.ts'
import { ROLE_SCOPES } from './roles.ts'

/**
 * Every request a person signs makes both reads (the role, and a portal user's partner), so each is
 * one statement outside a transaction (readTenantRow).
 */
export async function memberPrincipal(
  mode: Config['mode'],
  database: Database,
  tenant: Tenant,
  userId: string,
  extra: Pick<Principal, 'sessionId'> = {},
): Promise<Principal> {
  // As read at most a few seconds ago: a role change, a removal or a partner's revocation forgets it (auth/credential-cache.ts).
  const standing = await database.credentials.members.get(`${tenant.id}:${userId}`, async () => {
    const membership = await roleOf(database, tenant.id, userId)
    if (!membership) return undefined
    const partnerActive = membership.partnerId
      ? (await readTenantRow(database, tenant.id, 'partners', 'id', membership.partnerId))?.status === 'active'
      : true
    return { ...membership, partnerActive }
  })
  if (!standing) {
    if (mode === 'single') throw new AppError(400, 'no_active_organization', 'this account belongs to no organization here')
    throw new AppError(404, 'tenant_not_found', `no tenant ${tenant.slug}`)
  }
  const { partnerId } = standing
  const role = standing.role as TenantRole['role']
  // A revoked partner's portal users keep their accounts but reach nothing until it is reinstated.
  if (!standing.partnerActive) throw new AppError(403, 'partner_revoked', 'this partner has been revoked')
  return { kind: 'user', id: userId, tenantId: tenant.id, scopes: ROLE_SCOPES[role], role, ...(partnerId ? { partnerId } : {}), ...extra }
}
