import { t } from 'elysia'
import { confineProgram } from '../auth/binding.ts'
import { PageQuery } from '../db/pagination.ts'
import { OneOf } from '../http/one-of.ts'
import type { TenantApi } from '../http/tenant-api.ts'
import { partnerTotals } from '../reports/service.ts'
import { createPartnerAs, reachPartner } from './reach.ts'
import { listPartners, setPartnerStatus, updatePartner } from './service.ts'

export const PartnerSchema = t.Object({
  id: t.String({ description: 'A bare ULID.' }),
  email: t.String(),
  name: t.Nullable(t.String()),
  status: OneOf(['active', 'revoked']),
  metadata: t.Record(t.String(), t.Unknown()),
  createdAt: t.String({ format: 'date-time' }),
  updatedAt: t.String({ format: 'date-time' }),
  revokedAt: t.Nullable(t.String({ format: 'date-time' })),
})
const Amounts = t.Record(t.String(), t.String(), { description: 'Per currency.' })
const PartnerWithTotals = t.Composite([
  PartnerSchema,
  t.Object({
    totals: t.Optional(t.Object({ clicks: t.Integer(), conversions: t.Integer(), revenue: Amounts, earned: Amounts })),
  }),
])
const Metadata = t.Record(t.String({ maxLength: 100 }), t.Unknown(), {
  description: 'Your own references (CRM ids…); at most 16 KiB of JSON.',
})
/** Why a partner is revoked or reinstated: kept in the audit log. */
const Reason = t.Optional(
  t.Object(
    { reason: t.Optional(t.String({ maxLength: 500, description: 'Why; kept in the audit log.' })) },
    { additionalProperties: false },
  ),
)
const read = { scopes: ['partners:read' as const] }
const write = { scopes: ['partners:write' as const] }
const tags = ['Partners']

/** OpenPartner's partner endpoints. */
export function partnerRoutes(api: TenantApi) {
  return api
    .post(
      '/partners',
      async ({ body, withTenant, set, principal }) => {
        set.status = 201
        return withTenant((scope) => createPartnerAs(scope, principal, body))
      },
      {
        auth: write,
        body: t.Object(
          {
            email: t.String({ minLength: 3, maxLength: 254 }),
            name: t.Optional(t.String({ maxLength: 200 })),
            metadata: t.Optional(Metadata),
          },
          { additionalProperties: false },
        ),
        response: { 201: PartnerSchema },
        detail: { tags, summary: 'Create a partner (409 email_taken; the email is lower-cased; a program-bound key enrols it)' },
      },
    )
    .get(
      '/partners',
      async ({ query, withTenant, principal }) => {
        const programId = confineProgram(principal, query.programId)
        return withTenant(async (scope) => {
          const page = await listPartners(scope, { ...query, programId })
          if (query.totals !== 'true') return { partners: page.items, nextCursor: page.nextCursor }
          // Each partner's figures, in the same grouped queries the console's list uses.
          const totals = await partnerTotals(
            scope,
            page.items.map((p) => p.id),
            programId,
          )
          return { partners: page.items.map((p) => ({ ...p, totals: totals.get(p.id)! })), nextCursor: page.nextCursor }
        })
      },
      {
        auth: read,
        query: t.Composite([
          PageQuery,
          t.Object({
            email: t.Optional(t.String({ maxLength: 254 })),
            status: t.Optional(OneOf(['active', 'revoked'])),
            programId: t.Optional(t.String({ maxLength: 64, description: 'Only partners enrolled in this program.' })),
            search: t.Optional(t.String({ maxLength: 200, description: 'In the email or the name, whatever the case.' })),
            totals: t.Optional(
              OneOf(['true', 'false'], {
                description:
                  "true: each partner's clicks, conversions, revenue and earnings (all time; in the program, when one is named).",
              }),
            ),
          }),
        ]),
        response: t.Object({ partners: t.Array(PartnerWithTotals), nextCursor: t.Nullable(t.String()) }),
        detail: { tags, summary: 'List partners, filtered by email, status, program or a search; with their figures on request' },
      },
    )
    .get('/partners/:id', ({ params, withTenant, principal }) => withTenant((scope) => reachPartner(scope, principal, params.id, 'read')), {
      auth: read,
      response: PartnerSchema,
      detail: { tags, summary: 'One partner' },
    })
    .patch(
      '/partners/:id',
      ({ params, body, withTenant, principal }) =>
        withTenant(async (scope) => {
          await reachPartner(scope, principal, params.id, 'change')
          return updatePartner(scope, params.id, body)
        }),
      {
        auth: write,
        body: t.Object(
          {
            email: t.Optional(t.String({ minLength: 3, maxLength: 254 })),
            name: t.Optional(t.Nullable(t.String({ maxLength: 200 }))),
            metadata: t.Optional(Metadata),
          },
          { additionalProperties: false },
        ),
        response: PartnerSchema,
        detail: { tags, summary: 'Change a partner’s email, name or metadata' },
      },
    )
    .post(
      '/partners/:id/revoke',
      ({ params, body, withTenant, principal, ip }) =>
        withTenant(async (scope) => {
          await reachPartner(scope, principal, params.id, 'change')
          return setPartnerStatus(scope, params.id, 'revoked', { id: principal.id, ip, reason: body?.reason })
        }),
      {
        auth: write,
        body: Reason,
        response: PartnerSchema,
        detail: { tags, summary: 'Revoke a partner: its links still redirect, its clicks are flagged and earn nothing' },
      },
    )
    .post(
      '/partners/:id/reinstate',
      ({ params, body, withTenant, principal, ip }) =>
        withTenant(async (scope) => {
          await reachPartner(scope, principal, params.id, 'change')
          return setPartnerStatus(scope, params.id, 'active', { id: principal.id, ip, reason: body?.reason })
        }),
      {
        auth: write,
        body: Reason,
        response: PartnerSchema,
        detail: { tags, summary: 'Reinstate a revoked partner' },
      },
    )
}
