/**
 * Export and import: a self-hosted SQLite tenant moved to PostgreSQL through GET /export and POST
 * /import keeps its links, clicks, commissions and payouts; bad documents are refused whole.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startTestServer, type TestServer } from './support/server.ts'

describe('export from SQLite, import into PostgreSQL', () => {
  let from: TestServer
  let to: TestServer
  beforeAll(async () => {
    ;[from, to] = await Promise.all([startTestServer('sqlite'), startTestServer('postgres')])
  })
  afterAll(async () => {
    await Promise.all([from?.stop(), to?.stop()])
  })
  const api = async (server: TestServer, method: string, path: string, body?: unknown) => {
    const res = await server.call(method, `/api${path}`, { key: server.adminKey, body })
    return { status: res.status, body: await res.json() }
  }

  it('moves the whole program and keeps ids, so links and crefs still work', async () => {
    const ok = async (method: string, path: string, body?: unknown) => {
      const res = await api(from, method, path, body)
      expect(res.status, JSON.stringify(res.body)).toBeLessThan(300)
      return res.body
    }
    const program = await ok('POST', '/programs', {
      name: 'Moving',
      currency: 'GBP',
      status: 'active',
      destinationUrl: 'https://shop.example.co.uk/',
      holdbackDays: 0,
      rules: [{ on: 'sale', percent: '10' }],
    })
    const partner = await ok('POST', '/partners', { email: 'mover@partners.example', metadata: { crm: 'x-1' } })
    const link = await ok('POST', '/links', { partnerId: partner.id, programId: program.id, key: 'moving-day' })
    const res = await fetch(`${from.url}/r/${link.key}`, { redirect: 'manual', headers: { 'user-agent': 'Mozilla/5.0' } })
    const cref = new URL(res.headers.get('location')!).searchParams.get('cref')
    await ok('POST', '/attribution/identify', { cref, userId: 'mover-1' })
    const sale = await ok('POST', '/attribution/events', {
      userId: 'mover-1',
      type: 'sale',
      value: '120.00',
      currency: 'GBP',
      externalEventId: 'm-1',
    })
    await ok('POST', `/commissions/${sale.commissions[0].id}/approve`)
    const run = await ok('POST', '/payouts/run', {})
    await ok('POST', '/payouts/mark-paid', { payoutIds: [run.payouts[0].id], reference: 'BACS-9' })

    const exported = await ok('GET', '/export')
    expect(exported).toMatchObject({ format: 'partnerd-export', version: 1, tenant: { slug: 'default' } })
    expect(exported.partners).toEqual([expect.objectContaining({ id: partner.id, metadata: { crm: 'x-1' } })])
    expect(JSON.stringify(exported)).not.toContain('tenant_id')

    const imported = await api(to, 'POST', '/import', exported)
    expect(imported.status, JSON.stringify(imported.body)).toBe(201)
    expect(imported.body.imported).toMatchObject({ programs: 1, partners: 1, links: 1, clicks: 1, events: 1, commissions: 1, payouts: 1 })

    const moved = await api(to, 'GET', `/commissions/${sale.commissions[0].id}`)
    expect(moved.body).toMatchObject({ amount: '12.00', currency: 'GBP', status: 'paid' })
    expect((await api(to, 'GET', `/partners/${partner.id}/stats`)).body).toMatchObject({
      clicks: { total: 1 },
      conversions: { sales: 1 },
      revenue: { GBP: '120.00' },
    })
    const again = await fetch(`${to.url}/r/moving-day`, { redirect: 'manual', headers: { 'user-agent': 'Mozilla/5.0' } })
    expect(again.status).toBe(302)
    // The customer identified before the move keeps earning after it.
    const renewal = await api(to, 'POST', '/attribution/events', {
      userId: 'mover-1',
      type: 'sale',
      value: '5.00',
      currency: 'GBP',
      externalEventId: 'm-2',
    })
    expect(renewal.body.attribution).toMatchObject({ status: 'attributed', reason: 'not_first' })
    const replay = await api(to, 'POST', '/attribution/events', {
      userId: 'mover-1',
      type: 'sale',
      value: '120.00',
      currency: 'GBP',
      externalEventId: 'm-1',
    })
    expect(replay.status).toBe(200)

    const twice = await api(to, 'POST', '/import', exported)
    expect(twice.status).toBe(409)
    expect(twice.body).toMatchObject({ error: 'tenant_not_empty' })
  })

  it('refuses a bad document whole, writing nothing', async () => {
    const fresh = await startTestServer('postgres')
    try {
      const document = {
        format: 'partnerd-export',
        version: 1,
        programs: [],
        partners: [
          {
            id: 'P1',
            email: 'a@example.com',
            name: null,
            status: 'active',
            metadata: {},
            created_at: 'x',
            updated_at: 'x',
            revoked_at: null,
          },
        ],
        links: [
          { id: 'L1', key: 'k-1', partner_id: 'nobody', program_id: 'nothing', destination_url: null, created_at: 'x', archived_at: null },
        ],
      }
      const res = await api(fresh, 'POST', '/import', document)
      expect(res.status).toBe(400)
      expect(res.body.error).toBe('invalid_export')
      expect((await api(fresh, 'GET', '/partners')).body.partners).toEqual([])
      for (const bad of [
        { format: 'other' },
        { format: 'partnerd-export', version: 99 },
        { format: 'partnerd-export', version: 1, partners: 'no' },
      ]) {
        expect((await api(fresh, 'POST', '/import', bad)).status).toBe(400)
      }
      // A click is counted by its time (click_counts), so it must have one.
      const timeless = await api(fresh, 'POST', '/import', {
        format: 'partnerd-export',
        version: 1,
        clicks: [{ id: 'C1', link_id: null, partner_id: 'P1', program_id: 'G1', source: 'link', created_at: 'yesterday' }],
      })
      expect(timeless.status).toBe(400)
      expect(timeless.body).toMatchObject({ error: 'invalid_export', detail: 'clicks.0.created_at must be an ISO date-time' })
    } finally {
      await fresh.stop()
    }
  })
})
