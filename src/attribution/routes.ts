import { t } from 'elysia'
import { CommissionSchema } from '../commissions/routes.ts'
import type { Config } from '../config/schema.ts'
import { readJson } from '../db/codec.ts'
import { againOnUniqueViolation } from '../db/errors.ts'
import type { TenantScope } from '../db/with-tenant.ts'
import { AppError } from '../errors.ts'
import { addressGroup } from '../http/client-address.ts'
import { OneOf } from '../http/one-of.ts'
import { RateLimiter } from '../http/rate-limit.ts'
import type { TenantApi } from '../http/tenant-api.ts'
import { clickCookie } from '../links/router.ts'
import { hashAddress } from '../links/visitor.ts'
import { EVENT_TYPE_PATTERN, recordEvent } from './events.ts'
import { identify } from './identify.ts'
import { MODELS } from './models.ts'

const tags = ['Tracking']
const CustomerId = t.String({ minLength: 1, maxLength: 200, description: 'Your own id for the customer.' })

const AttributionSchema = t.Object({
  status: OneOf(['attributed', 'unattributed', 'reversal', 'not_commissionable']),
  model: t.Nullable(OneOf([...MODELS])),
  touches: t.Array(t.Object({ clickId: t.String(), partnerId: t.String(), programId: t.String(), weight: t.String() })),
  reason: t.Optional(t.String({ description: 'Why nothing was earned, when nothing was.' })),
})
export const EventResultSchema = t.Object({
  eventId: t.String(),
  externalEventId: t.String(),
  attribution: AttributionSchema,
  commissions: t.Array(CommissionSchema),
})

export const EventBody = t.Object(
  {
    userId: CustomerId,
    type: t.String({
      pattern: EVENT_TYPE_PATTERN,
      description: 'signup/lead, sale/purchase/invoice_paid/opportunity_won, refund/chargeback, or your own.',
    }),
    value: t.Optional(t.String({ maxLength: 32, description: 'Decimal string, e.g. "49.00"; at most 10^15 minor units.' })),
    currency: t.Optional(t.String({ pattern: '^[A-Z]{3}$' })),
    externalEventId: t.String({ minLength: 1, maxLength: 200, description: 'Your id for the event: sending it again is safe.' }),
    metadata: t.Optional(t.Record(t.String({ maxLength: 100 }), t.Unknown())),
    ts: t.Optional(t.String({ maxLength: 40, description: 'When it happened (default: now); at most 5 minutes ahead.' })),
    refundOf: t.Optional(t.String({ minLength: 1, maxLength: 200, description: 'Refunds: the externalEventId of the sale.' })),
    customerEmail: t.Optional(t.String({ minLength: 3, maxLength: 254, description: 'Used to catch self-referrals.' })),
  },
  { additionalProperties: false },
)

/** Origins allowed to call identify from a browser: the hosts of the tenant's programs. */
async function allowedOrigin(scope: TenantScope, origin: string): Promise<boolean> {
  let host: string
  try {
    host = new URL(origin).hostname
  } catch {
    return false
  }
  const programs = await scope.db
    .selectFrom('programs')
    .select(['destination_url', 'deep_link_hosts'])
    .where('tenant_id', '=', scope.tenantId)
    .where('status', '!=', 'archived')
    .execute()
  return programs.some((p) => new URL(p.destination_url).hostname === host || readJson<string[]>(p.deep_link_hosts).includes(host))
}

function corsHeaders(origin: string): Record<string, string> {
  return {
    'access-control-allow-origin': origin,
    'access-control-allow-credentials': 'true',
    'access-control-allow-methods': 'POST',
    'access-control-allow-headers': 'content-type',
    'access-control-max-age': '600',
    vary: 'Origin',
  }
}

/** OpenPartner's tracking API: events from the company's servers, identify from its pages. */
export function attributionRoutes(config: Config) {
  const identifyLimit = new RateLimiter({ limit: config.tracking.identify_per_minute, windowMs: 60_000 })
  return (api: TenantApi) =>
    api
      .post(
        '/attribution/events',
        async ({ body, withTenant, set, principal }) => {
          const outcome = await againOnUniqueViolation(() =>
            withTenant((scope) => recordEvent(scope, body, new Date(), principal.programId)),
          )
          set.status = outcome.replayed ? 200 : 201
          return outcome.result
        },
        {
          auth: { scopes: ['events:write'] },
          body: EventBody,
          response: { 200: EventResultSchema, 201: EventResultSchema },
          detail: { tags, summary: 'Record a conversion event; answers its attribution and commissions (a replay answers the original)' },
        },
      )
      .options('/attribution/identify', async ({ request, withTenant, set }) => {
        const origin = request.headers.get('origin')
        set.status = 204
        if (origin && (await withTenant((scope) => allowedOrigin(scope, origin)))) Object.assign(set.headers, corsHeaders(origin))
        return null
      })
      .post(
        '/attribution/identify',
        async ({ body, request, withTenant, ip, set }) => {
          identifyLimit.hit(ip ? addressGroup(ip) : '-')
          const origin = request.headers.get('origin')
          const cref = body.cref ?? clickCookie(request)
          if (!cref) throw new AppError(400, 'invalid_request', 'body.cref: the click id (or a _cref cookie)')
          return withTenant(async (scope) => {
            if (origin) {
              if (!(await allowedOrigin(scope, origin)))
                throw new AppError(403, 'origin_not_allowed', `${origin} is not one of the programs' hosts`)
              Object.assign(set.headers, corsHeaders(origin))
            }
            const { click_salt: sealed } = await scope.db
              .selectFrom('tenants')
              .select('click_salt')
              .where('id', '=', scope.tenantId)
              .executeTakeFirstOrThrow()
            const salt = sealed ? scope.secrets.open(sealed, { table: 'tenants', id: scope.tenantId }) : ''
            return identify(scope, { cref, userId: body.userId, ipHash: hashAddress(salt, ip) })
          })
        },
        {
          body: t.Object(
            { cref: t.Optional(t.String({ minLength: 1, maxLength: 64 })), userId: CustomerId },
            { additionalProperties: false },
          ),
          response: t.Object({ cref: t.String(), userId: t.String(), attributedEvents: t.Integer() }),
          detail: {
            tags,
            summary: 'Tie a click to your customer id (public; browsers on your programs’ hosts may call it). Attributes earlier events.',
          },
        },
      )
}
