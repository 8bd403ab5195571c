/**
 * Commissions and their lifecycle:
 *
 *   accrued ──(holdback over)──▶ approved ──(in a payout marked paid)──▶ paid
 *   flagged ──(reviewer clears)──▶ accrued        flagged ──(reviewer rejects)──▶ voided
 *   accrued / approved (not yet in a payout) ──(refund or reversal)──▶ reversed
 *
 * A refund or reversal after a commission has been paid (or has joined a payout) cannot take the
 * money back: it adds a `clawback`, a negative entry deducted from the partner's next payout. Partial
 * refunds add a clawback of their share. Every change raises a domain event.
 */
import { fetchPage, type Page, type PageRequest, sliced } from '../db/pagination.ts'
import type { CommissionStatus, DB } from '../db/schema.ts'
import type { TenantScope } from '../db/with-tenant.ts'
import { AppError } from '../errors.ts'
import { newId } from '../ids.ts'
import { formatAmount } from '../money/money.ts'

type Row = DB['commissions']

/** Commissions that stand: earned and not taken back (in holdback, flagged for review, approved, paid). */
export const STANDING_STATUSES = ['accrued', 'flagged', 'approved', 'paid'] as const

export interface Commission {
  id: string
  partnerId: string
  programId: string
  eventId: string
  userId: string
  clickId: string | null
  trigger: Row['trigger']
  kind: Row['kind']
  amount: string
  currency: string
  status: CommissionStatus
  flag: string | null
  matureAt: string
  /** The holdback it waits out, in days (matureAt is when it ends). */
  holdbackDays: number
  reversesId: string | null
  payoutId: string | null
  createdAt: string
  updatedAt: string
}

export function toCommission(row: Row): Commission {
  return {
    id: row.id,
    partnerId: row.partner_id,
    programId: row.program_id,
    eventId: row.event_id,
    userId: row.customer_id,
    clickId: row.click_id,
    trigger: row.trigger,
    kind: row.kind,
    amount: formatAmount(row.amount_minor, row.currency),
    currency: row.currency,
    status: row.status,
    flag: row.flag,
    matureAt: row.mature_at,
    holdbackDays: holdbackDaysOf(row),
    reversesId: row.reverses_id,
    payoutId: row.payout_id,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  }
}

export interface CommissionFilter extends PageRequest {
  status?: CommissionStatus
  partnerId?: string
  programId?: string
  /** The commissions a payout holds. */
  payoutId?: string
  /** Created at or after (ISO date or date-time). */
  from?: string
  /** Created before. */
  to?: string
}

export async function listCommissions(scope: TenantScope, filter: CommissionFilter): Promise<Page<Commission>> {
  const page = await fetchPage(filter, (slice) => {
    let q = scope.db.selectFrom('commissions').selectAll().where('tenant_id', '=', scope.tenantId)
    if (filter.status) q = q.where('status', '=', filter.status)
    if (filter.partnerId) q = q.where('partner_id', '=', filter.partnerId)
    if (filter.programId) q = q.where('program_id', '=', filter.programId)
    if (filter.payoutId) q = q.where('payout_id', '=', filter.payoutId)
    if (filter.from) q = q.where('created_at', '>=', isoDate(filter.from, 'from'))
    if (filter.to) q = q.where('created_at', '<', isoDate(filter.to, 'to'))
    return sliced(q, slice).execute()
  })
  return { items: page.items.map(toCommission), nextCursor: page.nextCursor }
}

/**
 * How many commissions wait in review, counted up to `cap` (the navigation's badge says "99+"): every
 * page shows it, so it reads at most `cap` index entries whatever the queue's length.
 */
export async function countFlagged(scope: TenantScope, cap: number): Promise<number> {
  const row = await scope.db
    .selectFrom(
      scope.db
        .selectFrom('commissions')
        .select('id')
        .where('tenant_id', '=', scope.tenantId)
        .where('status', '=', 'flagged')
        .limit(cap)
        .as('waiting'),
    )
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .executeTakeFirstOrThrow()
  return Number(row.n)
}

/** How many commissions each status holds, and how many accrued ones are past their holdback (ready to approve). */
export async function commissionCounts(
  scope: TenantScope,
  now = new Date(),
): Promise<{ byStatus: Partial<Record<CommissionStatus, number>>; matured: number }> {
  const rows = await scope.db
    .selectFrom('commissions')
    .select(['status', (eb) => eb.fn.countAll<number>().as('n')])
    .where('tenant_id', '=', scope.tenantId)
    .groupBy('status')
    .execute()
  const matured = await scope.db
    .selectFrom('commissions')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('tenant_id', '=', scope.tenantId)
    .where('status', '=', 'accrued')
    .where('mature_at', '<=', now.toISOString())
    .executeTakeFirstOrThrow()
  return { byStatus: Object.fromEntries(rows.map((r) => [r.status, Number(r.n)])), matured: Number(matured.n) }
}

