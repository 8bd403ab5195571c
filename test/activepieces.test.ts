/**
 * The ActivePieces piece (integrations/activepieces, built with @activepieces/pieces-framework)
 * against a running partnerd with the activepieces plugin: the engine's hooks are called as the engine
 * calls them (auth, webhook URL, a store), and the HTTP underneath is real.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createPartner, newPartner, partnerd, recordEvent } from '../integrations/activepieces/index.ts'
import { DIALECTS } from './support/databases.ts'
import { type Receiver, startReceiver } from './support/receiver.ts'
import { startTestServer, type TestServer } from './support/server.ts'

describe.each(DIALECTS)('the ActivePieces piece on %s', (dialect) => {
  let server: TestServer
  let receiver: Receiver
  let auth: { baseUrl: string; apiKey: string }
  const store = new Map<string, unknown>()
  const storeApi = {
    put: async (k: string, v: unknown) => void store.set(k, v),
    get: async (k: string) => store.get(k),
    delete: async (k: string) => void store.delete(k),
  }

  beforeAll(async () => {
    receiver = startReceiver()
    server = await startTestServer(dialect, {
      plugins: [{ builtin: 'activepieces' }],
      webhooks: { poll_interval_ms: 20, allow_hosts: ['127.0.0.1'] },
    })
    auth = { baseUrl: `${server.url}/api`, apiKey: server.adminKey }
  })
  afterAll(async () => {
    await server.stop()
    receiver.stop()
  })

  it('declares its actions and triggers, and validates the connection', async () => {
    expect(Object.keys(partnerd.actions()).sort()).toEqual(['create_partner', 'record_event'])
    expect(Object.keys(partnerd.triggers()).sort()).toEqual(['commission_approved', 'new_partner'])
    const validate = (partnerd.auth as unknown as { validate: (p: { auth: unknown }) => Promise<{ valid: boolean }> }).validate
    expect(await validate({ auth })).toEqual({ valid: true })
    expect((await validate({ auth: { ...auth, apiKey: 'op_live_wrong' } })).valid).toBe(false)
  })

  it('enables the webhook trigger, receives a partner created by the action, and disables it', async () => {
    const trigger = newPartner as unknown as Record<'onEnable' | 'onDisable' | 'run' | 'test', (ctx: unknown) => Promise<unknown>>
    await trigger.onEnable({ auth, webhookUrl: receiver.url, store: storeApi })
    const hookId = store.get('partnerd_hook_id') as string
    expect(hookId).toMatch(/^whk_/)

    const run = (createPartner as unknown as { run: (ctx: unknown) => Promise<{ id: string }> }).run
    const partner = await run({ auth, propsValue: { email: 'piece@partners.example', name: 'Piece' } })
    const deadline = Date.now() + 5000
    while (receiver.received.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20))
    const items = await trigger.run({ auth, payload: { body: JSON.parse(receiver.received[0]!.body) } })
    expect(items).toEqual([expect.objectContaining({ id: partner.id, email: 'piece@partners.example' })])
    expect(((await trigger.test({ auth })) as { id: string }[])[0]).toMatchObject({ id: partner.id })

    await trigger.onDisable({ auth, store: storeApi })
    expect((await server.call('GET', `/api/webhooks/${hookId}`, { key: server.adminKey })).status).toBe(404)
  })

  it('records an event once per externalEventId', async () => {
    const run = (recordEvent as unknown as { run: (ctx: unknown) => Promise<{ id: string }> }).run
    const propsValue = { userId: 'piece-customer', type: 'signup', externalEventId: 'piece-1' }
    const first = await run({ auth, propsValue })
    expect((await run({ auth, propsValue })).id).toBe(first.id)
  })
})
