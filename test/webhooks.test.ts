/**
 * Outbound webhooks against a loopback receiver: Standard Webhooks signatures accepted by the
 * unmodified `standardwebhooks` and `svix` verifiers, retries through failures, timeouts and
 * redirects until delivered once per webhook-id, secret rotation, 410 disabling, the SSRF guard,
 * OpenPartner's header set, and nothing sent for a change that was rolled back.
 */

import { Database as Sqlite } from 'bun:sqlite'
import { createHmac } from 'node:crypto'
import { Webhook as StandardWebhook } from 'standardwebhooks'
import { Webhook as SvixWebhook } from 'svix'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { DeliveryWorker } from '../src/webhooks/worker.ts'
import { DIALECTS } from './support/databases.ts'
import { type Receiver, startReceiver } from './support/receiver.ts'
import { startTestServer, type TestServer } from './support/server.ts'
import { until } from './support/until.ts'

const SETTINGS = {
  retry_schedule_ms: [30, 60, 120, 240, 480, 960],
  poll_interval_ms: 20,
  timeout_ms: 300,
  allow_hosts: ['127.0.0.1'],
  rotation_overlap_seconds: 3600,
}

describe.each(DIALECTS)('webhooks on %s', (dialect) => {
  let server: TestServer
  let receiver: Receiver
  const api = async (method: string, path: string, body?: unknown) => {
    const res = await server.call(method, `/api${path}`, { key: server.adminKey, body })
    return { status: res.status, body: res.status === 204 ? null : await res.json() }
  }
  const deliveries = async (endpointId: string) =>
    (await api('GET', `/webhooks/${endpointId}/deliveries?limit=200`)).body.deliveries as {
      id: string
      status: string
      attempts: number
      eventType: string
    }[]

  beforeAll(async () => {
    receiver = startReceiver()
    server = await startTestServer(dialect, { webhooks: SETTINGS })
  })
  afterAll(async () => {
    await server.stop()
    receiver.stop()
  })

  it('refuses private, loopback and metadata destinations unless allowed', async () => {
    for (const url of [
      'http://127.0.0.2/x',
      'http://10.1.2.3/x',
      'http://169.254.169.254/latest/meta-data',
      'http://[::1]/x',
      'http://localhost/x',
      'ftp://example.com/x',
    ]) {
      const res = await api('POST', '/webhooks', { url, events: ['*'] })
      expect(res.status, url).toBe(400)
      expect(['destination_not_allowed', 'invalid_url']).toContain(res.body.error)
    }
  })

  it('delivers each event once per webhook-id through failures, a timeout and a redirect, signed for both verifiers', async () => {
    const created = await api('POST', '/webhooks', { url: receiver.url, events: ['partner.created', 'partner.revoked'], label: 'crm' })
    expect(created.status).toBe(201)
    const { id: endpointId, secret } = created.body
    expect(secret).toMatch(/^whsec_/)
    expect(JSON.stringify((await api('GET', '/webhooks')).body)).not.toContain(secret)

    receiver.received.length = 0
    receiver.plan = ['fail', 'hang', 'redirect', 'fail']
    const partners = []
    for (let i = 0; i < 3; i++) partners.push((await api('POST', '/partners', { email: `hook${i}@partners.example` })).body)
    await api('POST', `/partners/${partners[0].id}/revoke`)
    await api('POST', '/programs', { name: 'not subscribed', currency: 'USD', destinationUrl: 'https://shop.example.com/' })

    const done = await until('4 deliveries', async () => {
      const list = await deliveries(endpointId)
      return list.length === 4 && list.every((d) => d.status === 'delivered') && list
    })
    expect(done.map((d) => d.eventType).sort()).toEqual(['partner.created', 'partner.created', 'partner.created', 'partner.revoked'])
    expect(done.reduce((n, d) => n + d.attempts, 0)).toBe(8) // four failed attempts, then four successes

    const standard = new StandardWebhook(secret)
    const svix = new SvixWebhook(secret)
    const okIds = new Set<string>()
    for (const request of receiver.received) {
      standard.verify(request.body, request.headers)
      svix.verify(request.body, request.headers)
      const envelope = JSON.parse(request.body)
      expect(envelope).toMatchObject({
        id: expect.stringMatching(/^wev_/),
        type: expect.any(String),
        created: expect.any(String),
        data: expect.any(Object),
      })
      okIds.add(request.headers['webhook-id']!)
    }
    expect(okIds).toEqual(new Set(done.map((d) => d.id)))
    // A forged body is refused by the same verifiers.
    const forged = receiver.received[0]!
    expect(() => standard.verify(forged.body.replace('partner', 'Partner'), forged.headers)).toThrow()
  })

  it('signs with both secrets during a rotation, and disables an endpoint that answers 410', async () => {
    const { id, secret: old } = (await api('POST', '/webhooks', { url: receiver.url, events: ['partner.updated'] })).body
    const rotated = (await api('POST', `/webhooks/${id}/rotate-secret`)).body
    expect(rotated.secret).not.toBe(old)
    receiver.received.length = 0
    const partner = (await api('POST', '/partners', { email: 'rotating@partners.example' })).body
    await api('PATCH', `/partners/${partner.id}`, { name: 'Renamed' })
    const request = await until('the rotated delivery', async () =>
      receiver.received.find((r) => JSON.parse(r.body).type === 'partner.updated'),
    )
    expect(request.headers['webhook-signature']!.split(' ')).toHaveLength(2)
    new StandardWebhook(old).verify(request.body, request.headers)
    new StandardWebhook(rotated.secret).verify(request.body, request.headers)

    receiver.plan = ['gone']
    await api('PATCH', `/partners/${partner.id}`, { name: 'Gone' })
    const disabled = await until('the endpoint disabled', async () => {
      const endpoint = (await api('GET', `/webhooks/${id}`)).body
      return !endpoint.active && endpoint
    })
    expect(disabled.disabledReason).toContain('410')
    await api('PATCH', `/partners/${partner.id}`, { name: 'Ignored' })
    await new Promise((r) => setTimeout(r, 200))
    expect((await deliveries(id)).filter((d) => d.status === 'delivered')).toHaveLength(1)

    // Switched back on, the failed delivery can be sent again by hand.
    await api('PATCH', `/webhooks/${id}`, { active: true })
    expect((await api('POST', `/webhooks/${id}/retry-failed`)).body.retried).toBe(1)
    await until('the retried delivery', async () => (await deliveries(id)).filter((d) => d.status === 'delivered').length === 2)
  })

  it('speaks OpenPartner’s header set where asked, and sends a test message', async () => {
    const { id, secret } = (await api('POST', '/webhooks', { url: receiver.url, events: ['*'], format: 'openpartner' })).body
    receiver.received.length = 0
    const test = await api('POST', `/webhooks/${id}/test`)
    expect(test.status).toBe(202)
    const request = await until('the test message', async () =>
      receiver.received.find((r) => r.headers['x-openpartner-event'] === 'webhook.test'),
    )
    const expected = createHmac('sha256', secret).update(`${request.headers['x-openpartner-timestamp']}.${request.body}`).digest('hex')
    expect(request.headers['x-openpartner-signature']).toBe(expected)
    expect(request.headers['x-openpartner-delivery']).toBe(test.body.id)
    expect(request.headers['webhook-signature']).toBeUndefined()
  })

  it('keeps the first 512 bytes of each answer in the delivery log, whatever its length, and reads no further', async () => {
    const long = `${'a'.repeat(600)}tail`
    // Each answer by path: short, long with a length, streamed with no length and no end in time, with NULs.
    const answers = Bun.serve({
      hostname: '127.0.0.1',
      port: 0,
      fetch: async (request) => {
        await request.arrayBuffer()
        const path = new URL(request.url).pathname
        if (path === '/short') return new Response('thanks')
        if (path === '/long') return new Response(long)
        if (path === '/nul') return new Response('o\u0000k')
        // 600 bytes now, the rest never: the excerpt must not wait for it.
        const stream = new ReadableStream({
          start: (controller) => controller.enqueue(new TextEncoder().encode('s'.repeat(600))),
        })
        return new Response(stream)
      },
    })
    try {
      const base = `http://127.0.0.1:${answers.port}`
      const expected: Record<string, string> = { short: 'thanks', long: long.slice(0, 512), nul: 'ok', streamed: 's'.repeat(512) }
      for (const [path, excerpt] of Object.entries(expected)) {
        const { id } = (await api('POST', '/webhooks', { url: `${base}/${path}`, events: ['*'] })).body
        expect((await api('POST', `/webhooks/${id}/test`)).status).toBe(202)
        const [delivery] = await until(`the ${path} answer`, async () => {
          const log = (await api('GET', `/webhooks/${id}/deliveries`)).body.deliveries as { status: string; lastResponse: string | null }[]
          return log.every((d) => d.status === 'delivered') && log.length > 0 ? log : undefined
        })
        expect(delivery!.lastResponse).toBe(excerpt)
        expect((await api('DELETE', `/webhooks/${id}`)).status).toBe(204)
      }
    } finally {
      answers.stop(true)
    }
  })

  it('sends nothing for a change that was rolled back', async () => {
    const { id } = (await api('POST', '/webhooks', { url: receiver.url, events: ['partner.created'] })).body
    const before = (await deliveries(id)).length
    expect((await api('POST', '/partners', { email: 'hook0@partners.example' })).status).toBe(409) // exists: nothing written
    await new Promise((r) => setTimeout(r, 150))
    expect((await deliveries(id)).length).toBe(before)
    expect((await api('DELETE', `/webhooks/${id}`)).status).toBe(204)
    expect((await api('GET', `/webhooks/${id}`)).status).toBe(404)
  })
})

