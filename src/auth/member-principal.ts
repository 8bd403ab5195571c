/**
 * A signed-in person as a principal of the tenant in the URL, whatever proved who they are (a session
 * cookie, a JWT). The role comes from the membership, read on every request. Single mode: no
 * membership is 400 no_active_organization. Multi mode: the organization is the one in the URL, and a
 * person not in it gets the 404 of a foreign tenant.
 */
import type { Config } from '../config/schema.ts'
import type { WithTenant } from '../db/with-tenant.ts'
import { AppError } from '../errors.ts'
import type { Tenant } from '../tenants/service.ts'
import { roleIn } from '../users/service.ts'
import type { Principal } from './principal.ts'

/** A revoked partner's portal users keep their accounts but reach nothing until it is reinstated. */
async function assertPartnerActive(withTenant: WithTenant, tenantId: string, partnerId: string): Promise<void> {
  const partner = await withTenant(tenantId, (scope) =>
    scope.db.selectFrom('partners').select('status').where('tenant_id', '=', tenantId).where('id', '=', partnerId).executeTakeFirst(),
  )
  if (partner?.status !== 'active') throw new AppError(403, 'partner_revoked', 'this partner has been revoked')
}

import { ROLE_SCOPES } from './roles.ts'

export async function memberPrincipal(
  mode: Config['mode'],
  withTenant: WithTenant,
  tenant: Tenant,
  userId: string,
  extra: Pick<Principal, 'sessionId'> = {},
): Promise<Principal> {
  const membership = await withTenant(tenant.id, (scope) => roleIn(scope, userId))
  if (!membership) {
    if (mode === 'single') throw new AppError(400, 'no_active_organization', 'this account belongs to no organization here')
    throw new AppError(404, 'tenant_not_found', `no tenant ${tenant.slug}`)
  }
  const { role, partnerId } = membership
  if (partnerId) await assertPartnerActive(withTenant, tenant.id, partnerId)
  return { kind: 'user', id: userId, tenantId: tenant.id, scopes: ROLE_SCOPES[role], role, ...(partnerId ? { partnerId } : {}), ...extra }
}
