/**
 * What an attributed conversion earns, by the partner's terms in the program (their enrolment's
 * snapshot, see programs/enrolments.ts):
 *
 * - a signup earns its fixed amount once per customer and program;
 * - a sale earns a fixed amount or a percentage of its value on the customer's first sale; a
 *   recurring percentage also on every later sale for N months after that first sale (or for life),
 *   at the step-down rate once its months have passed. Trials and other events do not start the clock.
 *
 * The amount is split among the touches by their weights (largest remainder, so nothing is lost to
 * rounding), one commission per partner. It matures after the holdback. A touch that is flagged
 * (revoked partner, click velocity) or a self-referral (the customer has the partner's email, or
 * clicked from an address the partner signs in from) makes the commission `flagged`: it earns nothing until a reviewer clears it. Nothing earns while the
 * program is not active.
 */
import { readJson } from '../db/codec.ts'
import type { DB } from '../db/schema.ts'
import type { TenantScope } from '../db/with-tenant.ts'
import { newId } from '../ids.ts'
import { hashAddress } from '../links/visitor.ts'
import { percentOf, splitByWeights } from '../money/money.ts'
import type { Terms } from '../programs/enrolments.ts'
import type { StoredRule } from '../programs/rules.ts'
import { type Commission, toCommission } from './service.ts'

export interface Touch {
  clickId: string
  partnerId: string
  programId: string
  weightBp: number
  /** The click's flag when it was recorded. */
  flag: string | null
}

export interface ProgramFacts {
  id: string
  currency: string
  status: string
  /** Its current terms: what a partner who is not enrolled earns by. */
  terms: Terms
}

export interface Conversion {
  eventId: string
  customerId: string
  customerEmail: string | null
  trigger: 'signup' | 'sale'
  valueMinor: number | null
  currency: string | null
  occurredAt: string
  /** For sales: when the customer first paid in this program (this sale, if it is the first). */
  firstSaleAt: string | null
}

export type NoCommission = 'program_not_active' | 'no_rule' | 'currency_mismatch' | 'not_first' | 'recurring_ended' | 'already_earned'

export async function accrue(
  scope: TenantScope,
  program: ProgramFacts,
  touches: Touch[],
  conversion: Conversion,
): Promise<{ commissions: Commission[]; reason?: NoCommission }> {
  if (program.status !== 'active') return { commissions: [], reason: 'program_not_active' }
  // Each partner's share, in touch order; one partner touching twice gets one commission.
  const shares = new Map<string, { weightBp: number; clickId: string; flag: string | null }>()
  for (const touch of touches) {
    const share = shares.get(touch.partnerId)
    if (share) {
      share.weightBp += touch.weightBp
      share.clickId = touch.clickId
      share.flag ??= touch.flag
    } else shares.set(touch.partnerId, { weightBp: touch.weightBp, clickId: touch.clickId, flag: touch.flag })
  }
  const commissions: Commission[] = []
  let reason: NoCommission | undefined
  for (const [partnerId, share] of shares) {
    if (share.weightBp === 0) continue
    const partner = await partnerFacts(scope, partnerId, program.id, share.clickId)
    // The enrolment's snapshot of the terms (grandfathering), else the program's current terms.
    const terms = partner?.terms ? readJson<Terms>(partner.terms) : program.terms
    const earned = await earning(scope, terms.rules, program, partnerId, conversion)
    if (typeof earned === 'string') {
      reason = earned
      continue
    }
    const [amount] = splitByWeights(earned, [share.weightBp, 10_000 - share.weightBp])
    if (!amount) continue
    const flag = share.flag ?? (await partnerFlag(scope, partnerId, partner, conversion.customerEmail))
    const at = new Date().toISOString()
    const row: DB['commissions'] = {
      id: newId('commission'),
      tenant_id: scope.tenantId,
      event_id: conversion.eventId,
      partner_id: partnerId,
      program_id: program.id,
      click_id: share.clickId,
      customer_id: conversion.customerId,
      trigger: conversion.trigger,
      kind: 'commission',
      amount_minor: amount,
      currency: program.currency,
      status: flag ? 'flagged' : 'accrued',
      flag,
      mature_at: new Date(Date.parse(conversion.occurredAt) + terms.holdbackDays * 86_400_000).toISOString(),
      reverses_id: null,
      payout_id: null,
      created_at: at,
      updated_at: at,
    }
    await scope.db.insertInto('commissions').values(row).execute()
    const commission = toCommission(row)
    commissions.push(commission)
    scope.emit(flag ? 'commission.flagged' : 'commission.accrued', commission)
  }
  return { commissions, reason: commissions.length > 0 ? undefined : reason }
}

