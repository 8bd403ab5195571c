/**
 * Payouts: approved commissions (clawbacks included, which lower the sum) grouped by partner and
 * currency. A run makes one pending payout per group whose sum reaches the minimum (and, optionally,
 * that holds enough referrals); commissions of a group below it wait for the next run. Marking paid
 * or failed touches exactly the payouts named: paid settles their commissions, failed returns them to
 * the pool for the next run. Paying itself happens outside (bank, PayPal mass payment: see csv.ts);
 * partnerd records the reference.
 */

import type { Updateable } from 'kysely'
import { toCommission } from '../commissions/service.ts'
import { readMinor, type StoredInteger } from '../db/codec.ts'
import { fetchPage, type Page, type PageRequest, sliced } from '../db/pagination.ts'
import type { DB } from '../db/schema.ts'
import type { TenantScope } from '../db/with-tenant.ts'
import { AppError } from '../errors.ts'
import { newId } from '../ids.ts'
import { currencyDigits, formatAmount, parseAmount, toMinor } from '../money/money.ts'
import type { PayoutOutcome, PayoutRequest } from './providers.ts'

type Row = DB['payouts']

export interface Payout {
  id: string
  /** The same id, under OpenPartner's name for it (a run's answer lists `payoutId`s). */
  payoutId: string
  /** The run that made it. */
  runId: string | null
  partnerId: string
  currency: string
  amount: string
  commissionCount: number
  status: Row['status']
  method: string
  reference: string | null
  failureReason: string | null
  createdAt: string
  updatedAt: string
  paidAt: string | null
}

export function toPayout(row: Row): Payout {
  return {
    id: row.id,
    payoutId: row.id,
    runId: row.run_id,
    partnerId: row.partner_id,
    currency: row.currency,
    amount: formatAmount(readMinor(row.amount_minor), row.currency),
    commissionCount: row.commission_count,
    status: row.status,
    method: row.method,
    reference: row.reference,
    failureReason: row.failure_reason,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    paidAt: row.paid_at,
  }
}

export interface RunOptions {
  /** Only this currency (default: every currency). */
  currency?: string
  /** Per currency, e.g. {"USD": "50.00"}: groups below wait. Default: anything above zero. */
  minimumAmount?: Record<string, string>
  /** Groups with fewer distinct referred customers wait. */
  minimumReferrals?: number
  /** Only these partners. */
  partnerIds?: string[]
  /** The payment provider (default manual). */
  method?: string
}

/** What a run would make of one partner's approved commissions in one currency. */
export interface PlannedPayout {
  partnerId: string
  currency: string
  /** The sum, clawbacks taken off. */
  amount: string
  commissionIds: string[]
  referrals: number
  /** `due`: the run pays it; otherwise why it waits for a later run. */
  outcome: 'due' | 'below_minimum' | 'too_few_referrals' | 'nothing_due'
}

/** Commissions a partner earned that still wait out their holdback: paid by a later run. */
export interface HeldBack {
  partnerId: string
  currency: string
  amount: string
  count: number
  /** When the first of them matures. */
  nextMatureAt: string
}

/**
 * The plan of a run, without changing anything: every partner and currency with approved commissions
 * and what the run would do with them, and what is still held back. The preview and the run both use
 * it, so what was previewed is what is paid. Sums are exact (BigInt), whatever their size.
 */
