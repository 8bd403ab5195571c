/**
 * What integration plugins (Zapier, ActivePieces, CRMs) may do with the program on a tenant's behalf:
 * the same services the API routes use, so the rules (validation, events, webhooks) are the same.
 * Every call names its caller: the facet checks the scope the matching API route needs and applies a
 * program-bound key's program (partners/reach.ts, auth/binding.ts), so a plugin route that forgot
 * its `auth` scopes still cannot act beyond them, nor a bound key beyond its program.
 */
import { confineProgram } from '../auth/binding.ts'
import { authorize } from '../auth/guard.ts'
import type { Caller } from '../auth/principal.ts'
import type { Scope } from '../auth/scopes.ts'
import { type Commission, listCommissions } from '../commissions/service.ts'
import type { CommissionStatus } from '../db/schema.ts'
import type { TenantScope, WithTenant } from '../db/with-tenant.ts'
import { createPartnerAs } from '../partners/reach.ts'
import { listPartners, type Partner } from '../partners/service.ts'
import { listPayouts, type Payout } from '../payouts/service.ts'
import { createEndpoint, deleteEndpoint, type WebhookEndpoint } from '../webhooks/endpoints.ts'

export interface ProgramFacet {
  createPartner(caller: Caller, input: { email: string; name?: string; metadata?: Record<string, unknown> }): Promise<Partner>
  /** Newest first (ids are ULIDs), for polling triggers and their samples. */
  recentPartners(caller: Caller, limit: number): Promise<Partner[]>
  recentCommissions(caller: Caller, limit: number, status?: CommissionStatus): Promise<Commission[]>
  recentPayouts(caller: Caller, limit: number, status?: Payout['status']): Promise<Payout[]>
  /** A webhook endpoint for a REST-hook subscription (such callers do not check signatures). */
  subscribe(caller: Caller, input: { url: string; events: string[]; label: string }): Promise<WebhookEndpoint>
  unsubscribe(caller: Caller, endpointId: string): Promise<void>
}

export function programFacet(withTenant: WithTenant, allowHosts: readonly string[]): ProgramFacet {
  /** Runs `fn` for the caller once the scope checks out; reads in a read-only transaction. */
  const as = <T>(caller: Caller, scope: Scope, fn: (s: TenantScope) => Promise<T>, readOnly = false) => {
    authorize(caller.principal, { scopes: [scope] }, caller.tenant)
    return withTenant(caller.tenant.id, fn, { readOnly })
  }
  return {
    createPartner: (caller, input) => as(caller, 'partners:write', (s) => createPartnerAs(s, caller.principal, input)),
    recentPartners: (caller, limit) =>
      as(
        caller,
        'partners:read',
        async (s) => (await listPartners(s, { limit, order: 'newest', programId: confineProgram(caller.principal, undefined) })).items,
        true,
      ),
    recentCommissions: (caller, limit, status) =>
      as(
        caller,
        'commissions:read',
        async (s) =>
          (await listCommissions(s, { limit, order: 'newest', status, programId: confineProgram(caller.principal, undefined) })).items,
        true,
      ),
    recentPayouts: (caller, limit, status) =>
      as(caller, 'payouts:manage', async (s) => (await listPayouts(s, { limit, order: 'newest', status })).items, true),
    subscribe: (caller, input) =>
      as(caller, 'webhooks:manage', async (s) => {
        const { secret: _secret, ...endpoint } = await createEndpoint(s, input, allowHosts)
        return endpoint
      }),
    unsubscribe: (caller, endpointId) => as(caller, 'webhooks:manage', (s) => deleteEndpoint(s, endpointId)),
  }
}
