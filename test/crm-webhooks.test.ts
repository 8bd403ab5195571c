/**
 * crm-webhooks: HubSpot (v3 signature), Pipedrive (Basic auth) and a generic signed source turn won
 * deals into attributed opportunity_won events, once per source event; bad proofs are 401 and
 * unmapped won deals 422 naming the path, with nothing recorded.
 */
import { createHmac } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { DIALECTS } from './support/databases.ts'
import { startTestServer, type TestServer } from './support/server.ts'

const HUBSPOT_SECRET = 'hubspot-client-secret-0123456789'
const PIPEDRIVE = { username: 'partnerd', password: 'pipedrive-hook-password' }
const GENERIC_SECRET = 'salesforce-shared-secret-0123'

describe.each(DIALECTS)('CRM webhooks on %s', (dialect) => {
  let server: TestServer
  const api = async (method: string, path: string, body?: unknown) =>
    (await server.call(method, `/api${path}`, { key: server.adminKey, body })).json()
  const post = (source: string, body: unknown, headers: Record<string, string>) =>
    fetch(`${server.url}/api/integrations/crm/${source}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify(body),
    })
  const hubspot = (body: unknown, options: { secret?: string; timestamp?: number } = {}) => {
    const url = `${server.url}/api/integrations/crm/hubspot`
    const timestamp = String(options.timestamp ?? Date.now())
    const signature = createHmac('sha256', options.secret ?? HUBSPOT_SECRET)
      .update(`POST${url}${JSON.stringify(body)}${timestamp}`)
      .digest('base64')
    return post('hubspot', body, { 'x-hubspot-signature-v3': signature, 'x-hubspot-request-timestamp': timestamp })
  }
  const basic = (user: string, pass: string) => `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`

  beforeAll(async () => {
    server = await startTestServer(dialect, {
      plugins: [
        {
          builtin: 'crm-webhooks',
          config: {
            sources: {
              hubspot: { kind: 'hubspot', secret: HUBSPOT_SECRET, user_id: 'properties.app_user_id' },
              pipedrive: { kind: 'pipedrive', ...PIPEDRIVE, user_id: 'current.app_user_id' },
              salesforce: {
                kind: 'generic',
                secret: GENERIC_SECRET,
                user_id: 'account.appUserId',
                value: 'opportunity.amount',
                currency: 'opportunity.currency',
              },
            },
          },
        },
      ],
    })
    const program = await api('POST', '/programs', {
      name: 'B2B',
      currency: 'USD',
      status: 'active',
      destinationUrl: 'https://b2b.example.com/',
      rules: [{ on: 'sale', percent: '10' }],
    })
    const partner = await api('POST', '/partners', { email: 'crm@partners.example' })
    for (const userId of ['crm-user-1', 'crm-user-2', 'crm-user-3']) {
      const link = await api('POST', '/links', { partnerId: partner.id, programId: program.id })
      const res = await fetch(`${server.url}/r/${link.key}`, { redirect: 'manual', headers: { 'user-agent': 'Mozilla/5.0' } })
      await api('POST', '/attribution/identify', { cref: new URL(res.headers.get('location')!).searchParams.get('cref'), userId })
    }
  })
  afterAll(() => server.stop())

  it('takes HubSpot’s signed batch: the won deal is recorded once, the other change ignored', async () => {
    const batch = [
      {
        eventId: 101,
        subscriptionType: 'deal.propertyChange',
        propertyName: 'dealstage',
        propertyValue: 'closedwon',
        properties: { amount: '1000', deal_currency_code: 'usd', app_user_id: 'crm-user-1' },
      },
      { eventId: 102, subscriptionType: 'deal.propertyChange', propertyName: 'dealstage', propertyValue: 'appointmentscheduled' },
    ]
    const res = await hubspot(batch)
    expect(res.status).toBe(200)
    const first = await res.json()
    expect(first).toMatchObject({ received: 2, recorded: [expect.stringMatching(/^evt_/)] })
    const again = await (await hubspot(batch)).json()
    expect(again.recorded).toEqual(first.recorded)
    const commissions = (await api('GET', '/commissions')).commissions
    expect(commissions).toEqual([expect.objectContaining({ amount: '100.00', currency: 'USD' })])

    expect((await hubspot(batch, { secret: 'someone-elses-secret-000000' })).status).toBe(401)
    expect((await hubspot(batch, { timestamp: Date.now() - 600_000 })).status).toBe(401)
    const unmapped = await hubspot([{ eventId: 103, propertyValue: 'closedwon', properties: { amount: '5', deal_currency_code: 'USD' } }])
    expect(unmapped.status).toBe(422)
    expect(await unmapped.json()).toMatchObject({ error: 'unmapped_payload', detail: expect.stringContaining('properties.app_user_id') })
    // Two won deals, the second in a currency no one pays in: neither is recorded.
    const mixed = await hubspot([
      { eventId: 104, propertyValue: 'closedwon', properties: { amount: '7', deal_currency_code: 'USD', app_user_id: 'crm-user-1' } },
      { eventId: 105, propertyValue: 'closedwon', properties: { amount: '7', deal_currency_code: 'XXX', app_user_id: 'crm-user-1' } },
    ])
    expect(mixed.status).toBe(400)
    expect((await api('GET', '/commissions')).commissions).toHaveLength(1)
  })

  it('takes Pipedrive’s deal updates with Basic auth, once the deal becomes won', async () => {
    const update = {
      meta: { id: 555, action: 'updated', object: 'deal' },
      current: { status: 'won', value: 50, currency: 'USD', app_user_id: 'crm-user-2' },
      previous: { status: 'open' },
    }
    expect((await post('pipedrive', update, { authorization: basic('partnerd', 'wrong-password-000000') })).status).toBe(401)
    const res = await post('pipedrive', update, { authorization: basic(PIPEDRIVE.username, PIPEDRIVE.password) })
    expect(await res.json()).toMatchObject({ recorded: [expect.any(String)] })
    const stillWon = { ...update, meta: { id: 556 }, previous: { status: 'won' } }
    expect(
      await (await post('pipedrive', stillWon, { authorization: basic(PIPEDRIVE.username, PIPEDRIVE.password) })).json(),
    ).toMatchObject({ recorded: [] })
  })

  it('takes a generic signed source with its own mapping, and refuses unknown sources', async () => {
    const body = { id: 'opp-9', stage: 'won', account: { appUserId: 'crm-user-3' }, opportunity: { amount: '200.00', currency: 'usd' } }
    const signature = `sha256=${createHmac('sha256', GENERIC_SECRET).update(JSON.stringify(body)).digest('hex')}`
    const res = await post('salesforce', body, { 'x-signature': signature })
    expect(res.status).toBe(200)
    expect((await post('salesforce', body, { 'x-signature': 'sha256=00' })).status).toBe(401)
    expect((await post('nowhere', body, { 'x-signature': signature })).status).toBe(404)
    const events = (await api('GET', '/commissions')).commissions.map((c: { amount: string }) => c.amount).sort()
    expect(events).toEqual(['100.00', '20.00', '5.00'])
  })
})
