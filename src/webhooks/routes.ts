import { t } from 'elysia'
import type { Config } from '../config/schema.ts'
import { PageQuery } from '../db/pagination.ts'
import { OneOf } from '../http/one-of.ts'
import type { TenantApi } from '../http/tenant-api.ts'
import { reachPartner } from '../partners/reach.ts'
import { listDeliveries, retryDelivery, retryFailed, sendTest } from './deliveries.ts'
import {
  createEndpoint,
  deleteEndpoint,
  endpointRow,
  listEndpoints,
  rotateSecret,
  toEndpoint,
  updateEndpoint,
  type WebhookEndpoint,
} from './endpoints.ts'
import { createPostback, deletePostback, listPostbacks, POSTBACK_MACROS } from './postbacks.ts'

const EndpointSchema = t.Object({
  id: t.String(),
  url: t.String(),
  events: t.Array(t.String()),
  label: t.Nullable(t.String()),
  format: OneOf(['standard', 'openpartner', 'postback']),
  active: t.Boolean(),
  disabledReason: t.Nullable(t.String({ description: 'Why it was switched off: 410 Gone, or failing too long.' })),
  failingSince: t.Nullable(t.String({ format: 'date-time' })),
  createdAt: t.String({ format: 'date-time' }),
  updatedAt: t.String({ format: 'date-time' }),
})
/** The endpoint, and the same under `endpoint`: OpenPartner's clients read it there. */
const Answer = t.Composite([EndpointSchema, t.Object({ endpoint: EndpointSchema })])
const WithSecret = t.Composite([Answer, t.Object({ secret: t.String({ description: 'whsec_…: shown now, never again.' }) })])
/** OpenPartner's `{endpoint}` beside the endpoint's own fields (the secret stays out of `endpoint`). */
function answer<E extends WebhookEndpoint>(endpoint: E) {
  const { secret: _secret, ...shown } = endpoint as E & { secret?: string }
  return { ...endpoint, endpoint: shown }
}
const DeliverySchema = t.Object({
  id: t.String({ description: 'The webhook-id: the same on every attempt.' }),
  endpointId: t.String(),
  eventType: t.String(),
  status: OneOf(['pending', 'delivered', 'failed']),
  attempts: t.Integer(),
  nextAttemptAt: t.Nullable(t.String({ format: 'date-time' })),
  lastStatus: t.Nullable(t.Integer()),
  lastError: t.Nullable(t.String()),
  lastResponse: t.Nullable(t.String({ description: 'The first 512 bytes of what the receiver last answered.' })),
  httpStatus: t.Nullable(t.Integer({ description: 'The same as lastStatus (OpenPartner’s name).' })),
  createdAt: t.String({ format: 'date-time' }),
  deliveredAt: t.Nullable(t.String({ format: 'date-time' })),
  payload: t.Unknown({ description: 'The envelope {id, type, created, data}, as sent.' }),
})
const Events = t.Array(t.String({ maxLength: 100 }), { minItems: 1, maxItems: 100, description: 'Event types, or "*" for all.' })
const PostbackBody = t.Object(
  {
    url: t.String({ maxLength: 2048, description: 'GET URL template; macros in the path or query.' }),
    events: t.Optional(
      t.Array(t.String({ maxLength: 100 }), { minItems: 1, maxItems: 4, description: 'Default: every commission event.' }),
    ),
  },
  { additionalProperties: false },
)
const manage = { scopes: ['webhooks:manage' as const] }
const read = { scopes: ['webhooks:read' as const] }
const tags = ['Webhooks']

