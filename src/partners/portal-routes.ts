/**
 * The partner's own routes: what a partner's portal user, or a key bound to the partner, may reach.
 * Every one of them takes the partner from the principal, never from the URL, so a partner can see
 * and change its own data only. `GET /me` answers any principal (who am I, what may I do).
 */
import { t } from 'elysia'
import { ApiKeySchema, MintedSchema } from '../auth/api-keys/routes.ts'
import { listApiKeys, mintApiKey, revokeApiKey } from '../auth/api-keys/service.ts'
import type { Principal } from '../auth/principal.ts'
import { hasScopes } from '../auth/scopes.ts'
import { CommissionSchema } from '../commissions/routes.ts'
import { listCommissions } from '../commissions/service.ts'
import { fetchAll, PageQuery } from '../db/pagination.ts'
import { AppError } from '../errors.ts'
import type { TenantApi } from '../http/tenant-api.ts'
import { LinkSchema } from '../links/routes.ts'
import { createLink, LINK_KEY_PATTERN, listLinks } from '../links/service.ts'
import { PayoutSchema } from '../payouts/routes.ts'
import { listPayouts } from '../payouts/service.ts'
import { findEnrolmentRow } from '../programs/enrolments.ts'
import { StatsRange, StatsSchema } from '../reports/routes.ts'
import { stats } from '../reports/service.ts'
import { assertWithinQuota, type Invitations, invitePartner, partnerQuotas } from './portal.ts'
import { reachPartner } from './reach.ts'
import { PartnerSchema } from './routes.ts'
import { getPartner } from './service.ts'

const partner = { partner: true as const }
const tags = ['Partner portal']

/** What the principal may do, as flags a client can show or hide features by. */
function capabilities(principal: Principal) {
  const can = (scope: string) => hasScopes(principal.scopes, [scope]).length === 0
  return {
    manage_organization: principal.scopes.includes('*'),
    manage_partners: can('partners:write'),
    read_partners: can('partners:read'),
    record_events: can('events:write'),
    read_commissions: can('commissions:read'),
    manage_links: can('links:write'),
    manage_payouts: can('payouts:manage'),
    manage_webhooks: can('webhooks:manage'),
    /** Partners: their own links, commissions, stats, payouts and keys. */
    partner_portal: principal.partnerId !== undefined,
    // Vobiz's names for the two things its 403s are about: creating accounts (here, partners) and moving money (payouts).
    can_create_accounts: can('partners:write'),
    can_transfer_balance: can('payouts:manage'),
  }
}

