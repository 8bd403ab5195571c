import { t } from 'elysia'
import { EVENT_TYPE_PATTERN } from '../attribution/events.ts'
import { EventBody, EventResultSchema } from '../attribution/routes.ts'
import { confineProgram } from '../auth/binding.ts'
import { againOnUniqueViolation } from '../db/errors.ts'
import type { TenantApi } from '../http/tenant-api.ts'
import { reachPartner } from '../partners/reach.ts'
import { couponAnswer, redeemInput } from './openpartner.ts'
import { archiveCoupon, COUPON_PATTERN, createCoupon, listCoupons, redeemCoupon } from './service.ts'

const CouponSchema = t.Object({
  id: t.String(),
  code: t.String({ description: 'Upper-cased; matched without regard to case.' }),
  partnerId: t.String(),
  programId: t.String(),
  createdAt: t.String({ format: 'date-time' }),
  archivedAt: t.Nullable(t.String({ format: 'date-time' })),
  deactivatedAt: t.Nullable(t.String({ format: 'date-time', description: 'OpenPartner’s name for archivedAt.' })),
})
const EventType = t.String({
  pattern: EVENT_TYPE_PATTERN,
  description: 'What the redemption is: sale (default), signup, or your own; not a refund.',
})
const RedeemResultSchema = t.Composite([
  EventResultSchema,
  t.Object({ partnerId: t.Optional(t.String({ description: 'The coupon’s partner.' })) }),
])
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
          return couponAnswer(await createCoupon(scope, params.id, body))
        })
      },
      {
        auth: { scopes: ['links:write'] },
        body: t.Object(
          {
            code: t.Optional(t.String({ pattern: COUPON_PATTERN, description: 'Left out: made from the partner’s email, e.g. ADA1F2B.' })),
            programId: t.String({ maxLength: 64 }),
          },
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
          return (await listCoupons(scope, params.id, confineProgram(principal, undefined))).map(couponAnswer)
        }),
      }),
      {
        auth: { scopes: ['links:read'] },
        response: t.Object({ coupons: t.Array(CouponSchema) }),
        detail: { tags, summary: "A partner's coupon codes" },
      },
    )
    .delete(
      '/partners/:id/coupons/:couponId',
      ({ params, withTenant, principal }) =>
        withTenant(async (scope) => {
          await reachPartner(scope, principal, params.id, 'read')
          return couponAnswer(await archiveCoupon(scope, params.id, params.couponId, confineProgram(principal, undefined)))
        }),
      {
        auth: { scopes: ['links:write'] },
        response: CouponSchema,
        detail: { tags, summary: 'Deactivate a coupon: it redeems no more, what it earned stays (OpenPartner’s route)' },
      },
    )
    .post(
      '/coupons/redeem',
      async ({ body, withTenant, set, principal }) => {
        const input = redeemInput(body)
        const outcome = await againOnUniqueViolation(() =>
          withTenant((scope) => redeemCoupon(scope, input, new Date(), principal.programId)),
        )
        // 201 for a new redemption, 200 for a replay: OpenPartner answers so too.
        set.status = outcome.replayed ? 200 : 201
        return {
          ok: true as const,
          replayed: outcome.replayed,
          ...outcome.result,
          ...(outcome.partnerId ? { partnerId: outcome.partnerId } : {}),
        }
      },
      {
        auth: { scopes: ['events:write'] },
        body: t.Object(
          {
            ...eventFields,
            externalEventId: t.String({
              minLength: 1,
              maxLength: 200,
              description: 'Your id for the redemption: sending it again is safe.',
            }),
            code: t.String({ minLength: 1, maxLength: 40 }),
            type: t.Optional(EventType),
            eventType: t.Optional(t.String({ pattern: EVENT_TYPE_PATTERN, description: 'OpenPartner’s name for type.' })),
          },
          { additionalProperties: false },
        ),
        response: { 200: RedeemResultSchema, 201: RedeemResultSchema },
        detail: {
          tags,
          summary: 'Redeem a coupon: records the conversion for its partner (idempotent on externalEventId; 404 coupon_not_found)',
        },
      },
    )
}
