import { t } from 'elysia'
import { confineProgram } from '../auth/binding.ts'
import { hasScopes } from '../auth/scopes.ts'
import type { TenantApi } from '../http/tenant-api.ts'
import { reachPartner } from '../partners/reach.ts'
import { overview } from './overview.ts'
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
const Figures = t.Object({ clicks: t.Integer(), signups: t.Integer(), sales: t.Integer(), revenue: Amounts })
const OverviewSchema = t.Object({
  from: t.String(),
  to: t.String(),
  previous: t.Object({ from: t.String(), to: t.String() }),
  now: Figures,
  before: Figures,
  commissions: t.Record(t.String(), Amounts, { description: 'Created in the period: per status, then per currency.' }),
  earned: Amounts,
  days: t.Array(t.Object({ day: t.String(), clicks: t.Integer(), conversions: t.Integer(), revenue: Amounts })),
  top: t.Object({
    partners: t.Array(t.Object({ partnerId: t.String(), name: t.Nullable(t.String()), email: t.String(), conversions: t.Integer() })),
    links: t.Array(t.Object({ linkId: t.String(), key: t.String(), conversions: t.Integer() })),
  }),
  toDo: t.Object({ flagged: t.Integer(), matured: t.Integer() }, { description: 'Counted up to 1000 each.' }),
  pending: t.Optional(t.Object({ count: t.Integer(), totals: Amounts }, { description: 'With payouts:read.' })),
})
const tags = ['Reports']
const auth = { scopes: ['commissions:read' as const] }

export function reportRoutes(api: TenantApi) {
  return api
    .get(
      '/overview',
      ({ query, withTenant, principal }) => {
        const programId = confineProgram(principal, query.programId)
        const payouts = hasScopes(principal.scopes, ['payouts:read']).length === 0
        return withTenant((scope) => overview(scope, { from: query.from, to: query.to }, { payouts, programId }))
      },
      {
        auth: { scopes: ['commissions:read', 'partners:read', 'links:read'] },
        query: t.Composite([
          StatsRange,
          t.Object({ programId: t.Optional(t.String({ maxLength: 64, description: 'One program only.' })) }),
        ]),
        response: OverviewSchema,
        detail: {
          tags,
          summary:
            'How the program is doing over a period (the last 30 days by default) against the one before, day by day, and what asks for work',
        },
      },
    )
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