/** `invitations`: whether a sign-in plugin mails invitations (it listens to partner.invited), and where partners sign in. */
export function portalRoutes(prefix: string, invitations: Invitations) {
  return (api: TenantApi) =>
    api
      .get(
        '/me',
        async ({ principal, withTenant }) => ({
          principal: {
            kind: principal.kind,
            id: principal.id,
            role: principal.role ?? null,
            scopes: [...principal.scopes],
            partnerId: principal.partnerId ?? null,
            programId: principal.programId ?? null,
          },
          partner: principal.partnerId ? await withTenant((scope) => getPartner(scope, principal.partnerId!)) : null,
          capabilities: capabilities(principal),
          quotas: principal.partnerId ? await withTenant((scope) => partnerQuotas(scope, principal.partnerId!)) : null,
        }),
        {
          auth: true,
          response: t.Object({
            principal: t.Object({
              kind: t.String(),
              id: t.String(),
              role: t.Nullable(t.String()),
              scopes: t.Array(t.String()),
              partnerId: t.Nullable(t.String()),
              programId: t.Nullable(t.String()),
            }),
            partner: t.Nullable(PartnerSchema),
            capabilities: t.Record(t.String(), t.Boolean()),
            quotas: t.Nullable(
              t.Record(t.String(), t.Object({ used: t.Integer(), limit: t.Integer() }), { description: "A partner's own keys and links." }),
            ),
          }),
          detail: { tags, summary: 'Who is calling, and what it may do' },
        },
      )
      .post(
        '/partners/:id/invite',
        async ({ params, withTenant, tenant, set, principal }) => {
          invitations.assertAvailable()
          set.status = 202
          const invitation = await withTenant(async (scope) => {
            await reachPartner(scope, principal, params.id, 'change')
            return invitePartner(scope, params.id, invitations.apiBase(tenant))
          })
          return { ok: true as const, ...invitation }
        },
        {
          auth: { scopes: ['partners:write'] },
          response: {
            202: t.Object({
              ok: t.Literal(true),
              partnerId: t.String(),
              email: t.String(),
              userId: t.String(),
              invitedAt: t.String({ format: 'date-time' }),
            }),
          },
          detail: {
            tags: ['Partners'],
            summary: 'Invite a partner to its portal: a portal user is made and a sign-in link mailed (409 already_activated)',
          },
        },
      )
      .get(
        '/me/links',
        async ({ principal, query, withTenant }) => {
          const page = await withTenant((scope) => listLinks(scope, { ...query, partnerId: principal.partnerId }))
          return { links: page.items, nextCursor: page.nextCursor }
        },
        {
          auth: partner,
          query: PageQuery,
          response: t.Object({ links: t.Array(LinkSchema), nextCursor: t.Nullable(t.String()) }),
          detail: { tags, summary: 'My links' },
        },
      )
      .post(
        '/me/links',
        async ({ principal, body, withTenant, set }) => {
          set.status = 201
          return withTenant(async (scope) => {
            // A partner links to programs it was enrolled in; it cannot enrol itself.
            if (!(await findEnrolmentRow(scope, principal.partnerId!, body.programId)))
              throw new AppError(404, 'not_found', `no program ${body.programId}`)
            await assertWithinQuota(scope, principal.partnerId!, 'links')
            return createLink(scope, { ...body, partnerId: principal.partnerId! })
          })
        },
        {
          auth: partner,
          body: t.Object(
            {
              programId: t.String({ maxLength: 64 }),
              key: t.Optional(t.String({ pattern: LINK_KEY_PATTERN })),
              destinationUrl: t.Optional(t.String({ maxLength: 2048 })),
            },
            { additionalProperties: false },
          ),
          response: { 201: LinkSchema },
          detail: { tags, summary: 'Make myself a link in a program I am enrolled in' },
        },
      )
      .get(
        '/me/commissions',
        async ({ principal, query, withTenant }) => {
          const page = await withTenant((scope) => listCommissions(scope, { ...query, partnerId: principal.partnerId }))
          return { commissions: page.items, nextCursor: page.nextCursor }
        },
        {
          auth: partner,
          query: PageQuery,
          response: t.Object({ commissions: t.Array(CommissionSchema), nextCursor: t.Nullable(t.String()) }),
          detail: { tags, summary: 'My commissions' },
        },
      )
      .get(
        '/me/stats',
        ({ principal, query, withTenant }) => withTenant((scope) => stats(scope, { partnerId: principal.partnerId }, query)),
        {
          auth: partner,
          query: StatsRange,
          response: StatsSchema,
          detail: { tags, summary: 'My clicks, conversions and commissions over a date range' },
        },
      )
      .get(
        '/me/payouts',
        async ({ principal, query, withTenant }) => {
          const page = await withTenant((scope) => listPayouts(scope, { ...query, partnerId: principal.partnerId }))
          return { payouts: page.items, nextCursor: page.nextCursor }
        },
        {
          auth: partner,
          query: PageQuery,
          response: t.Object({ payouts: t.Array(PayoutSchema), nextCursor: t.Nullable(t.String()) }),
          detail: { tags, summary: 'My payouts' },
        },
      )
      .post(
        '/me/api-keys',
        async ({ principal, body, withTenant, set, ip }) => {
          set.status = 201
          return withTenant(async (scope) => {
            await assertWithinQuota(scope, principal.partnerId!, 'api_keys')
            return mintApiKey(scope, prefix, { ...body, partnerId: principal.partnerId! }, { id: principal.id, ip })
          })
        },
        {
          auth: partner,
          body: t.Object(
            { name: t.String({ minLength: 1, maxLength: 100 }), expiresAt: t.Optional(t.String({ format: 'date-time' })) },
            { additionalProperties: false },
          ),
          response: { 201: MintedSchema },
          detail: { tags, summary: 'Mint a key that acts only as me (for my own integrations)' },
        },
      )
      .get(
        '/me/api-keys',
        async ({ principal, withTenant }) => {
          return {
            apiKeys: await withTenant((scope) => fetchAll((page) => listApiKeys(scope, { ...page, partnerId: principal.partnerId }))),
          }
        },
        {
          auth: partner,
          response: t.Object({ apiKeys: t.Array(ApiKeySchema) }),
          detail: { tags, summary: 'My keys (never the keys themselves)' },
        },
      )
      .post(
        '/me/api-keys/:id/revoke',
        async ({ principal, params, withTenant, ip }) =>
          withTenant(async (scope) => {
            const own = await scope.db
              .selectFrom('api_keys')
              .select('id')
              .where('tenant_id', '=', scope.tenantId)
              .where('id', '=', params.id)
              .where('partner_id', '=', principal.partnerId!)
              .executeTakeFirst()
            if (!own) throw new AppError(404, 'not_found', `no API key ${params.id}`)
            return revokeApiKey(scope, params.id, { id: principal.id, ip })
          }),
        { auth: partner, response: ApiKeySchema, detail: { tags, summary: 'Revoke one of my keys' } },
      )
}
