/**
 * What integration plugins (Zapier, ActivePieces, CRMs) may do with the program on a tenant's behalf:
 * the same services the API routes use, so the rules (validation, events, webhooks) are the same.
 */
import { type Commission, toCommission } from '../commissions/service.ts'
import type { CommissionStatus } from '../db/schema.ts'
import type { WithTenant } from '../db/with-tenant.ts'
import { createPartner, type Partner, toPartner } from '../partners/service.ts'
import { type Payout, toPayout } from '../payouts/service.ts'
import { createEndpoint, deleteEndpoint, type WebhookEndpoint } from '../webhooks/endpoints.ts'

export interface ProgramFacet {
  createPartner(tenantId: string, input: { email: string; name?: string; metadata?: Record<string, unknown> }): Promise<Partner>
  /** Newest first (ids are ULIDs), for polling triggers and their samples. */
  recentPartners(tenantId: string, limit: number): Promise<Partner[]>
  recentCommissions(tenantId: string, limit: number, status?: CommissionStatus): Promise<Commission[]>
  recentPayouts(tenantId: string, limit: number, status?: Payout['status']): Promise<Payout[]>
  /** A webhook endpoint for a REST-hook subscription (such callers do not check signatures). */
  subscribe(tenantId: string, input: { url: string; events: string[]; label: string }): Promise<WebhookEndpoint>
  unsubscribe(tenantId: string, endpointId: string): Promise<void>
}

export function programFacet(withTenant: WithTenant, allowHosts: readonly string[]): ProgramFacet {
  return {
    createPartner: (tenantId, input) => withTenant(tenantId, (scope) => createPartner(scope, input)),
    recentPartners: (tenantId, limit) =>
      withTenant(tenantId, async (scope) =>
        (
          await scope.db
            .selectFrom('partners')
            .selectAll()
            .where('tenant_id', '=', scope.tenantId)
            .orderBy('id', 'desc')
            .limit(limit)
            .execute()
        ).map(toPartner),
      ),
    recentCommissions: (tenantId, limit, status) =>
      withTenant(tenantId, async (scope) => {
        let q = scope.db.selectFrom('commissions').selectAll().where('tenant_id', '=', scope.tenantId)
        if (status) q = q.where('status', '=', status)
        return (await q.orderBy('id', 'desc').limit(limit).execute()).map(toCommission)
      }),
    recentPayouts: (tenantId, limit, status) =>
      withTenant(tenantId, async (scope) => {
        let q = scope.db.selectFrom('payouts').selectAll().where('tenant_id', '=', scope.tenantId)
        if (status) q = q.where('status', '=', status)
        return (await q.orderBy('id', 'desc').limit(limit).execute()).map(toPayout)
      }),
    subscribe: (tenantId, input) =>
      withTenant(tenantId, async (scope) => {
        const { secret: _secret, ...endpoint } = await createEndpoint(scope, input, allowHosts)
        return endpoint
      }),
    unsubscribe: (tenantId, endpointId) => withTenant(tenantId, (scope) => deleteEndpoint(scope, endpointId)),
  }
}
