/**
 * OpenPartner's coupon routes in its shape, beside partnerd's: `POST /partners/:id/coupons
 * {programId, code?}`, `DELETE /partners/:id/coupons/:couponId` (deactivate), and `POST
 * /coupons/redeem {code, eventType, value?, currency?, externalEventId, userId, ts?}`. Its
 * `eventType` is partnerd's `type` (either may be given, not two different ones); value and ts come
 * as numbers or strings (attribution/openpartner.ts); a coupon's `deactivatedAt` is partnerd's
 * `archivedAt`, answered under both names.
 */

import { eventInput } from '../attribution/openpartner.ts'
import { AppError } from '../errors.ts'
import type { Coupon, RedeemInput } from './service.ts'

type RedeemWire = Omit<RedeemInput, 'type' | 'value' | 'ts'> & {
  type?: string
  eventType?: string
  value?: string | number
  ts?: string | number
}

export function redeemInput(body: RedeemWire): Omit<RedeemInput, 'type'> & { type?: string } {
  const { eventType, ...rest } = eventInput(body)
  if (eventType !== undefined && rest.type !== undefined && eventType !== rest.type) {
    throw new AppError(400, 'invalid_request', 'body.eventType: OpenPartner’s name for type; give one, or the same in both')
  }
  const type = rest.type ?? eventType
  return { ...rest, ...(type !== undefined ? { type } : {}) }
}

export function couponAnswer(coupon: Coupon): Coupon & { deactivatedAt: string | null } {
  return { ...coupon, deactivatedAt: coupon.archivedAt }
}
