import { t } from 'elysia'
import { assertInProgram, confineProgram } from '../auth/binding.ts'
import { toCsv } from '../data/csv.ts'
import { fetchAll, PageQuery } from '../db/pagination.ts'
import { OneOf } from '../http/one-of.ts'
import type { TenantApi } from '../http/tenant-api.ts'
import { reachPartner } from '../partners/reach.ts'
import {
  approveCommission,
  approveMatured,
  clearCommission,
  commissionRow,
  listCommissions,
  rejectCommission,
  reverseById,
  toCommission,
} from './service.ts'

const STATUSES = ['accrued', 'flagged', 'approved', 'paid', 'reversed', 'voided'] as const

export const CommissionSchema = t.Object({
  id: t.String(),
  partnerId: t.String(),
  programId: t.String(),
  eventId: t.String(),
  userId: t.String({ description: 'The customer whose conversion earned it.' }),
  clickId: t.Nullable(t.String()),
  trigger: OneOf(['signup', 'sale']),
  kind: OneOf(['commission', 'clawback'], { description: 'A clawback is negative: it takes back part or all of a commission.' }),
  amount: t.String({ description: 'Decimal string in the currency.' }),
  currency: t.String(),
  status: OneOf([...STATUSES]),
  flag: t.Nullable(t.String({ description: 'Why it waits for review: revoked, velocity, self_referral.' })),
  matureAt: t.String({ format: 'date-time', description: 'End of the holdback.' }),
  holdbackDays: t.Integer({ description: 'The holdback it waits out, in days.' }),
  reversesId: t.Nullable(t.String()),
  payoutId: t.Nullable(t.String()),
  createdAt: t.String({ format: 'date-time' }),
  updatedAt: t.String({ format: 'date-time' }),
})
const Filter = t.Composite([
  PageQuery,
  t.Object({
    status: t.Optional(OneOf(STATUSES)),
    partnerId: t.Optional(t.String({ maxLength: 64 })),
    programId: t.Optional(t.String({ maxLength: 64 })),
    from: t.Optional(t.String({ maxLength: 40, description: 'Created at or after (ISO date or date-time).' })),
    to: t.Optional(t.String({ maxLength: 40, description: 'Created before.' })),
  }),
])
const Page = t.Object({ commissions: t.Array(CommissionSchema), nextCursor: t.Nullable(t.String()) })
const read = { scopes: ['commissions:read' as const] }
const write = { scopes: ['commissions:write' as const] }
const tags = ['Commissions']

export function commissionRoutes(api: TenantApi) {
  return api
    .get(
      '/commissions',
      async ({ query, withTenant, principal }) => {
        const page = await withTenant((scope) =>
          listCommissions(scope, { ...query, programId: confineProgram(principal, query.programId) }),
        )
        return { commissions: page.items, nextCursor: page.nextCursor }
      },
      { auth: read, query: Filter, response: Page, detail: { tags, summary: 'List commissions (status=flagged is the review queue)' } },
    )
    .get(
      '/partners/:id/commissions',
      async ({ params, query, withTenant, principal }) => {
        const page = await withTenant(async (scope) => {
          await reachPartner(scope, principal, params.id, 'read')
          return listCommissions(scope, { ...query, partnerId: params.id, programId: confineProgram(principal, query.programId) })
        })
        return { commissions: page.items, nextCursor: page.nextCursor }
      },
      {
        auth: { ...read, partnerSelf: 'id' },
        query: Filter,
        response: Page,
        detail: { tags, summary: "A partner's commissions (admins, or the partner itself)" },
      },
    )
    .get(
      '/commissions/export.csv',
      async ({ query, withTenant, set, principal }) => {
        const programId = confineProgram(principal, query.programId)
        const all = await withTenant((scope) => fetchAll((page) => listCommissions(scope, { ...query, ...page, programId })))
        set.headers['content-type'] = 'text/csv; charset=utf-8'
        set.headers['content-disposition'] = 'attachment; filename="commissions.csv"'
        const columns = [
          'id',
          'partnerId',
          'programId',
          'eventId',
          'userId',
          'trigger',
          'kind',
          'amount',
          'currency',
          'status',
          'flag',
          'matureAt',
          'payoutId',
          'createdAt',
        ] as const
        return toCsv([[...columns], ...all.map((c) => columns.map((k) => c[k]))])
      },
      { auth: read, query: Filter, detail: { tags, summary: 'Commissions as CSV, with the same filters as the list' } },
    )
    .get(
      '/commissions/:id',
      ({ params, withTenant, principal }) =>
        withTenant(async (scope) => assertInProgram(principal, toCommission(await commissionRow(scope, params.id)))),
      {
        auth: read,
        response: CommissionSchema,
        detail: { tags, summary: 'One commission' },
      },
    )
    .post(
      '/commissions/:id/approve',
      async ({ params, withTenant }) => {
        const commission = await withTenant((scope) => approveCommission(scope, params.id))
        // The commission itself, as partnerd answers, and under `commission`, as OpenPartner does.
        return { ...commission, commission }
      },
      {
        auth: write,
        response: t.Composite([CommissionSchema, t.Object({ commission: CommissionSchema })]),
        detail: {
          tags,
          summary: 'Approve a commission whose holdback is over (409 holdback_active with matureAt and holdbackDays, not_approvable)',
        },
      },
    )
    .post('/commissions/approve-matured', async ({ withTenant }) => ({ approved: await withTenant((scope) => approveMatured(scope)) }), {
      auth: write,
      response: t.Object({ approved: t.Integer() }),
      detail: { tags, summary: 'Approve every commission whose holdback is over (the scheduled job does this too)' },
    })
    .post('/commissions/:id/reverse', ({ params, withTenant }) => withTenant((scope) => reverseById(scope, params.id)), {
      auth: write,
      response: t.Object({ commission: CommissionSchema, clawback: t.Nullable(CommissionSchema) }),
      detail: { tags, summary: 'Reverse a commission; once paid, a clawback is deducted from the next payout (409 not_reversible)' },
    })
    .post('/commissions/:id/clear', ({ params, withTenant }) => withTenant((scope) => clearCommission(scope, params.id)), {
      auth: write,
      response: CommissionSchema,
      detail: { tags, summary: 'Review: clear a flagged commission (it accrues)' },
    })
    .post('/commissions/:id/reject', ({ params, withTenant }) => withTenant((scope) => rejectCommission(scope, params.id)), {
      auth: write,
      response: CommissionSchema,
      detail: { tags, summary: 'Review: reject a flagged commission (it is voided)' },
    })
}
