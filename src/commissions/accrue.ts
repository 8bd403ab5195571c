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
import type { AttributionFacts } from '../attribution/facts.ts'
import { readJson } from '../db/codec.ts'
import type { DB } from '../db/schema.ts'
import { newId } from '../ids.ts'
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
  /**
   * This sale is the customer's first in the program: it set firstSaleAt. Told, not compared: two
   * sales stamped the same instant (a batch's, received together) are still a first and a second.
   */
  firstSale: boolean
}

export type NoCommission = 'program_not_active' | 'no_rule' | 'currency_mismatch' | 'not_first' | 'recurring_ended' | 'already_earned'

/**
 * What the conversion earns each partner of its touches, by the facts read for its batch
 * (attribution/facts.ts): the commissions are recorded there, to be written with the batch, and
 * their domain events raised through `emit`.
 */
export function accrue(
  facts: AttributionFacts,
  program: ProgramFacts,
  touches: Touch[],
  conversion: Conversion,
  emit: (type: string, data: unknown) => void,
  tenantId: string,
): { commissions: Commission[]; reason?: NoCommission } {
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
    const partner = facts.partners.get(partnerId)
    // The enrolment's snapshot of the terms (grandfathering), else the program's current terms.
    const enrolled = partner ? facts.enrolment(partnerId, program.id) : undefined
    const terms = enrolled ? readJson<Terms>(enrolled) : program.terms
    const earned = earning(facts, terms.rules, program, partnerId, conversion)
    if (typeof earned === 'string') {
      reason = earned
      continue
    }
    const [amount] = splitByWeights(earned, [share.weightBp, 10_000 - share.weightBp])
    if (!amount) continue
    const flag = share.flag ?? partnerFlag(facts, partnerId, share.clickId, conversion.customerEmail)
    const at = new Date().toISOString()
    const row: DB['commissions'] = {
      id: newId('commission'),
      tenant_id: tenantId,
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
    facts.addCommission(row)
    const commission = toCommission(row)
    commissions.push(commission)
    emit(flag ? 'commission.flagged' : 'commission.accrued', commission)
  }
  return { commissions, reason: commissions.length > 0 ? undefined : reason }
}

/** The whole amount the conversion earns by these rules (before splitting), or why it earns nothing. */
function earning(
  facts: AttributionFacts,
  rules: StoredRule[],
  program: ProgramFacts,
  partnerId: string,
  conversion: Conversion,
): number | NoCommission {
  const rule = rules.find((r) => r.on === conversion.trigger)
  if (!rule) return 'no_rule'
  if (conversion.trigger === 'signup') {
    if (facts.hasSignup(conversion.customerId, program.id, partnerId)) return 'already_earned'
    return rule.kind === 'fixed' ? rule.minor : 'no_rule'
  }
  if (conversion.currency !== program.currency || conversion.valueMinor === null) return 'currency_mismatch'
  const first = conversion.firstSale
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
 * Why the partner's commission must wait for review: revoked (or gone), or a self-referral: the
 * customer has the partner's email, or the click came from an address the partner's own portal users
 * sign in from.
 */
function partnerFlag(facts: AttributionFacts, partnerId: string, clickId: string, customerEmail: string | null): string | null {
  const partner = facts.partners.get(partnerId)
  if (!partner || partner.status === 'revoked') return 'revoked'
  if (customerEmail && customerEmail === partner.email) return 'self_referral'
  if (facts.fromPartnerAddress(partnerId, clickId)) return 'self_referral'
  return null
}