/** The whole amount the conversion earns by these rules (before splitting), or why it earns nothing. */
async function earning(
  scope: TenantScope,
  rules: StoredRule[],
  program: ProgramFacts,
  partnerId: string,
  conversion: Conversion,
): Promise<number | NoCommission> {
  const rule = rules.find((r) => r.on === conversion.trigger)
  if (!rule) return 'no_rule'
  if (conversion.trigger === 'signup') {
    const earlier = await scope.db
      .selectFrom('commissions')
      .select('id')
      .where('tenant_id', '=', scope.tenantId)
      .where('customer_id', '=', conversion.customerId)
      .where('program_id', '=', program.id)
      .where('partner_id', '=', partnerId)
      .where('trigger', '=', 'signup')
      .executeTakeFirst()
    if (earlier) return 'already_earned'
    return rule.kind === 'fixed' ? rule.minor : 'no_rule'
  }
  if (conversion.currency !== program.currency || conversion.valueMinor === null) return 'currency_mismatch'
  const first = conversion.firstSaleAt === conversion.occurredAt
  if (rule.kind === 'fixed') return first ? rule.minor : 'not_first'
  if (!rule.recurring) return first ? percentOf(conversion.valueMinor, rule.bp) : 'not_first'
  const months = monthsBetween(conversion.firstSaleAt ?? conversion.occurredAt, conversion.occurredAt)
  if ('months' in rule.recurring && months >= rule.recurring.months) return 'recurring_ended'
  const bp = rule.stepDown && months >= rule.stepDown.afterMonths ? rule.stepDown.bp : rule.bp
  return percentOf(conversion.valueMinor, bp)
}

/** Whole calendar months from `from` to `to` (Jan 31 → Feb 28 is 0, → Mar 1 is 1). */
export function monthsBetween(from: string, to: string): number {
  const a = new Date(from)
  const b = new Date(to)
  let months = (b.getUTCFullYear() - a.getUTCFullYear()) * 12 + (b.getUTCMonth() - a.getUTCMonth())
  const aRest = a.getTime() - Date.UTC(a.getUTCFullYear(), a.getUTCMonth())
  const bRest = b.getTime() - Date.UTC(b.getUTCFullYear(), b.getUTCMonth())
  if (bRest < aRest) months--
  return Math.max(0, months)
}

/**
 * What accrual needs to know of the partner, in one query: their enrolment's terms in the program,
 * and, for the self-referral check, their status and email and the address hash of the click that
 * earns (with the tenant's key of those hashes). Undefined when the partner is gone.
 */
function partnerFacts(scope: TenantScope, partnerId: string, programId: string, clickId: string) {
  return scope.db
    .selectFrom('partners')
    .innerJoin('tenants', 'tenants.id', 'partners.tenant_id')
    .leftJoin('enrolments', (join) =>
      join
        .onRef('enrolments.partner_id', '=', 'partners.id')
        .on('enrolments.tenant_id', '=', scope.tenantId)
        .on('enrolments.program_id', '=', programId),
    )
    .leftJoin('clicks', (join) => join.on('clicks.tenant_id', '=', scope.tenantId).on('clicks.id', '=', clickId))
    .select(['partners.status', 'partners.email', 'enrolments.terms', 'clicks.ip_hash', 'tenants.click_salt'])
    .where('partners.tenant_id', '=', scope.tenantId)
    .where('partners.id', '=', partnerId)
    .executeTakeFirst()
}

type PartnerFacts = Awaited<ReturnType<typeof partnerFacts>>

/**
 * Why the partner's commission must wait for review: revoked, or a self-referral: the customer has
 * the partner's email, or the click came from an address the partner's own portal users sign in from.
 */
async function partnerFlag(
  scope: TenantScope,
  partnerId: string,
  partner: PartnerFacts,
  customerEmail: string | null,
): Promise<string | null> {
  if (!partner || partner.status === 'revoked') return 'revoked'
  if (customerEmail && customerEmail === partner.email) return 'self_referral'
  const { ip_hash: clickHash, click_salt: sealed } = partner
  if (clickHash && sealed) {
    const salt = scope.secrets.open(sealed, { table: 'tenants', id: scope.tenantId })
    const sessions = await scope.db
      .selectFrom('sessions')
      .innerJoin('memberships', 'memberships.user_id', 'sessions.user_id')
      .select('sessions.ip')
      .where('memberships.tenant_id', '=', scope.tenantId)
      .where('memberships.partner_id', '=', partnerId)
      .where('sessions.ip', 'is not', null)
      .execute()
    if (sessions.some((s) => hashAddress(salt, s.ip!) === clickHash)) return 'self_referral'
  }
  return null
}
