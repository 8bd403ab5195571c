import { t } from 'elysia'
import { confineProgram } from '../auth/binding.ts'
import type { TenantApi } from '../http/tenant-api.ts'
import { reachPartner } from '../partners/reach.ts'
import { stats } from './service.ts'

export const StatsRange = t.Object({
  from: t.Optional(t.String({ maxLength: 40, description: 'ISO date or date-time, inclusive.' })),
  to: t.Optional(t.String({ maxLength: 40, description: 'ISO date or date-time, exclusive.' })),
})
const Amounts = t.Record(t.String(), t.String(), { description: 'Per currency.' })
export const StatsSchema = t.Object({
  from: t.Nullable(t.String()),
  to: t.Nullable(t.String()),
  clicks: t.Object(
    { total: t.Integer(), flagged: t.Integer() },
    {
      description:
        'Counted by quarter hour: a range of days in any time zone is exact; an edge inside a quarter hour takes that quarter hour whole.',
    },
  ),
  conversions: t.Object({ signups: t.Integer(), sales: t.Integer() }),
  revenue: Amounts,
  commissions: t.Record(t.String(), Amounts, { description: 'Per status, then per currency.' }),
})
const tags = ['Reports']
const auth = { scopes: ['commissions:read' as const] }

export function reportRoutes(api: TenantApi) {
  return api
    .get(
      '/partners/:id/stats',
      ({ params, query, withTenant, principal }) =>
        withTenant(async (scope) => {
          await reachPartner(scope, principal, params.id, 'read')
          return stats(scope, { partnerId: params.id, programId: confineProgram(principal, undefined) }, query)
        }),
      {
        auth,
        query: StatsRange,
        response: StatsSchema,
        detail: {
          tags,
          summary: "A partner's clicks, conversions, revenue and commissions over a date range (a program-bound key: in its program)",
        },
      },
    )
    .get(
      '/programs/:id/stats',
      ({ params, query, withTenant, principal }) =>
        withTenant((scope) => stats(scope, { programId: confineProgram(principal, params.id) }, query)),
      {
        auth,
        query: StatsRange,
        response: StatsSchema,
        detail: { tags, summary: "A program's clicks, conversions, revenue and commissions over a date range" },
      },
    )
}
