/**
 * Coupon codes: the second way a customer reaches a partner. A code belongs to a partner in a program;
 * redeeming it (`POST /coupons/redeem`, from the company's checkout) stands in for the click: it records
 * a click of source `coupon`, ties it to the customer, and records the conversion event, all in one
 * transaction and idempotent on externalEventId like any event.
 */
import { type EventInput, type EventResult, occurredAt, recordEvent } from '../attribution/events.ts'
import { identify } from '../attribution/identify.ts'
import { isUniqueViolation } from '../db/errors.ts'
import type { DB } from '../db/schema.ts'
import type { TenantScope } from '../db/with-tenant.ts'
import { AppError } from '../errors.ts'
import { newId } from '../ids.ts'
import type { ClickRow } from '../links/click-columns.ts'
import { addClickCounts } from '../links/click-counts.ts'
import { getPartner } from '../partners/service.ts'
import { enrol } from '../programs/enrolments.ts'

export const COUPON_PATTERN = '^[A-Za-z0-9_-]{3,40}$'

export interface Coupon {
  id: string
  code: string
  partnerId: string
  programId: string
  createdAt: string
  archivedAt: string | null
}

function toCoupon(row: DB['coupons']): Coupon {
  return {
    id: row.id,
    code: row.code,
    partnerId: row.partner_id,
    programId: row.program_id,
    createdAt: row.created_at,
    archivedAt: row.archived_at,
  }
}

/** Codes are matched without regard to case, as shoppers type them. */
function normalizeCode(code: string): string {
  return code.trim().toUpperCase()
}

export async function createCoupon(scope: TenantScope, partnerId: string, input: { code: string; programId: string }): Promise<Coupon> {
  await enrol(scope, partnerId, input.programId)
  const row: DB['coupons'] = {
    id: newId('coupon'),
    tenant_id: scope.tenantId,
    code: normalizeCode(input.code),
    partner_id: partnerId,
    program_id: input.programId,
    created_at: new Date().toISOString(),
    archived_at: null,
  }
  const taken = await scope.db
    .selectFrom('coupons')
    .select('id')
    .where('tenant_id', '=', scope.tenantId)
    .where('code', '=', row.code)
    .executeTakeFirst()
  if (taken) throw new AppError(409, 'code_taken', `coupon ${row.code} exists`)
  try {
    await scope.db.insertInto('coupons').values(row).execute()
  } catch (err) {
    if (isUniqueViolation(err)) throw new AppError(409, 'code_taken', `coupon ${row.code} exists`)
    throw err
  }
  const coupon = toCoupon(row)
  scope.emit('coupon.created', coupon)
  return coupon
}

/** A partner's coupons; in one program only for a key bound to it. */
export async function listCoupons(scope: TenantScope, partnerId: string, onlyProgram?: string): Promise<Coupon[]> {
  await getPartner(scope, partnerId)
  const rows = await scope.db
    .selectFrom('coupons')
    .selectAll()
    .where('tenant_id', '=', scope.tenantId)
    .where('partner_id', '=', partnerId)
    .$if(onlyProgram !== undefined, (q) => q.where('program_id', '=', onlyProgram!))
    .orderBy('id')
    .execute()
  return rows.map(toCoupon)
}

export interface RedeemInput extends Omit<EventInput, 'refundOf' | 'type'> {
  code: string
  type?: 'sale' | 'signup'
}

export async function redeemCoupon(
  scope: TenantScope,
  input: RedeemInput,
  now = new Date(),
  onlyProgram?: string,
): Promise<{ result: EventResult; replayed: boolean }> {
  const { code, ...rest } = input
  const event: EventInput = { ...rest, type: input.type ?? 'sale', metadata: { ...input.metadata, coupon: normalizeCode(code) } }
  const known = await scope.db
    .selectFrom('events')
    .select('id')
    .where('tenant_id', '=', scope.tenantId)
    .where('external_event_id', '=', input.externalEventId)
    .executeTakeFirst()
  // A replay (or a conflicting reuse of the id) is answered by the event itself, without a new click.
  if (known) return recordEvent(scope, event, now, onlyProgram)
  const coupon = await scope.db
    .selectFrom('coupons')
    .innerJoin('partners', 'partners.id', 'coupons.partner_id')
    .select(['coupons.id', 'coupons.partner_id', 'coupons.program_id', 'coupons.archived_at', 'partners.status'])
    .where('coupons.tenant_id', '=', scope.tenantId)
    .where('coupons.code', '=', normalizeCode(code))
    .executeTakeFirst()
  if (!coupon || coupon.archived_at || (onlyProgram && coupon.program_id !== onlyProgram)) {
    throw new AppError(404, 'unknown_coupon', `no coupon ${normalizeCode(code)}`)
  }
  const at = occurredAt(input.ts, now)
  const clickId = newId('click')
  const click: ClickRow = {
    id: clickId,
    tenant_id: scope.tenantId,
    link_id: null,
    partner_id: coupon.partner_id,
    program_id: coupon.program_id,
    source: 'coupon',
    ip_hash: null,
    user_agent: null,
    referer: null,
    sub_source: coupon.id,
    flag: coupon.status === 'revoked' ? 'revoked' : null,
    created_at: at,
  }
  await scope.db.insertInto('clicks').values(click).execute()
  await addClickCounts(scope.db, [click])
  await identify(scope, { cref: clickId, userId: input.userId, ipHash: null })
  return recordEvent(scope, event, now, onlyProgram)
}
