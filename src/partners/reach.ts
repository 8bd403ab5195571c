/**
 * Which partners a caller reaches. A partner is one person across the tenant's programs; a key bound
 * to one program (auth/binding.ts) reaches only the partners enrolled in it: it lists and reads
 * those, a partner it creates joins its program, and it changes a partner as a whole (its record,
 * status, portal access, postbacks) only when the partner is in no other program, since the change
 * would reach those programs too. Anyone else with the route's scope reaches every partner. The
 * routes and the plugins' program facet both go through here; lists filter by the program that
 * confineProgram gives (auth/binding.ts).
 */
import type { Principal } from '../auth/principal.ts'
import type { TenantScope } from '../db/with-tenant.ts'
import { AppError } from '../errors.ts'
import { enrol } from '../programs/enrolments.ts'
import { createPartner, getPartner, type Partner } from './service.ts'

/** What the caller means to do with the partner: read it (or what it earned here), or change it. */
export type PartnerUse = 'read' | 'change'

/** The partner, or 404 when it lies outside what the caller reaches (as another tenant's would). */
export async function reachPartner(scope: TenantScope, principal: Principal, partnerId: string, use: PartnerUse): Promise<Partner> {
  const partner = await getPartner(scope, partnerId)
  const bound = principal.programId
  if (!bound) return partner
  const programs = (
    await scope.db
      .selectFrom('enrolments')
      .select('program_id')
      .where('tenant_id', '=', scope.tenantId)
      .where('partner_id', '=', partnerId)
      .execute()
  ).map((e) => e.program_id)
  if (!programs.includes(bound)) throw new AppError(404, 'not_found', `no partner ${partnerId}`)
  if (use === 'change' && programs.length > 1) {
    throw new AppError(
      403,
      'partner_in_other_programs',
      'this partner is in other programs too: a key bound to one program cannot change it for all of them',
    )
  }
  return partner
}

/** Creates a partner; one a bound key creates joins its program (else the key could never see it again). */
export async function createPartnerAs(
  scope: TenantScope,
  principal: Principal,
  input: Parameters<typeof createPartner>[1],
): Promise<Partner> {
  const partner = await createPartner(scope, input)
  if (principal.programId) await enrol(scope, partner.id, principal.programId)
  return partner
}