export async function planPayouts(scope: TenantScope, options: RunOptions): Promise<{ payouts: PlannedPayout[]; heldBack: HeldBack[] }> {
  // A currency nothing can be paid in (XXX, or no ISO 4217 code) is a mistake to report, not a
  // filter that quietly matches nothing. (minimumAmount's keys are checked by parseAmount.)
  if (options.currency !== undefined) currencyDigits(options.currency)
  const minimums = new Map(
    Object.entries(options.minimumAmount ?? {}).map(([c, v]) => [c, BigInt(parseAmount(v, c, `minimumAmount.${c}`))]),
  )
  let q = scope.db
    .selectFrom('commissions')
    .select(['id', 'partner_id', 'currency', 'amount_minor', 'customer_id', 'kind'])
    .where('tenant_id', '=', scope.tenantId)
    .where('status', '=', 'approved')
    .where('payout_id', 'is', null)
  if (options.currency) q = q.where('currency', '=', options.currency)
  if (options.partnerIds?.length) q = q.where('partner_id', 'in', options.partnerIds)
  const rows = await q.orderBy('id').execute()

  const groups = new Map<string, typeof rows>()
  for (const row of rows) {
    const key = `${row.partner_id}\n${row.currency}`
    const group = groups.get(key)
    if (group) group.push(row)
    else groups.set(key, [row])
  }
  const payouts: PlannedPayout[] = []
  for (const group of groups.values()) {
    const { partner_id: partnerId, currency } = group[0]!
    const sum = group.reduce((total, r) => total + readMinor(r.amount_minor), 0n)
    const referrals = new Set(group.filter((r) => r.kind === 'commission').map((r) => r.customer_id)).size
    const outcome =
      sum <= 0n
        ? 'nothing_due'
        : sum < (minimums.get(currency) ?? 0n)
          ? 'below_minimum'
          : options.minimumReferrals && referrals < options.minimumReferrals
            ? 'too_few_referrals'
            : 'due'
    payouts.push({ partnerId, currency, amount: formatAmount(sum, currency), commissionIds: group.map((r) => r.id), referrals, outcome })
  }

  let held = scope.db
    .selectFrom('commissions')
    .select(['partner_id', 'currency'])
    .select((eb) => [
      eb.fn.sum<StoredInteger>('amount_minor').as('amount'),
      eb.fn.countAll<number | string>().as('n'),
      eb.fn.min('mature_at').as('next'),
    ])
    .where('tenant_id', '=', scope.tenantId)
    .where('status', '=', 'accrued')
    .where('payout_id', 'is', null)
    .groupBy(['partner_id', 'currency'])
  if (options.currency) held = held.where('currency', '=', options.currency)
  if (options.partnerIds?.length) held = held.where('partner_id', 'in', options.partnerIds)
  const heldBack = (await held.execute()).map((r) => ({
    partnerId: r.partner_id,
    currency: r.currency,
    amount: formatAmount(readMinor(r.amount), r.currency),
    count: Number(r.n),
    nextMatureAt: String(r.next),
  }))
  return { payouts, heldBack }
}

/** The largest sum a payout row holds: a 64-bit integer on both databases. */
const MAX_PAYOUT_MINOR = 2n ** 63n - 1n

/** A run's id: every payout it makes carries it (`runId`). */
export function newRunId(): string {
  return newId('payoutRun')
}

export async function runPayouts(scope: TenantScope, options: RunOptions, runId = newRunId()): Promise<Payout[]> {
  const plan = await planPayouts(scope, options)
  const payouts: Payout[] = []
  for (const planned of plan.payouts.filter((p) => p.outcome === 'due')) {
    const at = new Date().toISOString()
    const amount = toMinor(planned.amount, planned.currency)
    // The column is a 64-bit integer: 9,223 commissions of the maximum amount would not fit in one payout.
    if (amount > MAX_PAYOUT_MINOR)
      throw new AppError(
        422,
        'payout_too_large',
        `the payout of ${planned.partnerId} in ${planned.currency} would be over ${formatAmount(MAX_PAYOUT_MINOR, planned.currency)}, the most one payout holds`,
      )
    const payout: Row = {
      id: newId('payout'),
      tenant_id: scope.tenantId,
      partner_id: planned.partnerId,
      currency: planned.currency,
      // The exact sum, which may be far past what one amount may be (and past 2^53).
      amount_minor: amount,
      commission_count: planned.commissionIds.length,
      status: 'pending',
      method: options.method ?? 'manual',
      reference: null,
      failure_reason: null,
      created_at: at,
      updated_at: at,
      paid_at: null,
      run_id: runId,
    }
    await scope.db.insertInto('payouts').values(payout).execute()
    // `payout_id is null` makes a concurrent run unable to put a commission in two payouts.
    const claimed = await scope.db
      .updateTable('commissions')
      .set({ payout_id: payout.id, updated_at: at })
      .where('tenant_id', '=', scope.tenantId)
      .where('status', '=', 'approved')
      .where('payout_id', 'is', null)
      .where('id', 'in', planned.commissionIds)
      .executeTakeFirst()
    if (Number(claimed.numUpdatedRows) !== planned.commissionIds.length)
      throw new AppError(409, 'conflict', 'another payout run took some of these commissions; run again')
    payouts.push(toPayout(payout))
    // With the commissions it holds, as OpenPartner's payout.created tells them.
    scope.emit('payout.created', { ...payouts[payouts.length - 1], commissionIds: planned.commissionIds })
  }
  return payouts
}

