/**
 * zapier: the server side of partnerd's Zapier integration (the integration itself is
 * integrations/zapier, run by Zapier). Authentication is an API key; its scopes decide what a Zap may do.
 *
 *   GET    /integrations/zapier/me                     the auth test and connection label
 *   POST   /integrations/zapier/hooks {hookUrl, event} REST hook subscribe: a webhook endpoint for the Zap
 *   DELETE /integrations/zapier/hooks/:id              unsubscribe
 *   GET    /integrations/zapier/triggers/:event        the newest items, for Zapier's polling and samples
 *   POST   /integrations/zapier/actions/create-partner {email, name?}
 *   POST   /integrations/zapier/actions/record-event   the body of POST /attribution/events
 *
 * A hook delivery's `data` and a polled item have the same shape, with an `id` Zapier deduplicates by.
 *
 *   plugins:
 *     - builtin: zapier
 */
import type { PluginDefinition } from '../../src/plugins/contract.ts'

/** Trigger events, the scope that reads them, and where polling finds them. */
const TRIGGERS = {
  'partner.created': { scope: 'partners:read', list: 'partners' },
  'commission.accrued': { scope: 'commissions:read', list: 'commissions' },
  'commission.approved': { scope: 'commissions:read', list: 'commissions' },
  'payout.paid': { scope: 'payouts:manage', list: 'payouts' },
} as const
type TriggerEvent = keyof typeof TRIGGERS
const POLL_LIMIT = 25

const zapier: PluginDefinition = {
  name: 'zapier',
  version: '1.0.0',
  setup(host) {
    const t = host.t
    const isTrigger = (event: string): event is TriggerEvent => event in TRIGGERS
    const unknownTrigger = (event: string) =>
      new host.AppError(404, 'unknown_trigger', `no trigger ${event}; known: ${Object.keys(TRIGGERS).join(', ')}`)
    const tags = ['Zapier']

    host.routes((api) =>
      api
        .get(
          '/integrations/zapier/me',
          ({ tenant, principal }) => ({
            tenant: { slug: tenant.slug, name: tenant.name },
            principal: { kind: principal.kind, id: principal.id, scopes: [...principal.scopes] },
          }),
          { auth: true, detail: { tags, summary: 'Zapier’s auth test: the tenant and the key’s scopes' } },
        )
        .post(
          '/integrations/zapier/hooks',
          async ({ body, tenant, set }) => {
            if (!isTrigger(body.event)) throw unknownTrigger(body.event)
            const endpoint = await host.program.subscribe(tenant.id, {
              url: body.hookUrl,
              events: [body.event],
              label: `zapier ${body.event}`,
            })
            set.status = 201
            return { id: endpoint.id, event: body.event }
          },
          {
            auth: { scopes: ['webhooks:manage'] },
            body: t.Object(
              { hookUrl: t.String({ maxLength: 2048 }), event: t.String({ maxLength: 100 }) },
              { additionalProperties: false },
            ),
            detail: { tags, summary: 'REST hook subscribe: Zapier’s target URL receives the event' },
          },
        )
        .delete(
          '/integrations/zapier/hooks/:id',
          async ({ params, tenant }) => {
            const { id } = params as { id: string }
            await host.program.unsubscribe(tenant.id, id)
            return { id }
          },
          { auth: { scopes: ['webhooks:manage'] }, detail: { tags, summary: 'REST hook unsubscribe' } },
        )
        .get(
          '/integrations/zapier/triggers/:event',
          async ({ params, tenant, principal }) => {
            const event = (params as { event: string }).event
            if (!isTrigger(event)) throw unknownTrigger(event)
            const { scope, list } = TRIGGERS[event]
            if (!principal.scopes.includes('*') && !principal.scopes.includes(scope)) {
              throw new host.AppError(403, 'insufficient_scope', `this credential lacks the scope ${scope}`)
            }
            if (list === 'partners') return host.program.recentPartners(tenant.id, POLL_LIMIT)
            if (list === 'payouts') return host.program.recentPayouts(tenant.id, POLL_LIMIT, 'paid')
            return host.program.recentCommissions(tenant.id, POLL_LIMIT, event === 'commission.approved' ? 'approved' : undefined)
          },
          { auth: true, detail: { tags, summary: 'The newest items of a trigger (Zapier polls it for samples)' } },
        )
        .post(
          '/integrations/zapier/actions/create-partner',
          async ({ body, tenant, set }) => {
            set.status = 201
            return host.program.createPartner(tenant.id, body)
          },
          {
            auth: { scopes: ['partners:write'] },
            body: t.Object(
              { email: t.String({ minLength: 3, maxLength: 254 }), name: t.Optional(t.String({ maxLength: 200 })) },
              { additionalProperties: false },
            ),
            detail: { tags, summary: 'Zapier action: create a partner' },
          },
        )
        .post(
          '/integrations/zapier/actions/record-event',
          async ({ body, tenant, set }) => {
            const { result, replayed } = await host.tracking.recordEvent(tenant.id, body as never)
            set.status = replayed ? 200 : 201
            return { id: result.eventId, ...result }
          },
          {
            auth: { scopes: ['events:write'] },
            body: t.Object(
              {
                userId: t.String({ minLength: 1, maxLength: 200 }),
                type: t.String({ pattern: '^[a-z][a-z0-9_.:-]{0,63}$' }),
                value: t.Optional(t.String({ maxLength: 32 })),
                currency: t.Optional(t.String({ pattern: '^[A-Z]{3}$' })),
                externalEventId: t.String({ minLength: 1, maxLength: 200 }),
                customerEmail: t.Optional(t.String({ maxLength: 254 })),
              },
              { additionalProperties: false },
            ),
            detail: { tags, summary: 'Zapier action: record a conversion event (idempotent on externalEventId)' },
          },
        ),
    )
  },
}

export default zapier
