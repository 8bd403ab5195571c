/**
 * The server side automation platforms (Zapier, ActivePieces) talk to, the same contract under each
 * platform's prefix. Authentication is an API key; its scopes decide what a flow may do.
 *
 *   GET    <prefix>/me                     the auth test and connection label
 *   POST   <prefix>/hooks {hookUrl, event} REST-hook subscribe: a webhook endpoint for the flow
 *   DELETE <prefix>/hooks/:id              unsubscribe
 *   GET    <prefix>/triggers/:event        the newest items, for polling and samples
 *   POST   <prefix>/actions/create-partner {email, name?}
 *   POST   <prefix>/actions/record-event   the body of POST /attribution/events
 *
 * A hook delivery's `data` and a polled item have the same shape, with an `id` to deduplicate by.
 */
import type { PluginHost } from '../../src/plugins/contract.ts'

/** Trigger events, and where polling finds them (the program facet checks the scope of each list). */
const TRIGGERS = {
  'partner.created': { list: 'partners' },
  'commission.accrued': { list: 'commissions' },
  'commission.approved': { list: 'commissions' },
  'payout.paid': { list: 'payouts' },
} as const
type TriggerEvent = keyof typeof TRIGGERS
const POLL_LIMIT = 25

export function automationRoutes(host: PluginHost, prefix: string, platform: string): void {
  const t = host.t
  const isTrigger = (event: string): event is TriggerEvent => event in TRIGGERS
  const unknownTrigger = (event: string) =>
    new host.AppError(404, 'unknown_trigger', `no trigger ${event}; known: ${Object.keys(TRIGGERS).join(', ')}`)
  const tags = [platform]

  host.routes((api) =>
    api
      .get(
        `${prefix}/me`,
        ({ tenant, principal }) => ({
          tenant: { slug: tenant.slug, name: tenant.name },
          principal: { kind: principal.kind, id: principal.id, scopes: [...principal.scopes] },
        }),
        { auth: true, detail: { tags, summary: 'The auth test: the tenant and the key’s scopes' } },
      )
      .post(
        `${prefix}/hooks`,
        async ({ body, tenant, principal, set }) => {
          if (!isTrigger(body.event)) throw unknownTrigger(body.event)
          const endpoint = await host.program.subscribe(
            { tenant, principal },
            {
              url: body.hookUrl,
              events: [body.event],
              label: `${platform} ${body.event}`,
            },
          )
          set.status = 201
          return { id: endpoint.id, event: body.event }
        },
        {
          auth: { scopes: ['webhooks:manage'] },
          body: t.Object({ hookUrl: t.String({ maxLength: 2048 }), event: t.String({ maxLength: 100 }) }, { additionalProperties: false }),
          detail: { tags, summary: 'REST-hook subscribe: the flow’s URL receives the event' },
        },
      )
      .delete(
        `${prefix}/hooks/:id`,
        async ({ params, tenant, principal }) => {
          const { id } = params as { id: string }
          await host.program.unsubscribe({ tenant, principal }, id)
          return { id }
        },
        { auth: { scopes: ['webhooks:manage'] }, detail: { tags, summary: 'REST hook unsubscribe' } },
      )
      .get(
        `${prefix}/triggers/:event`,
        async ({ params, tenant, principal }) => {
          const event = (params as { event: string }).event
          if (!isTrigger(event)) throw unknownTrigger(event)
          const caller = { tenant, principal }
          const { list } = TRIGGERS[event]
          if (list === 'partners') return host.program.recentPartners(caller, POLL_LIMIT)
          if (list === 'payouts') return host.program.recentPayouts(caller, POLL_LIMIT, 'paid')
          return host.program.recentCommissions(caller, POLL_LIMIT, event === 'commission.approved' ? 'approved' : undefined)
        },
        { auth: true, detail: { tags, summary: 'The newest items of a trigger, for polling and samples' } },
      )
      .post(
        `${prefix}/actions/create-partner`,
        async ({ body, tenant, principal, set }) => {
          set.status = 201
          return host.program.createPartner({ tenant, principal }, body)
        },
        {
          auth: { scopes: ['partners:write'] },
          body: t.Object(
            { email: t.String({ minLength: 3, maxLength: 254 }), name: t.Optional(t.String({ maxLength: 200 })) },
            { additionalProperties: false },
          ),
          detail: { tags, summary: 'Action: create a partner' },
        },
      )
      .post(
        `${prefix}/actions/record-event`,
        async ({ body, tenant, principal, set }) => {
          const { result, replayed } = await host.tracking.recordEvent({ tenant, principal }, body as never)
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
          detail: { tags, summary: 'Action: record a conversion event (idempotent on externalEventId)' },
        },
      ),
  )
}