export async function getPayout(scope: TenantScope, id: string): Promise<Row> {
  const row = await scope.db
    .selectFrom('payouts')
    .selectAll()
    .where('tenant_id', '=', scope.tenantId)
    .where('id', '=', id)
    .executeTakeFirst()
  if (!row) throw new AppError(404, 'not_found', `no payout ${id}`)
  return row
}

export async function listPayouts(
  scope: TenantScope,
  filter: PageRequest & { status?: Row['status']; partnerId?: string },
): Promise<Page<Payout>> {
  const page = await fetchPage(filter, (slice) => {
    let q = scope.db.selectFrom('payouts').selectAll().where('tenant_id', '=', scope.tenantId)
    if (filter.status) q = q.where('status', '=', filter.status)
    if (filter.partnerId) q = q.where('partner_id', '=', filter.partnerId)
    return sliced(q, slice).execute()
  })
  return { items: page.items.map(toPayout), nextCursor: page.nextCursor }
}

export async function countPayouts(scope: TenantScope, status: Row['status']): Promise<number> {
  const row = await scope.db
    .selectFrom('payouts')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('tenant_id', '=', scope.tenantId)
    .where('status', '=', status)
    .executeTakeFirstOrThrow()
  return Number(row.n)
}

/** What the pending payouts add up to, per currency (what is due to be paid now). */
export async function pendingTotals(scope: TenantScope): Promise<Record<string, string>> {
  const rows = await scope.db
    .selectFrom('payouts')
    .select(['currency', (eb) => eb.fn.sum<StoredInteger>('amount_minor').as('amount')])
    .where('tenant_id', '=', scope.tenantId)
    .where('status', '=', 'pending')
    .groupBy('currency')
    .execute()
  return Object.fromEntries(rows.map((r) => [r.currency, formatAmount(readMinor(r.amount), r.currency)]))
}

/** Loads exactly the named payouts, all pending, or refuses the whole request. */
async function pendingPayouts(scope: TenantScope, ids: string[]): Promise<Row[]> {
  const unique = [...new Set(ids)]
  const rows = await scope.db.selectFrom('payouts').selectAll().where('tenant_id', '=', scope.tenantId).where('id', 'in', unique).execute()
  const missing = unique.filter((id) => !rows.some((r) => r.id === id))
  if (missing.length > 0) throw new AppError(404, 'not_found', `no payout ${missing.join(', ')}`)
  const settled = rows.filter((r) => r.status !== 'pending')
  if (settled.length > 0) {
    throw new AppError(409, 'payout_not_pending', `already ${settled.map((r) => `${r.id} ${r.status}`).join(', ')}`)
  }
  return rows
}

/**
 * Moves a pending payout on. The status guard settles two concurrent requests (paid and failed, or
 * paid twice) on one winner: the other answers 409 and its transaction writes nothing.
 */
async function settle(scope: TenantScope, row: { id: string }, set: Updateable<DB['payouts']>): Promise<void> {
  const result = await scope.db
    .updateTable('payouts')
    .set(set)
    .where('tenant_id', '=', scope.tenantId)
    .where('id', '=', row.id)
    .where('status', '=', 'pending')
    .executeTakeFirst()
  if (Number(result.numUpdatedRows) !== 1) throw new AppError(409, 'payout_not_pending', `payout ${row.id} was settled meanwhile`)
}

