import { t } from 'elysia'
import { EventBody, EventResultSchema } from '../attribution/routes.ts'
import { confineProgram } from '../auth/binding.ts'
import { againOnUniqueViolation } from '../db/errors.ts'
import { OneOf } from '../http/one-of.ts'
import type { TenantApi } from '../http/tenant-api.ts'
import { reachPartner } from '../partners/reach.ts'
import { COUPON_PATTERN, createCoupon, listCoupons, redeemCoupon } from './service.ts'

const CouponSchema = t.Object({
  id: t.String(),
  code: t.String({ description: 'Upper-cased; matched without regard to case.' }),
  partnerId: t.String(),
  programId: t.String(),
  createdAt: t.String({ format: 'date-time' }),
  archivedAt: t.Nullable(t.String({ format: 'date-time' })),
})
const tags = ['Tracking']

export function couponRoutes(api: TenantApi) {
  const { refundOf: _refundOf, type: _type, ...eventFields } = EventBody.properties
  return api
    .post(
      '/partners/:id/coupons',
      async ({ params, body, withTenant, set, principal }) => {
        confineProgram(principal, body.programId)
        set.status = 201
        return withTenant(async (scope) => {
          await reachPartner(scope, principal, params.id, 'read')
          return createCoupon(scope, params.id, body)
        })
      },
      {
        auth: { scopes: ['links:write'] },
        body: t.Object(
          { code: t.String({ pattern: COUPON_PATTERN }), programId: t.String({ maxLength: 64 }) },
          { additionalProperties: false },
        ),
        response: { 201: CouponSchema },
        detail: { tags, summary: 'Give a partner a coupon code in a program (409 code_taken)' },
      },
    )
    .get(
      '/partners/:id/coupons',
      async ({ params, withTenant, principal }) => ({
        coupons: await withTenant(async (scope) => {
          await reachPartner(scope, principal, params.id, 'read')
          return listCoupons(scope, params.id, confineProgram(principal, undefined))
        }),
      }),
      {
        auth: { scopes: ['links:read'] },
        response: t.Object({ coupons: t.Array(CouponSchema) }),
        detail: { tags, summary: "A partner's coupon codes" },
      },
    )
    .post(
      '/coupons/redeem',
      async ({ body, withTenant, set, principal }) => {
        const outcome = await againOnUniqueViolation(() =>
          withTenant((scope) => redeemCoupon(scope, body, new Date(), principal.programId)),
        )
        set.status = outcome.replayed ? 200 : 201
        return outcome.result
      },
      {
        auth: { scopes: ['events:write'] },
        body: t.Object(
          {
            ...eventFields,
            code: t.String({ minLength: 1, maxLength: 40 }),
            type: t.Optional(OneOf(['sale', 'signup'], { description: 'Default sale.' })),
          },
          { additionalProperties: false },
        ),
        response: { 200: EventResultSchema, 201: EventResultSchema },
        detail: { tags, summary: 'Redeem a coupon: records the conversion for its partner (idempotent on externalEventId)' },
      },
    )
}
