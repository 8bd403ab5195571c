/**
 * Which partners a caller reaches. A partner is one person across the tenant's programs; a key bound
 * to one program (auth/binding.ts) reaches only the partners enrolled in it: it lists and reads
 * those, a partner it creates joins its program, and it changes a partner as a whole (its record,
 * status, portal access, postbacks) only when the partner is in no other program, since the change
 * would reach those programs too. Anyone else with the route's scope reaches every partner. The
 * routes and the plugins' program facet both go through here; lists filter by the program that
 * confineProgram gives (auth/binding.ts).
 */
import { confineProgram } from '../auth/binding.ts'
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

/**
 * Creates a partner; one a bound key creates joins its program (else the key could never see it
 * again), and it joins the programs named in `programIds` (OpenPartner's grants): one the caller
 * cannot reach is not found, one that does not exist is 400 unknown_campaign_ids (OpenPartner's
 * code, with the `missing` ids), before anything is written.
 */
export async function createPartnerAs(
  scope: TenantScope,
  principal: Principal,
  input: Parameters<typeof createPartner>[1] & { programIds?: string[] },
): Promise<Partner> {
  const { programIds = [], ...fields } = input
  const named = [...new Set(programIds.map((id) => confineProgram(principal, id)!))]
  if (named.length > 0) {
    const found = new Set(
      (await scope.db.selectFrom('programs').select('id').where('tenant_id', '=', scope.tenantId).where('id', 'in', named).execute()).map(
        (p) => p.id,
      ),
    )
    const missing = named.filter((id) => !found.has(id))
    if (missing.length > 0) {
      throw new AppError(400, 'unknown_campaign_ids', `no program ${missing.join(', ')}`, undefined, { missing })
    }
  }
  const partner = await createPartner(scope, fields)
  for (const programId of new Set([...(principal.programId ? [principal.programId] : []), ...named]))
    await enrol(scope, partner.id, programId)
  return partner
}
