import { t } from 'elysia'
import { confineProgram } from '../auth/binding.ts'
import { PageQuery } from '../db/pagination.ts'
import { OneOf } from '../http/one-of.ts'
import type { TenantApi } from '../http/tenant-api.ts'
import { partnerTotals } from '../reports/service.ts'
import { partnerDashboard } from './dashboard.ts'
import { type Invitations, invitePartner } from './portal.ts'
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
  activatedAt: t.Nullable(
    t.String({ format: 'date-time', description: 'When it accepted its invitation (first portal sign-in), or was made needing none.' }),
  ),
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
    {
      reason: t.Optional(t.String({ maxLength: 500, description: 'Why; kept in the audit log.' })),
      notify: t.Optional(
        t.Boolean({ description: 'OpenPartner’s: whether to mail the partner. partnerd mails no one; answered `notified: false`.' }),
      ),
    },
    { additionalProperties: false },
  ),
)
/** OpenPartner's `{ok}` beside the partner, on each lifecycle answer. */
const Done = (extra: Parameters<typeof t.Object>[0] = {}) => t.Composite([PartnerSchema, t.Object({ ok: t.Literal(true), ...extra })])
const read = { scopes: ['partners:read' as const] }
const write = { scopes: ['partners:write' as const] }
const tags = ['Partners']

/**
 * OpenPartner's partner endpoints. `invitations` says whether a sign-in plugin mails invitations,
 * and where a tenant's partners sign in.
 */
export function partnerRoutes(invitations: Invitations) {
  return (api: TenantApi) => routes(api, invitations)
}

function routes(api: TenantApi, invitations: Invitations) {
  return api
    .post(
      '/partners',
      async ({ body, withTenant, set, principal, tenant }) => {
        // An invitation is sent when asked for (sendInvite: true): mail goes to no one unasked.
        // sendInvite: false is OpenPartner's "needs none": the partner is active (activatedAt) at once.
        const { sendInvite, ...input } = body
        if (sendInvite === true) invitations.assertAvailable()
        const partner = await withTenant(async (scope) => {
          const made = await createPartnerAs(scope, principal, { ...input, activated: sendInvite === false })
          if (sendInvite === true) await invitePartner(scope, made.id, invitations.apiBase(tenant))
          return made
        })
        set.status = 201
        return { ...partner, invited: sendInvite === true }
      },
      {
        auth: write,
        body: t.Object(
          {
            email: t.String({ minLength: 3, maxLength: 254 }),
            name: t.Optional(t.String({ maxLength: 200 })),
            metadata: t.Optional(Metadata),
            sendInvite: t.Optional(
              t.Boolean({
                description:
                  'true: invite it to the portal now (as POST /partners/:id/invite); false: it needs no invitation and is active at once. Left out: neither.',
              }),
            ),
            programIds: t.Optional(
              t.Array(t.String({ maxLength: 64 }), {
                maxItems: 100,
                description: 'Enrol it in these programs (400 unknown_campaign_ids names those that do not exist).',
              }),
            ),
          },
          { additionalProperties: false },
        ),
        response: { 201: t.Composite([PartnerSchema, t.Object({ invited: t.Boolean() })]) },
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
      auth: { ...read, partnerSelf: 'id' },
      response: PartnerSchema,
      detail: { tags, summary: 'One partner (admins, or the partner itself)' },
    })
    .get(
      '/partners/:id/dashboard',
      ({ params, query, withTenant, principal }) =>
        withTenant(async (scope) => {
          await reachPartner(scope, principal, params.id, 'read')
          return partnerDashboard(scope, params.id, { since: query.since, programId: confineProgram(principal, undefined) })
        }),
      {
        auth: { ...read, partnerSelf: 'id' },
        query: t.Object({
          since: t.Optional(t.String({ maxLength: 40, description: 'ISO date or date-time (default: 30 days ago).' })),
        }),
        response: t.Object({
          partnerId: t.String(),
          since: t.String(),
          clicks: t.Integer(),
          attributedEvents: t.Integer(),
          attributedRevenue: t.Nullable(t.String({ description: 'In `currency`; null when the figures span several currencies.' })),
          commissionByStatus: t.Nullable(t.Record(t.String(), t.String(), { description: 'In `currency`; null across several.' })),
          currency: t.Nullable(t.String()),
          revenue: Amounts,
          commissions: t.Record(t.String(), Amounts, { description: 'Per status, then per currency.' }),
        }),
        detail: { tags, summary: 'A partner’s dashboard: clicks, attributed events and revenue, commissions by status (OpenPartner’s)' },
      },
    )
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
          const revoked = await setPartnerStatus(scope, params.id, 'revoked', { id: principal.id, ip, reason: body?.reason })
          return { ...revoked, ok: true as const, notified: false }
        }),
      {
        auth: write,
        body: Reason,
        response: Done({ notified: t.Boolean() }),
        detail: {
          tags,
          summary: 'Revoke a partner: its links still redirect, its clicks are flagged and earn nothing (409 already_revoked)',
        },
      },
    )
    .post(
      '/partners/:id/reinstate',
      ({ params, body, withTenant, principal, ip }) =>
        withTenant(async (scope) => {
          await reachPartner(scope, principal, params.id, 'change')
          const reinstated = await setPartnerStatus(scope, params.id, 'active', { id: principal.id, ip, reason: body?.reason })
          return { ...reinstated, ok: true as const }
        }),
      {
        auth: write,
        body: Reason,
        response: Done(),
        detail: { tags, summary: 'Reinstate a revoked partner (409 not_revoked)' },
      },
    )
}