describe.each(DIALECTS)('an endpoint that keeps failing on %s', (dialect) => {
  it('is disabled once it has failed for disable_after_seconds, and its owner is told', async () => {
    const receiver = startReceiver()
    receiver.otherwise = 'fail'
    const server = await startTestServer(dialect, {
      webhooks: { ...SETTINGS, retry_schedule_ms: new Array(40).fill(50), disable_after_seconds: 1 },
    })
    const told: unknown[] = []
    server.runtime.bus.subscribe('webhook.endpoint_disabled', (e) => void told.push(e.data))
    try {
      const key = server.adminKey
      const { id } = await (
        await server.call('POST', '/api/webhooks', { key, body: { url: receiver.url, events: ['partner.created'] } })
      ).json()
      await server.call('POST', '/api/partners', { key, body: { email: 'failing@partners.example' } })
      const endpoint = await until('the endpoint disabled', async () => {
        const e = await (await server.call('GET', `/api/webhooks/${id}`, { key })).json()
        return !e.active && e
      })
      expect(endpoint.disabledReason).toMatch(/no successful delivery since/)
      expect(endpoint.failingSince).toEqual(expect.any(String))
      await until('the owner told', async () => told.length > 0)
      expect(told[0]).toMatchObject({ id, active: false })

      // A disabled endpoint's pending delivery ends failed; back on, with the receiver well again, it is
      // sent again by hand.
      const failed = await until('the delivery failed', async () => {
        const list = (await (await server.call('GET', `/api/webhooks/${id}/deliveries?status=failed`, { key })).json()).deliveries
        return list[0] as { id: string } | undefined
      })
      receiver.otherwise = 'ok'
      await server.call('PATCH', `/api/webhooks/${id}`, { key, body: { active: true } })
      const retried = await (await server.call('POST', `/api/webhooks/${id}/deliveries/${failed.id}/retry`, { key })).json()
      expect(retried).toMatchObject({ id: failed.id, status: 'pending' })
      await until('the retried delivery', async () => receiver.successesById().get(failed.id) === 1)
    } finally {
      await server.stop()
      receiver.stop()
    }
  })
})