/** A date (`2026-01-31`) or date-time, as the ISO text timestamps are stored in. */
export function isoDate(value: string, field: string): string {
  const parsed = /^\d{4}-\d{2}-\d{2}(T[\d:.]+(Z|[+-]\d{2}:\d{2}))?$/.test(value) ? new Date(value) : new Date(Number.NaN)
  if (Number.isNaN(parsed.getTime())) throw new AppError(400, 'invalid_request', `query.${field}: an ISO 8601 date or date-time`)
  return parsed.toISOString()
}

export async function commissionRow(scope: TenantScope, id: string): Promise<Row> {
  const row = await scope.db
    .selectFrom('commissions')
    .selectAll()
    .where('tenant_id', '=', scope.tenantId)
    .where('id', '=', id)
    .executeTakeFirst()
  if (!row) throw new AppError(404, 'not_found', `no commission ${id}`)
  return row
}

async function setStatus(scope: TenantScope, row: Row, status: CommissionStatus, extra: Partial<Row> = {}): Promise<Commission> {
  const updated: Row = { ...row, ...extra, status, updated_at: new Date().toISOString() }
  // The guard makes two concurrent changes of one commission settle on one winner; its payout is part
  // of it, so that a commission a payout run claimed meanwhile is not reversed under it.
  const result = await scope.db
    .updateTable('commissions')
    .set({ ...extra, status, updated_at: updated.updated_at })
    .where('tenant_id', '=', scope.tenantId)
    .where('id', '=', row.id)
    .where('status', '=', row.status)
    .where('payout_id', row.payout_id === null ? 'is' : '=', row.payout_id)
    .executeTakeFirst()
  if (Number(result.numUpdatedRows) !== 1) throw new AppError(409, 'conflict', `commission ${row.id} changed meanwhile; read it again`)
  return toCommission(updated)
}

function wrongStatus(row: Row, action: string): AppError {
  return new AppError(409, 'invalid_status', `a ${row.status} commission cannot be ${action}`)
}

/** The holdback a commission waits out, in whole days: from when it was earned to its mature_at. */
export function holdbackDaysOf(row: Pick<Row, 'created_at' | 'mature_at'>): number {
  return Math.max(0, Math.round((Date.parse(row.mature_at) - Date.parse(row.created_at)) / 86_400_000))
}

/**
 * 409 holdback_active (with matureAt and holdbackDays) inside the holdback; approving twice answers
 * the same (a retried approval is no mistake); 409 not_approvable (OpenPartner's code) from a
 * status approval cannot leave, commission_flagged while it waits in review.
 */
export async function approveCommission(scope: TenantScope, id: string, now = new Date()): Promise<Commission> {
  const row = await commissionRow(scope, id)
  if (row.status === 'approved') return toCommission(row)
  if (row.status === 'flagged') throw new AppError(409, 'commission_flagged', `flagged (${row.flag}): clear it in review first`)
  if (row.status !== 'accrued')
    throw new AppError(409, 'not_approvable', `a ${row.status} commission cannot be approved; it must be accrued`)
  if (row.mature_at > now.toISOString()) {
    throw new AppError(409, 'holdback_active', `the holdback ends at ${row.mature_at}`, undefined, {
      matureAt: row.mature_at,
      holdbackDays: holdbackDaysOf(row),
    })
  }
  const approved = await setStatus(scope, row, 'approved')
  scope.emit('commission.approved', approved)
  return approved
}

/** Approves every accrued commission whose holdback has ended; the scheduled job calls this. */
export async function approveMatured(scope: TenantScope, now = new Date()): Promise<number> {
  const rows = await scope.db
    .selectFrom('commissions')
    .selectAll()
    .where('tenant_id', '=', scope.tenantId)
    .where('status', '=', 'accrued')
    .where('mature_at', '<=', now.toISOString())
    .execute()
  if (rows.length === 0) return 0
  const at = new Date().toISOString()
  await scope.db
    .updateTable('commissions')
    .set({ status: 'approved', updated_at: at })
    .where('tenant_id', '=', scope.tenantId)
    .where('status', '=', 'accrued')
    .where(
      'id',
      'in',
      rows.map((r) => r.id),
    )
    .execute()
  for (const row of rows) scope.emit('commission.approved', toCommission({ ...row, status: 'approved', updated_at: at }))
  return rows.length
}

/**
 * Takes a commission back: unpaid, it becomes `reversed`; paid or in a payout, a clawback of what is
 * left of it is added. `eventId` names the refund that caused it (manual reversals name the original).
 */
