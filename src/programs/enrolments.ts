/**
 * Enrolments: a partner in a program, with the program's terms as they stood when the partner joined.
 * Commissions are computed from these terms, so changing a program's rules does not change what
 * partners already enrolled were promised (grandfathering) until their terms are refreshed.
 */
import { readJson, writeJson } from '../db/codec.ts'
import { isUniqueViolation } from '../db/errors.ts'
import { fetchPage, type Page, type PageRequest, sliced } from '../db/pagination.ts'
import type { DB } from '../db/schema.ts'
import type { TenantScope } from '../db/with-tenant.ts'
import { AppError } from '../errors.ts'
import { newId } from '../ids.ts'
import { getPartner } from '../partners/service.ts'
import { formatRules, type RuleInput, type StoredRule } from './rules.ts'

export interface Terms {
  rules: StoredRule[]
  holdbackDays: number
}

export interface Enrolment {
  id: string
  partnerId: string
  programId: string
  terms: { rules: RuleInput[]; holdbackDays: number }
  createdAt: string
  updatedAt: string
}

function toEnrolment(row: DB['enrolments'], currency: string): Enrolment {
  const terms = readJson<Terms>(row.terms)
  return {
    id: row.id,
    partnerId: row.partner_id,
    programId: row.program_id,
    terms: { rules: formatRules(terms.rules, currency), holdbackDays: terms.holdbackDays },
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  }
}

async function programTerms(scope: TenantScope, programId: string): Promise<{ terms: Terms; currency: string; status: string }> {
  const program = await scope.db
    .selectFrom('programs')
    .select(['rules', 'holdback_days', 'currency', 'status'])
    .where('tenant_id', '=', scope.tenantId)
    .where('id', '=', programId)
    .executeTakeFirst()
  if (!program) throw new AppError(404, 'not_found', `no program ${programId}`)
  return { terms: currentTerms(program), currency: program.currency, status: program.status }
}

/** A program's terms as they stand: what a partner enrolled now is given, and what one not enrolled earns by. */
export function currentTerms(program: Pick<DB['programs'], 'rules' | 'holdback_days'>): Terms {
  return { rules: readJson<StoredRule[]>(program.rules), holdbackDays: program.holdback_days }
}

/** Enrols the partner unless already enrolled; `created` says which. */
export async function enrol(scope: TenantScope, partnerId: string, programId: string): Promise<{ enrolment: Enrolment; created: boolean }> {
  const partner = await getPartner(scope, partnerId)
  const { terms, currency, status } = await programTerms(scope, programId)
  const existing = await findEnrolmentRow(scope, partnerId, programId)
  if (existing) return { enrolment: toEnrolment(existing, currency), created: false }
  if (status === 'archived') throw new AppError(409, 'program_archived', 'an archived program takes no new partners')
  if (partner.status === 'revoked') throw new AppError(409, 'partner_revoked', 'a revoked partner cannot join a program')
  const now = new Date().toISOString()
  const row: DB['enrolments'] = {
    id: newId('enrolment'),
    tenant_id: scope.tenantId,
    partner_id: partnerId,
    program_id: programId,
    terms: writeJson(terms),
    created_at: now,
    updated_at: now,
  }
  try {
    await scope.db.insertInto('enrolments').values(row).execute()
  } catch (err) {
    if (isUniqueViolation(err)) throw new AppError(409, 'already_enrolled', 'the partner joined this program a moment ago')
    throw err
  }
  const enrolment = toEnrolment(row, currency)
  scope.emit('partner.enrolled', enrolment)
  return { enrolment, created: true }
}

export async function findEnrolmentRow(scope: TenantScope, partnerId: string, programId: string) {
  return scope.db
    .selectFrom('enrolments')
    .selectAll()
    .where('tenant_id', '=', scope.tenantId)
    .where('partner_id', '=', partnerId)
    .where('program_id', '=', programId)
    .executeTakeFirst()
}

/** Gives an enrolled partner the program's current terms. */
export async function refreshTerms(scope: TenantScope, partnerId: string, programId: string): Promise<Enrolment> {
  const { terms, currency } = await programTerms(scope, programId)
  const row = await findEnrolmentRow(scope, partnerId, programId)
  if (!row) throw new AppError(404, 'not_found', `partner ${partnerId} is not enrolled in ${programId}`)
  const updated = { ...row, terms: writeJson(terms), updated_at: new Date().toISOString() }
  await scope.db
    .updateTable('enrolments')
    .set({ terms: updated.terms, updated_at: updated.updated_at })
    .where('tenant_id', '=', scope.tenantId)
    .where('id', '=', row.id)
    .execute()
  return toEnrolment(updated, currency)
}

export async function listEnrolments(
  scope: TenantScope,
  filter: PageRequest & { programId?: string; partnerId?: string },
): Promise<Page<Enrolment>> {
  const page = await fetchPage(filter, (slice) => {
    let q = scope.db
      .selectFrom('enrolments')
      .innerJoin('programs', 'programs.id', 'enrolments.program_id')
      .selectAll('enrolments')
      .select('programs.currency')
      .where('enrolments.tenant_id', '=', scope.tenantId)
    if (filter.programId) q = q.where('enrolments.program_id', '=', filter.programId)
    if (filter.partnerId) q = q.where('enrolments.partner_id', '=', filter.partnerId)
    return sliced(q, slice, 'enrolments.id').execute()
  })
  return { items: page.items.map((r) => toEnrolment(r, r.currency)), nextCursor: page.nextCursor }
}