describe('webhooks from two instances on one PostgreSQL', () => {
  it('never sends the same delivery from both', async () => {
    const receiver = startReceiver()
    receiver.delayMs = 20
    const first = await startTestServer('postgres', { webhooks: SETTINGS })
    // A second instance on the same database, as a SaaS operator runs several.
    const second = await startTestServer('postgres', { webhooks: SETTINGS, database: { postgres: first.runtime.config.database.postgres } })
    try {
      const key = first.adminKey
      const { id } = await (
        await first.call('POST', '/api/webhooks', { key, body: { url: receiver.url, events: ['partner.created'] } })
      ).json()
      const partners = await Promise.all(
        Array.from({ length: 30 }, (_, i) => first.call('POST', '/api/partners', { key, body: { email: `twin${i}@partners.example` } })),
      )
      expect(partners.every((r) => r.status === 201)).toBe(true)
      await until('30 deliveries', async () => receiver.successesById().size === 30, 15_000)
      await new Promise((r) => setTimeout(r, 200))
      expect([...receiver.successesById().values()].every((n) => n === 1)).toBe(true)
      expect(receiver.received).toHaveLength(30)
      const log = await (await first.call('GET', `/api/webhooks/${id}/deliveries?limit=200`, { key })).json()
      expect(log.deliveries.every((d: { status: string; attempts: number }) => d.status === 'delivered' && d.attempts === 1)).toBe(true)
    } finally {
      await second.stop()
      await first.stop()
      receiver.stop()
    }
  })
})

