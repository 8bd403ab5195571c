/**
 * partnerd's ActivePieces piece, built with @activepieces/pieces-framework. It talks to the server
 * side in plugins/activepieces: enable that plugin, and connect with the API base URL
 * (`https://partners.example.com/api`, or `…/api/t/<slug>`) and an API key.
 */
import { createAction, createPiece, createTrigger, PieceAuth, Property, TriggerStrategy } from '@activepieces/pieces-framework'

export const partnerdAuth = PieceAuth.CustomAuth({
  displayName: 'partnerd',
  required: true,
  props: {
    baseUrl: Property.ShortText({
      displayName: 'API base URL',
      description: 'https://partners.example.com/api, or …/api/t/<slug>',
      required: true,
    }),
    apiKey: PieceAuth.SecretText({ displayName: 'API key', required: true }),
  },
  validate: async ({ auth }) => {
    const res = await call(auth as Connection, 'GET', '/me')
    return res.ok ? { valid: true } : { valid: false, error: `partnerd answered ${res.status}` }
  },
})

interface Connection {
  baseUrl: string
  apiKey: string
}

/** The framework hands the auth over as its props (newer releases) or inside `props` (older ones). */
function connection(auth: unknown): Connection {
  const value = auth as Connection & { props?: Connection }
  return value.props ?? value
}

async function call(auth: Connection, method: string, path: string, body?: unknown): Promise<Response> {
  return fetch(`${auth.baseUrl.replace(/\/+$/, '')}/integrations/activepieces${path}`, {
    method,
    headers: { authorization: `Bearer ${auth.apiKey}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  })
}

async function json(res: Response): Promise<any> {
  const data = await res.json()
  if (!res.ok) throw new Error(`partnerd answered ${res.status}: ${JSON.stringify(data)}`)
  return data
}

const HOOK_ID = 'partnerd_hook_id'

function eventTrigger(name: string, event: string, displayName: string, sampleData: Record<string, unknown>) {
  return createTrigger({
    auth: partnerdAuth,
    name,
    displayName,
    description: `Fires on ${event}.`,
    props: {},
    type: TriggerStrategy.WEBHOOK,
    sampleData,
    async onEnable(context: any) {
      const hook = await json(await call(connection(context.auth), 'POST', '/hooks', { hookUrl: context.webhookUrl, event }))
      await context.store.put(HOOK_ID, hook.id)
    },
    async onDisable(context: any) {
      const id = await context.store.get(HOOK_ID)
      if (id) await json(await call(connection(context.auth), 'DELETE', `/hooks/${id}`))
    },
    async run(context: any) {
      return [context.payload.body.data]
    },
    async test(context: any) {
      return json(await call(connection(context.auth), 'GET', `/triggers/${event}`))
    },
  })
}

export const newPartner = eventTrigger('new_partner', 'partner.created', 'New Partner', {
  id: '01J0000000000000000000000',
  email: 'ada@example.com',
})
export const commissionApproved = eventTrigger('commission_approved', 'commission.approved', 'Commission Approved', {
  id: 'com_01J0000000000000000000000',
  amount: '20.00',
  currency: 'USD',
})

export const createPartner = createAction({
  auth: partnerdAuth,
  name: 'create_partner',
  displayName: 'Create Partner',
  description: 'Adds a partner to the program.',
  props: {
    email: Property.ShortText({ displayName: 'Email', required: true }),
    name: Property.ShortText({ displayName: 'Name', required: false }),
  },
  async run(context: any) {
    const { email, name } = context.propsValue
    return json(await call(connection(context.auth), 'POST', '/actions/create-partner', { email, ...(name ? { name } : {}) }))
  },
})

export const recordEvent = createAction({
  auth: partnerdAuth,
  name: 'record_event',
  displayName: 'Record Conversion Event',
  description: 'Records a signup, sale or refund for attribution (safe to repeat with the same event id).',
  props: {
    userId: Property.ShortText({ displayName: 'Customer id', required: true }),
    type: Property.ShortText({ displayName: 'Type (signup, sale, refund…)', required: true }),
    value: Property.ShortText({ displayName: 'Value', required: false }),
    currency: Property.ShortText({ displayName: 'Currency', required: false }),
    externalEventId: Property.ShortText({ displayName: 'Event id in your system', required: true }),
  },
  async run(context: any) {
    const { userId, type, value, currency, externalEventId } = context.propsValue
    return json(
      await call(connection(context.auth), 'POST', '/actions/record-event', {
        userId,
        type,
        externalEventId,
        ...(value ? { value, currency } : {}),
      }),
    )
  },
})

export const partnerd = createPiece({
  displayName: 'partnerd',
  description: 'Partner and affiliate program: partners, conversions, commissions and payouts.',
  auth: partnerdAuth,
  minimumSupportedRelease: '0.30.0',
  logoUrl: 'https://partners.example.com/logo.svg',
  authors: ['partnerd'],
  actions: [createPartner, recordEvent],
  triggers: [newPartner, commissionApproved],
})
