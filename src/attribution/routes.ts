import { t } from 'elysia'
import { CommissionSchema } from '../commissions/routes.ts'
import type { Config } from '../config/schema.ts'
import { readJson } from '../db/codec.ts'
import type { TenantScope } from '../db/with-tenant.ts'
import { AppError } from '../errors.ts'
import { addressGroup } from '../http/client-address.ts'
import { OneOf } from '../http/one-of.ts'
import { RateLimiter } from '../http/rate-limit.ts'
import type { TenantApi } from '../http/tenant-api.ts'
import { clickCookie } from '../links/router.ts'
import { hashAddress } from '../links/visitor.ts'
import type { ProgramTermsCache } from '../programs/terms.ts'
import { ATTRIBUTION_STATUSES, EVENT_TYPE_PATTERN, eventBatches } from './events.ts'
import { identify } from './identify.ts'
import { MODELS } from './models.ts'
import { eventInput, IdentifyTime, WireTime, WireValue } from './openpartner.ts'

const tags = ['Tracking']
const CustomerId = t.String({ minLength: 1, maxLength: 200, description: 'Your own id for the customer.' })

const AttributionSchema = t.Object({
  status: OneOf([...ATTRIBUTION_STATUSES], {
    description: 'attributed; or why not (OpenPartner’s names): no_identity, no_click, outside_window; reversal for refunds.',
  }),
  model: t.Nullable(OneOf([...MODELS])),
  touches: t.Array(
    t.Object({
      clickId: t.String(),
      partnerId: t.String(),
      programId: t.String(),
      weight: t.Number({ description: 'Share of the credit: 0.4 for 40%.' }),
      attributionId: t.String(),
      commissionId: t.Optional(t.String({ description: 'What the touch’s partner earned by the event, if anything.' })),
    }),
  ),
  reason: t.Optional(t.String({ description: 'Why nothing was earned, when nothing was.' })),
})
/** The answer to an event: OpenPartner's `ok`, `eventId` and `attribution`, and partnerd's commissions. */
export const EventResultSchema = t.Object({
  ok: t.Literal(true),
  eventId: t.String(),
  externalEventId: t.String({ description: 'Yours, or the eventId when you sent none.' }),
  replayed: t.Boolean({ description: 'The externalEventId was known: this is the answer it had.' }),
  attribution: AttributionSchema,
  commissions: t.Array(CommissionSchema),
})

/** An event, in partnerd's shape or OpenPartner's (numbers for value and ts, no externalEventId): openpartner.ts. */
export const EventBody = t.Object(
  {
    userId: CustomerId,
    type: t.String({
      pattern: EVENT_TYPE_PATTERN,
      description: 'signup/lead, sale/purchase/invoice_paid/opportunity_won, refund/chargeback, or your own.',
    }),
    value: t.Optional(WireValue),
    currency: t.Optional(t.String({ pattern: '^[A-Z]{3}$', description: 'Left out: the currency of the customer’s program.' })),
    externalEventId: t.Optional(
      t.String({ minLength: 1, maxLength: 200, description: 'Your id for the event: sending it again is safe. Without it, it is not.' }),
    ),
    metadata: t.Optional(t.Record(t.String({ maxLength: 100 }), t.Unknown())),
    ts: t.Optional(WireTime),
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
export function attributionRoutes(config: Config, programs: ProgramTermsCache) {
  const record = eventBatches(programs)
  const identifyLimit = new RateLimiter({ limit: config.tracking.identify_per_minute, windowMs: 60_000 })
  return (api: TenantApi) =>
    api
      .post(
        '/attribution/events',
        // 200 whether new or replayed, as OpenPartner answers (its clients check for 200); `replayed` tells which.
        async ({ body, batched, principal }) => {
          const input = eventInput(body)
          // Events arriving together are recorded together and share a commit (db/group-commit.ts),
          // each still all or nothing.
          const outcome = await batched(record, { input, now: new Date(), onlyProgram: principal.programId })
          return { ok: true as const, replayed: outcome.replayed, ...outcome.result }
        },
        {
          auth: { scopes: ['events:write'] },
          body: EventBody,
          response: EventResultSchema,
          detail: {
            tags,
            summary: 'Record a conversion event; answers 200 with its attribution and commissions (a replay answers the original)',
          },
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
            const tie = await identify(scope, { cref, userId: body.userId, ipHash: hashAddress(salt, ip) })
            return { ok: true as const, ...tie }
          })
        },
        {
          body: t.Object(
            { cref: t.Optional(t.String({ minLength: 1, maxLength: 64 })), userId: CustomerId, ts: t.Optional(IdentifyTime) },
            { additionalProperties: false },
          ),
          response: t.Object({
            ok: t.Literal(true),
            cref: t.String(),
            userId: t.String(),
            attributedEvents: t.Integer({ description: 'Earlier events of the customer attributed now.' }),
            identityId: t.Nullable(t.String({ description: 'The tie this call made; null when it was made before.' })),
            firstStitch: t.Boolean({ description: 'This call made the tie.' }),
            backfilledAttributions: t.Integer({ description: 'OpenPartner’s name for attributedEvents.' }),
          }),
          detail: {
            tags,
            summary: 'Tie a click to your customer id (public; browsers on your programs’ hosts may call it). Attributes earlier events.',
          },
        },
      )
}