export async function reverseCommission(
  scope: TenantScope,
  given: Row,
  share: number,
  cause: { eventId: string; now: Date },
): Promise<{ reversed?: Commission; clawback?: Commission } | undefined> {
  if (given.kind !== 'commission') return undefined
  // Two refunds of one sale at once must not each take back the same money. Touching the row takes
  // its lock (on PostgreSQL; SQLite's write transactions run one at a time already), so the second
  // waits for the first to commit and then reads the commission and its clawbacks as it left them.
  await scope.db
    .updateTable('commissions')
    .set((eb) => ({ updated_at: eb.ref('updated_at') }))
    .where('tenant_id', '=', scope.tenantId)
    .where('id', '=', given.id)
    .execute()
  const row = await commissionRow(scope, given.id)
  if (row.status === 'reversed' || row.status === 'voided') return undefined
  const previous = await scope.db
    .selectFrom('commissions')
    .select(['amount_minor'])
    .where('tenant_id', '=', scope.tenantId)
    .where('reverses_id', '=', row.id)
    .execute()
  // Clawbacks of one commission add up to at most the commission, itself at most one amount (money/money.ts).
  const alreadyBack = -previous.reduce((sum, r) => sum + Number(r.amount_minor), 0)
  const amount = Math.min(share, row.amount_minor - alreadyBack)
  if (amount <= 0) return undefined
  const unpaid = row.payout_id === null && (row.status === 'accrued' || row.status === 'flagged' || row.status === 'approved')
  if (unpaid && alreadyBack === 0 && amount === row.amount_minor) {
    const reversed = await setStatus(scope, row, 'reversed')
    scope.emit('commission.reversed', reversed)
    return { reversed }
  }
  const at = cause.now.toISOString()
  const clawback: Row = {
    ...row,
    id: newId('commission'),
    event_id: cause.eventId,
    kind: 'clawback',
    amount_minor: -amount,
    // Paid money is recovered from the next payout; unpaid money simply follows its commission.
    status: unpaid ? row.status : 'approved',
    mature_at: unpaid ? row.mature_at : at,
    reverses_id: row.id,
    payout_id: null,
    created_at: at,
    updated_at: at,
  }
  await scope.db.insertInto('commissions').values(clawback).execute()
  const entry = toCommission(clawback)
  scope.emit('commission.reversed', { ...toCommission(row), clawback: entry })
  return { clawback: entry }
}

/**
 * A reviewer's reversal (fraud, a cancelled deal). Reversing twice changes nothing; a clawback, or a
 * commission rejected in review (voided), is 409 not_reversible (OpenPartner's code): it earns
 * nothing to take back. A paid one is taken back by a clawback from the next payout.
 */
export async function reverseById(scope: TenantScope, id: string): Promise<{ commission: Commission; clawback: Commission | null }> {
  const row = await commissionRow(scope, id)
  if (row.kind !== 'commission') throw new AppError(409, 'not_reversible', 'a clawback cannot be reversed')
  if (row.status === 'voided') throw new AppError(409, 'not_reversible', 'a voided commission earns nothing to reverse')
  const result = await reverseCommission(scope, row, row.amount_minor, { eventId: row.event_id, now: new Date() })
  return { commission: result?.reversed ?? toCommission(row), clawback: result?.clawback ?? null }
}

/** Review: a flagged commission cleared accrues as if it had never been flagged. */
export async function clearCommission(scope: TenantScope, id: string): Promise<Commission> {
  const row = await reviewedRow(scope, id, 'cleared')
  const cleared = await setStatus(scope, row, 'accrued', { flag: null })
  scope.emit('commission.accrued', cleared)
  for (const clawback of await moveClawbacks(scope, row, { status: 'accrued', flag: null })) scope.emit('commission.accrued', clawback)
  return cleared
}

/** Review: a flagged commission rejected is voided: it earns nothing, and nothing of it is taken back. */
export async function rejectCommission(scope: TenantScope, id: string): Promise<Commission> {
  const row = await reviewedRow(scope, id, 'rejected')
  const voided = await setStatus(scope, row, 'voided')
  scope.emit('commission.voided', voided)
  for (const clawback of await moveClawbacks(scope, row, { status: 'voided' })) scope.emit('commission.voided', clawback)
  return voided
}

/** A flagged commission for review; a clawback is not reviewed on its own, it follows its commission. */
async function reviewedRow(scope: TenantScope, id: string, action: string): Promise<Row> {
  const row = await commissionRow(scope, id)
  if (row.kind !== 'commission') throw new AppError(409, 'invalid_status', `a clawback is ${action} with its commission`)
  if (row.status !== 'flagged') throw wrongStatus(row, action)
  return row
}

/**
 * The flagged clawbacks of a commission under review (a partial refund while it waited), moved as it
 * is: cleared, they are taken back from what it earns; rejected, they are voided with it.
 */
async function moveClawbacks(scope: TenantScope, row: Row, change: Partial<Row>): Promise<Commission[]> {
  const moved = await scope.db
    .updateTable('commissions')
    .set({ ...change, updated_at: new Date().toISOString() })
    .where('tenant_id', '=', scope.tenantId)
    .where('reverses_id', '=', row.id)
    .where('status', '=', 'flagged')
    .returningAll()
    .execute()
  return moved.map(toCommission)
}
