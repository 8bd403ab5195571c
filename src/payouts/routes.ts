import { t } from 'elysia'
import { PageQuery } from '../db/pagination.ts'
import { AppError } from '../errors.ts'
import { OneOf } from '../http/one-of.ts'
import type { TenantApi } from '../http/tenant-api.ts'
import { genericCsv, paypalCsv } from './csv.ts'
import { manualProvider, type PayoutProvider } from './providers.ts'
import {
  applyOutcomes,
  confirmPayout,
  getPayout,
  listPayouts,
  markFailed,
  markPaid,
  newRunId,
  type Payout,
  payoutRequests,
  payoutsForExport,
  runPayouts,
  toPayout,
} from './service.ts'

const STATUSES = ['pending', 'paid', 'failed'] as const
export const PayoutSchema = t.Object({
  id: t.String(),
  payoutId: t.String({ description: 'The same id (OpenPartner’s name for it).' }),
  runId: t.Nullable(t.String({ description: 'The run that made it.' })),
  partnerId: t.String(),
  currency: t.String(),
  amount: t.String(),
  commissionCount: t.Integer(),
  status: OneOf([...STATUSES]),
  method: t.String(),
  reference: t.Nullable(t.String()),
  failureReason: t.Nullable(t.String()),
  createdAt: t.String({ format: 'date-time' }),
  updatedAt: t.String({ format: 'date-time' }),
  paidAt: t.Nullable(t.String({ format: 'date-time' })),
})
const Payouts = t.Object({ payouts: t.Array(PayoutSchema) })
const Run = t.Object({
  runId: t.String({ description: 'This run: each payout it made carries it.' }),
  mode: t.Literal('selfhost', { description: 'OpenPartner’s billing mode: partnerd takes no platform fee.' }),
  payouts: t.Array(PayoutSchema),
})
const Page = t.Object({ payouts: t.Array(PayoutSchema), nextCursor: t.Nullable(t.String()) })
const Ids = t.Array(t.String({ maxLength: 64 }), { minItems: 1, maxItems: 500, description: 'Exactly the payouts to change.' })
const manage = { scopes: ['payouts:manage' as const] }
const read = { scopes: ['payouts:read' as const] }
const tags = ['Payouts']