describe.each(DIALECTS)('partner postbacks on %s', (dialect) => {
  it('fires a partner’s GET template on its own commission events, with the macros filled', async () => {
    const receiver = startReceiver()
    const server = await startTestServer(dialect, { webhooks: SETTINGS })
    try {
      const key = server.adminKey
      const api = async (method: string, path: string, body?: unknown) => {
        const res = await server.call(method, `/api${path}`, { key, body })
        return { status: res.status, body: await res.json() }
      }
      const program = (
        await api('POST', '/programs', {
          name: 'PB',
          currency: 'USD',
          status: 'active',
          destinationUrl: 'https://shop.example.com/',
          holdbackDays: 0,
          rules: [{ on: 'sale', percent: '10' }],
        })
      ).body
      const [mine, other] = [
        (await api('POST', '/partners', { email: 'pb@partners.example' })).body,
        (await api('POST', '/partners', { email: 'pb2@partners.example' })).body,
      ]
      const template = `${receiver.url}?click={click_id}&amount={commission_amount}&cur={currency}&type={event_type}`
      for (const bad of [`http://{partner_id}.example.com/x`, `${receiver.url}?x={nope}`, 'http://10.0.0.1/?c={click_id}']) {
        expect((await api('POST', `/partners/${mine.id}/postbacks`, { url: bad })).status, bad).toBe(400)
      }
      expect((await api('POST', `/partners/${mine.id}/postbacks`, { url: template, events: ['commission.accrued'] })).status).toBe(201)
      let cref = ''
      for (const p of [mine, other]) {
        const link = (await api('POST', '/links', { partnerId: p.id, programId: program.id })).body
        const res = await fetch(`${server.url}/r/${link.key}`, { redirect: 'manual', headers: { 'user-agent': 'Mozilla/5.0' } })
        const id = new URL(res.headers.get('location')!).searchParams.get('cref')!
        if (p === mine) cref = id
        await api('POST', '/attribution/identify', { cref: id, userId: `pb-customer-${p.id}` })
        await api('POST', '/attribution/events', {
          userId: `pb-customer-${p.id}`,
          type: 'sale',
          value: '123.40',
          currency: 'USD',
          externalEventId: `pb-${p.id}`,
        })
      }
      await until('the postback', async () => receiver.received.length >= 1)
      await new Promise((r) => setTimeout(r, 150))
      expect(receiver.received).toHaveLength(1) // the other partner's commission does not reach it
      const sent = receiver.received[0]!
      expect(sent.method).toBe('GET')
      expect(Object.fromEntries(new URL(sent.url).searchParams)).toEqual({
        click: cref,
        amount: '12.34',
        cur: 'USD',
        type: 'commission.accrued',
      })
    } finally {
      await server.stop()
      receiver.stop()
    }
  })
})