export function webhookRoutes(config: Config) {
  const { allow_hosts: allowHosts, rotation_overlap_seconds: overlap, default_format: defaultFormat } = config.webhooks
  return (api: TenantApi) =>
    api
      .post(
        '/webhooks',
        async ({ body, withTenant, set }) => {
          set.status = 201
          return answer(await withTenant((scope) => createEndpoint(scope, { ...body, format: body.format ?? defaultFormat }, allowHosts)))
        },
        {
          auth: manage,
          body: t.Object(
            {
              url: t.String({ maxLength: 2048 }),
              events: Events,
              label: t.Optional(t.String({ maxLength: 200 })),
              format: t.Optional(
                OneOf(['standard', 'openpartner'], {
                  description:
                    'Standard Webhooks, or OpenPartner’s body, event names and headers (default: webhooks.default_format). OpenPartner’s format takes its event names only.',
                }),
              ),
            },
            { additionalProperties: false },
          ),
          response: { 201: WithSecret },
          detail: { tags, summary: 'Subscribe an endpoint to events (the signing secret is in the answer, once)' },
        },
      )
      .get(
        '/webhooks',
        async ({ withTenant }) => {
          const endpoints = await withTenant((scope) => listEndpoints(scope))
          // `endpoints` is OpenPartner's name for the list.
          return { webhooks: endpoints, endpoints }
        },
        {
          auth: read,
          response: t.Object({ webhooks: t.Array(EndpointSchema), endpoints: t.Array(EndpointSchema) }),
          detail: { tags, summary: 'List webhook endpoints' },
        },
      )
      .get(
        '/webhooks/:id',
        ({ params, withTenant }) => withTenant(async (scope) => answer(toEndpoint(await endpointRow(scope, params.id)))),
        {
          auth: read,
          response: Answer,
          detail: { tags, summary: 'One webhook endpoint' },
        },
      )
      .patch(
        '/webhooks/:id',
        async ({ params, body, withTenant }) => answer(await withTenant((scope) => updateEndpoint(scope, params.id, body, allowHosts))),
        {
          auth: manage,
          body: t.Object(
            {
              url: t.Optional(t.String({ maxLength: 2048 })),
              events: t.Optional(Events),
              label: t.Optional(t.Nullable(t.String({ maxLength: 200 }))),
              active: t.Optional(t.Boolean({ description: 'Switch off, or back on (which clears the failure clock).' })),
            },
            { additionalProperties: false },
          ),
          response: Answer,
          detail: { tags, summary: 'Change an endpoint’s URL, events, label, or switch it on or off' },
        },
      )
      .delete(
        '/webhooks/:id',
        async ({ params, withTenant, set }) => {
          await withTenant((scope) => deleteEndpoint(scope, params.id))
          set.status = 204
          return null
        },
        { auth: manage, detail: { tags, summary: 'Delete an endpoint and its delivery log' } },
      )
      .post(
        '/webhooks/:id/rotate-secret',
        async ({ params, withTenant }) => answer(await withTenant((scope) => rotateSecret(scope, params.id, overlap))),
        {
          auth: manage,
          response: WithSecret,
          detail: { tags, summary: 'A new signing secret; the old one also signs for webhooks.rotation_overlap_seconds' },
        },
      )
      .post(
        '/webhooks/:id/test',
        async ({ params, withTenant, set }) => {
          set.status = 202
          return withTenant((scope) => sendTest(scope, params.id))
        },
        { auth: manage, response: { 202: DeliverySchema }, detail: { tags, summary: 'Send a webhook.test message to this endpoint' } },
      )
      .get(
        '/webhooks/:id/deliveries',
        async ({ params, query, withTenant }) => {
          const page = await withTenant((scope) => listDeliveries(scope, params.id, query))
          return { deliveries: page.items, nextCursor: page.nextCursor }
        },
        {
          auth: read,
          query: t.Composite([PageQuery, t.Object({ status: t.Optional(OneOf(['pending', 'delivered', 'failed'])) })]),
          response: t.Object({ deliveries: t.Array(DeliverySchema), nextCursor: t.Nullable(t.String()) }),
          detail: { tags, summary: 'The endpoint’s delivery log' },
        },
      )
      .post(
        '/webhooks/:id/deliveries/:deliveryId/retry',
        ({ params, withTenant }) => withTenant((scope) => retryDelivery(scope, params.id, params.deliveryId)),
        { auth: manage, response: DeliverySchema, detail: { tags, summary: 'Send one delivery again (same webhook-id)' } },
      )
      .post(
        '/partners/:id/postbacks',
        async ({ params, body, withTenant, set, principal }) => {
          set.status = 201
          return withTenant(async (scope) => {
            await reachPartner(scope, principal, params.id, 'change')
            return createPostback(scope, params.id, body, allowHosts)
          })
        },
        {
          auth: { scopes: ['partners:write'] },
          body: PostbackBody,
          response: { 201: EndpointSchema },
          detail: {
            tags,
            summary: `Give a partner a postback: a GET URL with macros (${POSTBACK_MACROS.map((m) => `{${m}}`).join(', ')})`,
          },
        },
      )
      .get(
        '/partners/:id/postbacks',
        async ({ params, withTenant, principal }) => ({
          postbacks: await withTenant(async (scope) => {
            await reachPartner(scope, principal, params.id, 'read')
            return listPostbacks(scope, params.id)
          }),
        }),
        {
          auth: { scopes: ['partners:read'] },
          response: t.Object({ postbacks: t.Array(EndpointSchema) }),
          detail: { tags, summary: "A partner's postbacks (their deliveries: GET /webhooks/:id/deliveries)" },
        },
      )
      .delete(
        '/partners/:id/postbacks/:postbackId',
        async ({ params, withTenant, set, principal }) => {
          await withTenant(async (scope) => {
            await reachPartner(scope, principal, params.id, 'change')
            await deletePostback(scope, params.id, params.postbackId)
          })
          set.status = 204
          return null
        },
        { auth: { scopes: ['partners:write'] }, detail: { tags, summary: 'Remove a partner’s postback' } },
      )
      .post(
        '/me/postbacks',
        async ({ principal, body, withTenant, set }) => {
          set.status = 201
          return withTenant((scope) => createPostback(scope, principal.partnerId!, body, allowHosts))
        },
        {
          auth: { partner: true },
          body: PostbackBody,
          response: { 201: EndpointSchema },
          detail: { tags, summary: 'Set up my own postback' },
        },
      )
      .get(
        '/me/postbacks',
        async ({ principal, withTenant }) => ({ postbacks: await withTenant((scope) => listPostbacks(scope, principal.partnerId!)) }),
        {
          auth: { partner: true },
          response: t.Object({ postbacks: t.Array(EndpointSchema) }),
          detail: { tags, summary: 'My postbacks' },
        },
      )
      .post(
        '/webhooks/:id/retry-failed',
        async ({ params, withTenant }) => ({ retried: await withTenant((scope) => retryFailed(scope, params.id)) }),
        {
          auth: manage,
          response: t.Object({ retried: t.Integer() }),
          detail: { tags, summary: 'Send every failed delivery of the endpoint again' },
        },
      )
}
