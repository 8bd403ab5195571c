/**
 * The Zapier integration (integrations/zapier) run with zapier-platform-core's own app tester against
 * a running partnerd with the zapier plugin: the auth test, a REST-hook subscription that receives a
 * real delivery, polling, unsubscribing, and both actions.
 */
import { createRequire } from 'node:module'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { DIALECTS } from './support/databases.ts'
import { type Receiver, startReceiver } from './support/receiver.ts'
import { startTestServer, type TestServer } from './support/server.ts'

const require = createRequire(import.meta.url)
const zapier = require('zapier-platform-core')
const App = require('../integrations/zapier/index.js')
const appTester = zapier.createAppTester(App)

describe.each(DIALECTS)('the Zapier integration on %s', (dialect) => {
  let server: TestServer
  let receiver: Receiver
  let authData: { baseUrl: string; apiKey: string }

  beforeAll(async () => {
    receiver = startReceiver()
    server = await startTestServer(dialect, {
      plugins: [{ builtin: 'zapier' }],
      webhooks: { poll_interval_ms: 20, allow_hosts: ['127.0.0.1'] },
    })
    const minted = await (
      await server.call('POST', '/api/api-keys', {
        key: server.adminKey,
        body: { name: 'zapier', scopes: ['webhooks:manage', 'partners:read', 'partners:write', 'events:write', 'commissions:read'] },
      })
    ).json()
    authData = { baseUrl: `${server.url}/api`, apiKey: minted.key }
  })
  afterAll(async () => {
    await server.stop()
    receiver.stop()
  })

  it('passes the auth test, and fails it with a wrong key', async () => {
    const me = await appTester(App.authentication.test, { authData })
    expect(me).toMatchObject({ tenant: { slug: 'default' }, principal: { kind: 'api_key' } })
    await expect(appTester(App.authentication.test, { authData: { ...authData, apiKey: 'op_live_wrong' } })).rejects.toThrow(/401/)
  })

  it('subscribes a REST hook, receives the event, polls, and unsubscribes', async () => {
    const trigger = App.triggers.partner_created.operation
    const subscription = await appTester(trigger.performSubscribe, { authData, targetUrl: receiver.url })
    expect(subscription.id).toMatch(/^whk_/)

    const created = await appTester(App.creates.create_partner.operation.perform, {
      authData,
      inputData: { email: 'zap@partners.example', name: 'Zap' },
    })
    expect(created).toMatchObject({ email: 'zap@partners.example' })
    const deadline = Date.now() + 5000
    while (receiver.received.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20))
    const delivery = JSON.parse(receiver.received[0]!.body)
    const items = await appTester(trigger.perform, { authData, cleanedRequest: delivery })
    expect(items).toEqual([expect.objectContaining({ id: created.id, email: 'zap@partners.example' })])

    const polled = await appTester(trigger.performList, { authData })
    expect(polled[0]).toMatchObject({ id: created.id })
    await appTester(trigger.performUnsubscribe, { authData, subscribeData: subscription })
    expect((await server.call('GET', `/api/webhooks/${subscription.id}`, { key: server.adminKey })).status).toBe(404)
  })

  it('records events through the action, once per externalEventId', async () => {
    const action = App.creates.record_event.operation
    const inputData = { userId: 'zap-customer', type: 'signup', externalEventId: 'zap-1' }
    const first = await appTester(action.perform, { authData, inputData })
    const second = await appTester(action.perform, { authData, inputData })
    expect(first.id).toMatch(/^evt_/)
    expect(second.id).toBe(first.id)
    await expect(appTester(App.triggers.payout_paid.operation.performList, { authData })).rejects.toThrow(/403/) // no payouts:manage
  })
})