describe.each(DIALECTS)('a claim that would run out before its send is answered, on %s', (dialect) => {
  it('is given back unsent, not sent past its claim, so no other instance sends it at the same time', async () => {
    const receiver = startReceiver()
    // A receiver that never answers in time; retries far off; and a server whose own worker stays
    // out of the way: this test runs the worker's rounds itself.
    const settings = { ...SETTINGS, timeout_ms: 300, retry_schedule_ms: [3_600_000], poll_interval_ms: 3_600_000 }
    const server = await startTestServer(dialect, { webhooks: settings })
    try {
      const key = server.adminKey
      await server.call('POST', '/api/webhooks', { key, body: { url: receiver.url, events: ['partner.created'] } })
      const made = await Promise.all(
        Array.from({ length: 150 }, (_, i) => server.call('POST', '/api/partners', { key, body: { email: `slow${i}@partners.example` } })),
      )
      expect(made.every((r) => r.status === 201)).toBe(true)
      receiver.plan = Array(150).fill('hang')
      const { runtime } = server
      const worker = new DeliveryWorker(runtime.database, runtime.withTenant, runtime.config.webhooks, runtime.log)
      // One claim of 150, sent 50 at a time, each wave one timeout long. A claim lasts two timeouts
      // and the time to record; a delivery is sent only while its answer, however late, can still
      // be recorded within it. The first 50 go at once, the next 50 find their claim at that edge,
      // and the last 50 would be answered after it, when another instance may have taken them:
      // those are given back untried.
      expect(await worker.runOnce()).toBe(150)
      const sent = receiver.received.length
      expect(sent).toBeGreaterThanOrEqual(50)
      expect(sent).toBeLessThanOrEqual(100)
      const rows = await runtime.withTenant(
        (await runtime.database.db.selectFrom('tenants').select('id').executeTakeFirstOrThrow()).id,
        (scope) => scope.db.selectFrom('webhook_deliveries').select(['attempts', 'status', 'locked_until']).execute(),
      )
      const untried = rows.filter((r) => r.attempts === 0)
      expect(untried).toHaveLength(150 - sent)
      expect(untried.every((r) => r.status === 'pending' && r.locked_until === null)).toBe(true)
      // Given back, they are due: the next round claims and tries them.
      expect(await worker.runOnce()).toBe(150 - sent)
      expect(receiver.received.length).toBeGreaterThan(sent)
    } finally {
      await server.stop()
      receiver.stop()
    }
  }, 60_000)
})

describe('a poll with nothing due, on sqlite', () => {
  it('takes no write lock: it answers at once while another process holds the lock', async () => {
    const server = await startTestServer('sqlite', { webhooks: { ...SETTINGS, poll_interval_ms: 3_600_000 } })
    const { runtime } = server
    const location = runtime.database.location
    if (!('sqlite' in location)) throw new Error('expected SQLite')
    // Another process's write transaction, as the CLI's: a claim would wait busy_timeout_ms for it.
    const other = new Sqlite(location.sqlite.path)
    try {
      other.exec('begin immediate')
      const worker = new DeliveryWorker(runtime.database, runtime.withTenant, runtime.config.webhooks, runtime.log)
      const started = performance.now()
      expect(await worker.runOnce()).toBe(0)
      expect(performance.now() - started).toBeLessThan(location.sqlite.busyTimeoutMs)
    } finally {
      other.exec('rollback')
      other.close()
      await server.stop()
    }
  })
})
