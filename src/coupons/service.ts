/**
 * Coupon codes: the second way a customer reaches a partner. A code belongs to a partner in a program;
 * redeeming it (`POST /coupons/redeem`, from the company's checkout) stands in for the click: it records
 * a click of source `coupon`, ties it to the customer, and records the conversion event, all in one
 * transaction and idempotent on externalEventId like any event. A code left out when one is given is
 * made from the partner's email, as OpenPartner makes them (`ADALOVELACE` and four hex digits). A
 * deactivated (archived) code redeems no more; what it earned stays.
 */
import { randomBytes } from 'node:crypto'
import { type EventInput, type EventResult, occurredAt, recordEvent, triggerOf } from '../attribution/events.ts'
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

/** A code for the partner: the letters and digits of their email's local part (12 at most), and 4 hex digits. */
function suggestedCode(email: string): string {
  const stem =
    (email.split('@')[0] ?? '')
      .replace(/[^A-Za-z0-9]/g, '')
      .toUpperCase()
      .slice(0, 12) || 'PARTNER'
  return `${stem}${randomBytes(2).toString('hex').toUpperCase()}`
}

export async function createCoupon(scope: TenantScope, partnerId: string, input: { code?: string; programId: string }): Promise<Coupon> {
  await enrol(scope, partnerId, input.programId)
  const email = input.code === undefined ? (await getPartner(scope, partnerId)).email : ''
  // A made-up code collides once in 65 536 codes of the same stem: try a few before giving up.
  for (let attempt = 0; ; attempt++) {
    const row: DB['coupons'] = {
      id: newId('coupon'),
      tenant_id: scope.tenantId,
      code: normalizeCode(input.code ?? suggestedCode(email)),
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
    if (taken && input.code === undefined && attempt < 5) continue
    if (taken) throw new AppError(409, 'code_taken', `coupon ${row.code} exists`)
    return insertCoupon(scope, row)
  }
}

async function insertCoupon(scope: TenantScope, row: DB['coupons']): Promise<Coupon> {
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

/** Deactivates the partner's coupon: it redeems no more (404 coupon_not_found, as OpenPartner's); done twice, the same. */
export async function archiveCoupon(scope: TenantScope, partnerId: string, couponId: string, onlyProgram?: string): Promise<Coupon> {
  const row = await scope.db
    .selectFrom('coupons')
    .selectAll()
    .where('tenant_id', '=', scope.tenantId)
    .where('partner_id', '=', partnerId)
    .where('id', '=', couponId)
    .$if(onlyProgram !== undefined, (q) => q.where('program_id', '=', onlyProgram!))
    .executeTakeFirst()
  if (!row) throw new AppError(404, 'coupon_not_found', `no coupon ${couponId} of partner ${partnerId}`)
  if (row.archived_at) return toCoupon(row)
  const archived = { ...row, archived_at: new Date().toISOString() }
  await scope.db
    .updateTable('coupons')
    .set({ archived_at: archived.archived_at })
    .where('tenant_id', '=', scope.tenantId)
    .where('id', '=', couponId)
    .execute()
  const coupon = toCoupon(archived)
  scope.emit('coupon.archived', coupon)
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

export interface RedeemInput extends Omit<EventInput, 'refundOf' | 'externalEventId'> {
  code: string
  /** Any event type but a refund: what the redemption is (default sale). */
  type: string
  /** Required: a checkout retried must not pay twice. */
  externalEventId: string
}

export async function redeemCoupon(
  scope: TenantScope,
  input: Omit<RedeemInput, 'type'> & { type?: string },
  now = new Date(),
  onlyProgram?: string,
): Promise<{ result: EventResult; replayed: boolean; partnerId?: string }> {
  const { code, ...rest } = input
  const type = input.type ?? 'sale'
  if (triggerOf(type) === 'refund')
    throw new AppError(400, 'invalid_request', `body.type: a coupon redeems a sale, a sign-up or your own event, not a ${type}`)
  const event: EventInput = { ...rest, type, metadata: { ...input.metadata, coupon: normalizeCode(code) } }
  const coupon = await scope.db
    .selectFrom('coupons')
    .innerJoin('partners', 'partners.id', 'coupons.partner_id')
    .select(['coupons.id', 'coupons.partner_id', 'coupons.program_id', 'coupons.archived_at', 'partners.status'])
    .where('coupons.tenant_id', '=', scope.tenantId)
    .where('coupons.code', '=', normalizeCode(code))
    .executeTakeFirst()
  const known = await scope.db
    .selectFrom('events')
    .select('id')
    .where('tenant_id', '=', scope.tenantId)
    .where('external_event_id', '=', input.externalEventId)
    .executeTakeFirst()
  // A replay (or a conflicting reuse of the id) is answered by the event itself, without a new click.
  if (known) return { ...(await recordEvent(scope, event, now, onlyProgram)), ...(coupon ? { partnerId: coupon.partner_id } : {}) }
  if (!coupon || coupon.archived_at || (onlyProgram && coupon.program_id !== onlyProgram)) {
    throw new AppError(404, 'coupon_not_found', `no coupon ${normalizeCode(code)}`)
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
  return { ...(await recordEvent(scope, event, now, onlyProgram)), partnerId: coupon.partner_id }
}