/** `providers`: the payment providers by name (manual, and those plugins added). */
export function payoutRoutes(providers: ReadonlyMap<string, PayoutProvider>) {
  return (api: TenantApi) =>
    api
      .post(
        '/payouts/run',
        async ({ body, withTenant, set }) => {
          const options = body ?? {}
          const provider = providers.get(options.method ?? 'manual')
          if (!provider)
            throw new AppError(400, 'unknown_method', `no payment provider ${options.method}; known: ${[...providers.keys()].join(', ')}`)
          const runId = newRunId()
          const created = await withTenant((scope) => runPayouts(scope, { ...options, method: provider.name }, runId))
          // 201, not OpenPartner's 200: the run makes payouts. Its answer is OpenPartner's too (runId, mode).
          set.status = 201
          const answer = (payouts: Payout[]) => ({ runId, mode: 'selfhost' as const, payouts })
          if (provider === manualProvider || created.length === 0) return answer(created)
          // The run is committed first: a provider that fails or hangs leaves pending payouts, not a half-made run.
          const outcomes = await provider.submit(await withTenant((scope) => payoutRequests(scope, created)))
          await withTenant((scope) => applyOutcomes(scope, outcomes))
          const ids = new Set(created.map((p) => p.id))
          return answer(await withTenant(async (scope) => (await Promise.all([...ids].map((id) => getPayout(scope, id)))).map(toPayout)))
        },
        {
          // Making payouts is managing them (README): a key that only reads payouts cannot run them.
          auth: manage,
          body: t.Object(
            {
              currency: t.Optional(t.String({ pattern: '^[A-Z]{3}$' })),
              minimumAmount: t.Optional(
                t.Record(t.String({ pattern: '^[A-Z]{3}$' }), t.String({ maxLength: 32 }), {
                  description: 'Per currency, e.g. {"USD": "50.00"}.',
                }),
              ),
              minimumReferrals: t.Optional(t.Integer({ minimum: 1, maximum: 1_000_000 })),
              partnerIds: t.Optional(t.Array(t.String({ maxLength: 64 }), { maxItems: 1000 })),
              method: t.Optional(
                t.String({ pattern: '^[a-z0-9-]{1,40}$', description: 'Payment provider (default manual: pay by hand, then mark-paid).' }),
              ),
            },
            { additionalProperties: false },
          ),
          response: { 201: Run },
          detail: { tags, summary: 'Group approved commissions by partner and currency into pending payouts' },
        },
      )
      .get(
        '/payouts',
        async ({ query, withTenant }) => {
          const page = await withTenant((scope) => listPayouts(scope, query))
          return { payouts: page.items, nextCursor: page.nextCursor }
        },
        {
          auth: read,
          query: t.Composite([
            PageQuery,
            t.Object({ status: t.Optional(OneOf(STATUSES)), partnerId: t.Optional(t.String({ maxLength: 64 })) }),
          ]),
          response: Page,
          detail: { tags, summary: 'List payouts' },
        },
      )
      .get(
        '/payouts/export.csv',
        async ({ query, withTenant, set }) => {
          const rows = await withTenant((scope) => payoutsForExport(scope, query.status ?? 'pending'))
          set.headers['content-type'] = 'text/csv; charset=utf-8'
          set.headers['content-disposition'] = `attachment; filename="payouts-${query.format ?? 'generic'}.csv"`
          return query.format === 'paypal' ? paypalCsv(rows, query.note ?? 'Partner commissions') : genericCsv(rows)
        },
        {
          auth: read,
          query: t.Object({
            status: t.Optional(OneOf(STATUSES, { description: 'Default pending.' })),
            format: t.Optional(OneOf(['generic', 'paypal'], { description: "generic (with a header) or PayPal's mass-payment file." })),
            note: t.Optional(t.String({ maxLength: 200 })),
          }),
          detail: { tags, summary: 'Payouts as CSV: generic, or PayPal mass payment' },
        },
      )
      .get('/payouts/:id', ({ params, withTenant }) => withTenant(async (scope) => toPayout(await getPayout(scope, params.id))), {
        auth: read,
        response: PayoutSchema,
        detail: { tags, summary: 'One payout' },
      })
      .get(
        '/partners/:id/payouts',
        async ({ params, query, withTenant }) => {
          const page = await withTenant((scope) => listPayouts(scope, { ...query, partnerId: params.id }))
          return { payouts: page.items, nextCursor: page.nextCursor }
        },
        {
          auth: { ...read, partnerSelf: 'id' },
          query: PageQuery,
          response: Page,
          detail: { tags, summary: "A partner's payout history (admins, or the partner itself)" },
        },
      )
      .post(
        '/payouts/:id/confirm',
        async ({ params, body, withTenant }) => {
          const payout = await withTenant((scope) => confirmPayout(scope, params.id, body?.reference))
          return { ...payout, payout }
        },
        {
          auth: manage,
          body: t.Optional(t.Object({ reference: t.Optional(t.String({ maxLength: 200 })) }, { additionalProperties: false })),
          response: t.Composite([PayoutSchema, t.Object({ payout: PayoutSchema })]),
          detail: {
            tags,
            summary:
              'Mark one pending payout paid (OpenPartner’s confirm: 404 payout_not_found, 409 not_confirmable); its commissions are paid',
          },
        },
      )
      .post(
        '/payouts/mark-paid',
        async ({ body, withTenant }) => ({ payouts: await withTenant((scope) => markPaid(scope, body.payoutIds, body.reference)) }),
        {
          auth: manage,
          body: t.Object({ payoutIds: Ids, reference: t.Optional(t.String({ maxLength: 200 })) }, { additionalProperties: false }),
          response: Payouts,
          detail: { tags, summary: 'Mark exactly these pending payouts paid (all or none; 409 if one is not pending)' },
        },
      )
      .post(
        '/payouts/mark-failed',
        async ({ body, withTenant }) => ({ payouts: await withTenant((scope) => markFailed(scope, body.payoutIds, body.reason)) }),
        {
          auth: manage,
          body: t.Object({ payoutIds: Ids, reason: t.Optional(t.String({ maxLength: 500 })) }, { additionalProperties: false }),
          response: Payouts,
          detail: { tags, summary: 'Mark exactly these pending payouts failed: their commissions go back for the next run' },
        },
      )
}
