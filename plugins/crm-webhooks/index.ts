/**
 * crm-webhooks: "deal won" in a CRM becomes an `opportunity_won` conversion event, attributed and paid
 * like any sale. Each source is a URL, `POST <base>/integrations/crm/<source name>`, with its CRM's
 * proof of origin (sources.ts) and the paths of the facts in its payload:
 *
 *   plugins:
 *     - builtin: crm-webhooks
 *       config:
 *         sources:
 *           hubspot:   { kind: hubspot, secret: ${HUBSPOT_CLIENT_SECRET}, user_id: properties.app_user_id }
 *           pipedrive: { kind: pipedrive, username: partnerd, password: ${PIPEDRIVE_HOOK_PASSWORD}, user_id: current.app_user_id }
 *           salesforce: { kind: generic, secret: ${SF_SHARED_SECRET}, user_id: account.appUserId, value: opportunity.amount }
 *
 * Paths default per kind (see DEFAULTS). Each won deal is recorded once (the source's event id is the
 * externalEventId); a bad proof is 401 and records nothing; a won deal missing a mapped fact is 422
 * naming the path. A request's won deals are recorded in one transaction: all of them, or none.
 */
import type { PluginDefinition } from '../../src/plugins/contract.ts'
import { authentic, DEFAULTS, pick, type SourceConfig, type SourceKind } from './sources.ts'

const crmWebhooks: PluginDefinition = {
  name: 'crm-webhooks',
  version: '1.0.0',
  config: (t) =>
    t.Object(
      {
        sources: t.Record(
          t.String({ pattern: '^[a-z0-9-]{1,40}$' }),
          t.Object(
            {
              kind: t.Union([t.Literal('hubspot'), t.Literal('pipedrive'), t.Literal('generic')]),
              secret: t.Optional(t.String({ minLength: 16 })),
              username: t.Optional(t.String({ minLength: 1 })),
              password: t.Optional(t.String({ minLength: 16 })),
              event_id: t.Optional(t.String()),
              user_id: t.String({ description: 'Path of your customer id in the payload.' }),
              value: t.Optional(t.String()),
              currency: t.Optional(t.String()),
              won_when: t.Optional(t.Object({ path: t.String(), equals: t.String(), previous_path: t.Optional(t.String()) })),
            },
            { additionalProperties: false },
          ),
        ),
      },
      { additionalProperties: false },
    ),

  setup(host) {
    const sources = new Map<string, SourceConfig>()
    for (const [name, given] of Object.entries(
      (host.config as { sources: Record<string, Partial<SourceConfig> & { kind: SourceKind; user_id: string }> }).sources,
    )) {
      const source = { ...DEFAULTS[given.kind], ...given } as SourceConfig
      const proof = source.kind === 'pipedrive' ? source.username && source.password : source.secret
      if (!proof)
        throw new Error(
          `sources.${name}: a ${source.kind} source needs ${source.kind === 'pipedrive' ? 'username and password' : 'secret'}`,
        )
      sources.set(name, source)
    }

    host.routes((api) =>
      api.post(
        '/integrations/crm/:source',
        async ({ params, body, request, tenant, set }) => {
          const name = (params as { source: string }).source
          const source = sources.get(name)
          if (!source) throw new host.AppError(404, 'not_found', `no CRM source ${name}`)
          const payload = body as unknown as string
          if (!authentic(source, request, payload))
            throw new host.AppError(401, 'invalid_signature', `the request does not prove it comes from ${name}`)
          let parsed: unknown
          try {
            parsed = JSON.parse(payload)
          } catch {
            throw new host.AppError(400, 'malformed_body', 'the body is not JSON')
          }
          const items = Array.isArray(parsed) ? parsed : [parsed]
          const won = items.filter((item) => {
            const now = String(pick(item, source.won_when.path) ?? '')
            const before = source.won_when.previous_path ? String(pick(item, source.won_when.previous_path) ?? '') : undefined
            return now === source.won_when.equals && before !== source.won_when.equals
          })
          // Check every won deal before recording any: a request is taken whole or not at all.
          const events = won.map((item, i) => {
            const fact = (field: 'event_id' | 'user_id' | 'value' | 'currency') => {
              const value = pick(item, source[field])
              if (value === undefined || value === null || value === '') {
                throw new host.AppError(
                  422,
                  'unmapped_payload',
                  `${Array.isArray(parsed) ? `[${i}].` : ''}${source[field]} (${field}) is missing`,
                )
              }
              return String(value)
            }
            return {
              externalEventId: `${name}:${fact('event_id')}`,
              userId: fact('user_id'),
              type: 'opportunity_won',
              value: fact('value'),
              currency: fact('currency').toUpperCase(),
              metadata: { source: name },
            }
          })
          const outcomes = events.length > 0 ? await host.tracking.recordEvents(host.asPlugin(tenant), events) : []
          set.status = 200
          return { received: items.length, recorded: outcomes.map((o) => o.result.eventId) }
        },
        {
          parse: ({ request }) => request.text(),
          detail: { tags: ['Integrations'], summary: 'CRM webhooks: a won deal becomes an opportunity_won event' },
        },
      ),
    )
  },
}

export default crmWebhooks