export async function markPaid(scope: TenantScope, ids: string[], reference: string | undefined): Promise<Payout[]> {
  const rows = await pendingPayouts(scope, ids)
  const at = new Date().toISOString()
  const paid: Payout[] = []
  for (const row of rows) {
    await settle(scope, row, { status: 'paid', reference: reference ?? null, paid_at: at, updated_at: at })
    const commissions = await scope.db
      .updateTable('commissions')
      .set({ status: 'paid', updated_at: at })
      .where('tenant_id', '=', scope.tenantId)
      .where('payout_id', '=', row.id)
      .where('status', '=', 'approved')
      .returningAll()
      .execute()
    for (const c of commissions) scope.emit('commission.paid', toCommission(c))
    const payout = toPayout({ ...row, status: 'paid', reference: reference ?? null, paid_at: at, updated_at: at })
    scope.emit('payout.paid', payout)
    paid.push(payout)
  }
  return paid
}

/**
 * OpenPartner's confirmation of one payout: a pending payout marked paid, as mark-paid does (its
 * commissions are paid then). 404 `payout_not_found`, 409 `not_confirmable` once it is settled, so
 * a second confirmation is told apart from the first.
 */
export async function confirmPayout(scope: TenantScope, id: string, reference: string | undefined): Promise<Payout> {
  const row = await scope.db
    .selectFrom('payouts')
    .select(['id', 'status'])
    .where('tenant_id', '=', scope.tenantId)
    .where('id', '=', id)
    .executeTakeFirst()
  if (!row) throw new AppError(404, 'payout_not_found', `no payout ${id}`)
  if (row.status !== 'pending')
    throw new AppError(409, 'not_confirmable', `only a pending payout can be confirmed (this one is ${row.status})`)
  const [paid] = await markPaid(scope, [id], reference)
  return paid!
}

export async function markFailed(scope: TenantScope, ids: string[], reason: string | undefined): Promise<Payout[]> {
  const rows = await pendingPayouts(scope, ids)
  const at = new Date().toISOString()
  const failed: Payout[] = []
  for (const row of rows) {
    await settle(scope, row, { status: 'failed', failure_reason: reason ?? null, updated_at: at })
    await scope.db
      .updateTable('commissions')
      .set({ payout_id: null, updated_at: at })
      .where('tenant_id', '=', scope.tenantId)
      .where('payout_id', '=', row.id)
      .execute()
    const payout = toPayout({ ...row, status: 'failed', failure_reason: reason ?? null, updated_at: at })
    scope.emit('payout.failed', payout)
    failed.push(payout)
  }
  return failed
}

/** What a provider needs to pay these payouts. */
export async function payoutRequests(scope: TenantScope, payouts: Payout[]): Promise<PayoutRequest[]> {
  if (payouts.length === 0) return []
  const partners = await scope.db
    .selectFrom('partners')
    .select(['id', 'email'])
    .where('tenant_id', '=', scope.tenantId)
    .where(
      'id',
      'in',
      payouts.map((p) => p.partnerId),
    )
    .execute()
  const emails = new Map(partners.map((p) => [p.id, p.email]))
  return payouts.map((p) => ({ id: p.id, partnerId: p.partnerId, email: emails.get(p.partnerId)!, amount: p.amount, currency: p.currency }))
}

/** Records what the provider answered: paid and failed payouts settle as if marked so by hand. */
export async function applyOutcomes(scope: TenantScope, outcomes: PayoutOutcome[]): Promise<void> {
  for (const outcome of outcomes) {
    if (outcome.status === 'paid') await markPaid(scope, [outcome.id], outcome.reference)
    else if (outcome.status === 'failed') await markFailed(scope, [outcome.id], outcome.reason)
  }
}

/** Rows for the CSV exports: each payout with its partner's email and name. */
export async function payoutsForExport(scope: TenantScope, status: Row['status']) {
  return scope.db
    .selectFrom('payouts')
    .innerJoin('partners', 'partners.id', 'payouts.partner_id')
    .selectAll('payouts')
    .select(['partners.email', 'partners.name'])
    .where('payouts.tenant_id', '=', scope.tenantId)
    .where('payouts.status', '=', status)
    .orderBy('payouts.id')
    .execute()
}
